//! Key Vault keys: versions with their public JWK in the clear and their private key sealed, soft
//! deletion, rotation policies, and the re-sealing of private keys under newer data keys.

use async_trait::async_trait;

use crate::{DeletedKey, DeletedKeyRecord, KeyPolicyRecord, KeyVersionRecord, PageRequest, Result, Sealed};

/// Reads of live keys never return versions of a soft-deleted name.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Adds a version; `Deleted` if the name is soft-deleted.
    async fn put_key_version(&self, k: &KeyVersionRecord) -> Result<()>;
    /// Replaces the metadata (attributes, `key_ops`, tags; not the key) of an existing live version.
    async fn update_key_version(&self, k: &KeyVersionRecord) -> Result<()>;
    /// The given version, or the latest when `version` is `None`.
    async fn key_version(&self, vault: &str, name: &str, version: Option<&str>) -> Result<Option<KeyVersionRecord>>;
    /// Latest version of each live key, by name.
    async fn list_keys(&self, vault: &str, page: &PageRequest) -> Result<Vec<KeyVersionRecord>>;
    /// Versions of one live key, oldest first; `after` is a sequence number.
    async fn list_key_versions(&self, vault: &str, name: &str, page: &PageRequest) -> Result<Vec<KeyVersionRecord>>;
    /// Soft-deletes a live key; `NotFound` if there is none.
    async fn delete_key(&self, d: &DeletedKeyRecord) -> Result<()>;
    async fn deleted_key(&self, vault: &str, name: &str) -> Result<Option<DeletedKey>>;
    async fn list_deleted_keys(&self, vault: &str, page: &PageRequest) -> Result<Vec<DeletedKey>>;
    async fn recover_key(&self, vault: &str, name: &str) -> Result<()>;
    /// Removes a soft-deleted key, its versions and its policy for good.
    async fn purge_key(&self, vault: &str, name: &str) -> Result<()>;
    /// Restores versions as a new live key; `Exists` / `Deleted` if the name is taken.
    async fn restore_key(&self, versions: &[KeyVersionRecord]) -> Result<()>;
    /// Soft-deleted keys whose purge date has passed.
    async fn purgeable_keys(&self, now: i64) -> Result<Vec<(String, String)>>;
    /// Inserts or replaces a key's rotation policy.
    async fn put_key_policy(&self, p: &KeyPolicyRecord) -> Result<()>;
    async fn key_policy(&self, vault: &str, name: &str) -> Result<Option<KeyPolicyRecord>>;
    /// Every rotation policy of a live key, for the rotation job.
    async fn key_policies(&self) -> Result<Vec<KeyPolicyRecord>>;

    // Data-key rotation, over every version live or soft-deleted (as for secrets).
    /// Up to `limit` key versions with `seq > after_seq` whose private key is sealed under a data key
    /// other than `key_id`, by `seq`.
    async fn key_versions_not_under(&self, key_id: u32, after_seq: i64, limit: u32) -> Result<Vec<KeyVersionRecord>>;
    /// Compare-and-swap of one version's sealed private key, by `seq`.
    async fn replace_key_private(&self, seq: i64, old: &Sealed, new: &Sealed) -> Result<bool>;
}
