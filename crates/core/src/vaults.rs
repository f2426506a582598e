//! Vaults: a name (its host label), the tenant it belongs to, and its soft-delete settings.

use std::sync::Arc;

use keyhold_store::{Store, VaultRecord};

use crate::{VaultError, clock::Clock};

#[derive(Clone)]
pub struct Vaults {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tenant_id: String,
}

#[derive(Debug, Clone, Copy)]
pub struct VaultSettings {
    pub retention_days: i64,
    pub purge_protection: bool,
}

impl Default for VaultSettings {
    fn default() -> Self {
        Self {
            retention_days: 90,
            purge_protection: false,
        }
    }
}

impl Vaults {
    pub(crate) fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, tenant_id: String) -> Self {
        Self {
            store,
            clock,
            tenant_id,
        }
    }

    /// Creates a vault, or updates its settings. Purge protection, once on, stays on (as in Azure).
    pub async fn create_or_update(&self, name: &str, settings: VaultSettings) -> Result<VaultRecord, VaultError> {
        validate_vault_name(name)?;
        if !(7..=90).contains(&settings.retention_days) {
            return Err(VaultError::BadParameter(
                "softDeleteRetentionInDays must be between 7 and 90.".into(),
            ));
        }
        let existing = self.store.vault(name).await?;
        let record = VaultRecord {
            name: existing
                .as_ref()
                .map(|v| v.name.clone())
                .unwrap_or_else(|| name.to_ascii_lowercase()),
            tenant_id: self.tenant_id.clone(),
            retention_days: settings.retention_days,
            purge_protection: settings.purge_protection || existing.as_ref().is_some_and(|v| v.purge_protection),
            created: existing.as_ref().map(|v| v.created).unwrap_or_else(|| self.clock.now()),
        };
        self.store.put_vault(&record).await?;
        Ok(record)
    }

    pub async fn get(&self, name: &str) -> Result<Option<VaultRecord>, VaultError> {
        Ok(self.store.vault(name).await?)
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
