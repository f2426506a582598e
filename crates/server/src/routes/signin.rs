//! The device sign-in page (`/devicelogin`, Entra's "Enter code" page): a person types the code a
//! device showed them, their name and password, and the device's poll gets their tokens. Plain HTML
//! with no script, no style and no third-party asset; a strict Content-Security-Policy, no caching,
//! no framing. The form needs the password, so a forged cross-site post cannot approve a code.

use std::{collections::HashMap, net::SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use keyhold_core::AuthError;
use secrecy::SecretString;

use crate::{AppState, audit::Routes};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/devicelogin", "DeviceLoginPage", page)
        .post("/devicelogin", "DeviceCodeApprove", approve)
}

/// HTML-escapes text put into a page.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let doc = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} - keyhold</title></head>\n<body><main><h1>{title}</h1>\n{body}\n</main></body></html>\n",
        title = escape(title)
    );
    let mut resp = (status, doc).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
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
        Err(e @ AuthError::Throttled { .. }) => {
            html(StatusCode::TOO_MANY_REQUESTS, "Enter code", &form(Some(&e.to_string())))
        }
        Err(e) => html(StatusCode::BAD_REQUEST, "Enter code", &form(Some(&e.to_string()))),
    }
}
