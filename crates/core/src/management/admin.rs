//! Vaults made through keyhold's admin API (`keyhold keyvault create` before ARM existed): always in
//! resource group [`HOST_GROUP`], and a new vault grants its creator every secret and key permission by
//! access policy, as `az keyvault create` does. Authorization is the ordinary management one.

use keyhold_store::VaultRecord;

use super::{ArmError, HOST_GROUP, Management, PolicyEdit, VaultSpec};
use crate::authz::{AccessPolicy, CERTIFICATE_PERMISSIONS, Caller, KEY_PERMISSIONS, Permissions, SECRET_PERMISSIONS};

impl Management {
    /// Creates (or updates) vault `name` in [`HOST_GROUP`], creating the group when needed.
    pub async fn put_admin_vault(
        &self,
        caller: &Caller,
        name: &str,
        soft_delete_retention_in_days: Option<i64>,
        enable_purge_protection: Option<bool>,
    ) -> Result<VaultRecord, ArmError> {
        self.put_group(caller, HOST_GROUP, "local", None).await?;
        let spec = VaultSpec {
            soft_delete_retention_in_days,
            enable_purge_protection,
            ..Default::default()
        };
        let (vault, created) = self.put_vault(caller, HOST_GROUP, name, spec, false).await?;
        if created {
            self.edit_policies(
                caller,
                HOST_GROUP,
                &vault.name,
                PolicyEdit::Add,
                vec![creator_policy(caller)],
            )
            .await?;
        }
        Ok(vault)
    }
}

/// Every permission of `names` but `all` (the shorthand, not a permission of its own).
fn every(names: &[&str]) -> Vec<String> {
    names.iter().filter(|p| **p != "all").map(|p| p.to_string()).collect()
}

/// Every secret, key and certificate permission for the creator.
fn creator_policy(caller: &Caller) -> AccessPolicy {
    AccessPolicy {
        tenant_id: caller.tenant.clone(),
        object_id: caller.oid.clone(),
        application_id: None,
        permissions: Permissions {
            secrets: every(SECRET_PERMISSIONS),
            keys: every(KEY_PERMISSIONS),
            certificates: every(CERTIFICATE_PERMISSIONS),
            ..Default::default()
        },
    }
}
