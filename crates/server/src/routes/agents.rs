//! Agents for other hosts: join tokens and revocation (admin), enrolment (the join token is the
//! credential) and token requests (an ES256 assertion signed by the agent's own key).

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, request::Parts},
};
use keyhold_core::identity::IdentitySelector;
use keyhold_proto::admin::{AgentToken, AgentTokenBody, EnrollBody, Enrolled, JoinToken, JoinTokenBody};
use secrecy::ExposeSecret;

use crate::{
    AppState,
    audit::Routes,
    error::{ApiError, MiError},
    extract::{AdminCaller, KvJson, own_origin},
};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .post("/keyhold/v1/agents/joinTokens", "AgentJoinTokenCreate", join_token)
        .post("/keyhold/v1/agents/enroll", "AgentEnroll", enroll)
        .post(TOKEN_PATH, "AgentToken", token)
        .delete("/keyhold/v1/agents/{agent_id}", "AgentRevoke", revoke)
}

pub const TOKEN_PATH: &str = "/keyhold/v1/agents/token";

async fn join_token(
    _: AdminCaller,
    State(s): State<AppState>,
    KvJson(body): KvJson<JoinTokenBody>,
) -> Result<Json<JoinToken>, ApiError> {
    let created = s
        .core
        .identity
        .create_join_token(&body.resource_id, body.ttl_seconds.unwrap_or(900))
        .await?;
    Ok(Json(JoinToken {
        token: created.token.expose_secret().to_owned(),
        expires_on: created.expires_on,
        resource_id: created.resource_id,
    }))
}

async fn revoke(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(agent_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core.identity.revoke_agent(&agent_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enroll(State(s): State<AppState>, Json(body): Json<EnrollBody>) -> Result<Json<Enrolled>, MiError> {
    let agent = s.core.identity.enroll_agent(&body.join_token, &body.public_key).await?;
    Ok(Json(Enrolled {
        agent_id: agent.agent_id,
        resource_id: agent.resource_id,
        tenant_id: s.core.tenant_id.clone(),
    }))
}

async fn token(
    State(s): State<AppState>,
    parts: Parts,
    Json(body): Json<AgentTokenBody>,
) -> Result<Json<AgentToken>, MiError> {
    let selector = IdentitySelector::one_of(body.client_id, body.object_id, body.msi_res_id)?;
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
    Ok(Json(AgentToken {
        access_token: t.access_token,
        object_id: mi.object_id,
        client_id: mi.client_id,
        expires_on: t.expires_on,
        not_before: t.not_before,
        resource: t.resource,
    }))
}
