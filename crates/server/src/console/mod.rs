//! The web console at the service's own origin: a client of keyhold's identity provider, as the
//! Azure portal is of Entra. It signs people in with the authorization-code flow and PKCE (as the
//! portal's client id), keeps their tokens in a server-side session behind an HttpOnly,
//! SameSite=Strict cookie, and serves one embedded page whose script does everything through
//! `/console/api` (see `proxy`): the REST APIs themselves, as the person.

mod proxy;
mod session;

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyhold_core::identity::{Audience, CONSOLE_CALLBACK, CONSOLE_CLIENT_ID};
use keyhold_crypto::{ct_eq, random, sha256};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{
    AppState,
    audit::{AuditSlot, Routes},
    page::{escape, html, redirect, secure_page},
};
use session::{SIGN_IN_SCOPE, Session, Sessions};

const SESSION_COOKIE: &str = "keyhold_session";
const SIGN_IN_COOKIE: &str = "keyhold_signin";
/// The header the page's script sends its anti-forgery token in.
pub(crate) const CSRF_HEADER: &str = "x-keyhold-csrf";

/// The page's files, embedded: its style and its script's ES modules (`app.js` imports the rest).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/console/app.css",
        include_str!("assets/app.css"),
        "text/css; charset=utf-8",
    ),
    ("/console/app.js", include_str!("assets/app.js"), JS),
    ("/console/api.js", include_str!("assets/api.js"), JS),
    ("/console/dom.js", include_str!("assets/dom.js"), JS),
    ("/console/ids.js", include_str!("assets/ids.js"), JS),
    ("/console/create.js", include_str!("assets/create.js"), JS),
    ("/console/resource.js", include_str!("assets/resource.js"), JS),
    ("/console/vault.js", include_str!("assets/vault.js"), JS),
    ("/console/access.js", include_str!("assets/access.js"), JS),
];
const JS: &str = "text/javascript; charset=utf-8";

/// The console page's policy: its own script and style only, calls to its own origin only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone)]
pub(crate) struct Console {
    app: AppState,
    /// The host dispatcher of the REST APIs, which the proxy forwards into.
    api: Router,
    sessions: Arc<Sessions>,
}

/// The console's routes, for the service's own host. `api` is what `/console/api` forwards to.
pub fn router(app: AppState, api: Router) -> Router {
    let log = app.audit.clone();
    let console = Console {
        app,
        api,
        sessions: Arc::new(Sessions::default()),
    };
    let audited = Routes::new()
        .get(CONSOLE_CALLBACK, "ConsoleSignIn", callback)
        .post("/signout", "ConsoleSignOut", sign_out)
        .into_router(&log);
    let files = ASSETS.iter().fold(Router::new(), |router, (path, body, content_type)| {
        router.route(path, get(move || async move { asset(body, content_type) }))
    });
    Router::new()
        .route("/", get(home))
        .merge(files)
        .route("/console/api/{*rest}", any(proxy::forward))
        // Browsers ask for it on every page; there is none.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .merge(audited)
        .with_state(console)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn session_of(c: &Console, headers: &HeaderMap) -> Option<Arc<Session>> {
    c.sessions.get(&cookie(headers, SESSION_COOKIE)?)
}

fn set_cookie(resp: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// `GET /`: the console for a signed-in person, else off to the sign-in page.
async fn home(State(c): State<Console>, parts: Parts) -> Response {
    match session_of(&c, &parts.headers) {
        Some(session) => secure_page(StatusCode::OK, shell(&c, &session), CSP),
        None => begin_sign_in(&c, &parts),
    }
}

/// Starts the code flow: a fresh `state` (also set as a cookie, so the callback only completes in
/// the browser that started it), a PKCE verifier kept here, and a nonce.
fn begin_sign_in(c: &Console, parts: &Parts) -> Response {
    let (Ok(state), Ok(verifier), Ok(nonce)) = (random::token(32), random::token(32), random::token(16)) else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "<p>The sign-in could not be started. Try again.</p>",
        );
    };
    let origin = crate::extract::own_origin(parts, &c.app.core.config);
    let redirect_uri = format!("{origin}{CONSOLE_CALLBACK}");
    let challenge = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    c.sessions
        .begin(&state, SecretString::from(verifier), redirect_uri.clone());
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", CONSOLE_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_mode", "query")
        .append_pair("scope", SIGN_IN_SCOPE)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let mut resp = redirect(&format!("/{}/oauth2/v2.0/authorize?{query}", c.app.core.tenant_id));
    set_cookie(
        &mut resp,
        &format!("{SIGN_IN_COOKIE}={state}; HttpOnly; Secure; SameSite=Lax; Path={CONSOLE_CALLBACK}; Max-Age=600"),
    );
    resp
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn refused_sign_in(message: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        "Sorry, but we're having trouble signing you in",
        &format!(
            "<p role=\"alert\">{}</p>\n<p><a href=\"/\">Sign in</a></p>",
            escape(message)
        ),
    )
}

