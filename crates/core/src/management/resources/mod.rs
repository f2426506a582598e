//! ARM resources other than vaults: virtual machines (and any other identity-bearing kind), user-assigned
//! identities and storage accounts. A system-assigned identity is a principal born and deleted with its
//! resource; a user-assigned identity is a resource of its own whose principal many resources share.
//! Storage-account keys are sealed at rest and only listed with `listkeys/action`.

mod identities;
mod storage;

use identities::identity_value;
pub use identities::{IdentitySpec, identity_of, uai_properties};
use storage::{AAD_STORAGE, storage_key};

use keyhold_crypto::random;
use keyhold_proto::arm::UserAssignedIdentityProperties;
use keyhold_store::ResourceRecord;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{ArmError, Management, bad_request, normalize_location};
use crate::{authz::Caller, secrets::Tags};

pub const VIRTUAL_MACHINES: &str = "Microsoft.Compute/virtualMachines";
pub const USER_ASSIGNED_IDENTITIES: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
pub const STORAGE_ACCOUNTS: &str = "Microsoft.Storage/storageAccounts";
pub const WEB_SITES: &str = "Microsoft.Web/sites";
pub const ML_WORKSPACES: &str = "Microsoft.MachineLearningServices/workspaces";
/// A child kind: its resources are named `<workspace>/<compute>` and live under their workspace.
pub const ML_COMPUTES: &str = "Microsoft.MachineLearningServices/workspaces/computes";

/// The kinds keyhold keeps, with their canonical spelling.
pub const KINDS: &[&str] = &[
    VIRTUAL_MACHINES,
    USER_ASSIGNED_IDENTITIES,
    STORAGE_ACCOUNTS,
    WEB_SITES,
    ML_WORKSPACES,
    ML_COMPUTES,
];

/// Kinds that are compute a workload runs on, so they carry identities and free-form properties.
const COMPUTE_KINDS: &[&str] = &[VIRTUAL_MACHINES, WEB_SITES, ML_WORKSPACES, ML_COMPUTES];

/// The resource types keyhold serves, as `(namespace, type)`: what `GET /providers/{namespace}`
/// answers (az reads it to pick an api-version, e.g. in `az resource create`).
pub fn provider_types() -> Vec<(&'static str, &'static str)> {
    let mut types: Vec<(&'static str, &'static str)> = KINDS
        .iter()
        .chain(&[
            "Microsoft.KeyVault/vaults",
            "Microsoft.KeyVault/deletedVaults",
            "Microsoft.Authorization/roleAssignments",
            "Microsoft.Authorization/roleDefinitions",
            "Microsoft.Resources/resourceGroups",
        ])
        .filter_map(|k| k.split_once('/'))
        .collect();
    types.sort_unstable();
    types
}

/// Kinds keyhold has none of but lists (as empty) because az lists them beside what it asked for:
/// `az keyvault list` and `list-deleted` include Managed HSM pools.
const ABSENT_KINDS: &[&str] = &[
    "Microsoft.KeyVault/managedHSMs",
    "Microsoft.KeyVault/deletedManagedHSMs",
];

pub fn absent_kind(kind: &str) -> bool {
    ABSENT_KINDS.iter().any(|k| k.eq_ignore_ascii_case(kind))
}

pub fn canonical_kind(kind: &str) -> Option<&'static str> {
    KINDS.iter().copied().find(|k| k.eq_ignore_ascii_case(kind))
}

/// A PUT or PATCH body of a resource.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceSpec {
    pub location: Option<String>,
    pub tags: Option<Tags>,
    #[serde(default)]
    pub properties: Value,
    pub identity: Option<IdentitySpec>,
}

/// Free-form properties kept for a resource at most (keyhold stores them as given).
const MAX_PROPERTIES_BYTES: usize = 64 * 1024;

/// The linked action Azure checks on a user-assigned identity being attached to a resource.
pub const ASSIGN_IDENTITY: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action";

