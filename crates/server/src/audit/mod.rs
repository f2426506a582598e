//! Audit middleware: a mutating request gets a `request` record before its handler runs, and every
//! request an outcome record before its response leaves. The operation is declared with the route
//! (`Routes`), the target read from the matched path (`operation`); the caller from a slot the caller extractors (and the token and
//! managed-identity endpoints) fill in; handlers may add the version they created (`AuditVersion`) or
//! detail (`AuditDetail`).
//!
//! Why two records: a change committed by a handler whose outcome record is never written (the client
//! dropped the connection, the process was killed, the disk filled between commit and append) would
//! otherwise leave no trace. The request record is written first, and if it cannot be written the
//! handler never runs. The handler then runs in its own task, so a dropped connection cannot cancel it
//! between its commit and its outcome record. A request that changes nothing (a GET, a key's sign)
//! runs in place: dropped, it disclosed nothing, since its outcome is written before its response.
//!
//! When the log cannot be written the caller gets 503 with `Retry-After` (the SDKs retry it), and for
//! a second after a failure requests are refused before they run.

use std::{
    net::SocketAddr,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
};

use axum::{
    Json,
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::FutureExt;
use keyhold_core::{
    audit::{AuditEntry, AuditLog, PHASE_REQUEST},
    clock::now_rfc3339,
};
use keyhold_proto::error::ErrorBody;

use crate::vault::VaultName;

mod operation;
mod routes;

pub use operation::Op;
pub use routes::{Audited, Routes};

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

/// What else the outcome record should say (e.g. a role assignment's principal, role and scope). Never
/// a value, secret or token.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct AuditDetail(pub String);

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// 503 with `Retry-After`: the audit log cannot be written (usually a full disk), so nothing runs.
fn refused() -> Response {
    unavailable(
        "AuditFailure",
        "The request could not be written to the audit log (is its disk full?), so it was refused. Retry later.",
    )
}

/// The outcome could not be recorded after the handler ran: the change may have been applied (its
/// request record is in the log), so say so rather than pretend nothing happened.
fn outcome_unrecorded() -> Response {
    unavailable(
        "AuditFailure",
        "The outcome could not be written to the audit log (is its disk full?). The request may have been applied; read before retrying.",
    )
}

pub(crate) fn unavailable(code: &str, message: &str) -> Response {
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, Json(ErrorBody::new(code, message))).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}

/// A role assignment's principal, role and scope, read from the ARM body the handler answered with
/// (small JSON), so that privilege changes are on record without the ARM routes knowing about audit.
async fn assignment_detail(resp: Response) -> (Option<String>, Response) {
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return (None, Response::from_parts(parts, axum::body::Body::empty()));
    };
    let detail = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| {
        let p = v.get("properties")?;
        let field = |k: &str| p.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
        Some(format!(
            "principalId={} roleDefinitionId={} scope={}",
            field("principalId"),
            field("roleDefinitionId"),
            field("scope")
        ))
    });
    (detail, Response::from_parts(parts, axum::body::Body::from(bytes)))
}

pub async fn record(State(Audited { log, op }): State<Audited>, mut req: Request, next: Next) -> Response {
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
    let op = operation::describe(op, req.method(), &matched, req.uri().path());
    let vault = req.extensions().get::<VaultName>().map(|v| v.0.clone()).or(op.vault);
    let client_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let entry = AuditEntry {
        time: now_rfc3339(),
        request_id: request_id.clone(),
        client_ip,
        operation: op.name,
        vault,
        object: op.object,
        version: op.version,
        ..Default::default()
    };
    let changes = !op.changes_nothing && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes {
        let request = AuditEntry {
            phase: Some(PHASE_REQUEST.to_owned()),
            ..entry.clone()
        };
        if let Err(e) = log.append(request, now) {
            tracing::error!(error = %e, "AUDIT LOG UNWRITABLE: refusing requests until it can be written");
            return refused();
        }
    }
    let outcome = outcome(log, entry, slot, request_id, next.run(req));
    if !changes {
        // Nothing can be cut between a commit and its record: run right here, which spares a read the
        // hand-off to a task of its own (and the wake-up of an idle worker that hand-off costs).
        return match AssertUnwindSafe(outcome).catch_unwind().await {
            Ok(resp) => resp,
            Err(_) => failed_task(),
        };
    }
    // Its own task: dropping the connection drops this future, not the handler and its outcome record.
    match tokio::spawn(outcome).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "request task failed");
            failed_task()
        }
    }
}

fn failed_task() -> Response {
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Runs the handler and writes the outcome record; the response carries the request id.
async fn outcome(
    log: Arc<AuditLog>,
    mut entry: AuditEntry,
    slot: AuditSlot,
    request_id: String,
    handler: impl Future<Output = Response>,
) -> Response {
    let mut resp = handler.await;
    let caller = std::mem::take(&mut *slot.0.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(v) = resp.extensions().get::<AuditVersion>() {
        entry.version = Some(v.0.clone());
    }
    entry.detail = resp.extensions().get::<AuditDetail>().map(|d| d.0.clone());
    if entry.detail.is_none() && entry.operation.starts_with("Microsoft.Authorization/roleAssignments/") {
        let (detail, rebuilt) = assignment_detail(resp).await;
        entry.detail = detail;
        resp = rebuilt;
    }
    entry.time = now_rfc3339();
    entry.caller_oid = caller.oid;
    entry.caller_appid = caller.appid;
    entry.result = resp.status().as_u16();
    if let Err(e) = log.append(entry, unix_now()) {
        tracing::error!(error = %e, "AUDIT LOG UNWRITABLE: an outcome could not be recorded");
        return outcome_unrecorded();
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-ms-request-id", v);
    }
    resp
}
