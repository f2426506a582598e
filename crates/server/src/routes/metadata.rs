//! ARM's cloud-metadata document, unauthenticated as ARM's is: one `az cloud register
//! --endpoint-resource-manager <origin>` finds the authority, the audiences, the Graph resource and
//! the Key Vault DNS suffix here. az asks for `//metadata/endpoints` when the URL it was given ends
//! in a slash, so both spellings are served.

use axum::{Json, Router, extract::State, http::request::Parts, routing::get};
use keyhold_proto::arm::{CloudAuthentication, CloudMetadata, CloudSuffixes};

use crate::{AppState, extract::own_origin};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metadata/endpoints", get(endpoints))
        .route("//metadata/endpoints", get(endpoints))
}

async fn endpoints(State(s): State<AppState>, parts: Parts) -> Json<CloudMetadata> {
    let config = &s.core.config;
    let origin = own_origin(&parts, config);
    let graph = if origin == config.public_url {
        config.graph_resource()
    } else {
        format!("{origin}/graph/")
    };
    Json(CloudMetadata {
        name: "keyhold".into(),
        portal: format!("{origin}/"),
        resource_manager: format!("{origin}/"),
        authentication: CloudAuthentication {
            login_endpoint: origin.clone(),
            audiences: vec![format!("{origin}/")],
            tenant: s.core.tenant_id.clone(),
            identity_provider: "AAD".into(),
        },
        microsoft_graph_resource_id: graph,
        suffixes: CloudSuffixes {
            key_vault_dns: config.vault_resource.trim_start_matches("https://").to_owned(),
        },
    })
}