/// `Namespace/type[/childType]` of an ARM resource id (`…/providers/NS/type/name[/child/name]`).
fn kind_of_id(id: &str) -> String {
    let Some((_, path)) = id.rsplit_once("/providers/") else {
        return String::new();
    };
    let mut parts = path.split('/');
    let mut kind = parts.next().unwrap_or_default().to_owned();
    while let (Some(t), Some(_name)) = (parts.next(), parts.next()) {
        kind.push('/');
        kind.push_str(t);
    }
    kind
}

/// Associated data of a resource's sealed material (storage-account keys).
pub(crate) fn sealed_aad(resource_id: &str) -> [String; 2] {
    [AAD_STORAGE.to_owned(), resource_id.to_ascii_lowercase()]
}

/// How many type segments a kind has after its namespace: a child resource's name has as many parts.
fn depth(kind: &str) -> usize {
    kind.split('/').count().saturating_sub(1)
}

/// A child resource's id interleaves types and names: `NS/parents/p/children/c`.
fn kind_and_name_path(kind: &str, name: &str) -> String {
    let mut types = kind.split('/');
    let mut path = types.next().unwrap_or_default().to_owned();
    for (t, n) in types.zip(name.split('/')) {
        path.push('/');
        path.push_str(t);
        path.push('/');
        path.push_str(n);
    }
    path
}

fn has_child_kinds(kind: &str) -> bool {
    KINDS
        .iter()
        .any(|k| k.strip_prefix(kind).is_some_and(|rest| rest.starts_with('/')))
}

fn validate_name(kind: &str, name: &str) -> Result<(), ArmError> {
    let ok = if kind == STORAGE_ACCOUNTS {
        (3..=24).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    } else {
        name.split('/').count() == depth(kind)
            && name.split('/').all(|part| {
                (1..=64).contains(&part.len())
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            })
    };
    if ok {
        Ok(())
    } else if kind == STORAGE_ACCOUNTS {
        Err(bad_request(
            "AccountNameInvalid",
            format!(
                "{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."
            ),
        ))
    } else {
        Err(bad_request(
            "InvalidResourceName",
            format!("The resource name '{name}' is invalid."),
        ))
    }
}

impl Management {
    pub fn resource_id(&self, group: &str, kind: &str, name: &str) -> String {
        format!("{}/providers/{}", self.group_id(group), kind_and_name_path(kind, name))
    }

    pub async fn put_resource(
        &self,
        caller: &Caller,
        group: &str,
        kind: &str,
        name: &str,
        spec: ResourceSpec,
        patch: bool,
    ) -> Result<(ResourceRecord, bool), ArmError> {
        validate_name(kind, name)?;
        super::validate_tags(spec.tags.as_ref())?;
        within_property_limit(&spec.properties)?;
        let id = self.resource_id(group, kind, name);
        self.require(caller, &format!("{kind}/write"), &id).await?;
        let group_record = self.require_group(group).await?;
        let existing = self.store.resource(&id).await?;
        if existing.is_none()
            && let (Some((parent_kind, _)), Some((parent_name, _))) = (kind.rsplit_once('/'), name.rsplit_once('/'))
            && self
                .store
                .resource(&self.resource_id(group, parent_kind, parent_name))
                .await?
                .is_none()
        {
            return Err(ArmError::ResourceNotFound {
                kind: parent_kind.to_owned(),
                name: parent_name.to_owned(),
                group: group.to_owned(),
            });
        }
        if existing.is_none() && patch {
            return Err(ArmError::ResourceNotFound {
                kind: kind.to_owned(),
                name: name.to_owned(),
                group: group.to_owned(),
            });
        }
        let created = existing.is_none();
        let mut record = match existing {
            Some(r) => r,
            None => {
                self.fresh_resource(&id, kind, &group_record.name, name, &spec, &group_record.location)
                    .await?
            }
        };
        if let Some(t) = spec.tags.clone() {
            record.tags = Some(t);
        }
        if COMPUTE_KINDS.contains(&kind) {
            merge_properties(&mut record.properties, &spec.properties);
            record.properties["provisioningState"] = json!("Succeeded");
            // Checked again once merged: PATCHes below the limit may add up past it.
            within_property_limit(&record.properties)?;
        }
        if let Some(identity) = &spec.identity
            && kind != USER_ASSIGNED_IDENTITIES
        {
            record.identity = identity_value(self.apply_identity(Some(caller), &record, identity, patch).await?)?;
        }
        self.store.put_resource(&record).await?;
        Ok((record, created))
    }

