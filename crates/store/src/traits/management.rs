//! Management-plane persistence: vaults, resource groups, other ARM resources, role assignments.

use async_trait::async_trait;

use crate::{ResourceGroupRecord, ResourceRecord, Result, RoleAssignmentRecord, Sealed, VaultRecord, WriteKind};

#[async_trait]
pub trait ManagementStore: Send + Sync + 'static {
    // Vaults. `vault` and `list_vaults` see live vaults only; a soft-deleted vault keeps its name.
    /// Inserts or replaces a vault (all fields).
    async fn put_vault(&self, v: &VaultRecord) -> Result<()>;
    async fn vault(&self, name: &str) -> Result<Option<VaultRecord>>;
    /// A vault live or soft-deleted.
    async fn vault_any(&self, name: &str) -> Result<Option<VaultRecord>>;
    async fn list_vaults(&self) -> Result<Vec<VaultRecord>>;
    async fn list_deleted_vaults(&self) -> Result<Vec<VaultRecord>>;
    /// Removes a vault and every secret in it for good.
    async fn purge_vault(&self, name: &str) -> Result<()>;
    /// How many writes of `kind` this store object has finished, counted after each returns: a
    /// cache that saw the same count before its read holds nothing older than this node's own last
    /// write of that kind. Other nodes' writes are not counted.
    fn writes(&self, kind: WriteKind) -> u64;

    // Resource groups.
    async fn put_resource_group(&self, g: &ResourceGroupRecord) -> Result<()>;
    async fn resource_group(&self, name: &str) -> Result<Option<ResourceGroupRecord>>;
    async fn list_resource_groups(&self) -> Result<Vec<ResourceGroupRecord>>;
    async fn delete_resource_group(&self, name: &str) -> Result<()>;

    // Other ARM resources, by id (case-insensitive).
    /// Inserts or replaces.
    async fn put_resource(&self, r: &ResourceRecord) -> Result<()>;
    async fn resource(&self, id: &str) -> Result<Option<ResourceRecord>>;
    /// All resources, or those of one resource group.
    async fn list_resources(&self, group: Option<&str>) -> Result<Vec<ResourceRecord>>;
    async fn delete_resource(&self, id: &str) -> Result<()>;
    /// Replaces a resource's sealed material if it is still `old`; false if it changed meanwhile.
    async fn replace_resource_sealed(&self, id: &str, old: &Sealed, new: &Sealed) -> Result<bool>;

    // Role assignments.
    async fn put_role_assignment(&self, a: &RoleAssignmentRecord) -> Result<()>;
    async fn role_assignment(&self, name: &str) -> Result<Option<RoleAssignmentRecord>>;
    async fn delete_role_assignment(&self, name: &str) -> Result<()>;
    async fn role_assignments(&self) -> Result<Vec<RoleAssignmentRecord>>;
    async fn role_assignments_for(&self, principal_id: &str) -> Result<Vec<RoleAssignmentRecord>>;
}
