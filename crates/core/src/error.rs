//! Domain errors, one enum per surface. The server maps each once: [`AuthError`] to Entra's OAuth2 body,
//! [`VaultError`] to Key Vault's error body.

use keyhold_crypto::CryptoError;
use keyhold_store::StoreError;

/// Token-endpoint failures, named for what happened; the AADSTS code is the server's business.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("tenant '{0}' not found")]
    UnknownTenant(String),
    #[error("application '{0}' was not found in the directory")]
    UnknownClient(String),
    #[error("invalid client secret provided")]
    InvalidSecret,
    #[error("client assertion is invalid: {0}")]
    InvalidAssertion(String),
    #[error("too many failed attempts for this client")]
    Throttled { retry_after_secs: u64 },
    #[error("the request body must contain 'client_assertion' or 'client_secret'")]
    MissingCredential,
    #[error("the request body must contain the parameter '{0}'")]
    MissingParameter(&'static str),
    #[error("the grant type '{0}' is not supported")]
    UnsupportedGrant(String),
    #[error("the provided scope '{0}' is not valid: client credentials need '<resource>/.default'")]
    InvalidScope(String),
    #[error("the resource principal named {0} was not found in the tenant")]
    UnknownResource(String),
    /// An agent's enrolment or assertion was refused.
    #[error("agent authentication failed: {0}")]
    InvalidAgent(String),
    /// Revoking an agent that is not enrolled (or was revoked already).
    #[error("agent authentication failed: unknown or already revoked agent")]
    UnknownAgent,
    /// A caller other than the admin principal on the admin API.
    #[error("The client with object id '{0}' does not have authorization to perform keyhold admin operations.")]
    NotAdmin(String),
    /// A refused admin request: a bad display name, or the admin deleting itself.
    #[error("{0}")]
    BadParameter(String),
    /// A managed-identity request named an identity this host does not have.
    #[error("Identity not found")]
    IdentityNotFound,
    /// A person's sign-in name or password is wrong (one answer for both, as Entra's).
    #[error("Error validating credentials due to invalid username or password.")]
    InvalidUserCredentials,
    #[error("The user account is disabled.")]
    UserDisabled,
    /// A device code not yet approved (the client keeps polling).
    #[error("authorization pending")]
    AuthorizationPending,
    #[error("The device code has expired.")]
    ExpiredToken,
    /// A code or refresh token that is unknown, spent, revoked or another client's.
    #[error("{0}")]
    InvalidGrant(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// Data-plane and admin failures.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{0}")]
    BadParameter(String),
    #[error("A secret with (name/id) {name} was not found in this key vault.")]
    SecretNotFound { name: String },
    #[error("Deleted Secret not found: {name}")]
    DeletedSecretNotFound { name: String },
    #[error(
        "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
    )]
    DeletedButRecoverable { name: String },
    #[error("Secret {name} already exists.")]
    AlreadyExists { name: String },
    #[error("Operation get is not allowed on a disabled secret.")]
    Disabled,
    /// Authorization refused the caller; `rbac` says whether RBAC or access policies decided.
    #[error("{message}")]
    Forbidden { message: String, rbac: bool },
    #[error("Operation \"purge\" is not allowed because purge protection is enabled for this vault.")]
    PurgeProtected,
    #[error("Vault not found: {0}")]
    VaultNotFound(String),
    #[error(
        "Backup blob could not be restored: it is corrupt, was altered, or comes from another keyhold instance or tenant."
    )]
    BadBackup,
    #[error("A key with (name/id) {name} was not found in this key vault.")]
    KeyNotFound { name: String },
    #[error("Deleted Key not found: {name}")]
    DeletedKeyNotFound { name: String },
    #[error(
        "Key {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged."
    )]
    KeyDeletedButRecoverable { name: String },
    #[error("Key {name} already exists.")]
    KeyAlreadyExists { name: String },
    /// A key operation the key itself refuses: not in `key_ops`, disabled, or outside `nbf`/`exp`.
    #[error("{0}")]
    KeyOperationForbidden(String),
    #[error("A certificate with (name/id) {name} was not found in this key vault.")]
    CertificateNotFound { name: String },
    #[error("Deleted Certificate not found: {name}")]
    DeletedCertificateNotFound { name: String },
    #[error("Pending certificate not found: {name}")]
    PendingCertificateNotFound { name: String },
    /// A certificate's key or secret changed through the keys or secrets API.
    #[error("The {kind} '{name}' is managed by the certificate '{name}'; change it through the certificates API.")]
    Managed { kind: &'static str, name: String },
    #[error("The name '{name}' is already used by a key or secret that is not a certificate's.")]
    NameTaken { name: String },
    #[error("Certificate {name} already exists.")]
    CertificateAlreadyExists { name: String },
    #[error("Issuer not found: {name}")]
    CertificateIssuerNotFound { name: String },
    #[error("Contacts not found")]
    ContactsNotFound,
    #[error(
        "Certificate {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the certificate can only be recovered or purged."
    )]
    CertificateDeletedButRecoverable { name: String },
    /// Stored ciphertext failed authentication: tampering or rows swapped in the database.
    #[error("integrity check failed for a stored record")]
    Integrity,
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<CryptoError> for VaultError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Integrity | CryptoError::Malformed | CryptoError::UnknownKey(_) => Self::Integrity,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<CryptoError> for AuthError {
    fn from(e: CryptoError) -> Self {
        Self::Internal(e.to_string())
    }
}
