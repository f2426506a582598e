//! Persistence behind one narrow, domain-shaped trait. Backends implement [`Store`]; nothing above
//! this crate knows SQL. Secret values and private keys arrive as [`Sealed`] ciphertext only.
//!
//! Backends: [`SqliteStore`] (embedded, the default) and [`PostgresStore`]. Each dialect has its own
//! migrations in `migrations/<dialect>/`, with the same file names; `tests/conformance/` runs one
//! suite against both.
#![forbid(unsafe_code)]

mod columns;
mod keys;
mod postgres;
mod records;
mod sqlite;

use async_trait::async_trait;
pub use keyhold_crypto::Sealed;
pub use keys::*;
pub use postgres::PostgresStore;
pub use records::*;
pub use sqlite::SqliteStore;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The name exists as a soft-deleted object.
    #[error("object is deleted")]
    Deleted,
    /// The name already exists (restore, create).
    #[error("object already exists")]
    Exists,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Where a list page starts: after this name (or sequence number) exclusive, at most `limit` rows.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait Store: KeyStore + Send + Sync + 'static {
    // Instance metadata: the wrapped root key and keyring, the tenant, the CA.
    async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>>;
    async fn put_meta(&self, key: &str, value: &[u8]) -> Result<()>;
    /// Sets `key` only if absent; returns the value that is stored afterwards. Lets several starting
    /// nodes agree on one root key / tenant.
    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<Vec<u8>>;
    /// Compare-and-swap: sets `key` to `new` only if it still holds `old`; false if it changed (or is
    /// absent). Keyring rotations on two nodes cannot overwrite each other.
    async fn replace_meta(&self, key: &str, old: &[u8], new: &[u8]) -> Result<bool>;

    // Principals and their credentials.
    async fn put_principal(&self, p: &PrincipalRecord) -> Result<()>;
    async fn principal_by_app_id(&self, app_id: &str) -> Result<Option<PrincipalRecord>>;
    async fn principal(&self, object_id: &str) -> Result<Option<PrincipalRecord>>;
    async fn put_client_secret(&self, s: &ClientSecretRecord) -> Result<()>;
    async fn client_secrets(&self, object_id: &str) -> Result<Vec<ClientSecretRecord>>;
    /// Every principal (service principals and managed identities), oldest first.
    async fn list_principals(&self) -> Result<Vec<PrincipalRecord>>;
    /// Removes every client secret of a principal (a credential reset); how many there were.
    async fn delete_client_secrets(&self, object_id: &str) -> Result<u64>;
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

    // Vaults. `vault` and `list_vaults` see live vaults only; a soft-deleted vault keeps its name.
    /// Inserts or replaces a vault (all fields).
    async fn put_vault(&self, v: &VaultRecord) -> Result<()>;
    async fn vault(&self, name: &str) -> Result<Option<VaultRecord>>;
    /// A vault live or soft-deleted.
    async fn vault_any(&self, name: &str) -> Result<Option<VaultRecord>>;
    async fn list_vaults(&self) -> Result<Vec<VaultRecord>>;
    async fn list_deleted_vaults(&self) -> Result<Vec<VaultRecord>>;
    /// Removes a vault and every secret in it for good.
    async fn purge_vault(&self, name: &str) -> Result<()>;

    // Resource groups.
    async fn put_resource_group(&self, g: &ResourceGroupRecord) -> Result<()>;
    async fn resource_group(&self, name: &str) -> Result<Option<ResourceGroupRecord>>;
    async fn list_resource_groups(&self) -> Result<Vec<ResourceGroupRecord>>;
    async fn delete_resource_group(&self, name: &str) -> Result<()>;

    // Other ARM resources, by id (case-insensitive).
    /// Inserts or replaces.
    async fn put_resource(&self, r: &ResourceRecord) -> Result<()>;
    async fn resource(&self, id: &str) -> Result<Option<ResourceRecord>>;
    /// All resources, or those of one resource group.
    async fn list_resources(&self, group: Option<&str>) -> Result<Vec<ResourceRecord>>;
    async fn delete_resource(&self, id: &str) -> Result<()>;
    /// Replaces a resource's sealed material if it is still `old`; false if it changed meanwhile.
    async fn replace_resource_sealed(&self, id: &str, old: &Sealed, new: &Sealed) -> Result<bool>;
    async fn delete_principal(&self, object_id: &str) -> Result<()>;

    // Agents: one-time join tokens (stored as hashes) and enrolled agents.
    async fn put_join_token(&self, hash: &str, resource_id: &str, expires: i64) -> Result<()>;
    /// Marks an unused, unexpired join token used and returns its resource; `None` otherwise. Atomic:
    /// of two concurrent enrolments with one token, one wins.
    async fn consume_join_token(&self, hash: &str, now: i64) -> Result<Option<String>>;
    async fn put_agent(&self, a: &AgentRecord) -> Result<()>;
    async fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>>;
    async fn revoke_agent(&self, agent_id: &str, at: i64) -> Result<()>;

    // Role assignments.
    async fn put_role_assignment(&self, a: &RoleAssignmentRecord) -> Result<()>;
    async fn role_assignment(&self, name: &str) -> Result<Option<RoleAssignmentRecord>>;
    async fn delete_role_assignment(&self, name: &str) -> Result<()>;
    async fn role_assignments(&self) -> Result<Vec<RoleAssignmentRecord>>;
    async fn role_assignments_for(&self, principal_id: &str) -> Result<Vec<RoleAssignmentRecord>>;

    // Secrets. Reads of live secrets never return versions of a soft-deleted name.
    /// Adds a version; `Deleted` if the name is soft-deleted.
    async fn put_secret_version(&self, s: &SecretVersionRecord) -> Result<()>;
    /// Replaces the metadata (not the value) of an existing version.
    async fn update_secret_version(&self, s: &SecretVersionRecord) -> Result<()>;
    /// The given version, or the latest when `version` is `None`.
    async fn secret_version(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<SecretVersionRecord>>;
    /// Latest version of each live secret, by name.
    async fn list_secrets(&self, vault: &str, page: &PageRequest) -> Result<Vec<SecretVersionRecord>>;
    /// All versions of one live secret, oldest first; `after` is a sequence number.
    async fn list_secret_versions(
        &self,
        vault: &str,
        name: &str,
        page: &PageRequest,
    ) -> Result<Vec<SecretVersionRecord>>;
    /// Every version of a live secret, for backup.
    async fn all_secret_versions(&self, vault: &str, name: &str) -> Result<Vec<SecretVersionRecord>>;
    /// Soft-deletes a live secret; `NotFound` if there is none.
    async fn delete_secret(&self, d: &DeletedSecretRecord) -> Result<()>;
    async fn deleted_secret(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<(DeletedSecretRecord, SecretVersionRecord)>>;
    async fn list_deleted_secrets(
        &self,
        vault: &str,
        page: &PageRequest,
    ) -> Result<Vec<(DeletedSecretRecord, SecretVersionRecord)>>;
    async fn recover_secret(&self, vault: &str, name: &str) -> Result<()>;
    /// Removes a soft-deleted secret and all its versions for good.
    async fn purge_secret(&self, vault: &str, name: &str) -> Result<()>;
    /// Hard-deletes a live secret (vaults without soft delete).
    async fn erase_secret(&self, vault: &str, name: &str) -> Result<()>;
    /// Restores versions as a new live secret; `Exists` / `Deleted` if the name is taken.
    async fn restore_secret(&self, versions: &[SecretVersionRecord]) -> Result<()>;
    /// Soft-deleted secrets whose purge date has passed.
    async fn purgeable_secrets(&self, now: i64) -> Result<Vec<(String, String)>>;

    // Data-key rotation: find and re-seal values not under the newest data key. These see every
    // version, live or soft-deleted.
    /// Up to `limit` secret versions with `seq > after_seq` whose value is sealed under a data key
    /// other than `key_id` (bytes 1..5 of the sealed value), by `seq`.
    async fn secret_versions_not_under(
        &self,
        key_id: u32,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<SecretVersionRecord>>;
    /// How many secret versions are sealed under a data key other than `key_id`.
    async fn count_secret_versions_not_under(&self, key_id: u32) -> Result<u64>;
    /// Compare-and-swap of one version's value, by `seq`: false if the row is gone or its value is no
    /// longer `old`, so a concurrent change is never overwritten.
    async fn replace_secret_value(&self, seq: i64, old: &Sealed, new: &Sealed) -> Result<bool>;

    // Background jobs.
    /// Whether this process leads `job` (purge, re-sealing), so that one node at a time runs it.
    /// Leadership, once taken, is kept until the process ends (or its database session does, when
    /// another node may take it). Call before each run: `false` means another node leads.
    async fn try_lead(&self, job: &str) -> Result<bool>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::path::Path;

    /// The `.sql` files of `migrations/<dialect>/`, sorted.
    pub(crate) fn migration_files(dialect: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_dialect_has_the_same_migration_files() {
        let sqlite = migration_files("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, migration_files("postgres"));
    }
}
