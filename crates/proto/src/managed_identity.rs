//! The managed-identity protocols' bodies (IMDS, App Service 2019, the 2017 `MSI_ENDPOINT`, the legacy
//! POST): one token shape for all of them, and their two error shapes.

use serde::{Deserialize, Serialize};

/// A token as IMDS sends it: strings throughout, numbers included (the Rust SDK insists on a string
/// `expires_on`; the others accept either).
#[derive(Clone, Serialize, Deserialize)]
pub struct ImdsToken {
    pub access_token: String,
    pub client_id: String,
    pub expires_in: String,
    pub expires_on: String,
    pub ext_expires_in: String,
    pub not_before: String,
    pub resource: String,
    pub token_type: String,
}

/// IMDS's error body, exactly: an OAuth2 code and its description.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImdsError {
    pub error: String,
    pub error_description: String,
}

/// App Service's error body: IMDS's fields plus `statusCode` and `message`, which MSAL Python's App
/// Service path reads to tell the user what went wrong.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppServiceError {
    #[serde(rename = "error")]
    pub error: String,
    #[serde(rename = "error_description")]
    pub error_description: String,
    pub status_code: u16,
    pub message: String,
}
