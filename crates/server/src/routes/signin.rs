//! The sign-in pages: the browser sign-in (`/{tenant}/oauth2/v2.0/authorize`, the code flow with
//! PKCE) and the device sign-in (`/devicelogin`, Entra's "Enter code" page). Plain HTML with no
//! script, no style and no third-party asset; a strict Content-Security-Policy, no caching, no
//! framing. Each form needs the password, so a forged cross-site post cannot sign anyone in.

use std::{collections::HashMap, net::SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Path, State},
    http::{StatusCode, Uri},
    response::Response,
};
use keyhold_core::{
    AuthError,
    identity::{AuthorizeError, AuthorizeParams, AuthorizeRequest},
};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    AppState,
    audit::Routes,
    page::{escape, html, html_posting_to, redirect, secure_page},
};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/devicelogin", "DeviceLoginPage", page)
        .post("/devicelogin", "DeviceCodeApprove", approve)
        .get("/{tenant}/oauth2/v2.0/authorize", "AuthorizePage", authorize_page)
        .post("/{tenant}/oauth2/v2.0/authorize", "Authorize", authorize)
}

/// The authorize parameters from a query string or a posted form.
fn params(fields: &HashMap<String, String>) -> AuthorizeParams<'_> {
    let get = |k: &str| fields.get(k).map(String::as_str);
    AuthorizeParams {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        response_type: get("response_type"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        nonce: get("nonce"),
        response_mode: get("response_mode"),
    }
}

/// The one script of these pages: it posts the `form_post` answer at once (its hash is in the CSP;
/// without script the person presses Continue).
const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

/// The browser goes back to the client with the answer: a redirect with it in the query, or, for
/// `response_mode=form_post`, a page that posts it to the redirect URI.
fn back_to_client(request: &AuthorizeRequest, pairs: &[(&str, &str)]) -> Response {
    if !request.form_post {
        return redirect_to(&request.redirect_uri, pairs);
    }
    let fields: String = pairs.iter().map(|(k, v)| hidden(k, v)).collect();
    let doc = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Continue - keyhold</title></head>\n<body><form method=\"post\" action=\"{}\">\n{fields}<noscript><button type=\"submit\">Continue</button></noscript></form><script>{SUBMIT_SCRIPT}</script></body></html>\n",
        escape(&request.redirect_uri)
    );
    let digest = keyhold_crypto::sha256_base64(SUBMIT_SCRIPT.as_bytes());
    let origin = url_origin(&request.redirect_uri);
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{digest}'; form-action {origin}; frame-ancestors 'none'; base-uri 'none'"
    );
    secure_page(StatusCode::OK, doc, &csp)
}

/// A page's status on a refused sign-in: a throttled source waits (429), anything else is the
/// person's to correct (400).
fn sign_in_status(why: &AuthError) -> StatusCode {
    if matches!(why, AuthError::Throttled { .. }) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// `scheme://host[:port]` of a checked redirect URI, for the CSP's `form-action`.
fn url_origin(uri: &str) -> String {
    url::Url::parse(uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".into())
}

pub(super) fn redirect_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    redirect(&format!("{redirect_uri}{sep}{}", query.finish()))
}

fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n", escape(value))
}

/// The sign-in form: posted here, then (with a code) redirected to the client's checked redirect
/// URI, whose origin its CSP therefore allows.
fn sign_in_page(status: StatusCode, tenant: &str, r: &AuthorizeRequest, message: Option<&str>) -> Response {
    let form_action = format!("'self' {}", url_origin(&r.redirect_uri));
    html_posting_to(status, "Sign in", &sign_in_form(tenant, r, message), &form_action)
}

fn sign_in_form(tenant: &str, r: &AuthorizeRequest, message: Option<&str>) -> String {
    let note = message.map_or(String::new(), |m| format!("<p role=\"alert\">{}</p>\n", escape(m)));
    let mut fields = hidden("client_id", &r.client_id)
        + &hidden("redirect_uri", &r.redirect_uri)
        + &hidden("response_type", "code")
        + &hidden("scope", &r.scope)
        + &hidden("code_challenge", &r.code_challenge)
        + &hidden("code_challenge_method", "S256");
    if let Some(state) = &r.state {
        fields += &hidden("state", state);
    }
    if let Some(nonce) = &r.nonce {
        fields += &hidden("nonce", nonce);
    }
    if r.form_post {
        fields += &hidden("response_mode", "form_post");
    }
    format!(
        "{note}<form method=\"post\" action=\"/{tenant}/oauth2/v2.0/authorize\">
{fields}<p><label for=\"username\">Email, phone, or Skype</label><br><input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" required autofocus></p>
<p><label for=\"password\">Password</label><br><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>
<p><button type=\"submit\">Sign in</button></p>
</form>",
        tenant = escape(tenant)
    )
}

