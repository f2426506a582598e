//! `/deletedsecrets/...`: soft-deleted secrets, recover and purge.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use keyhold_proto::keyvault::{Page, SecretBundle, SecretItem};

use super::bundle::{bundle, deleted_bundle, deleted_item, next_link};
use crate::{
    AppState,
    audit::Routes,
    error::ApiError,
    extract::{ApiVersion, ListQuery, VaultCaller},
    vault::{Origin, Vault},
};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/deletedsecrets", "DeletedSecretList", list)
        .get("/deletedsecrets/{name}", "DeletedSecretGet", show)
        .delete("/deletedsecrets/{name}", "SecretPurge", purge)
        .post("/deletedsecrets/{name}/recover", "SecretRecover", recover)
}

async fn list(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    q: ListQuery,
) -> Result<Json<Page<SecretItem>>, ApiError> {
    let page = s
        .core
        .secrets
        .list_deleted(&caller.caller(), &vault, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page.items.iter().map(|d| deleted_item(&origin, &vault, d)).collect(),
        next_link: next_link(&origin, "/deletedsecrets", &api, q.max, page.next),
    }))
}

async fn show(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<Json<SecretBundle>, ApiError> {
    let deleted = s.core.secrets.deleted(&caller.caller(), &vault, &name).await?;
    Ok(Json(deleted_bundle(&origin, &vault, &deleted)))
}

async fn recover(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<Json<SecretBundle>, ApiError> {
    let recovered = s.core.secrets.recover(&caller.caller(), &vault, &name).await?;
    Ok(Json(bundle(&origin, &vault, &recovered, None)))
}

/// 204 with an empty body: the SDKs accept exactly that.
async fn purge(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core.secrets.purge(&caller.caller(), &vault, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
