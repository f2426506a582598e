//! Resource groups. Deleting one deletes what is in it (its vaults go to the soft-deleted list).

use keyhold_store::{ResourceGroupRecord, VaultRecord};

use super::{ArmError, Management, bad_request, normalize_location};
use crate::{authz::Caller, secrets::Tags};

/// Azure's rule: 1–90 characters of letters, digits, `_`, `-`, `.`, `(`, `)`, not ending in `.`.
fn validate_group_name(name: &str) -> Result<(), ArmError> {
    let ok = (1..=90).contains(&name.chars().count())
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(bad_request(
            "InvalidResourceGroup",
            format!("The resource group name '{name}' is invalid."),
        ))
    }
}

impl Management {
    pub async fn put_group(
        &self,
        caller: &Caller,
        name: &str,
        location: &str,
        tags: Option<Tags>,
    ) -> Result<(ResourceGroupRecord, bool), ArmError> {
        validate_group_name(name)?;
        super::validate_tags(tags.as_ref())?;
        self.require(
            caller,
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            &self.group_id(name),
        )
        .await?;
        if location.trim().is_empty() {
            return Err(bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            ));
        }
        let existing = self.store.resource_group(name).await?;
        let record = ResourceGroupRecord {
            name: existing.as_ref().map_or_else(|| name.to_owned(), |g| g.name.clone()),
            location: existing
                .as_ref()
                .map_or_else(|| normalize_location(location), |g| g.location.clone()),
            tags: tags.or_else(|| existing.as_ref().and_then(|g| g.tags.clone())),
            created: existing.as_ref().map_or_else(|| self.clock.now(), |g| g.created),
        };
        self.store.put_resource_group(&record).await?;
        Ok((record, existing.is_none()))
    }

    pub async fn group(&self, caller: &Caller, name: &str) -> Result<ResourceGroupRecord, ArmError> {
        self.require(
            caller,
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            &self.group_id(name),
        )
        .await?;
        self.store
            .resource_group(name)
            .await?
            .ok_or_else(|| ArmError::ResourceGroupNotFound(name.to_owned()))
    }

    /// The groups the caller may read.
    pub async fn groups(&self, caller: &Caller) -> Result<Vec<ResourceGroupRecord>, ArmError> {
        let mut out = Vec::new();
        for g in self.store.list_resource_groups().await? {
            if self
                .authz
                .action(
                    caller,
                    "Microsoft.Resources/subscriptions/resourceGroups/read",
                    &self.group_id(&g.name),
                )
                .await?
            {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// Deletes the group and everything in it.
    pub async fn delete_group(&self, caller: &Caller, name: &str) -> Result<bool, ArmError> {
        self.require(
            caller,
            "Microsoft.Resources/subscriptions/resourceGroups/delete",
            &self.group_id(name),
        )
        .await?;
        let Some(group) = self.store.resource_group(name).await? else {
            return Ok(false);
        };
        for vault in self.vaults_in(&group.name).await? {
            self.soft_delete_vault(vault).await?;
        }
        for resource in self.store.list_resources(Some(&group.name)).await? {
            self.remove_resource(&resource).await?;
        }
        self.store.delete_resource_group(&group.name).await?;
        Ok(true)
    }

    pub(super) async fn require_group(&self, name: &str) -> Result<ResourceGroupRecord, ArmError> {
        self.store
            .resource_group(name)
            .await?
            .ok_or_else(|| ArmError::ResourceGroupNotFound(name.to_owned()))
    }

    pub(super) async fn vaults_in(&self, group: &str) -> Result<Vec<VaultRecord>, ArmError> {
        let all = self.store.list_vaults().await?;
        Ok(all
            .into_iter()
            .filter(|v| super::vaults::group_of(v).eq_ignore_ascii_case(group))
            .collect())
    }
}
