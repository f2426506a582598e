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

/// The body as JSON, or what is wrong with it.
async fn read<S: Send + Sync, T: DeserializeOwned>(req: Request, state: &S) -> Result<T, String> {
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(|_| "The request body could not be read.".to_owned())?;
    if bytes.len() > MAX_BODY {
        return Err("The request body is too large.".into());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("The request body is empty; a JSON object was expected.".into());
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("The request body is not valid JSON: {e}."))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KvJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(req, state).await.map(Self).map_err(bad_parameter)
    }
}

/// A Graph request body; failures in Graph's error shape (`Request_BadRequest`).
pub struct GraphJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for GraphJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(req, state).await.map(Self).map_err(|message| {
            ApiError::Graph(keyhold_core::directory::DirectoryError::BadRequest {
                code: "Request_BadRequest",
                message,
            })
        })
    }
}
