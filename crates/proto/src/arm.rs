//! ARM's resource shapes that keyhold serves typed. Free-form parts (a generic resource's
//! `properties`) stay `serde_json::Value`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET /subscriptions/{id}` and each item of `GET /subscriptions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub subscription_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub state: String,
    pub subscription_policies: SubscriptionPolicies,
    pub authorization_source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPolicies {
    pub location_placement_id: String,
    pub quota_id: String,
    pub spending_limit: String,
}

/// ARM's `tags`: name → value.
pub type Tags = std::collections::BTreeMap<String, String>;

/// `provisioningState` alone, the `properties` of a resource group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioning {
    pub provisioning_state: String,
}

/// `Microsoft.Resources/resourceGroups`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceGroup {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    pub tags: Tags,
    pub properties: Provisioning,
}

/// `Microsoft.Authorization/roleAssignments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleAssignment {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: RoleAssignmentProperties,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: String,
    pub scope: String,
    pub created_on: String,
    pub updated_on: String,
}

/// `Microsoft.Authorization/roleDefinitions` (built-in roles only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleDefinition {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: RoleDefinitionProperties,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    pub role_name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub assignable_scopes: Vec<String>,
    pub permissions: Vec<RolePermissions>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolePermissions {
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
}

/// A storage account's `listKeys` / `regenerateKey` answer.
#[derive(Clone, Serialize, Deserialize)]
pub struct StorageAccountKeys {
    pub keys: Vec<StorageAccountKey>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccountKey {
    pub key_name: String,
    pub value: String,
    pub permissions: String,
}

/// A resource other than a vault (virtual machines, user-assigned identities, storage accounts, web
/// apps), and the items of the generic `/resources` listing (where `properties` is left out).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    pub tags: Tags,
    /// ARM's `kind` of the resource (a storage account's `StorageV2`), not its type.
    #[serde(rename = "kind", default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<ResourceSku>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ResourceIdentity>,
    /// Free-form: Azure accepts any properties on these kinds and keyhold keeps them as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceSku {
    pub name: String,
    pub tier: String,
}

/// A resource's `identity` block as keyhold keeps and serves it: the system-assigned principal (with
/// its tenant) and the attached user-assigned identities by resource id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIdentity {
    /// `SystemAssigned`, `UserAssigned` or `SystemAssigned, UserAssigned`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_assigned_identities: BTreeMap<String, UserAssignedIdentity>,
}

/// One attached user-assigned identity, as the `identity` block names it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentity {
    pub principal_id: Option<String>,
    pub client_id: Option<String>,
}

/// The `properties` of a `Microsoft.ManagedIdentity/userAssignedIdentities` resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentityProperties {
    pub principal_id: Option<String>,
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
}

/// `Microsoft.KeyVault/vaults`. `P` is one access-policy entry: the domain's type, which `proto`
/// cannot name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vault<P> {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub location: String,
    pub tags: Tags,
    pub system_data: SystemData,
    pub properties: VaultProperties<P>,
}

