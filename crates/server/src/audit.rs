//! Audit middleware: one record per operation, written before the response leaves. The operation,
//! object and version come from the matched route; the caller from a slot the caller extractors (and the
//! token and managed-identity endpoints) fill in. If the record cannot be written the caller gets a 500
//! instead of the response, and for a moment after a failure requests are refused before they run.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Json,
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use keyhold_core::audit::{AuditEntry, AuditLog};
use keyhold_proto::error::ErrorBody;

use crate::vault::VaultName;

/// Who called, filled in during the request.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Caller>>);

#[derive(Default)]
struct Caller {
    oid: Option<String>,
    appid: Option<String>,
}

impl AuditSlot {
    pub fn caller(&self, oid: Option<&str>, appid: Option<&str>) {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        c.oid = oid.map(str::to_owned);
        c.appid = appid.map(str::to_owned);
    }
}

/// The object version an operation touched, when the path does not name it (set, get latest).
#[derive(Debug, Clone)]
pub struct AuditVersion(pub String);

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn refused() -> Response {
    let body = ErrorBody::new(
        "AuditFailure",
        "The request could not be written to the audit log, so it was refused.",
    );
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

pub async fn record(State(log): State<Arc<AuditLog>>, mut req: Request, next: Next) -> Response {
    let now = unix_now();
    if !log.accepting(now) {
        return refused();
    }
    let request_id = keyhold_crypto::random::guid();
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let (operation, object, path_version, path_vault) = classify(req.method(), &matched, req.uri().path());
    let vault = req.extensions().get::<VaultName>().map(|v| v.0.clone()).or(path_vault);
    let client_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());

    let mut resp = next.run(req).await;

    let caller = std::mem::take(&mut *slot.0.lock().unwrap_or_else(|e| e.into_inner()));
    let version = resp
        .extensions()
        .get::<AuditVersion>()
        .map(|v| v.0.clone())
        .or(path_version);
    let entry = AuditEntry {
        time: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        request_id: request_id.clone(),
        caller_oid: caller.oid,
        caller_appid: caller.appid,
        client_ip,
        operation,
        vault,
        object,
        version,
        result: resp.status().as_u16(),
    };
    if let Err(e) = log.append(entry, now) {
        tracing::error!(error = %e, "audit write failed; refusing the response");
        return refused();
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-ms-request-id", v);
    }
    resp
}

/// (operation, object, version, vault) from the route template and the actual path.
fn classify(method: &Method, matched: &str, path: &str) -> (String, Option<String>, Option<String>, Option<String>) {
    let mut object = None;
    let mut version = None;
    let mut vault = None;
    for (template, actual) in matched.split('/').zip(path.split('/')) {
        match template {
            "{name}" if matched.starts_with("/keyhold/v1/vaults") => vault = Some(actual.to_owned()),
            "{name}" | "{app_id}" | "{agent_id}" => object = Some(actual.to_owned()),
            "{version}" => version = Some(actual.to_owned()).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    let m = method.as_str();
    let op = match (m, matched.trim_end_matches('/')) {
        ("PUT", "/secrets/{name}") => "SecretSet",
        ("GET", "/secrets") => "SecretList",
        ("GET", "/secrets/{name}" | "/secrets/{name}/{version}") => "SecretGet",
        ("PATCH", "/secrets/{name}" | "/secrets/{name}/{version}") => "SecretUpdate",
        ("DELETE", "/secrets/{name}") => "SecretDelete",
        ("GET", "/secrets/{name}/versions") => "SecretListVersions",
        ("POST", "/secrets/{name}/backup") => "SecretBackup",
        ("POST", "/secrets/restore") => "SecretRestore",
        ("GET", "/deletedsecrets") => "DeletedSecretList",
        ("GET", "/deletedsecrets/{name}") => "DeletedSecretGet",
        ("DELETE", "/deletedsecrets/{name}") => "SecretPurge",
        ("POST", "/deletedsecrets/{name}/recover") => "SecretRecover",
        ("POST", "/{tenant}/oauth2/v2.0/token" | "/{tenant}/oauth2/token") => "TokenIssue",
        ("PUT", "/keyhold/v1/vaults/{name}") => "VaultWrite",
        ("GET", "/keyhold/v1/vaults/{name}") => "VaultRead",
        ("POST", "/keyhold/v1/servicePrincipals") => "ServicePrincipalCreate",
        ("POST", "/keyhold/v1/servicePrincipals/{app_id}/certificates") => "ServicePrincipalCertificateAdd",
        ("POST", "/keyhold/v1/signingKeys/rotate") => "SigningKeyRotate",
        ("POST", "/keyhold/v1/agents/joinTokens") => "AgentJoinTokenCreate",
        ("POST", "/keyhold/v1/agents/enroll") => "AgentEnroll",
        ("POST", "/keyhold/v1/agents/token") => "AgentToken",
        ("DELETE", "/keyhold/v1/agents/{agent_id}") => "AgentRevoke",
        ("POST", "/keyhold/v1/sys/rotate") => "DataKeyRotate",
        ("GET", "/keyhold/v1/sys/rotation-status") => "DataKeyRotationStatus",
        ("POST", "/keyhold/v1/sys/init") => "SealInit",
        ("POST", "/keyhold/v1/sys/unseal") => "Unseal",
        ("GET", "/keyhold/v1/sys/seal-status") => "SealStatus",
        ("", _) | (_, "") => "ManagedIdentityToken",
        _ => return (format!("{m} {matched}"), object, version, vault),
    };
    (op.to_owned(), object, version, vault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_operation_and_object() {
        let (op, obj, ver, _) = classify(&Method::GET, "/secrets/{name}/{version}", "/secrets/db/abc");
        assert_eq!(
            (op.as_str(), obj.as_deref(), ver.as_deref()),
            ("SecretGet", Some("db"), Some("abc"))
        );
        let (op, obj, _, vault) = classify(&Method::PUT, "/keyhold/v1/vaults/{name}", "/keyhold/v1/vaults/kv1");
        assert_eq!((op.as_str(), obj, vault.as_deref()), ("VaultWrite", None, Some("kv1")));
        assert_eq!(
            classify(&Method::DELETE, "/deletedsecrets/{name}", "/deletedsecrets/x").0,
            "SecretPurge"
        );
    }
}