/// `GET /signin-oidc`: the authorize page's answer. The code is redeemed here, with the verifier
/// only this server knows, and becomes a session.
async fn callback(
    State(c): State<Console>,
    axum::Extension(slot): axum::Extension<AuditSlot>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    if let Some(error) = q.error {
        return refused_sign_in(&format!("{error}: {}", q.error_description.unwrap_or_default()));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return refused_sign_in("The sign-in answer has no code.");
    };
    let bound = cookie(&headers, SIGN_IN_COOKIE).is_some_and(|v| ct_eq(v.as_bytes(), state.as_bytes()));
    let Some(pending) = c.sessions.finish(&state).filter(|_| bound) else {
        return refused_sign_in("This sign-in was not started in this browser, or it took too long. Sign in again.");
    };
    let identity = &c.app.core.identity;
    let tokens = match identity
        .redeem_auth_code(
            CONSOLE_CLIENT_ID,
            &code,
            &pending.redirect_uri,
            pending.verifier.expose_secret(),
        )
        .await
    {
        Ok(t) => t,
        Err(e) => return refused_sign_in(&e.to_string()),
    };
    let claims = match identity.verify(&tokens.access_token, Audience::Management).await {
        Ok(v) => v.claims,
        Err(e) => return refused_sign_in(&e.to_string()),
    };
    slot.caller(Some(&claims.oid), Some(CONSOLE_CLIENT_ID));
    let upn = claims.upn.clone().unwrap_or_default();
    let name = claims.name.clone().unwrap_or_else(|| upn.clone());
    let id = match c.sessions.open(tokens, upn, name) {
        Ok(id) => id,
        Err(_) => return refused_sign_in("The session could not be created. Try again."),
    };
    let mut resp = redirect("/");
    set_cookie(
        &mut resp,
        &format!(
            "{SESSION_COOKIE}={}; HttpOnly; Secure; SameSite=Strict; Path=/",
            id.expose_secret()
        ),
    );
    set_cookie(
        &mut resp,
        &format!("{SIGN_IN_COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path={CONSOLE_CALLBACK}; Max-Age=0"),
    );
    resp
}

/// `POST /signout` (a form with the anti-forgery token): the session ends here and its refresh
/// token is revoked, so the cookie is worth nothing afterwards.
async fn sign_out(
    State(c): State<Console>,
    axum::Extension(slot): axum::Extension<AuditSlot>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let presented = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .or_else(|| {
            headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let Some(value) = cookie(&headers, SESSION_COOKIE) else {
        return redirect("/");
    };
    let Some(session) = c.sessions.get(&value) else {
        return redirect("/");
    };
    if !session.csrf_matches(&presented) {
        return html(
            StatusCode::FORBIDDEN,
            "Sign out",
            "<p role=\"alert\">The request did not carry this console session's anti-forgery token.</p>",
        );
    }
    slot.caller(Some(&session.object_id), Some(CONSOLE_CLIENT_ID));
    c.sessions.close(&value);
    if let Err(e) = c
        .app
        .core
        .identity
        .revoke_refresh_token(CONSOLE_CLIENT_ID, session.refresh_token().await.expose_secret())
        .await
    {
        tracing::warn!(error = %e, "console sign-out could not revoke the refresh token");
    }
    let mut resp = html(
        StatusCode::OK,
        "You signed out of your account",
        "<p>It's a good idea to close all browser windows.</p>\n<p><a href=\"/\">Sign in</a></p>",
    );
    set_cookie(
        &mut resp,
        &format!("{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"),
    );
    resp
}

/// The console's one page: the frame (top bar, menu, sign-out form) the script fills in, and
/// what it needs to know about the person as `<meta>` values.
fn shell(c: &Console, s: &Session) -> String {
    let meta = |name: &str, value: &str| format!("<meta name=\"keyhold-{name}\" content=\"{}\">\n", escape(value));
    let metas = meta("csrf", s.csrf.expose_secret())
        + &meta("oid", &s.object_id)
        + &meta("upn", &s.user_principal_name)
        + &meta("name", &s.display_name)
        + &meta("tenant", &c.app.core.tenant_id);
    format!(
        "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>Home - keyhold</title>
{metas}<link rel=\"stylesheet\" href=\"/console/app.css\"><script type=\"module\" src=\"/console/app.js\"></script></head>
<body>
<a class=\"skip\" href=\"#main\">Skip to main content</a>
<header class=\"top\"><span class=\"brand\">keyhold</span>
<button type=\"button\" class=\"menu-toggle\" aria-controls=\"portal-menu\" aria-expanded=\"false\">Menu</button>
<span class=\"who\">{name}</span>
<form method=\"post\" action=\"/signout\" class=\"signout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">Sign out</button></form>
</header>
<div class=\"frame\">
<nav id=\"portal-menu\" aria-label=\"Portal menu\"><ul>
<li><a href=\"#/\">Home</a></li>
<li><a href=\"#/create\">Create a resource</a></li>
<li><a href=\"#/resourceGroups\">Resource groups</a></li>
<li><a href=\"#/vaults\">Key vaults</a></li>
<li><a href=\"#/virtualMachines\">Virtual machines</a></li>
<li><a href=\"#/userAssignedIdentities\">Managed Identities</a></li>
<li><a href=\"#/storageAccounts\">Storage accounts</a></li>
</ul></nav>
<main id=\"main\" tabindex=\"-1\"><h1>Home</h1><noscript><p>The console needs JavaScript.</p></noscript></main>
</div>
<div id=\"status\" role=\"status\" aria-live=\"polite\" class=\"status\"></div>
</body></html>
",
        name = escape(&s.display_name),
        csrf = escape(s.csrf.expose_secret()),
    )
}