/// ARM's `systemData`, as much of it as keyhold records.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemData {
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultProperties<P> {
    pub sku: VaultSku,
    pub tenant_id: String,
    pub access_policies: Vec<P>,
    pub enabled_for_deployment: bool,
    pub enabled_for_disk_encryption: bool,
    pub enabled_for_template_deployment: bool,
    pub enable_soft_delete: bool,
    pub soft_delete_retention_in_days: i64,
    pub enable_rbac_authorization: bool,
    /// `true` or `null`: Azure never answers `false`, purge protection cannot be turned off.
    pub enable_purge_protection: Option<bool>,
    pub vault_uri: String,
    pub provisioning_state: String,
    pub public_network_access: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultSku {
    pub family: String,
    pub name: String,
}

/// A vault's create-or-update (`PUT`) or `PATCH` body. Every field is optional, as a `PATCH` sends
/// only what changes; unknown fields are ignored, as ARM ignores them. `P` as in [`Vault`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultWrite<P> {
    pub location: Option<String>,
    pub tags: Option<Tags>,
    #[serde(default = "VaultWriteProperties::none")]
    pub properties: VaultWriteProperties<P>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultWriteProperties<P> {
    pub tenant_id: Option<String>,
    pub sku: Option<VaultSku>,
    pub access_policies: Option<Vec<P>>,
    pub enable_rbac_authorization: Option<bool>,
    pub enable_soft_delete: Option<bool>,
    pub soft_delete_retention_in_days: Option<i64>,
    pub enable_purge_protection: Option<bool>,
    pub enabled_for_deployment: Option<bool>,
    pub enabled_for_disk_encryption: Option<bool>,
    pub enabled_for_template_deployment: Option<bool>,
    pub public_network_access: Option<String>,
    /// `recover` brings a soft-deleted vault back; anything else creates.
    pub create_mode: Option<String>,
}

impl<P> VaultWriteProperties<P> {
    /// A body without `properties` (a tags-only `PATCH`).
    pub fn none() -> Self {
        Self {
            tenant_id: None,
            sku: None,
            access_policies: None,
            enable_rbac_authorization: None,
            enable_soft_delete: None,
            soft_delete_retention_in_days: None,
            enable_purge_protection: None,
            enabled_for_deployment: None,
            enabled_for_disk_encryption: None,
            enabled_for_template_deployment: None,
            public_network_access: None,
            create_mode: None,
        }
    }
}

/// The body of an access-policy edit (`PUT .../accessPolicies/{add|replace|remove}`).
#[derive(Debug, Clone, Deserialize)]
pub struct VaultAccessPolicyEdit<P> {
    pub properties: AccessPolicyList<P>,
}

/// The answer to an access-policy edit (`.../accessPolicies/{add|replace|remove}`): the vault's
/// policies after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultAccessPolicies<P> {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: AccessPolicyList<P>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicyList<P> {
    pub access_policies: Vec<P>,
}

/// `Microsoft.KeyVault/deletedVaults`: a soft-deleted vault until it is purged or recovered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedVault {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: DeletedVaultProperties,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedVaultProperties {
    pub vault_id: String,
    pub location: String,
    pub deletion_date: Option<String>,
    pub scheduled_purge_date: Option<String>,
    pub tags: Tags,
    pub purge_protection_enabled: bool,
}

/// The typed bodies say what the `json!` bodies they replaced said: the same fields, `null`s and
/// omissions.
#[cfg(test)]
mod shape_tests {
    use serde_json::json;

    use super::*;

    fn vault(purge_protection: Option<bool>) -> Vault<Value> {
        Vault {
            id: "/v".into(),
            name: "kv".into(),
            kind: "Microsoft.KeyVault/vaults".into(),
            location: "westus".into(),
            tags: Tags::new(),
            system_data: SystemData {
                created_at: "2026-01-01T00:00:00Z".into(),
            },
            properties: VaultProperties {
                sku: VaultSku {
                    family: "A".into(),
                    name: "standard".into(),
                },
                tenant_id: "t".into(),
                access_policies: vec![json!({"objectId": "o"})],
                enabled_for_deployment: false,
                enabled_for_disk_encryption: false,
                enabled_for_template_deployment: true,
                enable_soft_delete: true,
                soft_delete_retention_in_days: 90,
                enable_rbac_authorization: false,
                enable_purge_protection: purge_protection,
                vault_uri: "https://kv.vault.localhost/".into(),
                provisioning_state: "Succeeded".into(),
                public_network_access: "Enabled".into(),
            },
        }
    }

    #[test]
    fn a_vault_answers_null_purge_protection_until_it_is_on() -> serde_json::Result<()> {
        let want = |purge: Value| {
            json!({
                "id": "/v", "name": "kv", "type": "Microsoft.KeyVault/vaults", "location": "westus",
                "tags": {}, "systemData": {"createdAt": "2026-01-01T00:00:00Z"},
                "properties": {
                    "sku": {"family": "A", "name": "standard"}, "tenantId": "t",
                    "accessPolicies": [{"objectId": "o"}], "enabledForDeployment": false,
                    "enabledForDiskEncryption": false, "enabledForTemplateDeployment": true,
                    "enableSoftDelete": true, "softDeleteRetentionInDays": 90,
                    "enableRbacAuthorization": false, "enablePurgeProtection": purge,
                    "vaultUri": "https://kv.vault.localhost/", "provisioningState": "Succeeded",
                    "publicNetworkAccess": "Enabled",
                },
            })
        };
        assert_eq!(serde_json::to_value(vault(None))?, want(Value::Null));
        assert_eq!(serde_json::to_value(vault(Some(true)))?, want(json!(true)));
        Ok(())
    }

