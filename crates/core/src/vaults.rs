//! Vault lookup for the data plane, and Azure's vault-name rule. Records come through a
//! [`Fresh`] cache: another node's change shows here within a second, this node's at once. The
//! management plane's read-modify-write updates read the store directly, never this cache, so they
//! always start from the current row.

use std::sync::Arc;

use keyhold_store::{Store, VaultRecord, WriteKind};

pub use crate::fresh::FRESH_FOR;
use crate::{VaultError, fresh::Fresh};

#[derive(Clone)]
pub struct Vaults {
    store: Arc<dyn Store>,
    /// `None`: no live vault of that name (so unknown names cost no more than known ones).
    cache: Arc<Fresh<Option<Arc<VaultRecord>>>>,
}

impl Vaults {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            cache: Arc::new(Fresh::new(store.clone(), WriteKind::Vaults)),
            store,
        }
    }

    /// A live vault by name (soft-deleted vaults are not served), as of at most [`FRESH_FOR`] ago
    /// and never older than this node's last vault write.
    pub async fn get(&self, name: &str) -> Result<Option<Arc<VaultRecord>>, VaultError> {
        self.cache
            .get(name, || async { Ok(self.store.vault(name).await?.map(Arc::new)) })
            .await
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
pub(crate) mod tests {
    use std::sync::Arc;

    use keyhold_store::{SqliteStore, Store, VaultRecord};

    use super::{FRESH_FOR, Vaults};

    fn vault(policies: serde_json::Value) -> VaultRecord {
        record(serde_json::json!({"accessPolicies": policies}))
    }

    /// Vault `kv1` with these ARM properties, for the tests of what reads them.
    pub(crate) fn record(properties: serde_json::Value) -> VaultRecord {
        VaultRecord {
            name: "kv1".into(),
            tenant_id: "t".into(),
            retention_days: 7,
            purge_protection: false,
            created: 0,
            properties,
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
