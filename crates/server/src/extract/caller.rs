//! Bearer-token callers. [`VaultCaller`] answers a missing or bad token with Key Vault's challenge
//! before any body is read (the SDKs' first request is bodiless and expects exactly that).
//! [`AdminCaller`] accepts management tokens of the admin principal only.

use axum::{extract::FromRequestParts, http::request::Parts};
use keyhold_core::{
    authz::Caller,
    identity::{Audience, TokenError, VerifiedToken},
};

use crate::{AppState, audit::AuditSlot, error::ApiError};

#[derive(Debug, Clone)]
pub struct VaultCaller(pub VerifiedToken);

#[derive(Debug, Clone)]
pub struct AdminCaller(pub VerifiedToken);

/// A management-plane caller: any principal with a management token; authorization is per action.
#[derive(Debug, Clone)]
pub struct ArmCaller(pub VerifiedToken);

fn caller_of(token: &VerifiedToken) -> Caller {
    Caller {
        oid: token.claims.oid.clone(),
        appid: token.claims.appid.clone(),
        tenant: token.claims.tid.clone(),
    }
}

impl VaultCaller {
    pub fn caller(&self) -> Caller {
        caller_of(&self.0)
    }
}

impl AdminCaller {
    pub fn caller(&self) -> Caller {
        caller_of(&self.0)
    }
}

/// A Microsoft Graph caller: any principal with a token for keyhold's Graph resource; the directory
/// decides what it may.
#[derive(Debug, Clone)]
pub struct GraphCaller(pub VerifiedToken);

impl GraphCaller {
    pub fn caller(&self) -> Caller {
        caller_of(&self.0)
    }
}

impl FromRequestParts<AppState> for GraphCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        verify(parts, state, Audience::Graph)
            .await
            .map(Self)
            .map_err(|e| match e {
                ApiError::Unauthorized { reason, .. } => ApiError::GraphUnauthorized { reason },
                other => other,
            })
    }
}

impl ArmCaller {
    pub fn caller(&self) -> Caller {
        caller_of(&self.0)
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `Bearer authorization="https://idp/<tenant>", resource="https://<suffix>:port"` (wire-protocol §2.2).
pub fn challenge(state: &AppState) -> String {
    format!(
        "Bearer authorization=\"{}/{}\", resource=\"{}\"",
        state.core.config.public_url, state.core.tenant_id, state.core.config.vault_resource
    )
}

async fn verify(parts: &Parts, state: &AppState, want: Audience) -> Result<VerifiedToken, ApiError> {
    let unauthorized = |reason: Option<TokenError>| ApiError::Unauthorized {
        challenge: challenge(state),
        reason,
    };
    let token = bearer(parts).ok_or_else(|| unauthorized(None))?;
    let verified = state
        .core
        .identity
        .verify(token, want)
        .await
        .map_err(|e| unauthorized(Some(e)))?;
    if let Some(slot) = parts.extensions.get::<AuditSlot>() {
        slot.caller(Some(&verified.claims.oid), Some(&verified.claims.appid));
    }
    Ok(verified)
}

impl FromRequestParts<AppState> for VaultCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        verify(parts, state, Audience::Vault).await.map(Self)
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = verify(parts, state, Audience::Management).await?;
        state.core.require_admin(&caller_of(&token))?;
        Ok(Self(token))
    }
}

impl FromRequestParts<AppState> for ArmCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        verify(parts, state, Audience::Management)
            .await
            .map(Self)
            .map_err(|e| match e {
                ApiError::Unauthorized { challenge, reason } => ApiError::ArmUnauthorized { challenge, reason },
                other => other,
            })
    }
}