    #[test]
    fn a_deleted_vault_without_dates_says_null() -> serde_json::Result<()> {
        let deleted = DeletedVault {
            id: "/d".into(),
            name: "kv".into(),
            kind: "Microsoft.KeyVault/deletedVaults".into(),
            properties: DeletedVaultProperties {
                vault_id: "/v".into(),
                location: "westus".into(),
                deletion_date: None,
                scheduled_purge_date: None,
                tags: Tags::new(),
                purge_protection_enabled: false,
            },
        };
        assert_eq!(
            serde_json::to_value(deleted)?,
            json!({"id": "/d", "name": "kv", "type": "Microsoft.KeyVault/deletedVaults", "properties": {
                "vaultId": "/v", "location": "westus", "deletionDate": null, "scheduledPurgeDate": null,
                "tags": {}, "purgeProtectionEnabled": false,
            }})
        );
        Ok(())
    }

    #[test]
    fn a_resource_leaves_out_what_it_does_not_have() -> serde_json::Result<()> {
        let mut user = BTreeMap::new();
        user.insert(
            "/uai".to_owned(),
            UserAssignedIdentity {
                principal_id: Some("p".into()),
                client_id: None,
            },
        );
        let vm = Resource {
            id: "/vm".into(),
            name: "vm".into(),
            kind: "Microsoft.Compute/virtualMachines".into(),
            location: "westus".into(),
            tags: Tags::new(),
            variant: None,
            sku: None,
            identity: Some(ResourceIdentity {
                kind: "UserAssigned".into(),
                user_assigned_identities: user,
                ..Default::default()
            }),
            properties: Some(json!({"vmId": "x"})),
        };
        assert_eq!(
            serde_json::to_value(vm)?,
            json!({"id": "/vm", "name": "vm", "type": "Microsoft.Compute/virtualMachines",
                "location": "westus", "tags": {}, "properties": {"vmId": "x"},
                "identity": {"type": "UserAssigned", "userAssignedIdentities": {
                    "/uai": {"principalId": "p", "clientId": null}}}})
        );
        let listed = Resource {
            id: "/v".into(),
            name: "kv".into(),
            kind: "Microsoft.KeyVault/vaults".into(),
            location: "westus".into(),
            tags: Tags::new(),
            variant: None,
            sku: None,
            identity: None,
            properties: None,
        };
        assert_eq!(
            serde_json::to_value(listed)?,
            json!({"id": "/v", "name": "kv", "type": "Microsoft.KeyVault/vaults", "location": "westus", "tags": {}})
        );
        Ok(())
    }

    #[test]
    fn a_system_identity_carries_its_tenant() -> serde_json::Result<()> {
        let identity = ResourceIdentity {
            kind: "SystemAssigned".into(),
            principal_id: Some("p".into()),
            tenant_id: Some("t".into()),
            ..Default::default()
        };
        let value = serde_json::to_value(&identity)?;
        assert_eq!(
            value,
            json!({"type": "SystemAssigned", "principalId": "p", "tenantId": "t"})
        );
        assert_eq!(serde_json::from_value::<ResourceIdentity>(value)?, identity);
        Ok(())
    }
}

/// ARM's cloud-metadata document (`GET /metadata/endpoints?api-version=2022-09-01`): what
/// `az cloud register --endpoint-resource-manager URL` reads to find every other endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudMetadata {
    pub name: String,
    pub portal: String,
    pub resource_manager: String,
    pub authentication: CloudAuthentication,
    pub microsoft_graph_resource_id: String,
    pub suffixes: CloudSuffixes,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudAuthentication {
    pub login_endpoint: String,
    /// The management audiences; az takes the first.
    pub audiences: Vec<String>,
    pub tenant: String,
    pub identity_provider: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudSuffixes {
    /// `vault.localhost:8443`: az puts a vault's name and a dot in front.
    pub key_vault_dns: String,
}

/// The answer to `checkNameAvailability`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameAvailability {
    pub name_available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A resource provider (`GET /subscriptions/{id}/providers/{namespace}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub id: String,
    pub namespace: String,
    pub registration_state: String,
    pub resource_types: Vec<ProviderResourceType>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderResourceType {
    pub resource_type: String,
    pub locations: Vec<String>,
    /// Newest first, as ARM lists them.
    pub api_versions: Vec<String>,
}

/// `GET /tenants`: a tenant the caller belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub default_domain: String,
    pub domains: Vec<String>,
    pub tenant_category: String,
    pub tenant_type: String,
}
