//! `/certificates/...` and `/deletedcertificates/...` on a vault host. Thin handlers: caller first (so
//! the challenge precedes any body parsing), then the vault, then one domain call.

use axum::{
    Extension, Json,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use keyhold_proto::{
    certificates::{
        CertificateBundle, CertificateCreateParameters, CertificateImportParameters, CertificateItem,
        CertificateMergeParameters, CertificateOperation, CertificateOperationUpdateParameter, CertificatePolicy,
        CertificateUpdateParameters,
    },
    keyvault::{BackupBlob, Page},
};

use super::{
    bundle::next_link,
    certificate_bundle::{
        certificate_bundle, certificate_item, deleted_certificate_bundle, deleted_certificate_item, operation_body,
        policy_body,
    },
};
use crate::{
    AppState,
    audit::{AuditVersion, Routes},
    error::{ApiError, bad_parameter},
    extract::{ApiVersion, KvJson, ListQuery, VaultCaller},
    vault::{Origin, Vault},
};

pub fn routes() -> Routes<AppState> {
    const PENDING: &str = "/certificates/{name}/pending";
    super::certificate_issuers::routes()
        .get("/certificates", "CertificateList", list)
        .get("/certificates/{name}", "CertificateGet", get_latest)
        .patch("/certificates/{name}", "CertificateUpdate", update_latest)
        .delete("/certificates/{name}", "CertificateDelete", delete)
        .get("/certificates/{name}/", "CertificateGet", get_latest)
        .patch("/certificates/{name}/", "CertificateUpdate", update_latest)
        .post("/certificates/{name}/create", "CertificateCreate", create)
        .post("/certificates/{name}/import", "CertificateImport", import)
        .post("/certificates/{name}/backup", "CertificateBackup", backup)
        .post("/certificates/restore", "CertificateRestore", restore)
        .get(
            "/certificates/{name}/versions",
            "CertificateListVersions",
            list_versions,
        )
        .get("/certificates/{name}/policy", "CertificatePolicyGet", get_policy)
        .patch("/certificates/{name}/policy", "CertificatePolicySet", update_policy)
        .get(PENDING, "CertificatePendingGet", get_pending)
        .patch(PENDING, "CertificatePendingUpdate", cancel_pending)
        .delete(PENDING, "CertificatePendingDelete", delete_pending)
        .post("/certificates/{name}/pending/merge", "CertificatePendingMerge", merge)
        .get("/certificates/{name}/{version}", "CertificateGet", get_version)
        .patch("/certificates/{name}/{version}", "CertificateUpdate", update_version)
        .get("/deletedcertificates", "DeletedCertificateList", list_deleted)
        .get("/deletedcertificates/{name}", "DeletedCertificateGet", show_deleted)
        .delete("/deletedcertificates/{name}", "CertificatePurge", purge)
        .post("/deletedcertificates/{name}/recover", "CertificateRecover", recover)
}

type Result<T> = std::result::Result<Json<T>, ApiError>;
type Versioned<T> = std::result::Result<(Extension<AuditVersion>, Json<T>), ApiError>;

fn versioned<T>(version: &str, body: T) -> (Extension<AuditVersion>, Json<T>) {
    (Extension(AuditVersion(version.to_owned())), Json(body))
}

fn latest(version: &str) -> Option<&str> {
    Some(version).filter(|v| !v.is_empty())
}

/// 202 with the operation and, as Key Vault, `Location` at the pending operation and `Retry-After`.
async fn create(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<CertificateCreateParameters>,
) -> std::result::Result<Response, ApiError> {
    let (op, version) = s
        .core
        .certificates
        .create(&caller.caller(), &vault, &name, body)
        .await?;
    let mut resp = (StatusCode::ACCEPTED, Json(operation_body(&origin, &name, op))).into_response();
    if let Some(v) = version {
        resp.extensions_mut().insert(AuditVersion(v));
    }
    let location = format!("{origin}/certificates/{name}/pending?api-version={}", api.0);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    Ok(resp)
}

async fn import(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<CertificateImportParameters>,
) -> Versioned<CertificateBundle> {
    let v = s
        .core
        .certificates
        .import(&caller.caller(), &vault, &name, body)
        .await?;
    Ok(versioned(&v.record.version, certificate_bundle(&origin, &vault, &v)))
}

async fn read(
    caller: &VaultCaller,
    s: &AppState,
    vault: &keyhold_store::VaultRecord,
    origin: &str,
    name: &str,
    version: Option<&str>,
) -> Versioned<CertificateBundle> {
    let v = s.core.certificates.get(&caller.caller(), vault, name, version).await?;
    Ok(versioned(&v.record.version, certificate_bundle(origin, vault, &v)))
}

async fn get_latest(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Versioned<CertificateBundle> {
    read(&caller, &s, &vault, &origin, &name, None).await
}

async fn get_version(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path((name, version)): Path<(String, String)>,
) -> Versioned<CertificateBundle> {
    read(&caller, &s, &vault, &origin, &name, latest(&version)).await
}

async fn patch(
    caller: &VaultCaller,
    s: &AppState,
    vault: &keyhold_store::VaultRecord,
    origin: &str,
    name: &str,
    version: Option<&str>,
    body: CertificateUpdateParameters,
) -> Versioned<CertificateBundle> {
    let v = s
        .core
        .certificates
        .update(&caller.caller(), vault, name, version, body)
        .await?;
    Ok(versioned(&v.record.version, certificate_bundle(origin, vault, &v)))
}

async fn update_latest(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<CertificateUpdateParameters>,
) -> Versioned<CertificateBundle> {
    patch(&caller, &s, &vault, &origin, &name, None, body).await
}

async fn update_version(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path((name, version)): Path<(String, String)>,
    KvJson(body): KvJson<CertificateUpdateParameters>,
) -> Versioned<CertificateBundle> {
    patch(&caller, &s, &vault, &origin, &name, latest(&version), body).await
}

async fn list(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    q: ListQuery,
) -> Result<Page<CertificateItem>> {
    let page = s
        .core
        .certificates
        .list(&caller.caller(), &vault, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page
            .items
            .iter()
            .map(|r| certificate_item(&origin, &vault, r, false))
            .collect(),
        next_link: next_link(&origin, "/certificates", &api, q.max, page.next),
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
) -> Result<Page<CertificateItem>> {
    let page = s
        .core
        .certificates
        .list_versions(&caller.caller(), &vault, &name, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page
            .items
            .iter()
            .map(|r| certificate_item(&origin, &vault, r, true))
            .collect(),
        next_link: next_link(
            &origin,
            &format!("/certificates/{name}/versions"),
            &api,
            q.max,
            page.next,
        ),
    }))
}

async fn get_policy(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<CertificatePolicy> {
    let p = s.core.certificates.policy(&caller.caller(), &vault, &name).await?;
    Ok(Json(policy_body(&origin, &name, p)))
}

async fn update_policy(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<CertificatePolicy>,
) -> Result<CertificatePolicy> {
    let p = s
        .core
        .certificates
        .update_policy(&caller.caller(), &vault, &name, body)
        .await?;
    Ok(Json(policy_body(&origin, &name, p)))
}

async fn get_pending(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<CertificateOperation> {
    let op = s.core.certificates.operation(&caller.caller(), &vault, &name).await?;
    Ok(Json(operation_body(&origin, &name, op)))
}

async fn cancel_pending(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<CertificateOperationUpdateParameter>,
) -> Result<CertificateOperation> {
    let op = s
        .core
        .certificates
        .cancel_operation(&caller.caller(), &vault, &name, body.cancellation_requested)
        .await?;
    Ok(Json(operation_body(&origin, &name, op)))
}

async fn delete_pending(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<CertificateOperation> {
    let op = s
        .core
        .certificates
        .delete_operation(&caller.caller(), &vault, &name)
        .await?;
    Ok(Json(operation_body(&origin, &name, op)))
}

async fn delete(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<CertificateBundle> {
    let (d, policy) = s.core.certificates.delete(&caller.caller(), &vault, &name).await?;
    Ok(Json(deleted_certificate_bundle(&origin, &vault, &d, policy)))
}

async fn list_deleted(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    api: ApiVersion,
    q: ListQuery,
) -> Result<Page<CertificateItem>> {
    let page = s
        .core
        .certificates
        .list_deleted(&caller.caller(), &vault, q.max, q.cursor)
        .await?;
    Ok(Json(Page {
        value: page
            .items
            .iter()
            .map(|d| deleted_certificate_item(&origin, &vault, d))
            .collect(),
        next_link: next_link(&origin, "/deletedcertificates", &api, q.max, page.next),
    }))
}

async fn show_deleted(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<CertificateBundle> {
    let (d, policy) = s.core.certificates.deleted(&caller.caller(), &vault, &name).await?;
    Ok(Json(deleted_certificate_bundle(&origin, &vault, &d, policy)))
}

async fn recover(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Versioned<CertificateBundle> {
    let v = s.core.certificates.recover(&caller.caller(), &vault, &name).await?;
    Ok(versioned(&v.record.version, certificate_bundle(&origin, &vault, &v)))
}

async fn purge(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    _: ApiVersion,
    Path(name): Path<String>,
) -> std::result::Result<StatusCode, ApiError> {
    s.core.certificates.purge(&caller.caller(), &vault, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 201 with the certificate, as Key Vault answers a merge.
async fn merge(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    Path(name): Path<String>,
    KvJson(body): KvJson<CertificateMergeParameters>,
) -> std::result::Result<(StatusCode, Extension<AuditVersion>, Json<CertificateBundle>), ApiError> {
    let v = s.core.certificates.merge(&caller.caller(), &vault, &name, body).await?;
    Ok((
        StatusCode::CREATED,
        Extension(AuditVersion(v.record.version.clone())),
        Json(certificate_bundle(&origin, &vault, &v)),
    ))
}

async fn backup(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    _: ApiVersion,
    Path(name): Path<String>,
) -> Result<BackupBlob> {
    Ok(Json(BackupBlob {
        value: Some(s.core.certificates.backup(&caller.caller(), &vault, &name).await?),
    }))
}

async fn restore(
    caller: VaultCaller,
    State(s): State<AppState>,
    Vault(vault): Vault,
    Origin(origin): Origin,
    _: ApiVersion,
    KvJson(body): KvJson<BackupBlob>,
) -> Versioned<CertificateBundle> {
    let blob = body
        .value
        .ok_or_else(|| bad_parameter("The parameter 'value' is required."))?;
    let v = s.core.certificates.restore(&caller.caller(), &vault, &blob).await?;
    Ok(versioned(&v.record.version, certificate_bundle(&origin, &vault, &v)))
}
