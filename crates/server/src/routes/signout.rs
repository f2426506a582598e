//! Signing out: Entra's logout page (`/{tenant}/oauth2/v2.0/logout`, GET or POST, with an optional
//! `post_logout_redirect_uri` honoured only for the redirect URIs the browser sign-in allows), and
//! keyhold's own `POST /{tenant}/oauth2/v2.0/revoke`, by which a public client revokes the refresh
//! token it holds (RFC 7009's form: `client_id`, `token`, optional `token_type_hint`). Entra has no
//! revocation endpoint: this one is keyhold's own, which `keyhold logout` uses.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{StatusCode, Uri, request::Parts},
    response::{IntoResponse, Response},
};
use keyhold_core::AuthError;

use super::{
    signin::{redirect_to, tenant_ok},
    token::required,
};
use crate::{AppState, audit::Routes, error::OAuthError, page::html};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/{tenant}/oauth2/v2.0/logout", "SignOutPage", logout)
        .post("/{tenant}/oauth2/v2.0/logout", "SignOut", logout)
        .post("/{tenant}/oauth2/v2.0/revoke", "RefreshTokenRevoke", revoke)
}

/// The browser signs out. keyhold keeps no sign-in session in the browser (each sign-in asks for the
/// password), so there is nothing to end here: the page says so, or the browser goes back to the
/// client's allowed `post_logout_redirect_uri` (with its `state`). Another URI is ignored, as Entra
/// ignores one that is not registered, so the page cannot be used to send anyone elsewhere.
async fn logout(State(s): State<AppState>, Path(tenant): Path<String>, uri: Uri, body: Bytes) -> Response {
    if !tenant_ok(&s, &tenant) {
        return html(
            StatusCode::BAD_REQUEST,
            "Sign out",
            "<p role=\"alert\">AADSTS90002: Tenant not found.</p>",
        );
    }
    let mut fields: HashMap<String, String> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    fields.extend(form_urlencoded::parse(&body).into_owned());
    let target = fields.get("post_logout_redirect_uri").map(String::as_str);
    match s.core.identity.post_logout_redirect(target) {
        Some(redirect) => {
            let state: Vec<(&str, &str)> = fields.get("state").map(|v| ("state", v.as_str())).into_iter().collect();
            redirect_to(redirect, &state)
        }
        None => html(
            StatusCode::OK,
            "You signed out of your account",
            "<p>It's a good idea to close all browser windows.</p>",
        ),
    }
}

/// Revokes the one refresh token presented; 200 with no body whether or not it was still good
/// (RFC 7009 §2.2). Access tokens cannot be revoked: they stay valid until they expire.
async fn revoke(State(s): State<AppState>, Path(tenant): Path<String>, parts: Parts, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let result = async {
        s.core.identity.resolve_sign_in_tenant(&tenant)?;
        let client_id = required(&form, "client_id")?;
        let token = required(&form, "token")?;
        if form
            .get("token_type_hint")
            .is_some_and(|h| !h.is_empty() && h != "refresh_token")
        {
            return Err(AuthError::BadParameter(
                "Only refresh tokens can be revoked: an access token stays valid until it expires.".into(),
            ));
        }
        s.core.identity.revoke_refresh_token(client_id, token).await
    }
    .await;
    if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
        let oid = result.as_ref().ok().and_then(Option::as_deref);
        slot.caller(oid, form.get("client_id").map(String::as_str));
    }
    match result {
        Ok(_) => StatusCode::OK.into_response(),
        Err(error) => OAuthError {
            error,
            tenant: s.core.tenant_id.clone(),
        }
        .into_response(),
    }
}
