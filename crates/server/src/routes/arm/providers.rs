//! Resource providers: `GET /subscriptions/{id}/providers[/{namespace}]`, what az reads to choose an
//! api-version for a type (keyhold accepts any dated version, so one recent one is listed).

use axum::http::{Method, StatusCode};
use keyhold_core::management::{bad_request, resources::provider_types};
use keyhold_proto::arm::{Provider, ProviderResourceType};

use super::{ArmRequest, ArmResult, Target, list, method_not_allowed, ok};
use crate::AppState;

/// The api-version listed for every type.
const API_VERSION: &str = "2024-07-01";

fn providers(s: &AppState) -> Vec<Provider> {
    let mut out: Vec<Provider> = Vec::new();
    for (namespace, kind) in provider_types() {
        let entry = ProviderResourceType {
            resource_type: kind.to_owned(),
            locations: Vec::new(),
            api_versions: vec![API_VERSION.to_owned()],
        };
        match out.last_mut() {
            Some(p) if p.namespace == namespace => p.resource_types.push(entry),
            _ => out.push(Provider {
                id: format!("{}/providers/{namespace}", s.core.management.subscription_scope()),
                namespace: namespace.to_owned(),
                registration_state: "Registered".into(),
                resource_types: vec![entry],
            }),
        }
    }
    out
}

pub(super) async fn handle(s: &AppState, req: &ArmRequest, target: &Target) -> ArmResult {
    if req.method != Method::GET {
        return method_not_allowed(req);
    }
    s.core.management.read_subscription(&req.caller).await?;
    match target {
        Target::Provider { namespace } => {
            let found = providers(s)
                .into_iter()
                .find(|p| p.namespace.eq_ignore_ascii_case(namespace))
                .ok_or_else(|| {
                    bad_request(
                        "InvalidResourceNamespace",
                        format!("The resource namespace '{namespace}' is invalid."),
                    )
                })?;
            ok(StatusCode::OK, found)
        }
        _ => list(providers(s)),
    }
}
