//! The token endpoints: v2 (`scope=<resource>/.default`) and v1 (`resource=`), client credentials with
//! a client secret or a certificate assertion. Unknown form fields (MSAL telemetry, `claims`) are
//! ignored, as Entra does.

use std::collections::HashMap;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::request::Parts,
    response::{IntoResponse, Response},
};
use keyhold_core::{AuthError, identity::ClientCredential};
use keyhold_proto::entra::TokenResponse;
use secrecy::SecretString;

use crate::{AppState, audit::Routes, error::OAuthError, extract::own_origin};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .post("/{tenant}/oauth2/v2.0/token", "TokenIssue", v2)
        .post("/{tenant}/oauth2/token", "TokenIssue", v1)
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn v2(State(s): State<AppState>, Path(tenant): Path<String>, parts: Parts, body: Bytes) -> Response {
    issue(&s, &tenant, &parts, &body, Version::V2).await
}

async fn v1(State(s): State<AppState>, Path(tenant): Path<String>, parts: Parts, body: Bytes) -> Response {
    issue(&s, &tenant, &parts, &body, Version::V1).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

async fn issue(s: &AppState, tenant: &str, parts: &Parts, body: &[u8], version: Version) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let result = grant(s, tenant, parts, &form, version).await;
    if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
        let oid = result.as_ref().ok().map(|(_, oid)| oid.as_str());
        slot.caller(oid, form.get("client_id").map(String::as_str));
    }
    match result {
        Ok((resp, _)) => Json(resp).into_response(),
        Err(error) => OAuthError {
            error,
            tenant: s.core.tenant_id.clone(),
        }
        .into_response(),
    }
}

/// The token response and the object id it was issued to.
async fn grant(
    s: &AppState,
    tenant: &str,
    parts: &Parts,
    form: &HashMap<String, String>,
    version: Version,
) -> Result<(TokenResponse, String), AuthError> {
    let id = &s.core.identity;
    id.resolve_tenant(tenant)?;
    let field = |name: &'static str| {
        form.get(name)
            .filter(|v| !v.is_empty())
            .ok_or(AuthError::MissingParameter(name))
    };
    let grant_type = field("grant_type")?;
    if grant_type != "client_credentials" {
        return Err(AuthError::UnsupportedGrant(grant_type.clone()));
    }
    let client_id = field("client_id")?;
    let resource = match version {
        Version::V2 => resource_of_scope(field("scope")?)?,
        Version::V1 => field("resource")?.clone(),
    };
    let secret;
    let audiences = token_endpoints(
        &own_origin(parts, &s.core.config),
        &s.core.config.public_url,
        &s.core.tenant_id,
    );
    let credential = if let Some(sec) = form.get("client_secret").filter(|v| !v.is_empty()) {
        secret = SecretString::from(sec.clone());
        ClientCredential::Secret(&secret)
    } else if let (Some(kind), Some(jwt)) = (form.get("client_assertion_type"), form.get("client_assertion")) {
        if kind != JWT_BEARER {
            return Err(AuthError::InvalidAssertion(format!(
                "unsupported client_assertion_type '{kind}'"
            )));
        }
        ClientCredential::Assertion {
            jwt,
            audiences: &audiences,
        }
    } else {
        return Err(AuthError::MissingCredential);
    };
    let source = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let token = id.client_credentials(client_id, credential, &resource, source).await?;
    let response = TokenResponse {
        token_type: "Bearer".into(),
        expires_in: token.expires_in,
        ext_expires_in: token.expires_in,
        expires_on: (version == Version::V1).then(|| token.expires_on.to_string()),
        not_before: (version == Version::V1).then(|| token.not_before.to_string()),
        resource: (version == Version::V1).then(|| token.resource.clone()),
        access_token: token.access_token,
    };
    Ok((response, token.oid))
}

/// `https://x/.default` → `https://x`; `https://management.azure.com//.default` → `https://management.azure.com/`.
/// Other scopes MSAL adds (`openid`, `profile`, `offline_access`) are ignored.
fn resource_of_scope(scope: &str) -> Result<String, AuthError> {
    let mut resources = scope
        .split_whitespace()
        .filter(|s| !matches!(*s, "openid" | "profile" | "offline_access"))
        .map(|s| {
            s.strip_suffix("/.default")
                .map(str::to_owned)
                .ok_or_else(|| AuthError::InvalidScope(s.to_owned()))
        });
    match (resources.next(), resources.next()) {
        (Some(r), None) => r,
        (None, _) => Err(AuthError::InvalidScope(scope.to_owned())),
        (Some(_), Some(_)) => Err(AuthError::InvalidScope(scope.to_owned())),
    }
}

/// Every URL of our token endpoint a client assertion may name as its audience.
fn token_endpoints(origin: &str, public_url: &str, tenant: &str) -> Vec<String> {
    let mut out = Vec::new();
    for base in [origin, public_url] {
        for seg in [tenant, "adfs"] {
            out.push(format!("{base}/{seg}/oauth2/v2.0/token"));
            out.push(format!("{base}/{seg}/oauth2/token"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(
            resource_of_scope("https://vault.azure.net/.default").ok().as_deref(),
            Some("https://vault.azure.net")
        );
        assert_eq!(
            resource_of_scope("https://management.azure.com//.default offline_access")
                .ok()
                .as_deref(),
            Some("https://management.azure.com/")
        );
        assert!(resource_of_scope("https://vault.azure.net/user_impersonation").is_err());
        assert!(resource_of_scope("openid").is_err());
    }
}
