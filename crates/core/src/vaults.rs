//! Vault lookup for the data plane, and Azure's vault-name rule.
//!
//! Every data-plane request needs its vault's record (access policies, RBAC mode), so records are
//! held for at most [`FRESH_FOR`] after they were read. That bounds how long a change made on
//! *another* node (a revoked access policy, a deleted vault) can go unseen here: under a second, as
//! issue 17 requires. A change made on *this* node is seen at once: an entry is used only if the
//! store's count of this node's vault writes is still what it was before the entry was read. Vault
//! records hold no secret material. The management plane's read-modify-write updates read the store
//! directly, never this cache, so they always start from the current row.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use keyhold_store::{Store, VaultRecord};

use crate::VaultError;

/// How long a vault record read on this node may be served without reading it again.
pub const FRESH_FOR: Duration = Duration::from_millis(500);
/// Past this many names the cache starts afresh (a bound on memory, not an eviction policy: the
/// vaults in use are read again within [`FRESH_FOR`] anyway).
const MAX_ENTRIES: usize = 4096;

#[derive(Clone)]
pub struct Vaults {
    store: Arc<dyn Store>,
    cache: Arc<RwLock<HashMap<String, Entry>>>,
}

struct Entry {
    /// `None`: no live vault of that name (so unknown names cost no more than known ones).
    record: Option<Arc<VaultRecord>>,
    read_at: Instant,
    vault_writes: u64,
}

impl Vaults {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Arc::default(),
        }
    }

    /// A live vault by name (soft-deleted vaults are not served), as of at most [`FRESH_FOR`] ago
    /// and never older than this node's last vault write.
    pub async fn get(&self, name: &str) -> Result<Option<Arc<VaultRecord>>, VaultError> {
        // Taken before the read: a write that lands during it leaves the entry stale-marked.
        let (read_at, vault_writes) = (Instant::now(), self.store.vault_writes());
        if let Some(e) = self.cache.read().unwrap_or_else(|p| p.into_inner()).get(name)
            && e.vault_writes == vault_writes
            && read_at.saturating_duration_since(e.read_at) < FRESH_FOR
        {
            return Ok(e.record.clone());
        }
        let record = self.store.vault(name).await?.map(Arc::new);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(
            name.to_owned(),
            Entry {
                record: record.clone(),
                read_at,
                vault_writes,
            },
        );
        Ok(record)
    }
}

/// Azure's rule: 3–24 characters, letters, digits and hyphens, starting with a letter, ending with a
/// letter or digit, no consecutive hyphens.
pub fn validate_vault_name(name: &str) -> Result<(), VaultError> {
    let ok = (3..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(VaultError::BadParameter(format!(
            "The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens."
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use keyhold_store::{SqliteStore, Store, VaultRecord};

    use super::{FRESH_FOR, Vaults};

    fn vault(policies: serde_json::Value) -> VaultRecord {
        VaultRecord {
            name: "kv1".into(),
            tenant_id: "t".into(),
            retention_days: 7,
            purge_protection: false,
            created: 0,
            properties: serde_json::json!({"accessPolicies": policies}),
            deleted_at: None,
            purge_at: None,
        }
    }

    /// Two store objects on one database file stand for two nodes on one database.
    #[tokio::test]
    async fn own_writes_show_at_once_and_other_nodes_within_the_bound() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("keyhold-vault-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let here: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db"))?);
        let vaults = Vaults::new(here.clone());
        assert!(vaults.get("kv1").await?.is_none());
        here.put_vault(&vault(serde_json::json!(["one"]))).await?;
        // This node's own write: seen at once, although "no such vault" was cached a moment ago.
        let got = vaults.get("kv1").await?.ok_or("written here, not served")?;
        assert_eq!(got.properties["accessPolicies"], serde_json::json!(["one"]));

        let there: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db"))?);
        there.put_vault(&vault(serde_json::json!([]))).await?;
        // Another node's write: this node may still answer from the record it read…
        let cached = vaults.get("kv1").await?.ok_or("vault gone")?;
        assert_eq!(
            cached.properties["accessPolicies"],
            serde_json::json!(["one"]),
            "served from the cache"
        );
        // …but not past the bound.
        tokio::time::sleep(FRESH_FOR).await;
        let fresh = vaults.get("kv1").await?.ok_or("vault gone")?;
        assert_eq!(fresh.properties["accessPolicies"], serde_json::json!([]));
        there.purge_vault("kv1").await?;
        tokio::time::sleep(FRESH_FOR).await;
        assert!(
            vaults.get("kv1").await?.is_none(),
            "a vault purged elsewhere is gone here too"
        );
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
