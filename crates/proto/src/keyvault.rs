//! Key Vault secrets bodies (wire-protocol §7). Timestamps are integer Unix seconds: the Rust SDK
//! rejects floats.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecretAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<i64>,
    #[serde(rename = "recoveryLevel", skip_serializing_if = "Option::is_none")]
    pub recovery_level: Option<String>,
    #[serde(rename = "recoverableDays", skip_serializing_if = "Option::is_none")]
    pub recoverable_days: Option<i64>,
}

/// `PUT /secrets/{name}` body. Fields are optional so that a missing `value` is our 400, not serde's.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSetParameters {
    pub value: Option<String>,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub attributes: Option<SecretAttributes>,
}

/// `PATCH /secrets/{name}/{version}` body: absent fields mean unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretUpdateParameters {
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub attributes: Option<SecretAttributes>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretBundle {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub attributes: SecretAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<i64>,
    /// A certificate's secret: `true`, with `kid` its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretItem {
    pub id: String,
    pub attributes: SecretAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
}

/// A page of a list operation; `nextLink` is `null` on the last page, as Azure sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub value: Vec<T>,
    pub next_link: Option<String>,
}

/// Backup blob (base64url) and restore body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupBlob {
    pub value: Option<String>,
}

/// A secret's value never reaches a log through `Debug`.
impl std::fmt::Debug for SecretSetParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSetParameters")
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .field("content_type", &self.content_type)
            .field("tags", &self.tags)
            .field("attributes", &self.attributes)
            .finish()
    }
}

/// A secret's value never reaches a log through `Debug`.
impl std::fmt::Debug for SecretBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBundle")
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .field("id", &self.id)
            .field("content_type", &self.content_type)
            .field("attributes", &self.attributes)
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_hides_secret_values() -> Result<(), serde_json::Error> {
        let set: SecretSetParameters = serde_json::from_str(r#"{"value":"hunter2-set","contentType":"text"}"#)?;
        let shown = format!("{set:?}");
        assert!(
            !shown.contains("hunter2-set") && shown.contains("<redacted>"),
            "{shown}"
        );
        let bundle: SecretBundle = serde_json::from_value(serde_json::json!({
            "value": "hunter2-bundle", "id": "https://v/secrets/s/1", "attributes": {}
        }))?;
        let shown = format!("{bundle:?}");
        assert!(
            !shown.contains("hunter2-bundle") && shown.contains("<redacted>"),
            "{shown}"
        );
        Ok(())
    }
}
