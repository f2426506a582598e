//! The two error envelopes clients parse: Key Vault's `{"error":{"code","message"}}` and Entra's
//! OAuth2 body, whose `error_codes` array the Rust SDK requires.

use serde::{Deserialize, Serialize};

/// Key Vault / ARM error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(rename = "innererror", skip_serializing_if = "Option::is_none")]
    pub inner_error: Option<InnerError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InnerError {
    pub code: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
                inner_error: None,
            },
        }
    }

    pub fn with_inner(mut self, inner: impl Into<String>) -> Self {
        self.error.inner_error = Some(InnerError { code: inner.into() });
        self
    }
}

/// Entra token-endpoint error body (AADSTS codes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    pub error: String,
    pub error_description: String,
    pub error_codes: Vec<u32>,
    pub timestamp: String,
    pub trace_id: String,
    pub correlation_id: String,
    pub error_uri: String,
}
