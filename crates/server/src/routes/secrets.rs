//! `/secrets/...` on a vault host. Handlers are thin: caller first (so the challenge precedes any
//! body parsing), then the vault, then one domain call.

use axum::{
    Extension, Json,
    extract::{Path, State},
};
use keyhold_core::secrets::{NewSecret, SecretPatch};
use keyhold_proto::keyvault::{
    BackupBlob, Page, SecretBundle, SecretItem, SecretSetParameters, SecretUpdateParameters,
};
use secrecy::{ExposeSecret, SecretString};

use super::bundle::{bundle, item, next_link};
use crate::{
    AppState,
    audit::{AuditVersion, Routes},
    error::{ApiError, bad_parameter},
    extract::{ApiVersion, KvJson, ListQuery, OutContentType, VaultCaller},
    vault::{Origin, Vault},
};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/secrets", "SecretList", list)
        .post("/secrets/restore", "SecretRestore", restore)
        .get("/secrets/{name}", "SecretGet", get_latest)
        .put("/secrets/{name}", "SecretSet", set)
        .patch("/secrets/{name}", "SecretUpdate", update_latest)
        .delete("/secrets/{name}", "SecretDelete", delete)
        .get("/secrets/{name}/", "SecretGet", get_latest)
        .patch("/secrets/{name}/", "SecretUpdate", update_latest)
        .get("/secrets/{name}/versions", "SecretListVersions", list_versions)
        .post("/secrets/{name}/backup", "SecretBackup", backup)
        .get("/secrets/{name}/{version}", "SecretGet", get_version)
        .patch("/secrets/{name}/{version}", "SecretUpdate", update_version)
}

type Result<T> = std::result::Result<Json<T>, ApiError>;
/// A body and the version it concerns, which the audit record names.
type Versioned<T> = std::result::Result<(Extension<AuditVersion>, Json<T>), ApiError>;

fn versioned<T>(version: &str, body: T) -> (Extension<AuditVersion>, Json<T>) {
    (Extension(AuditVersion(version.to_owned())), Json(body))
}

async fn set(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<SecretSetParameters>,
) -> Versioned<SecretBundle> {
    let value = body
        .value
        .ok_or_else(|| bad_parameter("The parameter 'value' is required."))?;
    let attrs = body.attributes.unwrap_or_default();
    let new = NewSecret {
        value: SecretString::from(value),
        content_type: body.content_type,
        tags: body.tags,
        enabled: attrs.enabled,
        nbf: attrs.nbf,
        exp: attrs.exp,
    };
    let created = s.core.secrets.set(&caller.caller(), &vault, &name, new).await?;
    let body = bundle(
        &origin,
        &vault,
        &created.record,
        Some(created.value.expose_secret().to_owned()),
    );
    Ok(versioned(&created.record.version, body))
}

async fn read(
    caller: &VaultCaller,
    s: &AppState,
    vault: &keyhold_store::VaultRecord,
    origin: &str,
    name: &str,
    version: Option<&str>,
    out: OutContentType,
) -> Versioned<SecretBundle> {
    let mut found = s.core.secrets.get(&caller.caller(), vault, name, version).await?;
    if let Some(ct) = out.0 {
        found = keyhold_core::certificates::secret_as(found, &ct)?;
    }
    let body = bundle(
        origin,
        vault,
        &found.record,
        Some(found.value.expose_secret().to_owned()),
    );
    Ok(versioned(&found.record.version, body))
}

async fn get_latest(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    out: OutContentType,
    Path(name): Path<String>,
) -> Versioned<SecretBundle> {
    read(&caller, &s, &vault, &origin, &name, None, out).await
}

async fn get_version(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    out: OutContentType,
    Path((name, version)): Path<(String, String)>,
) -> Versioned<SecretBundle> {
    // The SDKs send an empty version for "latest"; axum never matches an empty segment here, but a
    // client may still send one explicitly.
    let version = Some(version.as_str()).filter(|v| !v.is_empty());
    read(&caller, &s, &vault, &origin, &name, version, out).await
}

async fn patch(
    caller: &VaultCaller,
    s: &AppState,
    vault: &keyhold_store::VaultRecord,
    origin: &str,
    name: &str,
    version: Option<&str>,
    body: SecretUpdateParameters,
) -> Versioned<SecretBundle> {
    let attrs = body.attributes.unwrap_or_default();
    let patch = SecretPatch {
        content_type: body.content_type,
        tags: body.tags,
        enabled: attrs.enabled,
        nbf: attrs.nbf,
        exp: attrs.exp,
    };
    let updated = s
        .core
        .secrets
        .update(&caller.caller(), vault, name, version, patch)
        .await?;
    Ok(versioned(&updated.version, bundle(origin, vault, &updated, None)))
}

async fn update_latest(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<SecretUpdateParameters>,
) -> Versioned<SecretBundle> {
    patch(&caller, &s, &vault, &origin, &name, None, body).await
}

async fn update_version(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path((name, version)): Path<(String, String)>,
    KvJson(body): KvJson<SecretUpdateParameters>,
) -> Versioned<SecretBundle> {
    patch(&caller, &s, &vault, &origin, &name, Some(&version), body).await
}

async fn list(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    q: ListQuery,
) -> Result<Page<SecretItem>> {
    let page = s.core.secrets.list(&caller.caller(), &vault, q.max, q.cursor).await?;
    Ok(Json(Page {
        value: page.items.iter().map(|r| item(&origin, &vault, r, false)).collect(),
        next_link: next_link(&origin, "/secrets", &api, q.max, page.next),
    }))
}

async fn list_versions(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    q: ListQuery,
    Path(name): Path<String>,
) -> Result<Page<SecretItem>> {
    let page = s
        .core
        .secrets
        .list_versions(&caller.caller(), &vault, &name, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page.items.iter().map(|r| item(&origin, &vault, r, true)).collect(),
        next_link: next_link(&origin, &format!("/secrets/{name}/versions"), &api, q.max, page.next),
    }))
}

async fn delete(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<SecretBundle> {
    let deleted = s.core.secrets.delete(&caller.caller(), &vault, &name).await?;
    Ok(Json(super::bundle::deleted_bundle(&origin, &vault, &deleted)))
}

async fn backup(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<BackupBlob> {
    Ok(Json(BackupBlob {
        value: Some(s.core.secrets.backup(&caller.caller(), &vault, &name).await?),
    }))
}

async fn restore(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    KvJson(body): KvJson<BackupBlob>,
) -> Versioned<SecretBundle> {
    let blob = body
        .value
        .ok_or_else(|| bad_parameter("The parameter 'value' is required."))?;
    let restored = s.core.secrets.restore(&caller.caller(), &vault, &blob).await?;
    Ok(versioned(&restored.version, bundle(&origin, &vault, &restored, None)))
}
