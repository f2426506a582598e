//! Secret versions, soft deletion, backup and restore, and their re-sealing under newer data keys.

use async_trait::async_trait;

use crate::{DeletedSecretRecord, PageRequest, Result, Sealed, SecretVersionRecord};

#[async_trait]
pub trait SecretStore: Send + Sync + 'static {
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
}
