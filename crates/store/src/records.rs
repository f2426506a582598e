//! Rows as the domain sees them. These are not wire types: the server maps them to `proto` bodies.

use std::collections::BTreeMap;

use keyhold_crypto::Sealed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    ServicePrincipal,
    ManagedIdentity,
    /// A person who signs in interactively.
    User,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "ServicePrincipal",
            Self::ManagedIdentity => "ManagedIdentity",
            Self::User => "User",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ServicePrincipal" => Some(Self::ServicePrincipal),
            "ManagedIdentity" => Some(Self::ManagedIdentity),
            "User" => Some(Self::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    pub object_id: String,
    pub app_id: Option<String>,
    pub display_name: String,
    pub kind: PrincipalKind,
    pub tenant_id: String,
    pub created: i64,
}

/// A user: its principal, sign-in name and password hash (an Argon2id PHC string, never the
/// password). `password_changed` voids every session and refresh token issued before it.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub principal: PrincipalRecord,
    pub user_principal_name: String,
    pub password_hash: String,
    pub enabled: bool,
    pub password_changed: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "UserRecord({}, {}, enabled {}, password hash <redacted>)",
            self.principal.object_id, self.user_principal_name, self.enabled
        )
    }
}

/// A device-code sign-in in progress: found by the device code's hash (the client polls) or by the
/// short user code (the person types it); `object_id` is the user who approved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodeRecord {
    pub hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub expires: i64,
    pub object_id: Option<String>,
    pub redeemed: bool,
}

/// An authorization code of the browser sign-in, by its hash, with what redeeming it must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCodeRecord {
    pub hash: String,
    pub object_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// PKCE: the S256 challenge the code verifier must hash to.
    pub code_challenge: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub created: i64,
    pub expires: i64,
}

/// A refresh token, by its hash; `created` is checked against the user's password change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub hash: String,
    pub object_id: String,
    pub client_id: String,
    pub scope: String,
    pub created: i64,
    pub expires: i64,
}

/// A client secret, stored as a SHA-256 hash only.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecretRecord {
    pub key_id: String,
    pub object_id: String,
    pub hash: Vec<u8>,
    /// First three characters, shown in listings as Entra does.
    pub hint: String,
    pub created: i64,
    pub expires: i64,
}

impl std::fmt::Debug for ClientSecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientSecretRecord({}, {})", self.key_id, self.object_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificateRecord {
    pub key_id: String,
    pub object_id: String,
    pub x5t: String,
    pub x5t_s256: String,
    pub der: Vec<u8>,
    pub not_after: i64,
}

#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub created: i64,
    pub retired_at: Option<i64>,
    /// PKCS#8, sealed with associated data `["signing-key", kid]`.
    pub sealed: Sealed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRecord {
    pub name: String,
    pub tenant_id: String,
    pub retention_days: i64,
    pub purge_protection: bool,
    pub created: i64,
    /// ARM-side settings (resource group, location, tags, sku, access policies, RBAC mode), as JSON
    /// the domain owns; the store does not look inside.
    pub properties: serde_json::Value,
    /// Set while the vault is soft-deleted; `purge_at` is when it goes for good.
    pub deleted_at: Option<i64>,
    pub purge_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroupRecord {
    pub name: String,
    pub location: String,
    pub tags: Option<BTreeMap<String, String>>,
    pub created: i64,
}

/// An ARM resource other than a vault (virtual machines, user-assigned identities, storage accounts).
/// `properties` and `identity` are the domain's JSON; `sealed` holds its secret material, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRecord {
    pub id: String,
    pub kind: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub tags: Option<BTreeMap<String, String>>,
    pub properties: serde_json::Value,
    pub identity: Option<serde_json::Value>,
    pub sealed: Option<Sealed>,
    pub created: i64,
}

/// A `keyhold agent` enrolled for one resource; the server keeps only its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub agent_id: String,
    pub resource_id: String,
    /// Uncompressed P-256 point, base64url.
    pub public_key: String,
    pub created: i64,
    pub revoked_at: Option<i64>,
}

/// An RBAC role assignment: `principal_id` holds role `role_definition_id` (a GUID) at `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignmentRecord {
    pub name: String,
    pub scope: String,
    pub principal_id: String,
    pub role_definition_id: String,
    pub principal_type: Option<String>,
    pub created: i64,
}

