//! Key Vault keys bodies. Binary members (`n`, `e`, `x`, `y`, signatures, ciphertexts) are base64url
//! without padding, as Azure sends them; timestamps are integer Unix seconds.

use serde::{Deserialize, Serialize};

use crate::keyvault::Tags;

/// A JSON Web Key. Responses carry the public members only; an import request may carry the private
/// ones, which `Debug` never prints.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct JsonWebKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_hsm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl std::fmt::Debug for JsonWebKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonWebKey")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .field("private", &self.d.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyAttributes {
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recoverable_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exportable: Option<bool>,
}

/// `POST /keys/{name}/create`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyCreateParameters {
    pub kty: Option<String>,
    pub key_size: Option<u32>,
    pub public_exponent: Option<u32>,
    pub key_ops: Option<Vec<String>>,
    pub attributes: Option<KeyAttributes>,
    pub tags: Option<Tags>,
    pub crv: Option<String>,
    pub release_policy: Option<serde_json::Value>,
}

/// `PUT /keys/{name}` (import).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyImportParameters {
    #[serde(rename = "Hsm")]
    pub hsm: Option<bool>,
    pub key: Option<JsonWebKey>,
    pub attributes: Option<KeyAttributes>,
    pub tags: Option<Tags>,
    pub release_policy: Option<serde_json::Value>,
}

/// `PATCH /keys/{name}/{version}`: absent fields mean unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyUpdateParameters {
    pub key_ops: Option<Vec<String>>,
    pub attributes: Option<KeyAttributes>,
    pub tags: Option<Tags>,
    pub release_policy: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyBundle {
    pub key: JsonWebKey,
    pub attributes: KeyAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(rename = "recoveryId", skip_serializing_if = "Option::is_none")]
    pub recovery_id: Option<String>,
    #[serde(rename = "deletedDate", skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<i64>,
    #[serde(rename = "scheduledPurgeDate", skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<i64>,
    /// A certificate's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyItem {
    pub kid: String,
    pub attributes: KeyAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(rename = "recoveryId", skip_serializing_if = "Option::is_none")]
    pub recovery_id: Option<String>,
    #[serde(rename = "deletedDate", skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<i64>,
    #[serde(rename = "scheduledPurgeDate", skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<i64>,
    /// A certificate's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
}

/// encrypt / decrypt / wrapKey / unwrapKey, and sign (`value` is the digest there).
#[derive(Clone, Default, Deserialize)]
pub struct KeyOperationsParameters {
    pub alg: Option<String>,
    pub value: Option<String>,
    pub iv: Option<String>,
    pub aad: Option<String>,
    pub tag: Option<String>,
}

impl std::fmt::Debug for KeyOperationsParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyOperationsParameters")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct KeyOperationResult {
    pub kid: String,
    pub value: String,
}

impl std::fmt::Debug for KeyOperationResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyOperationResult")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyVerifyParameters {
    pub alg: Option<String>,
    pub digest: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyVerifyResult {
    pub value: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RandomBytesRequest {
    pub count: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RandomBytes {
    pub value: String,
}

/// `POST /keys/{name}/{version}/release`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyReleaseParameters {
    pub target: Option<String>,
    pub nonce: Option<String>,
    pub enc: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeTrigger {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_after_create: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_before_expiry: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LifetimeActionType {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LifetimeAction {
    pub trigger: Option<LifetimeTrigger>,
    pub action: Option<LifetimeActionType>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RotationPolicyAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotationPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_actions: Option<Vec<LifetimeAction>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<RotationPolicyAttributes>,
}
