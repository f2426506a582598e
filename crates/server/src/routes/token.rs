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
use keyhold_proto::entra::{DeviceCodeResponse, TokenResponse};
use secrecy::{ExposeSecret, SecretString};

use crate::{AppState, audit::Routes, error::OAuthError, extract::own_origin};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .post("/{tenant}/oauth2/v2.0/token", "TokenIssue", v2)
        .post("/{tenant}/oauth2/token", "TokenIssue", v1)
        .post("/{tenant}/oauth2/v2.0/devicecode", "DeviceCodeIssue", devicecode)
}

/// A form field that must be present and not empty.
pub(super) fn required<'a>(form: &'a HashMap<String, String>, name: &'static str) -> Result<&'a String, AuthError> {
    form.get(name)
        .filter(|v| !v.is_empty())
        .ok_or(AuthError::MissingParameter(name))
}

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// `POST /{tenant}/oauth2/v2.0/devicecode`: a public client starts a person's sign-in.
async fn devicecode(State(s): State<AppState>, Path(tenant): Path<String>, parts: Parts, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let result = async {
        s.core.identity.resolve_sign_in_tenant(&tenant)?;
        let field = |name: &'static str| required(&form, name);
        let client_id = field("client_id")?;
        let scope = field("scope")?;
        let code = s.core.identity.start_device_code(client_id, scope).await?;
        let verification_uri = format!("{}/devicelogin", own_origin(&parts, &s.core.config));
        Ok::<_, AuthError>(DeviceCodeResponse {
            message: format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter the code {} to authenticate.",
                code.user_code
            ),
            device_code: code.device_code.expose_secret().to_owned(),
            user_code: code.user_code,
            verification_uri,
            expires_in: code.expires_in,
            interval: code.interval,
        })
    }
    .await;
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => OAuthError {
            error,
            tenant: s.core.tenant_id.clone(),
        }
        .into_response(),
    }
}

/// A person's grant (device code or refresh token): the tokens and the user's object id.
async fn user_grant(
    s: &AppState,
    grant_type: &str,
    form: &HashMap<String, String>,
) -> Result<(TokenResponse, String), AuthError> {
    let field = |name: &'static str| required(form, name);
    let client_id = field("client_id")?;
    let id = &s.core.identity;
    let tokens = if grant_type == DEVICE_CODE {
        id.redeem_device_code(client_id, field("device_code")?).await?
    } else if grant_type == "authorization_code" {
        id.redeem_auth_code(
            client_id,
            field("code")?,
            field("redirect_uri")?,
            field("code_verifier")?,
        )
        .await?
    } else {
        let scope = form.get("scope").filter(|v| !v.is_empty()).map(String::as_str);
        id.redeem_refresh_token(client_id, field("refresh_token")?, scope)
            .await?
    };
    let response = TokenResponse {
        token_type: "Bearer".into(),
        expires_in: tokens.expires_in,
        ext_expires_in: tokens.expires_in,
        access_token: tokens.access_token,
        expires_on: None,
        not_before: None,
        resource: None,
        scope: Some(tokens.scope),
        refresh_token: Some(tokens.refresh_token.expose_secret().to_owned()),
        id_token: tokens.id_token,
    };
    Ok((response, tokens.oid))
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
    id.resolve_sign_in_tenant(tenant)?;
    let field = |name: &'static str| required(form, name);
    let grant_type = field("grant_type")?;
    if version == Version::V2
        && (grant_type == DEVICE_CODE || grant_type == "refresh_token" || grant_type == "authorization_code")
    {
        return user_grant(s, grant_type, form).await;
    }
    // A client's own credentials name its tenant: `common` and `organizations` are for people.
    id.resolve_tenant(tenant)?;
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
        scope: None,
        refresh_token: None,
        id_token: None,
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
