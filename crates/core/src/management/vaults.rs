//! Vaults as ARM resources: create or update (merging like ARM), access-policy edits, soft delete,
//! recover (`createMode: recover`) and purge. The data plane reads the same record.

use keyhold_store::VaultRecord;
use serde::{Deserialize, Serialize};

use super::{ArmError, Management, bad_request, normalize_location};
use crate::{
    authz::{AccessPolicy, CERTIFICATE_PERMISSIONS, Caller, KEY_PERMISSIONS, SECRET_PERMISSIONS},
    secrets::Tags,
    vaults::validate_vault_name,
};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sku {
    pub family: String,
    pub name: String,
}

impl Default for Sku {
    fn default() -> Self {
        Self {
            family: "A".into(),
            name: "standard".into(),
        }
    }
}

/// What keyhold stores as a vault's properties JSON (a superset of what authorization reads).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VaultProperties {
    pub resource_group: String,
    pub location: String,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub sku: Sku,
    #[serde(default)]
    pub enable_rbac_authorization: bool,
    #[serde(default)]
    pub access_policies: Vec<AccessPolicy>,
    #[serde(default)]
    pub enabled_for_deployment: bool,
    #[serde(default)]
    pub enabled_for_disk_encryption: bool,
    #[serde(default)]
    pub enabled_for_template_deployment: bool,
    #[serde(default)]
    pub public_network_access: Option<String>,
}

impl VaultProperties {
    pub fn of(v: &VaultRecord) -> Self {
        serde_json::from_value(v.properties.clone()).unwrap_or_default()
    }
}

pub(super) fn group_of(v: &VaultRecord) -> String {
    VaultProperties::of(v).resource_group
}

/// A PUT or PATCH body: absent fields keep their value (or take the default on create).
#[derive(Debug, Clone, Default)]
pub struct VaultSpec {
    pub location: Option<String>,
    pub tags: Option<Tags>,
    pub tenant_id: Option<String>,
    pub sku: Option<Sku>,
    pub enable_rbac_authorization: Option<bool>,
    pub access_policies: Option<Vec<AccessPolicy>>,
    pub soft_delete_retention_in_days: Option<i64>,
    pub enable_purge_protection: Option<bool>,
    pub enable_soft_delete: Option<bool>,
    pub enabled_for_deployment: Option<bool>,
    pub enabled_for_disk_encryption: Option<bool>,
    pub enabled_for_template_deployment: Option<bool>,
    pub public_network_access: Option<String>,
    pub create_mode: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyEdit {
    Add,
    Replace,
    Remove,
}

const MAX_POLICIES: usize = 1024;

fn validate_policies(policies: &[AccessPolicy]) -> Result<(), ArmError> {
    if policies.len() > MAX_POLICIES {
        return Err(bad_request(
            "BadRequest",
            format!("A vault may have at most {MAX_POLICIES} access policies."),
        ));
    }
    for p in policies {
        if uuid_like(&p.object_id).is_none() || uuid_like(&p.tenant_id).is_none() {
            return Err(bad_request(
                "BadRequest",
                "Access policy objectId and tenantId must be GUIDs.",
            ));
        }
        for (kind, given, known) in [
            ("secrets", &p.permissions.secrets, SECRET_PERMISSIONS),
            ("keys", &p.permissions.keys, KEY_PERMISSIONS),
            ("certificates", &p.permissions.certificates, CERTIFICATE_PERMISSIONS),
        ] {
            if let Some(bad) = given.iter().find(|g| !known.iter().any(|k| k.eq_ignore_ascii_case(g))) {
                return Err(bad_request(
                    "BadRequest",
                    format!("Invalid {kind} permission '{bad}' in access policy."),
                ));
            }
        }
    }
    Ok(())
}

fn uuid_like(s: &str) -> Option<()> {
    (s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        }))
    .then_some(())
}

impl Management {
    pub fn vault_id(&self, group: &str, name: &str) -> String {
        self.authz.vault_id(group, name)
    }

