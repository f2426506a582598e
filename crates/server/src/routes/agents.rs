//! Agents for other hosts: join tokens and revocation (admin), enrolment (the join token is the
//! credential) and token requests (an ES256 assertion signed by the agent's own key).

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{StatusCode, request::Parts},
    routing::{delete, post},
};
use keyhold_core::identity::IdentitySelector;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    error::{ApiError, MiError, bad_parameter},
    extract::{AdminCaller, KvJson, own_origin},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/keyhold/v1/agents/joinTokens", post(join_token))
        .route("/keyhold/v1/agents/enroll", post(enroll))
        .route("/keyhold/v1/agents/token", post(token))
        .route("/keyhold/v1/agents/{agent_id}", delete(revoke))
}

pub const TOKEN_PATH: &str = "/keyhold/v1/agents/token";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinTokenBody {
    resource_id: String,
    ttl_seconds: Option<i64>,
}

async fn join_token(
    _: AdminCaller,
    State(s): State<AppState>,
    KvJson(body): KvJson<JoinTokenBody>,
) -> Result<Json<Value>, ApiError> {
    let created = s
        .core
        .identity
        .create_join_token(&body.resource_id, body.ttl_seconds.unwrap_or(900))
        .await
        .map_err(|e| bad_parameter(e.to_string()))?;
    Ok(Json(json!({
        "token": created.token.expose_secret(),
        "expiresOn": created.expires_on,
        "resourceId": created.resource_id,
    })))
}

async fn revoke(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(agent_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core
        .identity
        .revoke_agent(&agent_id)
        .await
        .map_err(|e| ApiError::NotFound { message: e.to_string() })?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnrollBody {
    join_token: String,
    public_key: String,
}

async fn enroll(State(s): State<AppState>, Json(body): Json<EnrollBody>) -> Result<Json<Value>, MiError> {
    let agent = s.core.identity.enroll_agent(&body.join_token, &body.public_key).await?;
    Ok(Json(
        json!({"agentId": agent.agent_id, "resourceId": agent.resource_id, "tenantId": s.core.tenant_id}),
    ))
}

#[derive(Deserialize)]
struct TokenBody {
    assertion: String,
    resource: String,
    client_id: Option<String>,
    object_id: Option<String>,
    msi_res_id: Option<String>,
}

async fn token(State(s): State<AppState>, parts: Parts, Json(body): Json<TokenBody>) -> Result<Json<Value>, MiError> {
    let selector = match (body.client_id, body.object_id, body.msi_res_id) {
        (Some(c), None, None) => IdentitySelector::ClientId(c),
        (None, Some(o), None) => IdentitySelector::ObjectId(o),
        (None, None, Some(r)) => IdentitySelector::ResourceId(r),
        (None, None, None) => IdentitySelector::SystemAssigned,
        _ => {
            return Err(MiError::BadRequest(
                "Only one of client_id, object_id or msi_res_id may be specified.".into(),
            ));
        }
    };
    let audiences = [
        format!("{}{TOKEN_PATH}", own_origin(&parts, &s.core.config)),
        format!("{}{TOKEN_PATH}", s.core.config.public_url),
    ];
    let (mi, t) = s
        .core
        .identity
        .agent_token(&body.assertion, &audiences, &selector, &body.resource)
        .await?;
    if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
        slot.caller(Some(&mi.object_id), Some(&mi.client_id));
    }
    Ok(Json(json!({
        "access_token": t.access_token,
        "object_id": mi.object_id,
        "client_id": mi.client_id,
        "expires_on": t.expires_on,
        "not_before": t.not_before,
        "resource": t.resource,
    })))
}
