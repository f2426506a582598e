//! `/keys/...`, `/deletedkeys/...` and `/rng` on a vault host. Thin handlers: caller first (so the
//! challenge precedes any body parsing), then the vault, then one domain call. Bodies of crypto
//! operations (digests, plaintexts, ciphertexts) are never logged.

use axum::{
    Extension, Json,
    extract::{Path, State},
    http::StatusCode,
};
use keyhold_core::vault_keys::EncryptOp;
use keyhold_proto::{
    keys::{
        KeyBundle, KeyCreateParameters, KeyImportParameters, KeyItem, KeyOperationResult, KeyOperationsParameters,
        KeyReleaseParameters, KeyRotationPolicy, KeyUpdateParameters, KeyVerifyParameters, KeyVerifyResult,
        RandomBytes, RandomBytesRequest,
    },
    keyvault::{BackupBlob, Page},
};

use super::{
    bundle::next_link,
    key_bundle::{deleted_key_bundle, deleted_key_item, key_bundle, key_item, kid},
};
use crate::{
    AppState,
    audit::{AuditVersion, Op, Routes},
    error::{ApiError, bad_parameter},
    extract::{ApiVersion, KvJson, ListQuery, VaultCaller},
    vault::{Origin, Vault},
};

pub fn routes() -> Routes<AppState> {
    let versioned = Op::KeyCrypto { versioned: true };
    let versionless = Op::KeyCrypto { versioned: false };
    Routes::new()
        .get("/keys", "KeyList", list)
        .post("/keys/restore", "KeyRestore", restore)
        .get("/keys/{name}", "KeyGet", get_latest)
        .put("/keys/{name}", "KeyImport", import)
        .patch("/keys/{name}", "KeyUpdate", update_latest)
        .delete("/keys/{name}", "KeyDelete", delete)
        .get("/keys/{name}/", "KeyGet", get_latest)
        .patch("/keys/{name}/", "KeyUpdate", update_latest)
        .post("/keys/{name}/create", "KeyCreate", create)
        .get("/keys/{name}/versions", "KeyListVersions", list_versions)
        .post("/keys/{name}/backup", "KeyBackup", backup)
        .post("/keys/{name}/rotate", "KeyRotate", rotate)
        .get("/keys/{name}/rotationpolicy", "KeyRotationPolicyGet", get_policy)
        .put("/keys/{name}/rotationpolicy", "KeyRotationPolicySet", set_policy)
        .post("/keys/{name}/release", "KeyRelease", release_latest)
        .post("/keys/{name}//release", "KeyRelease", release_latest)
        .get("/keys/{name}/{version}", "KeyGet", get_version)
        .patch("/keys/{name}/{version}", "KeyUpdate", update_version)
        // `POST /keys/{name}/sign`: the segment after the name is the operation, not a version.
        .post("/keys/{name}/{version}", versionless, operation_versionless)
        .post("/keys/{name}/{version}/{op}", versioned, operation)
        .post("/keys/{name}//{op}", versionless, operation_latest)
        .get("/deletedkeys", "DeletedKeyList", list_deleted)
        .get("/deletedkeys/{name}", "DeletedKeyGet", show_deleted)
        .delete("/deletedkeys/{name}", "KeyPurge", purge)
        .post("/deletedkeys/{name}/recover", "KeyRecover", recover)
        .post("/rng", "GetRandomBytes", random)
}

type Result<T> = std::result::Result<Json<T>, ApiError>;
type Versioned<T> = std::result::Result<(Extension<AuditVersion>, Json<T>), ApiError>;

fn versioned<T>(version: &str, body: T) -> (Extension<AuditVersion>, Json<T>) {
    (Extension(AuditVersion(version.to_owned())), Json(body))
}

fn latest(version: &str) -> Option<&str> {
    Some(version).filter(|v| !v.is_empty())
}

async fn create(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<KeyCreateParameters>,
) -> Versioned<KeyBundle> {
    let r = s.core.vault_keys.create(&caller.caller(), &vault, &name, body).await?;
    Ok(versioned(&r.version, key_bundle(&origin, &vault, &r)))
}

async fn import(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<KeyImportParameters>,
) -> Versioned<KeyBundle> {
    let r = s.core.vault_keys.import(&caller.caller(), &vault, &name, body).await?;
    Ok(versioned(&r.version, key_bundle(&origin, &vault, &r)))
}

async fn read(
    caller: &VaultCaller,
    s: &AppState,
    vault: &keyhold_store::VaultRecord,
    origin: &str,
    name: &str,
    version: Option<&str>,
) -> Versioned<KeyBundle> {
    let r = s.core.vault_keys.get(&caller.caller(), vault, name, version).await?;
    Ok(versioned(&r.version, key_bundle(origin, vault, &r)))
}

