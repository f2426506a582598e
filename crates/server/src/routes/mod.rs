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
mod graph;
mod key_bundle;
mod keyring;
mod keys;
mod metadata;
pub mod mi;
mod oidc;
mod secrets;
mod signin;
mod signout;
mod token;

use axum::{Json, Router, routing::get};

use crate::AppState;

pub use mi::routes as mi_router;

pub fn vault_router(state: AppState) -> Router {
    secrets::routes()
        .merge(deleted::routes())
        .merge(keys::routes())
        .merge(certificates::routes())
        .into_router(&state.audit)
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
    let audited = token::routes()
        .merge(admin::routes())
        .merge(agents::routes())
        .merge(keyring::routes())
        .merge(arm::routes())
        .merge(graph::routes())
        .merge(signin::routes())
        .merge(signout::routes())
        .into_router(&state.audit);
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
        .merge(metadata::routes())
        .merge(audited)
        .fallback(not_found)
        .with_state(state)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::audit::Op;

    fn all() -> crate::audit::Routes<AppState> {
        secrets::routes()
            .merge(deleted::routes())
            .merge(keys::routes())
            .merge(certificates::routes())
            .merge(token::routes())
            .merge(admin::routes())
            .merge(agents::routes())
            .merge(keyring::routes())
            .merge(arm::routes())
            .merge(graph::routes())
            .merge(signin::routes())
            .merge(signout::routes())
    }

    /// Every audited route of the vault and server hosts, as declared.
    fn declared() -> Vec<(&'static str, &'static str, Op)> {
        all().declared().collect()
    }

    /// axum refuses some declarations only when the router is built (overlaps, a layer on an
    /// empty method router): build it here rather than at the first server start.
    #[test]
    fn the_declarations_build_one_router() {
        let path = std::env::temp_dir().join(format!("keyhold-routes-{}.log", std::process::id()));
        let log = std::sync::Arc::new(keyhold_core::audit::AuditLog::open(&path).unwrap());
        let _router = all().into_router(&log);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn each_method_and_path_is_declared_once_with_an_operation_name() {
        let mut seen = HashSet::new();
        for (method, path, op) in declared() {
            assert!(seen.insert((method, path)), "{method} {path} declared twice");
            match op {
                Op::Named(name) => assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{method} {path}: {name:?} is not an operation name"
                ),
                Op::KeyCrypto { .. } => assert!(path.starts_with("/keys/{name}/"), "{path}"),
                Op::Arm => assert!(!path.starts_with("/keys") && !path.starts_with("/secrets"), "{path}"),
            }
        }
    }

    #[test]
    fn data_plane_names_follow_the_object_they_touch() {
        for (method, path, op) in declared() {
            let Op::Named(name) = op else { continue };
            let object = path.split('/').nth(1).unwrap_or_default();
            let expected = match object {
                "secrets" | "deletedsecrets" => "Secret",
                "keys" | "deletedkeys" => "Key",
                "certificates" | "deletedcertificates" => "Certificate",
                _ => continue,
            };
            assert!(
                name.trim_start_matches("Deleted").starts_with(expected),
                "{method} {path} is named {name}"
            );
        }
    }
}