    /// PUT (or PATCH when `patch`) of a vault. Returns the vault and whether it was created.
    pub async fn put_vault(
        &self,
        caller: &Caller,
        group: &str,
        name: &str,
        spec: VaultSpec,
        patch: bool,
    ) -> Result<(VaultRecord, bool), ArmError> {
        validate_vault_name(name).map_err(|e| bad_request("VaultNameNotValid", e.to_string()))?;
        self.require(caller, "Microsoft.KeyVault/vaults/write", &self.vault_id(group, name))
            .await?;
        let group_record = self.require_group(group).await?;
        if let Some(t) = &spec.tenant_id
            && !t.eq_ignore_ascii_case(&self.tenant_id)
        {
            return Err(bad_request(
                "BadRequest",
                format!("The tenant '{t}' is not this keyhold's tenant '{}'.", self.tenant_id),
            ));
        }
        if let Some(p) = &spec.access_policies {
            validate_policies(p)?;
        }
        super::validate_tags(spec.tags.as_ref())?;
        if spec.enable_soft_delete == Some(false) {
            return Err(bad_request(
                "BadRequest",
                "Soft delete cannot be disabled: every keyhold vault is soft-delete enabled.",
            ));
        }
        if let Some(days) = spec.soft_delete_retention_in_days
            && !(7..=90).contains(&days)
        {
            return Err(bad_request(
                "BadRequest",
                "softDeleteRetentionInDays must be between 7 and 90.",
            ));
        }
        let recover = spec
            .create_mode
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("recover"));
        match self.store.vault_any(name).await? {
            Some(v) if v.deleted_at.is_some() => {
                if !recover {
                    return Err(ArmError::VaultDeletedConflict(name.to_owned()));
                }
                let v = self.recovered(caller, v, group, &spec).await?;
                self.store.put_vault(&v).await?;
                Ok((v, false))
            }
            Some(v) => {
                if !group_of(&v).eq_ignore_ascii_case(group) {
                    return Err(ArmError::VaultAlreadyExists(name.to_owned()));
                }
                if spec
                    .soft_delete_retention_in_days
                    .is_some_and(|d| d != v.retention_days)
                {
                    return Err(bad_request(
                        "BadRequest",
                        "softDeleteRetentionInDays is set when a vault is created and cannot be changed afterwards.",
                    ));
                }
                self.require_model_switch(caller, &v, group, &spec).await?;
                let v = self.merge(v, &spec, &group_record.name)?;
                self.store.put_vault(&v).await?;
                Ok((v, false))
            }
            None if patch || recover => Err(ArmError::ResourceNotFound {
                kind: "Microsoft.KeyVault/vaults".into(),
                name: name.to_owned(),
                group: group.to_owned(),
            }),
            None => {
                let location = spec
                    .location
                    .clone()
                    .filter(|l| !l.trim().is_empty())
                    .unwrap_or_else(|| group_record.location.clone());
                let fresh = VaultRecord {
                    name: name.to_ascii_lowercase(),
                    tenant_id: self.tenant_id.clone(),
                    retention_days: 90,
                    purge_protection: false,
                    created: self.clock.now(),
                    properties: serde_json::to_value(VaultProperties {
                        resource_group: group_record.name.clone(),
                        location: normalize_location(&location),
                        ..Default::default()
                    })
                    .map_err(|e| ArmError::Internal(e.to_string()))?,
                    deleted_at: None,
                    purge_at: None,
                };
                let v = self.merge(fresh, &spec, &group_record.name)?;
                self.store.put_vault(&v).await?;
                Ok((v, true))
            }
        }
    }

    /// A soft-deleted vault brought back by `createMode: recover`. As in Azure it returns only to the
    /// subscription, group and location it was deleted from, with the properties it had then (access
    /// policies, permission model, retention, purge protection): the request's own properties are not
    /// applied, so recovering cannot be used to grant oneself access to another team's vault.
    async fn recovered(
        &self,
        caller: &Caller,
        mut v: VaultRecord,
        group: &str,
        spec: &VaultSpec,
    ) -> Result<VaultRecord, ArmError> {
        let original = VaultProperties::of(&v);
        let original_id = self.vault_id(&original.resource_group, &v.name);
        if !original.resource_group.eq_ignore_ascii_case(group) {
            // Whoever may not write in the original group learns nothing of it: the refusal names
            // only the scope the caller asked for.
            if !self
                .authz
                .action(caller, "Microsoft.KeyVault/vaults/write", &original_id)
                .await?
            {
                return Err(ArmError::AuthorizationFailed {
                    oid: caller.oid.clone(),
                    action: "Microsoft.KeyVault/vaults/write".into(),
                    scope: self.vault_id(group, &v.name),
                });
            }
            return Err(bad_request(
                "BadRequest",
                format!(
                    "The vault '{}' was deleted from resource group '{}' and can only be recovered there.",
                    v.name, original.resource_group
                ),
            ));
        }
        if let Some(l) = spec.location.as_deref().filter(|l| !l.trim().is_empty())
            && normalize_location(l) != original.location
        {
            return Err(bad_request(
                "BadRequest",
                format!(
                    "The vault '{}' was deleted from location '{}' and can only be recovered there.",
                    v.name, original.location
                ),
            ));
        }
        v.deleted_at = None;
        v.purge_at = None;
        Ok(v)
    }

    /// Switching an existing vault between access policies and RBAC changes who may read it, so Azure
    /// asks for the right to grant access (`roleAssignments/write`: Owner, User Access Administrator)
    /// on top of `vaults/write`, which a Contributor has.
    async fn require_model_switch(
        &self,
        caller: &Caller,
        v: &VaultRecord,
        group: &str,
        spec: &VaultSpec,
    ) -> Result<(), ArmError> {
        let current = VaultProperties::of(v).enable_rbac_authorization;
        match spec.enable_rbac_authorization {
            Some(wanted) if wanted != current => {
                self.require(
                    caller,
                    "Microsoft.Authorization/roleAssignments/write",
                    &self.vault_id(group, &v.name),
                )
                .await
            }
            _ => Ok(()),
        }
    }

    fn merge(&self, mut v: VaultRecord, spec: &VaultSpec, group: &str) -> Result<VaultRecord, ArmError> {
        let mut p = VaultProperties::of(&v);
        p.resource_group = group.to_owned();
        if spec.enable_purge_protection == Some(false) && v.purge_protection {
            return Err(bad_request(
                "BadRequest",
                "Purge protection cannot be disabled once it is enabled.",
            ));
        }
        v.purge_protection |= spec.enable_purge_protection.unwrap_or(false);
        v.retention_days = spec.soft_delete_retention_in_days.unwrap_or(v.retention_days);
        if let Some(t) = &spec.tags {
            p.tags = Some(t.clone());
        }
        if let Some(s) = &spec.sku {
            p.sku = s.clone();
        }
        p.enable_rbac_authorization = spec.enable_rbac_authorization.unwrap_or(p.enable_rbac_authorization);
        if let Some(policies) = &spec.access_policies {
            p.access_policies = policies.clone();
        }
        p.enabled_for_deployment = spec.enabled_for_deployment.unwrap_or(p.enabled_for_deployment);
        p.enabled_for_disk_encryption = spec
            .enabled_for_disk_encryption
            .unwrap_or(p.enabled_for_disk_encryption);
        p.enabled_for_template_deployment = spec
            .enabled_for_template_deployment
            .unwrap_or(p.enabled_for_template_deployment);
        if spec.public_network_access.is_some() {
            p.public_network_access = spec.public_network_access.clone();
        }
        v.properties = serde_json::to_value(p).map_err(|e| ArmError::Internal(e.to_string()))?;
        Ok(v)
    }

    pub async fn vault(&self, caller: &Caller, group: &str, name: &str) -> Result<VaultRecord, ArmError> {
        self.require(caller, "Microsoft.KeyVault/vaults/read", &self.vault_id(group, name))
            .await?;
        self.require_group(group).await?;
        match self.store.vault(name).await? {
            Some(v) if group_of(&v).eq_ignore_ascii_case(group) => Ok(v),
            _ => Err(ArmError::ResourceNotFound {
                kind: "Microsoft.KeyVault/vaults".into(),
                name: name.to_owned(),
                group: group.to_owned(),
            }),
        }
    }

    /// The vaults (of one group, or of the subscription) the caller may read.
    pub async fn vaults(&self, caller: &Caller, group: Option<&str>) -> Result<Vec<VaultRecord>, ArmError> {
        let candidates = match group {
            Some(g) => {
                self.require_group(g).await?;
                self.vaults_in(g).await?
            }
            None => self.store.list_vaults().await?,
        };
        let mut out = Vec::new();
        for v in candidates {
            if self
                .authz
                .action(
                    caller,
                    "Microsoft.KeyVault/vaults/read",
                    &self.vault_id(&group_of(&v), &v.name),
                )
                .await?
            {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Soft-deletes; returns false if there was no such vault.
    pub async fn delete_vault(&self, caller: &Caller, group: &str, name: &str) -> Result<bool, ArmError> {
        self.require(caller, "Microsoft.KeyVault/vaults/delete", &self.vault_id(group, name))
            .await?;
        match self.store.vault(name).await? {
            Some(v) if group_of(&v).eq_ignore_ascii_case(group) => {
                self.soft_delete_vault(v).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(super) async fn soft_delete_vault(&self, mut v: VaultRecord) -> Result<(), ArmError> {
        let now = self.clock.now();
        v.deleted_at = Some(now);
        v.purge_at = Some(now + v.retention_days * 86_400);
        Ok(self.store.put_vault(&v).await?)
    }

    pub async fn deleted_vaults(&self, caller: &Caller) -> Result<Vec<VaultRecord>, ArmError> {
        self.require(
            caller,
            "Microsoft.KeyVault/deletedVaults/read",
            &self.subscription_scope(),
        )
        .await?;
        Ok(self.store.list_deleted_vaults().await?)
    }

    pub async fn deleted_vault(&self, caller: &Caller, name: &str) -> Result<VaultRecord, ArmError> {
        self.require(
            caller,
            "Microsoft.KeyVault/deletedVaults/read",
            &self.subscription_scope(),
        )
        .await?;
        match self.store.vault_any(name).await? {
            Some(v) if v.deleted_at.is_some() => Ok(v),
            _ => Err(ArmError::ResourceNotFound {
                kind: "Microsoft.KeyVault/deletedVaults".into(),
                name: name.to_owned(),
                group: String::new(),
            }),
        }
    }

    pub async fn purge_deleted_vault(&self, caller: &Caller, name: &str) -> Result<(), ArmError> {
        self.require(
            caller,
            "Microsoft.KeyVault/locations/deletedVaults/purge/action",
            &self.subscription_scope(),
        )
        .await?;
        let v = self.deleted_vault(caller, name).await?;
        if v.purge_protection && v.purge_at.is_some_and(|t| t > self.clock.now()) {
            return Err(ArmError::PurgeProtected(name.to_owned()));
        }
        Ok(self.store.purge_vault(&v.name).await?)
    }

    /// Purges soft-deleted vaults whose retention has ended; returns how many.
    pub async fn purge_expired_vaults(&self) -> Result<usize, ArmError> {
        let now = self.clock.now();
        let due: Vec<VaultRecord> = self
            .store
            .list_deleted_vaults()
            .await?
            .into_iter()
            .filter(|v| v.purge_at.is_some_and(|t| t <= now))
            .collect();
        for v in &due {
            self.store.purge_vault(&v.name).await?;
        }
        Ok(due.len())
    }

    /// `accessPolicies/{add|replace|remove}`: merges into the entries of the same principal.
    pub async fn edit_policies(
        &self,
        caller: &Caller,
        group: &str,
        name: &str,
        edit: PolicyEdit,
        policies: Vec<AccessPolicy>,
    ) -> Result<Vec<AccessPolicy>, ArmError> {
        self.require(
            caller,
            "Microsoft.KeyVault/vaults/accessPolicies/write",
            &self.vault_id(group, name),
        )
        .await?;
        validate_policies(&policies)?;
        let mut v = self.vault(caller, group, name).await?;
        let mut props = VaultProperties::of(&v);
        for new in policies {
            let same = |p: &AccessPolicy| {
                p.object_id.eq_ignore_ascii_case(&new.object_id)
                    && p.tenant_id.eq_ignore_ascii_case(&new.tenant_id)
                    && p.application_id.as_deref().map(str::to_ascii_lowercase)
                        == new.application_id.as_deref().map(str::to_ascii_lowercase)
            };
            match (edit, props.access_policies.iter_mut().find(|p| same(p))) {
                (PolicyEdit::Add, Some(existing)) => {
                    union(&mut existing.permissions.secrets, &new.permissions.secrets);
                    union(&mut existing.permissions.keys, &new.permissions.keys);
                    union(&mut existing.permissions.certificates, &new.permissions.certificates);
                    union(&mut existing.permissions.storage, &new.permissions.storage);
                }
                (PolicyEdit::Add | PolicyEdit::Replace, None) => props.access_policies.push(new),
                (PolicyEdit::Replace, Some(existing)) => existing.permissions = new.permissions,
                (PolicyEdit::Remove, Some(existing)) => {
                    let drop_all = [
                        &new.permissions.secrets,
                        &new.permissions.keys,
                        &new.permissions.certificates,
                    ]
                    .iter()
                    .all(|l| l.is_empty());
                    if drop_all {
                        existing.permissions = Default::default();
                    } else {
                        subtract(&mut existing.permissions.secrets, &new.permissions.secrets);
                        subtract(&mut existing.permissions.keys, &new.permissions.keys);
                        subtract(&mut existing.permissions.certificates, &new.permissions.certificates);
                        subtract(&mut existing.permissions.storage, &new.permissions.storage);
                    }
                }
                (PolicyEdit::Remove, None) => {}
            }
        }
        props.access_policies.retain(|p| {
            !(p.permissions.secrets.is_empty()
                && p.permissions.keys.is_empty()
                && p.permissions.certificates.is_empty()
                && p.permissions.storage.is_empty())
        });
        if props.access_policies.len() > MAX_POLICIES {
            return Err(bad_request(
                "BadRequest",
                format!("A vault may have at most {MAX_POLICIES} access policies."),
            ));
        }
        let result = props.access_policies.clone();
        v.properties = serde_json::to_value(props).map_err(|e| ArmError::Internal(e.to_string()))?;
        self.store.put_vault(&v).await?;
        Ok(result)
    }
}

fn union(into: &mut Vec<String>, more: &[String]) {
    for m in more {
        if !into.iter().any(|x| x.eq_ignore_ascii_case(m)) {
            into.push(m.to_ascii_lowercase());
        }
    }
}

fn subtract(from: &mut Vec<String>, less: &[String]) {
    from.retain(|x| !less.iter().any(|l| l.eq_ignore_ascii_case(x)));
}
