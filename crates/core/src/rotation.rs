//! Data-key rotation: a new data key at once, then re-sealing in the background of every record still
//! under an older key: secret values (`["secret", vault, name, version]`), token signing keys
//! (`["signing-key", kid]`) and the managed-identity header secret (`["identity-header"]`).
//!
//! Reads never wait: a record opens under any key of the keyring until it has been re-sealed. Each
//! record is replaced with a compare-and-swap on its old ciphertext, so a concurrent change (a purge, a
//! pass on another node) is never overwritten. Which node runs the passes is the server's business
//! (one at a time, through `Store::try_lead`); a pass is safe to run twice.

use std::sync::Arc;

use keyhold_store::{Sealed, Store};
use tokio::sync::{Mutex, Notify};

use crate::{
    Keys, VaultError,
    identity::{managed, signing},
    keys::KeysError,
    secrets,
};

/// Secret versions re-sealed per store round trip.
const PAGE: u32 = 200;

/// How much is left under older data keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationStatus {
    /// The newest data key, which new records are sealed under.
    pub current_key_id: u32,
    pub secret_versions: u64,
    pub signing_keys: u64,
    /// 1 while the managed-identity header secret is under an older key.
    pub identity_header: u64,
    /// Resources whose sealed material (storage-account keys) is under an older key.
    pub resources: u64,
}

impl RotationStatus {
    pub fn remaining(&self) -> u64 {
        self.secret_versions + self.signing_keys + self.identity_header + self.resources
    }
}

/// What one re-sealing pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    pub resealed: u64,
    /// Records that did not open (corrupt or tampered); left as they are, and logged.
    pub failed: u64,
}

#[derive(Clone)]
pub struct Rotation {
    store: Arc<dyn Store>,
    keys: Keys,
    wake: Arc<Notify>,
    pass: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rotation")
    }
}

