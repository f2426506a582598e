//! The server's own HTML pages (sign-in and the console): escaping, and the headers every page
//! carries.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// HTML-escapes text put into a page.
pub fn escape(text: &str) -> String {
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

/// A 302 to `location`, never cached; a location that cannot be a header is a page saying so.
pub fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => html(
            StatusCode::BAD_REQUEST,
            "Sign in",
            "<p>The redirect URI is not valid.</p>",
        ),
    }
}

pub fn html(status: StatusCode, title: &str, body: &str) -> Response {
    html_posting_to(status, title, body, "'self'")
}

/// [`html`] whose form may also lead elsewhere: `form_action` is the CSP's `form-action` list. A
/// browser checks it on the redirect that follows a post as well, so a sign-in form whose answer
/// is a redirect to the client must name the client's origin.
pub fn html_posting_to(status: StatusCode, title: &str, body: &str, form_action: &str) -> Response {
    let doc = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} - keyhold</title></head>\n<body><main><h1>{title}</h1>\n{body}\n</main></body></html>\n",
        title = escape(title)
    );
    let csp = format!("default-src 'none'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'");
    secure_page(status, doc, &csp)
}

/// Every page's headers: its Content-Security-Policy, no caching, no sniffing, no referrer,
/// no framing.
pub fn secure_page(status: StatusCode, doc: String, csp: &str) -> Response {
    let mut resp = (status, doc).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
}