async fn get_latest(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Versioned<KeyBundle> {
    read(&caller, &s, &vault, &origin, &name, None).await
}

async fn get_version(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path((name, version)): Path<(String, String)>,
) -> Versioned<KeyBundle> {
    read(&caller, &s, &vault, &origin, &name, latest(&version)).await
}

async fn patch(
    caller: &VaultCaller,
    s: &AppState,
    vault: &keyhold_store::VaultRecord,
    origin: &str,
    name: &str,
    version: Option<&str>,
    body: KeyUpdateParameters,
) -> Versioned<KeyBundle> {
    let r = s
        .core
        .vault_keys
        .update(&caller.caller(), vault, name, version, body)
        .await?;
    Ok(versioned(&r.version, key_bundle(origin, vault, &r)))
}

async fn update_latest(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<KeyUpdateParameters>,
) -> Versioned<KeyBundle> {
    patch(&caller, &s, &vault, &origin, &name, None, body).await
}

async fn update_version(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path((name, version)): Path<(String, String)>,
    KvJson(body): KvJson<KeyUpdateParameters>,
) -> Versioned<KeyBundle> {
    patch(&caller, &s, &vault, &origin, &name, latest(&version), body).await
}

async fn list(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    q: ListQuery,
) -> Result<Page<KeyItem>> {
    let page = s
        .core
        .vault_keys
        .list(&caller.caller(), &vault, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page.items.iter().map(|r| key_item(&origin, &vault, r, false)).collect(),
        next_link: next_link(&origin, "/keys", &api, q.max, page.next),
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
) -> Result<Page<KeyItem>> {
    let page = s
        .core
        .vault_keys
        .list_versions(&caller.caller(), &vault, &name, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page.items.iter().map(|r| key_item(&origin, &vault, r, true)).collect(),
        next_link: next_link(&origin, &format!("/keys/{name}/versions"), &api, q.max, page.next),
    }))
}

