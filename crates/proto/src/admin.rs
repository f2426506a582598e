//! keyhold's own APIs under `/keyhold/v1/`: the admin API (vaults, service principals, signing keys,
//! the keyring), agents (join tokens, enrolment, tokens) and the sys API (seal status, init, unseal).
//! Request bodies refuse unknown fields where the server always has, so a misspelt field is an error
//! rather than a silent default.

use serde::{Deserialize, Serialize};

/// `PUT /keyhold/v1/vaults/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_delete_retention_in_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_purge_protection: Option<bool>,
}

/// A vault as the admin API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminVault {
    pub name: String,
    pub vault_uri: String,
    pub properties: AdminVaultProperties,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminVaultProperties {
    pub tenant_id: String,
    pub vault_uri: String,
    pub enable_soft_delete: bool,
    pub soft_delete_retention_in_days: i64,
    pub enable_purge_protection: bool,
}

/// `POST /keyhold/v1/servicePrincipals`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewServicePrincipalBody {
    pub display_name: String,
}

/// What `az ad sp create-for-rbac` prints; the password is shown this once.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedServicePrincipal {
    pub app_id: String,
    pub display_name: String,
    pub password: String,
    pub tenant: String,
    pub object_id: String,
}

/// What `az ad sp credential reset` prints.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetCredential {
    pub app_id: String,
    pub password: String,
    pub tenant: String,
}

/// A service principal in `az ad sp show`'s shape (the Graph object).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub app_owner_organization_id: String,
    pub service_principal_names: Vec<String>,
    pub service_principal_type: String,
    pub account_enabled: bool,
}

/// The list envelope of Graph and ARM: `{"value": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValueList<T> {
    pub value: Vec<T>,
}

/// `POST /keyhold/v1/servicePrincipals/{app_id}/certificates`: a PEM certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateBody {
    pub certificate: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thumbprint {
    pub thumbprint: String,
}

/// The new signing key's id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotatedSigningKey {
    pub kid: String,
}

/// The new data key's id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotatedDataKey {
    pub key_id: u32,
}

/// How far re-sealing under the newest data key has come: counts of records still under older keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyringStatus {
    pub key_id: u32,
    pub remaining: u64,
    pub secret_versions: u64,
    pub signing_keys: u64,
    pub identity_header: u64,
    pub resources: u64,
}

/// `POST /keyhold/v1/agents/joinTokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinTokenBody {
    pub resource_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
}

/// A one-time join token, shown once.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinToken {
    pub token: String,
    pub expires_on: i64,
    pub resource_id: String,
}

/// `POST /keyhold/v1/agents/enroll`: the join token and the agent's uncompressed P-256 point.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollBody {
    pub join_token: String,
    pub public_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrolled {
    pub agent_id: String,
    pub resource_id: String,
    pub tenant_id: String,
}

/// `POST /keyhold/v1/agents/token`: an ES256 assertion and at most one identity selector.
#[derive(Clone, Serialize, Deserialize)]
pub struct AgentTokenBody {
    pub assertion: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msi_res_id: Option<String>,
}

/// A token for an agent's identity, with numbers (the agent re-serves it in each protocol's shape).
#[derive(Clone, Serialize, Deserialize)]
pub struct AgentToken {
    pub access_token: String,
    pub object_id: String,
    pub client_id: String,
    pub expires_on: i64,
    pub not_before: i64,
    pub resource: String,
}

/// The token itself never reaches a log.
impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentToken(<redacted>, for {} as {})", self.resource, self.object_id)
    }
}

/// `GET /keyhold/v1/sys/seal-status`, also the answer of unseal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealStatus {
    pub initialized: bool,
    pub sealed: bool,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub threshold: Option<u8>,
    pub shares: Option<u8>,
    pub progress: usize,
    /// Background jobs (purge, reseal) this node runs; one node of a service leads each.
    pub leading: Vec<String>,
}

/// `POST /keyhold/v1/sys/init`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitBody {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// A Shamir initialisation's answer: the shares, shown once.
#[derive(Clone, Serialize, Deserialize)]
pub struct InitShamir {
    pub keys: Vec<String>,
    pub shares: u8,
    pub threshold: u8,
    pub sealed: bool,
}

/// A passphrase initialisation's answer: unsealed at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitPassphrase {
    pub sealed: bool,
}

/// `POST /keyhold/v1/sys/unseal`: one share, or the passphrase.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsealBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}