fn authorize_failed(e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(message) => html(
            StatusCode::BAD_REQUEST,
            "Sorry, but we're having trouble signing you in",
            &format!("<p role=\"alert\">{}</p>", escape(&message)),
        ),
        AuthorizeError::Redirect {
            request,
            error,
            description,
        } => {
            let mut pairs = vec![("error", error), ("error_description", description.as_str())];
            if let Some(state) = &request.state {
                pairs.push(("state", state));
            }
            back_to_client(&request, &pairs)
        }
        AuthorizeError::SignIn(why) => html(
            sign_in_status(&why),
            "Sign in",
            &format!("<p role=\"alert\">{}</p>", escape(&why.to_string())),
        ),
        AuthorizeError::Internal(detail) => {
            tracing::error!(detail, "browser sign-in failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "<p>The sign-in could not be completed. Try again.</p>",
            )
        }
    }
}

/// Our tenant, or one of Entra's multi-tenant aliases (`common`, `organizations`).
pub(super) fn tenant_ok(s: &AppState, tenant: &str) -> bool {
    s.core.identity.resolve_sign_in_tenant(tenant).is_ok()
}

async fn authorize_page(State(s): State<AppState>, Path(tenant): Path<String>, uri: Uri) -> Response {
    if !tenant_ok(&s, &tenant) {
        return html(
            StatusCode::BAD_REQUEST,
            "Sign in",
            "<p role=\"alert\">AADSTS90002: Tenant not found.</p>",
        );
    }
    let fields: HashMap<String, String> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    match s.core.identity.check_authorize(&params(&fields)) {
        Ok(request) => sign_in_page(StatusCode::OK, &tenant, &request, None),
        Err(e) => authorize_failed(e),
    }
}

async fn authorize(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if !tenant_ok(&s, &tenant) {
        return html(
            StatusCode::BAD_REQUEST,
            "Sign in",
            "<p role=\"alert\">AADSTS90002: Tenant not found.</p>",
        );
    }
    let fields: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let request = match s.core.identity.check_authorize(&params(&fields)) {
        Ok(r) => r,
        Err(e) => return authorize_failed(e),
    };
    let password = SecretString::from(fields.get("password").cloned().unwrap_or_default());
    let username = fields.get("username").map(String::as_str).unwrap_or_default();
    match s
        .core
        .identity
        .authorize(&request, username, &password, Some(peer.ip()))
        .await
    {
        Ok(code) => {
            let mut pairs = vec![("code", code.expose_secret())];
            if let Some(state) = &request.state {
                pairs.push(("state", state.as_str()));
            }
            back_to_client(&request, &pairs)
        }
        Err(AuthorizeError::SignIn(why)) => {
            sign_in_page(sign_in_status(&why), &tenant, &request, Some(&why.to_string()))
        }
        Err(e) => authorize_failed(e),
    }
}

fn form(message: Option<&str>) -> String {
    let note = message.map_or(String::new(), |m| format!("<p role=\"alert\">{}</p>\n", escape(m)));
    format!(
        "{note}<p>Enter the code displayed on your app or device, and sign in.</p>
<form method=\"post\" action=\"/devicelogin\">
<p><label for=\"code\">Code</label><br><input id=\"code\" name=\"code\" autocomplete=\"off\" required autofocus></p>
<p><label for=\"username\">Email, phone, or Skype</label><br><input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" required></p>
<p><label for=\"password\">Password</label><br><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>
<p><button type=\"submit\">Sign in</button></p>
</form>"
    )
}

async fn page() -> Response {
    html(StatusCode::OK, "Enter code", &form(None))
}

async fn approve(State(s): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, body: Bytes) -> Response {
    let fields: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    let password = SecretString::from(get("password").to_owned());
    let result = s
        .core
        .identity
        .approve_device_code(get("code"), get("username"), &password, Some(peer.ip()))
        .await;
    match result {
        Ok(user) => html(
            StatusCode::OK,
            "You're signed in",
            &format!(
                "<p>{} signed in on your device. You can close this window.</p>",
                escape(&user.user_principal_name)
            ),
        ),
        Err(AuthError::Internal(detail)) => {
            tracing::error!(detail, "device sign-in failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "<p>The sign-in could not be completed. Try again.</p>",
            )
        }
        Err(e) => html(sign_in_status(&e), "Enter code", &form(Some(&e.to_string()))),
    }
}
