//! Identity persistence: principals and their credentials, one-time token uses, signing keys, agents.

use async_trait::async_trait;

use crate::{
    AgentRecord, ClientCertificateRecord, ClientSecretRecord, PrincipalRecord, Result, Sealed, SigningKeyRecord,
};

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    // Principals and their credentials.
    async fn put_principal(&self, p: &PrincipalRecord) -> Result<()>;
    async fn principal_by_app_id(&self, app_id: &str) -> Result<Option<PrincipalRecord>>;
    async fn principal(&self, object_id: &str) -> Result<Option<PrincipalRecord>>;
    async fn rename_principal(&self, object_id: &str, display_name: &str) -> Result<()>;
    async fn put_client_secret(&self, s: &ClientSecretRecord) -> Result<()>;
    async fn client_secrets(&self, object_id: &str) -> Result<Vec<ClientSecretRecord>>;
    /// Every principal (service principals and managed identities), oldest first.
    async fn list_principals(&self) -> Result<Vec<PrincipalRecord>>;
    /// Removes every client secret of a principal (a credential reset); how many there were.
    async fn delete_client_secrets(&self, object_id: &str) -> Result<u64>;
    /// Removes one client secret (Graph's `removePassword`); false if the principal has no such key.
    async fn delete_client_secret(&self, object_id: &str, key_id: &str) -> Result<bool>;
    async fn put_client_certificate(&self, c: &ClientCertificateRecord) -> Result<()>;
    async fn client_certificates(&self, object_id: &str) -> Result<Vec<ClientCertificateRecord>>;

    /// Records the one use of a one-time token (a client assertion's `jti`) until `expires`; false if it
    /// was seen before. Entries past their expiry are forgotten.
    async fn first_use(&self, key: &str, expires: i64, now: i64) -> Result<bool>;

    // Token signing keys.
    async fn put_signing_key(&self, k: &SigningKeyRecord) -> Result<()>;
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    async fn retire_signing_key(&self, kid: &str, at: i64) -> Result<()>;
    async fn delete_signing_key(&self, kid: &str) -> Result<()>;
    /// Compare-and-swap of a signing key's sealed private key (re-sealing under a new data key).
    async fn replace_signing_key_sealed(&self, kid: &str, old: &Sealed, new: &Sealed) -> Result<bool>;

    /// Removes a principal.
    async fn delete_principal(&self, object_id: &str) -> Result<()>;

    // Agents: one-time join tokens (stored as hashes) and enrolled agents.
    async fn put_join_token(&self, hash: &str, resource_id: &str, expires: i64) -> Result<()>;
    /// Marks an unused, unexpired join token used and returns its resource; `None` otherwise. Atomic:
    /// of two concurrent enrolments with one token, one wins.
    async fn consume_join_token(&self, hash: &str, now: i64) -> Result<Option<String>>;
    async fn put_agent(&self, a: &AgentRecord) -> Result<()>;
    async fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>>;
    async fn revoke_agent(&self, agent_id: &str, at: i64) -> Result<()>;
}