async fn delete(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<KeyBundle> {
    let d = s.core.vault_keys.delete(&caller.caller(), &vault, &name).await?;
    Ok(Json(deleted_key_bundle(&origin, &vault, &d)))
}

async fn backup(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<BackupBlob> {
    Ok(Json(BackupBlob {
        value: Some(s.core.vault_keys.backup(&caller.caller(), &vault, &name).await?),
    }))
}

async fn restore(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    KvJson(body): KvJson<BackupBlob>,
) -> Versioned<KeyBundle> {
    let blob = body
        .value
        .ok_or_else(|| bad_parameter("The parameter 'value' is required."))?;
    let r = s.core.vault_keys.restore(&caller.caller(), &vault, &blob).await?;
    Ok(versioned(&r.version, key_bundle(&origin, &vault, &r)))
}

async fn rotate(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Versioned<KeyBundle> {
    let r = s.core.vault_keys.rotate(&caller.caller(), &vault, &name).await?;
    Ok(versioned(&r.version, key_bundle(&origin, &vault, &r)))
}

async fn get_policy(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<KeyRotationPolicy> {
    let mut p = s
        .core
        .vault_keys
        .rotation_policy(&caller.caller(), &vault, &name)
        .await?;
    p.id = Some(format!("{origin}/keys/{name}/rotationpolicy"));
    Ok(Json(p))
}

async fn set_policy(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<KeyRotationPolicy>,
) -> Result<KeyRotationPolicy> {
    let mut p = s
        .core
        .vault_keys
        .set_rotation_policy(&caller.caller(), &vault, &name, body)
        .await?;
    p.id = Some(format!("{origin}/keys/{name}/rotationpolicy"));
    Ok(Json(p))
}

async fn release_latest(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(_body): KvJson<KeyReleaseParameters>,
) -> std::result::Result<StatusCode, ApiError> {
    s.core.vault_keys.release(&caller.caller(), &vault, &name, None).await?;
    Ok(StatusCode::OK)
}

/// `POST /keys/{name}/{version}/{op}`: sign, verify, encrypt, decrypt, wrapkey, unwrapkey, release.
async fn operation(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path((name, version, op)): Path<(String, String, String)>,
    KvJson(body): KvJson<serde_json::Value>,
) -> std::result::Result<axum::response::Response, ApiError> {
    run(
        caller,
        s,
        vault,
        origin,
        name,
        latest(&version).map(str::to_owned),
        op,
        body,
    )
    .await
}

async fn operation_latest(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path((name, op)): Path<(String, String)>,
    KvJson(body): KvJson<serde_json::Value>,
) -> std::result::Result<axum::response::Response, ApiError> {
    run(caller, s, vault, origin, name, None, op, body).await
}

/// `POST /keys/{name}/{op}`: an operation on the latest version.
async fn operation_versionless(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path((name, op)): Path<(String, String)>,
    KvJson(body): KvJson<serde_json::Value>,
) -> std::result::Result<axum::response::Response, ApiError> {
    run(caller, s, vault, origin, name, None, op, body).await
}

fn parse<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> std::result::Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| bad_parameter(format!("The request body is invalid: {e}")))
}

#[allow(clippy::too_many_arguments)]
async fn run(
    caller: VaultCaller,
    s: AppState,
    vault: std::sync::Arc<keyhold_store::VaultRecord>,
    origin: String,
    name: String,
    version: Option<String>,
    op: String,
    body: serde_json::Value,
) -> std::result::Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let caller = caller.caller();
    let keys = &s.core.vault_keys;
    let version = version.as_deref();
    let required =
        |v: Option<String>, what: &str| v.ok_or_else(|| bad_parameter(format!("The parameter '{what}' is required.")));
    let op = op.to_ascii_lowercase();
    let crypt = match op.as_str() {
        "encrypt" => Some(EncryptOp::Encrypt),
        "decrypt" => Some(EncryptOp::Decrypt),
        "wrapkey" => Some(EncryptOp::WrapKey),
        "unwrapkey" => Some(EncryptOp::UnwrapKey),
        _ => None,
    };
    if let Some(crypt) = crypt {
        let p: KeyOperationsParameters = parse(body)?;
        let (alg, value) = (required(p.alg, "alg")?, required(p.value, "value")?);
        let r = keys.crypt(&caller, &vault, &name, version, crypt, &alg, &value).await?;
        let out = KeyOperationResult {
            kid: kid(&origin, &r.record),
            value: keyhold_core::vault_keys::jwk::b64(&r.value),
        };
        return Ok(versioned(&r.record.version, out).into_response());
    }
    match op.as_str() {
        "sign" => {
            let p: KeyOperationsParameters = parse(body)?;
            let (alg, value) = (required(p.alg, "alg")?, required(p.value, "value")?);
            let r = keys.sign(&caller, &vault, &name, version, &alg, &value).await?;
            let out = KeyOperationResult {
                kid: kid(&origin, &r.record),
                value: keyhold_core::vault_keys::jwk::b64(&r.value),
            };
            Ok(versioned(&r.record.version, out).into_response())
        }
        "verify" => {
            let p: KeyVerifyParameters = parse(body)?;
            let (alg, digest, value) = (
                required(p.alg, "alg")?,
                required(p.digest, "digest")?,
                required(p.value, "value")?,
            );
            let ok = keys
                .verify(&caller, &vault, &name, version, &alg, &digest, &value)
                .await?;
            Ok(Json(KeyVerifyResult { value: ok }).into_response())
        }
        "release" => {
            let _: KeyReleaseParameters = parse(body)?;
            keys.release(&caller, &vault, &name, version).await?;
            Ok(StatusCode::OK.into_response())
        }
        other => Err(ApiError::NotFound {
            message: format!("The key operation '{other}' is not served by keyhold."),
        }),
    }
}

async fn list_deleted(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    q: ListQuery,
) -> Result<Page<KeyItem>> {
    let page = s
        .core
        .vault_keys
        .list_deleted(&caller.caller(), &vault, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page
            .items
            .iter()
            .map(|d| deleted_key_item(&origin, &vault, d))
            .collect(),
        next_link: next_link(&origin, "/deletedkeys", &api, q.max, page.next),
    }))
}

async fn show_deleted(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<KeyBundle> {
    let d = s.core.vault_keys.deleted(&caller.caller(), &vault, &name).await?;
    Ok(Json(deleted_key_bundle(&origin, &vault, &d)))
}

async fn purge(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    _: ApiVersion,
    Path(name): Path<String>,
) -> std::result::Result<StatusCode, ApiError> {
    s.core.vault_keys.purge(&caller.caller(), &vault, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn recover(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Versioned<KeyBundle> {
    let r = s.core.vault_keys.recover(&caller.caller(), &vault, &name).await?;
    Ok(versioned(&r.version, key_bundle(&origin, &vault, &r)))
}

async fn random(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(_vault): Vault,
    _: ApiVersion,
    KvJson(body): KvJson<RandomBytesRequest>,
) -> Result<RandomBytes> {
    let _ = caller.caller();
    let bytes = s.core.vault_keys.random_bytes(body.count)?;
    Ok(Json(RandomBytes {
        value: keyhold_core::vault_keys::jwk::b64(&bytes),
    }))
}
