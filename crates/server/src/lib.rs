//! The HTTPS server: binds the listeners, opens the store and unlocks the keys, then routes each
//! request by `Host` to a vault's data plane or to the identity provider and admin API. The only crate
//! that knows status codes.
#![forbid(unsafe_code)]

mod audit;
mod console;
mod error;
mod extract;
mod files;
mod jobs;
mod listener;
mod node;
mod page;
mod routes;
mod run;
mod sys;
mod tls;
mod vault;

use std::sync::Arc;

use axum::{Router, extract::Request, http::header};
use keyhold_core::Keyhold;
use tower::ServiceExt;

pub use error::MiError;
pub use files::{AdminFile, MiFile, StateFile};
pub use listener::{Limits, serve as serve_listener};
pub use routes::mi::{MiToken, TokenSource, protocol_routes};

/// Where agents ask the server for tokens.
pub fn agent_token_path() -> &'static str {
    routes::agents::TOKEN_PATH
}
pub use run::{SealMode, ServeConfig, run};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServeError(pub String);

/// Shared by every handler. No globals: two servers can live in one process. Cloned for every
/// request (axum's `State`, the middleware), so it is three reference counts, not the services'
/// own fields (cloning `Keyhold` itself cost ≈ 5% of a secret GET's CPU).
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Keyhold>,
    pub mi: Arc<MiState>,
    pub audit: Arc<keyhold_core::audit::AuditLog>,
}

/// What the managed-identity endpoints serve: this host's identity, and the header secret of the App
/// Service and 2017 protocols.
pub struct MiState {
    /// ARM id of the resource whose identities this host serves (its VM, or `--host-resource`).
    pub host_resource: String,
    pub header: secrecy::SecretString,
}

/// The whole HTTPS application: vault hosts to the data plane, anything else to the IdP, the admin
/// API and the console (which forwards into the other two as the signed-in person).
pub fn app(state: AppState) -> Router {
    let suffix = state.core.config.dns_suffix.clone();
    let vault = routes::vault_router(state.clone());
    let main = routes::main_router(state.clone());
    let api = by_host(vault.clone(), main.clone(), suffix.clone());
    let front = console::router(state, api).merge(main);
    by_host(vault, front, suffix)
}

/// Routes a request by its `Host`: `<vault>.<suffix>` to `vault`, anything else to `main`.
fn by_host(vault: Router, main: Router, suffix: String) -> Router {
    Router::new().fallback(move |mut req: Request| {
        let (vault, main, suffix) = (vault.clone(), main.clone(), suffix.clone());
        async move {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or_else(|| req.uri().authority().map(|a| a.to_string()))
                .unwrap_or_default();
            let target = match vault::vault_label(&host, &suffix) {
                Some(label) => {
                    req.extensions_mut().insert(vault::VaultName(label));
                    vault
                }
                None => main,
            };
            target.oneshot(req).await
        }
    })
}
