//! `/console/api/{arm|vault/<name>|graph}/...`: the page's calls, forwarded into the same routers
//! the REST APIs are served by, with the person's bearer token. Nothing here decides what the person
//! may do: the forwarded request is authenticated, authorized and audited as any client's would be,
//! and its answer (errors included) goes back unchanged.

use std::net::SocketAddr;

use axum::{
    body::{Body, to_bytes},
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use keyhold_proto::error::ErrorBody;
use secrecy::ExposeSecret;
use tower::ServiceExt;

use super::{CSRF_HEADER, Console, session::Api};

/// The largest body the page sends (a certificate import is the biggest).
const MAX_BODY: usize = 4 * 1024 * 1024;

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

/// Where a console path goes: the API, the `Host` to address and the path there.
fn target(rest: &str, host: &str, vault_resource: &str) -> Option<(Api, String, String)> {
    let (kind, tail) = rest.split_once('/').unwrap_or((rest, ""));
    match kind {
        // The management plane only: not the admin or sys APIs that share its host.
        "arm"
            if ["subscriptions", "tenants", "providers"]
                .iter()
                .any(|p| tail == *p || tail.starts_with(&format!("{p}/"))) =>
        {
            Some((Api::Arm, host.to_owned(), format!("/{tail}")))
        }
        "graph" => Some((Api::Graph, host.to_owned(), format!("/graph/v1.0/{tail}"))),
        "vault" => {
            let (vault, path) = tail.split_once('/').unwrap_or((tail, ""));
            let valid =
                (3..=24).contains(&vault.len()) && vault.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            valid.then(|| {
                let suffix = vault_resource.trim_start_matches("https://");
                (
                    Api::Vault,
                    format!("{}.{suffix}", vault.to_ascii_lowercase()),
                    format!("/{path}"),
                )
            })
        }
        _ => None,
    }
}

/// A state change must come from the console's own page: the session's anti-forgery token in its
/// header and, when the browser says where the request comes from, this origin.
fn same_origin_write(method: &Method, headers: &HeaderMap, own: &str, session: &super::session::Session) -> bool {
    if matches!(*method, Method::GET | Method::HEAD) {
        return true;
    }
    let token_ok = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| session.csrf_matches(v));
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|o| o.eq_ignore_ascii_case(own));
    let site_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|s| s == "same-origin");
    token_ok && origin_ok && site_ok
}

pub(super) async fn forward(
    State(c): State<Console>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let Some(session) = super::session_of(&c, &parts.headers) else {
        return refuse(StatusCode::UNAUTHORIZED, "Unauthorized", "Sign in to the console.");
    };
    let own = crate::extract::own_origin(&parts, &c.app.core.config);
    if !same_origin_write(&parts.method, &parts.headers, &own, &session) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The request did not carry this console session's anti-forgery token.",
        );
    }
    let rest = parts.uri.path().trim_start_matches("/console/api/");
    let host = own.trim_start_matches("https://");
    let Some((api, host, path)) = target(rest, host, &c.app.core.config.vault_resource) else {
        return refuse(StatusCode::NOT_FOUND, "NotFound", "The console has no such API.");
    };
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLarge",
            "The request body is too large.",
        );
    };
    let token = match session.token(api, &c.app.core.identity).await {
        Ok(t) => t,
        Err(_) => {
            if let Some(cookie) = super::cookie(&parts.headers, super::SESSION_COOKIE) {
                c.sessions.close(&cookie);
            }
            return refuse(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "The console session has ended: sign in again.",
            );
        }
    };
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let Ok(uri) = path_and_query.parse::<Uri>() else {
        return refuse(StatusCode::BAD_REQUEST, "BadRequest", "The request path is not valid.");
    };
    let mut inner = Request::new(Body::from(body));
    *inner.method_mut() = parts.method.clone();
    *inner.uri_mut() = uri;
    let headers = inner.headers_mut();
    if let Ok(h) = HeaderValue::from_str(&host) {
        headers.insert(header::HOST, h);
    }
    if let Ok(h) = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())) {
        headers.insert(header::AUTHORIZATION, h);
    }
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, ct.clone());
    }
    inner.extensions_mut().insert(ConnectInfo(peer));
    let answer = match c.api.clone().oneshot(inner).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (mut head, body) = answer.into_parts();
    // Only what the page reads: the status, the body and its type.
    let content_type = head.headers.remove(header::CONTENT_TYPE);
    head.headers.clear();
    if let Some(ct) = content_type {
        head.headers.insert(header::CONTENT_TYPE, ct);
    }
    head.headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(head, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_paths_name_one_api_each() {
        let vr = "https://vault.localhost:8443";
        assert_eq!(
            target("arm/subscriptions", "localhost:8443", vr),
            Some((Api::Arm, "localhost:8443".into(), "/subscriptions".into()))
        );
        assert_eq!(
            target("vault/MyVault/secrets/s", "localhost:8443", vr),
            Some((Api::Vault, "myvault.vault.localhost:8443".into(), "/secrets/s".into()))
        );
        assert_eq!(
            target("graph/users", "localhost:8443", vr),
            Some((Api::Graph, "localhost:8443".into(), "/graph/v1.0/users".into()))
        );
        for bad in [
            "vault/evil.example/x",
            "vault/a/x",
            "arm/keyhold/v1/sys/unseal",
            "arm/subscriptionsx",
            "keyhold/v1/sys",
            "",
        ] {
            assert_eq!(target(bad, "localhost:8443", vr), None, "{bad}");
        }
    }
}