    async fn fresh_resource(
        &self,
        id: &str,
        kind: &str,
        group: &str,
        name: &str,
        spec: &ResourceSpec,
        group_location: &str,
    ) -> Result<ResourceRecord, ArmError> {
        let location = normalize_location(
            spec.location
                .as_deref()
                .filter(|l| !l.trim().is_empty())
                .unwrap_or(group_location),
        );
        let mut record = ResourceRecord {
            id: id.to_owned(),
            kind: kind.to_owned(),
            resource_group: group.to_owned(),
            name: name.to_owned(),
            location,
            tags: spec.tags.clone(),
            properties: json!({}),
            identity: None,
            sealed: None,
            created: self.clock.now(),
        };
        match kind {
            USER_ASSIGNED_IDENTITIES => {
                let principal = self.new_identity_principal(name).await?;
                record.properties = serde_json::to_value(UserAssignedIdentityProperties {
                    principal_id: Some(principal.object_id),
                    client_id: principal.app_id,
                    tenant_id: Some(self.tenant_id.clone()),
                })
                .map_err(|e| ArmError::Internal(e.to_string()))?;
            }
            STORAGE_ACCOUNTS => {
                let keys = Zeroizing::new(
                    serde_json::to_vec(&json!({"key1": storage_key()?, "key2": storage_key()?}))
                        .map_err(|e| ArmError::Internal(e.to_string()))?,
                );
                record.sealed = Some(
                    self.keys
                        .seal(&[AAD_STORAGE, &id.to_ascii_lowercase()], &keys)
                        .map_err(|e| ArmError::Internal(e.to_string()))?,
                );
                record.properties = json!({
                    "provisioningState": "Succeeded",
                    "primaryEndpoints": {"blob": format!("https://{name}.blob.core.windows.net/")},
                    "accessTier": "Hot",
                    "supportsHttpsTrafficOnly": true,
                });
            }
            _ => {
                record.properties = json!({"vmId": random::guid(), "provisioningState": "Succeeded"});
            }
        }
        Ok(record)
    }

    /// Start-up only: the VM resource standing for this host (group `keyhold`, named after the host),
    /// created on first start with a system-assigned identity. Returns its ARM id.
    pub async fn ensure_host_resource(&self, host_name: &str) -> Result<String, ArmError> {
        let name: String = host_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .take(64)
            .collect();
        let name = if name.is_empty() {
            "keyhold-host".to_owned()
        } else {
            name
        };
        let id = self.resource_id(super::HOST_GROUP, VIRTUAL_MACHINES, &name);
        if self.store.resource(&id).await?.is_some() {
            return Ok(id);
        }
        if self.store.resource_group(super::HOST_GROUP).await?.is_none() {
            let group = keyhold_store::ResourceGroupRecord {
                name: super::HOST_GROUP.into(),
                location: "local".into(),
                tags: None,
                created: self.clock.now(),
            };
            self.store.put_resource_group(&group).await?;
        }
        let spec = ResourceSpec {
            location: Some("local".into()),
            ..Default::default()
        };
        let mut record = self
            .fresh_resource(&id, VIRTUAL_MACHINES, super::HOST_GROUP, &name, &spec, "local")
            .await?;
        record.properties["osProfile"] = json!({"computerName": host_name});
        let system = IdentitySpec {
            kind: "SystemAssigned".into(),
            ..Default::default()
        };
        record.identity = identity_value(self.apply_identity(None, &record, &system, false).await?)?;
        self.store.put_resource(&record).await?;
        Ok(id)
    }

    pub async fn resource(
        &self,
        caller: &Caller,
        group: &str,
        kind: &str,
        name: &str,
    ) -> Result<ResourceRecord, ArmError> {
        let id = self.resource_id(group, kind, name);
        self.require(caller, &format!("{kind}/read"), &id).await?;
        self.require_group(group).await?;
        self.store
            .resource(&id)
            .await?
            .ok_or_else(|| ArmError::ResourceNotFound {
                kind: kind.to_owned(),
                name: name.to_owned(),
                group: group.to_owned(),
            })
    }