impl From<KeysError> for VaultError {
    fn from(e: KeysError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl Rotation {
    pub(crate) fn new(store: Arc<dyn Store>, keys: Keys) -> Self {
        Self {
            store,
            keys,
            wake: Arc::new(Notify::new()),
            pass: Arc::new(Mutex::new(())),
        }
    }

    /// Adds a data key and wakes the background re-sealing; returns the new key's id.
    pub async fn rotate(&self) -> Result<u32, VaultError> {
        let id = self.keys.rotate().await?;
        tracing::info!(key_id = id, "data key rotated; re-sealing in the background");
        self.wake.notify_one();
        Ok(id)
    }

    /// Resolves when this node rotated since the last call (or at once, if it did before).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Picks up rotations made on other nodes, so that this one seals under the newest key.
    pub async fn refresh(&self) -> Result<u32, VaultError> {
        Ok(self.keys.reload().await?)
    }

    /// Counts what is still under older keys, against the newest keyring in the store.
    pub async fn status(&self) -> Result<RotationStatus, VaultError> {
        let current = self.refresh().await?;
        let signing_keys = self
            .store
            .signing_keys()
            .await?
            .iter()
            .filter(|k| k.sealed.key_id() != Some(current))
            .count() as u64;
        Ok(RotationStatus {
            current_key_id: current,
            secret_versions: self.store.count_secret_versions_not_under(current).await?,
            signing_keys,
            identity_header: u64::from(self.identity_header_is_stale(current).await?.is_some()),
            resources: self
                .store
                .list_resources(None)
                .await?
                .iter()
                .filter(|r| r.sealed.as_ref().is_some_and(|s| s.key_id() != Some(current)))
                .count() as u64,
        })
    }

    /// Re-seals every record not under the newest data key.
    pub async fn reseal(&self) -> Result<PassReport, VaultError> {
        let _one_pass = self.pass.lock().await;
        let current = self.refresh().await?;
        let mut report = PassReport::default();
        self.reseal_secrets(current, &mut report).await?;
        self.reseal_vault_keys(current, &mut report).await?;
        self.reseal_signing_keys(current, &mut report).await?;
        self.reseal_identity_header(current, &mut report).await?;
        self.reseal_resources(current, &mut report).await?;
        Ok(report)
    }

    async fn reseal_secrets(&self, current: u32, report: &mut PassReport) -> Result<(), VaultError> {
        let mut after = 0;
        loop {
            let page = self.store.secret_versions_not_under(current, after, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.seq;
            for r in &page {
                let owner = secrets::aad(&r.vault, &r.name, &r.version);
                let Some(new) = self.resealed(&owner, &r.value, report).await? else {
                    continue;
                };
                if self.store.replace_secret_value(r.seq, &r.value, &new).await? {
                    report.resealed += 1;
                }
            }
        }
    }

    /// Key Vault keys' private halves, as secret values.
    async fn reseal_vault_keys(&self, current: u32, report: &mut PassReport) -> Result<(), VaultError> {
        let mut after = 0;
        loop {
            let page = self.store.key_versions_not_under(current, after, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.seq;
            for r in &page {
                let owner = crate::vault_keys::aad(&r.vault, &r.name, &r.version);
                let Some(new) = self.resealed(&owner, &r.private, report).await? else {
                    continue;
                };
                if self.store.replace_key_private(r.seq, &r.private, &new).await? {
                    report.resealed += 1;
                }
            }
        }
    }

    async fn reseal_signing_keys(&self, current: u32, report: &mut PassReport) -> Result<(), VaultError> {
        for k in self.store.signing_keys().await? {
            if k.sealed.key_id() == Some(current) {
                continue;
            }
            let Some(new) = self.resealed(&signing::aad(&k.kid), &k.sealed, report).await? else {
                continue;
            };
            if self.store.replace_signing_key_sealed(&k.kid, &k.sealed, &new).await? {
                report.resealed += 1;
            }
        }
        Ok(())
    }

    /// Resources' sealed material (storage-account keys).
    async fn reseal_resources(&self, current: u32, report: &mut PassReport) -> Result<(), VaultError> {
        for r in self.store.list_resources(None).await? {
            let Some(old) = r.sealed.as_ref().filter(|s| s.key_id() != Some(current)) else {
                continue;
            };
            let aad = crate::management::resources::sealed_aad(&r.id);
            let owner = [aad[0].as_str(), aad[1].as_str()];
            let Some(new) = self.resealed(&owner, old, report).await? else {
                continue;
            };
            if self.store.replace_resource_sealed(&r.id, old, &new).await? {
                report.resealed += 1;
            }
        }
        Ok(())
    }

    async fn reseal_identity_header(&self, current: u32, report: &mut PassReport) -> Result<(), VaultError> {
        let Some(old) = self.identity_header_is_stale(current).await? else {
            return Ok(());
        };
        let Some(new) = self.resealed(&managed::IDENTITY_HEADER_AAD, &old, report).await? else {
            return Ok(());
        };
        if self
            .store
            .replace_meta(managed::IDENTITY_HEADER_META, old.as_bytes(), new.as_bytes())
            .await?
        {
            report.resealed += 1;
        }
        Ok(())
    }

    async fn identity_header_is_stale(&self, current: u32) -> Result<Option<Sealed>, VaultError> {
        let Some(bytes) = self.store.meta(managed::IDENTITY_HEADER_META).await? else {
            return Ok(None);
        };
        let sealed = Sealed::from_stored(bytes)?;
        Ok((sealed.key_id() != Some(current)).then_some(sealed))
    }

    /// The same plaintext sealed under the newest key, or `None` (counted, logged) if it does not open.
    async fn resealed(
        &self,
        owner: &[&str],
        sealed: &Sealed,
        report: &mut PassReport,
    ) -> Result<Option<Sealed>, VaultError> {
        match self.keys.open(owner, sealed).await {
            Ok(plain) => Ok(Some(self.keys.seal(owner, &plain)?)),
            Err(e) => {
                report.failed += 1;
                tracing::error!(error = %e, record = owner.first().copied().unwrap_or(""), "a record does not open; not re-sealed");
                Ok(None)
            }
        }
    }
}
