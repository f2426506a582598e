//! JSON bodies whose failures come out as Key Vault's `BadParameter`, not axum's plain-text 4xx.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, bad_parameter};

/// Largest body accepted on vault routes: a 25 KiB value JSON-escaped can grow up to 6x.
const MAX_BODY: usize = 256 * 1024;

pub struct KvJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KvJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| bad_parameter("The request body could not be read."))?;
        if bytes.len() > MAX_BODY {
            return Err(bad_parameter("The request body is too large."));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(bad_parameter("The request body is empty; a JSON object was expected."));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| bad_parameter(format!("The request body is not valid JSON: {e}.")))
    }
}