    /// Resources the caller may read, of one group and/or one kind.
    pub async fn resources(
        &self,
        caller: &Caller,
        group: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<ResourceRecord>, ArmError> {
        if let Some(g) = group {
            self.require_group(g).await?;
        }
        let mut out = Vec::new();
        for r in self.store.list_resources(group).await? {
            if kind.is_some_and(|k| !k.eq_ignore_ascii_case(&r.kind)) {
                continue;
            }
            if self.authz.action(caller, &format!("{}/read", r.kind), &r.id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Deletes; false if there was nothing. Identities die with their resource.
    pub async fn delete_resource(
        &self,
        caller: &Caller,
        group: &str,
        kind: &str,
        name: &str,
    ) -> Result<bool, ArmError> {
        let id = self.resource_id(group, kind, name);
        self.require(caller, &format!("{kind}/delete"), &id).await?;
        let Some(record) = self.store.resource(&id).await? else {
            return Ok(false);
        };
        // Child resources (a workspace's computes) and their identities go with their parent.
        if has_child_kinds(kind) {
            let children = format!("{}/", id.to_ascii_lowercase());
            for child in self.store.list_resources(Some(group)).await? {
                if child.id.to_ascii_lowercase().starts_with(&children) {
                    self.remove_resource(&child).await?;
                }
            }
        }
        self.remove_resource(&record).await?;
        Ok(true)
    }

    pub(super) async fn remove_resource(&self, record: &ResourceRecord) -> Result<(), ArmError> {
        let principals = [
            identity_of(record).and_then(|i| i.principal_id),
            (record.kind == USER_ASSIGNED_IDENTITIES)
                .then(|| uai_properties(record).principal_id)
                .flatten(),
        ];
        for oid in principals.into_iter().flatten() {
            let _ = self.store.delete_principal(&oid).await;
        }
        Ok(self.store.delete_resource(&record.id).await?)
    }
}

fn within_property_limit(properties: &Value) -> Result<(), ArmError> {
    if properties.to_string().len() > MAX_PROPERTIES_BYTES {
        return Err(bad_request(
            "InvalidRequestContent",
            format!(
                "The resource's properties are larger than {} KiB.",
                MAX_PROPERTIES_BYTES / 1024
            ),
        ));
    }
    Ok(())
}

/// Top-level fields of `incoming` replace those of `current` (ARM's merge for PATCH and re-PUT).
fn merge_properties(current: &mut Value, incoming: &Value) {
    if !current.is_object() {
        *current = json!({});
    }
    if let (Some(cur), Some(inc)) = (current.as_object_mut(), incoming.as_object()) {
        for (k, v) in inc {
            cur.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_user_assigned_map_is_an_empty_one() {
        let spec: IdentitySpec =
            serde_json::from_value(json!({"type": "SystemAssigned", "userAssignedIdentities": null}))
                .unwrap_or_default();
        assert_eq!(spec.kind, "SystemAssigned");
        assert!(spec.user_assigned.is_empty());
    }

    #[test]
    fn child_ids_interleave_types_and_names() {
        assert_eq!(
            kind_and_name_path(VIRTUAL_MACHINES, "vm"),
            "Microsoft.Compute/virtualMachines/vm"
        );
        assert_eq!(
            kind_and_name_path(ML_COMPUTES, "ws/cpu"),
            "Microsoft.MachineLearningServices/workspaces/ws/computes/cpu"
        );
        assert!(validate_name(ML_COMPUTES, "ws/cpu").is_ok());
        assert!(
            validate_name(ML_COMPUTES, "cpu").is_err(),
            "a child needs its parent's name"
        );
        assert!(
            validate_name(VIRTUAL_MACHINES, "ws/cpu").is_err(),
            "a top-level name has no parent"
        );
        assert!(has_child_kinds(ML_WORKSPACES));
        assert!(!has_child_kinds(ML_COMPUTES) && !has_child_kinds(VIRTUAL_MACHINES));
    }
}
