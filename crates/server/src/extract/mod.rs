//! Extractors: every protected route takes a caller extractor, so a handler cannot forget to
//! authenticate; bodies and queries are parsed into Azure's error shape, never axum's.

mod caller;
mod json;
mod query;

pub use caller::{AdminCaller, ArmCaller, GraphCaller, VaultCaller};
pub use json::{GraphJson, KvJson};
pub use query::{ApiVersion, GraphQuery, ListQuery, OutContentType};

use axum::http::request::Parts;

/// `https://host[:port]` as the client addressed us, for ids and links in responses.
pub fn request_origin(parts: &Parts) -> String {
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into());
    format!("https://{host}")
}

/// The request's origin if it is one of this service's own, else the public origin: for documents
/// and audiences that must not follow a forged `Host`.
pub fn own_origin(parts: &Parts, config: &keyhold_core::CoreConfig) -> String {
    config.own_origin(&request_origin(parts))
}
