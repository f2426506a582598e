//! One router per resource, merged by host: vault hosts get the data plane, every other host the
//! identity provider and the admin API.

mod admin;
pub mod agents;
mod arm;
mod bundle;
mod certificate_bundle;
mod certificate_issuers;
mod certificates;
mod deleted;
mod key_bundle;
mod keyring;
mod keys;
pub mod mi;
mod oidc;
mod secrets;
mod token;

use axum::{Json, Router, middleware::from_fn_with_state, routing::get};

use crate::{AppState, audit};

pub use mi::routes as mi_router;

pub fn vault_router(state: AppState) -> Router {
    Router::new()
        .merge(secrets::routes())
        .merge(deleted::routes())
        .merge(keys::routes())
        .merge(certificates::routes())
        .route_layer(from_fn_with_state(state.audit.clone(), audit::record))
        .fallback(not_found)
        .with_state(state)
}

/// Unknown paths get a JSON body like every other error.
async fn not_found(uri: axum::http::Uri) -> crate::error::ApiError {
    crate::error::ApiError::NotFound {
        message: format!("The path '{}' is not served by keyhold.", uri.path()),
    }
}

pub fn main_router(state: AppState) -> Router {
    let audited = Router::new()
        .merge(token::routes())
        .merge(admin::routes())
        .merge(agents::routes())
        .merge(keyring::routes())
        .merge(arm::routes())
        .route_layer(from_fn_with_state(state.audit.clone(), audit::record));
    Router::new()
        .route(
            "/healthz",
            get(|| async {
                Json(keyhold_proto::admin::Health {
                    status: "ok".into(),
                    reasons: Vec::new(),
                })
            }),
        )
        .merge(oidc::routes())
        .merge(audited)
        .fallback(not_found)
        .with_state(state)
}