#[derive(Debug, Clone)]
pub struct SecretVersionRecord {
    pub vault: String,
    pub name: String,
    pub version: String,
    /// Sealed with associated data `["secret", vault, name, version]`.
    pub value: Sealed,
    pub content_type: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    /// Insertion order; the paging cursor of version lists.
    pub seq: i64,
    /// The secret of a certificate version: read here, changed only through the certificate.
    pub managed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedSecretRecord {
    pub vault: String,
    pub name: String,
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

#[derive(Debug, Clone)]
pub struct KeyVersionRecord {
    pub vault: String,
    pub name: String,
    pub version: String,
    /// `RSA` or `EC`.
    pub kty: String,
    /// The public members (`kty`, `n`/`e` or `crv`/`x`/`y`), as the domain encodes them.
    pub public_jwk: serde_json::Value,
    pub key_ops: Vec<String>,
    /// PKCS#8 DER sealed with associated data `["key", vault, name, version]`.
    pub private: Sealed,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub exportable: bool,
    pub tags: Option<BTreeMap<String, String>>,
    pub created: i64,
    pub updated: i64,
    /// Insertion order; the paging cursor of version lists.
    pub seq: i64,
    /// The key of a certificate version: read here, changed only through the certificate.
    pub managed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedKeyRecord {
    pub vault: String,
    pub name: String,
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

/// A key's rotation policy, as the domain's JSON (`lifetimeActions`, `attributes`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPolicyRecord {
    pub vault: String,
    pub name: String,
    pub policy: serde_json::Value,
    pub created: i64,
    pub updated: i64,
}

pub type DeletedKey = (DeletedKeyRecord, KeyVersionRecord);

/// A certificate version: its X.509 certificate and attributes. Its key and secret are the key and
/// secret versions of the same name and version, written with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateVersionRecord {
    pub vault: String,
    pub name: String,
    pub version: String,
    /// DER.
    pub cer: Vec<u8>,
    /// base64url SHA-1 of `cer`.
    pub x5t: String,
    /// The secret's content type at issue (`application/x-pkcs12` or `application/x-pem-file`).
    pub content_type: String,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub tags: Option<BTreeMap<String, String>>,
    /// `preserveCertOrder` as the client asked, if it did.
    pub preserve_cert_order: Option<bool>,
    pub created: i64,
    pub updated: i64,
    /// Insertion order; the paging cursor of version lists.
    pub seq: i64,
}

/// Everything one new certificate version writes, in one transaction.
#[derive(Debug, Clone)]
pub struct NewCertificateVersion {
    pub certificate: CertificateVersionRecord,
    pub key: KeyVersionRecord,
    pub secret: SecretVersionRecord,
    pub policy: CertificatePolicyRecord,
    /// The pending operation's new state, when the version completes one.
    pub operation: Option<CertificateOperationRecord>,
}

/// A certificate's policy, as the domain's JSON (Key Vault's `CertificatePolicy` without ids).
#[derive(Debug, Clone, PartialEq)]
pub struct CertificatePolicyRecord {
    pub vault: String,
    pub name: String,
    pub policy: serde_json::Value,
    pub created: i64,
    pub updated: i64,
}

/// The certificate's pending (or last completed) operation, as the domain's JSON.
#[derive(Debug, Clone)]
pub struct CertificateOperationRecord {
    pub vault: String,
    pub name: String,
    pub operation: serde_json::Value,
    /// The key of a request still in progress (issuer `Unknown`), sealed, until it is merged.
    pub private: Option<Sealed>,
    pub updated: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedCertificateRecord {
    pub vault: String,
    pub name: String,
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

pub type DeletedCertificate = (DeletedCertificateRecord, CertificateVersionRecord);

/// A certificate issuer of a vault: the domain's JSON (provider, account id, organization details,
/// attributes) and the credentials' password sealed apart.
#[derive(Debug, Clone)]
pub struct CertificateIssuerRecord {
    pub vault: String,
    pub name: String,
    pub issuer: serde_json::Value,
    /// Sealed with associated data `["certificate-issuer", vault, name]`.
    pub credentials: Option<Sealed>,
    pub created: i64,
    pub updated: i64,
}
