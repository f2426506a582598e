//! Vault lookup for the data plane, and Azure's vault-name rule.

use std::sync::Arc;

use keyhold_store::{Store, VaultRecord};

use crate::VaultError;

#[derive(Clone)]
pub struct Vaults {
    store: Arc<dyn Store>,
}

impl Vaults {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// A live vault by name (soft-deleted vaults are not served).
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
