//! Authorization, deny by default. The data plane follows the vault's mode: access policies
//! (per-principal permission lists) or RBAC (role assignments whose scope covers the vault or the one
//! secret). The control plane always uses RBAC. A denial names the caller and what was missing, so an
//! "access denied" can be debugged.

mod certificates;
mod keys;
pub mod roles;

use std::sync::Arc;

use keyhold_store::{RoleAssignmentRecord, Store, VaultRecord, WriteKind};
use serde::{Deserialize, Serialize};

use crate::{VaultError, fresh::Fresh};

pub use certificates::CertificateOp;
pub use keys::KeyOp;

/// Who is calling, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub oid: String,
    pub appid: String,
    pub tenant: String,
}

/// One access-policy entry, in ARM's shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicy {
    pub tenant_id: String,
    pub object_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    pub permissions: Permissions,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Permissions {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub certificates: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage: Vec<String>,
}

/// Azure's secret permission names, for validating policies.
pub const SECRET_PERMISSIONS: &[&str] = &[
    "all", "get", "list", "set", "delete", "recover", "backup", "restore", "purge",
];
pub const KEY_PERMISSIONS: &[&str] = &[
    "all",
    "get",
    "list",
    "update",
    "create",
    "import",
    "delete",
    "recover",
    "backup",
    "restore",
    "purge",
    "decrypt",
    "encrypt",
    "unwrapkey",
    "wrapkey",
    "verify",
    "sign",
    "release",
    "rotate",
    "getrotationpolicy",
    "setrotationpolicy",
];
pub const CERTIFICATE_PERMISSIONS: &[&str] = &[
    "all",
    "get",
    "list",
    "update",
    "create",
    "import",
    "delete",
    "recover",
    "backup",
    "restore",
    "purge",
    "managecontacts",
    "manageissuers",
    "getissuers",
    "listissuers",
    "setissuers",
    "deleteissuers",
];

/// The data-plane operations on secrets, each with its access-policy permission and RBAC data action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOp {
    Get,
    /// Reading a deleted secret's metadata: `get` under access policies, metadata under RBAC.
    GetDeleted,
    List,
    Set,
    Update,
    Delete,
    Recover,
    Backup,
    Restore,
    Purge,
}

impl SecretOp {
    pub fn permission(self) -> &'static str {
        match self {
            Self::Get | Self::GetDeleted => "get",
            Self::List => "list",
            Self::Set | Self::Update => "set",
            Self::Delete => "delete",
            Self::Recover => "recover",
            Self::Backup => "backup",
            Self::Restore => "restore",
            Self::Purge => "purge",
        }
    }

    pub fn data_action(self) -> &'static str {
        match self {
            Self::Get => "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            Self::List | Self::GetDeleted => "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            Self::Set => "Microsoft.KeyVault/vaults/secrets/setSecret/action",
            Self::Update => "Microsoft.KeyVault/vaults/secrets/update/action",
            Self::Delete => "Microsoft.KeyVault/vaults/secrets/delete",
            Self::Recover => "Microsoft.KeyVault/vaults/secrets/recover/action",
            Self::Backup => "Microsoft.KeyVault/vaults/secrets/backup/action",
            Self::Restore => "Microsoft.KeyVault/vaults/secrets/restore/action",
            Self::Purge => "Microsoft.KeyVault/vaults/secrets/purge/action",
        }
    }
}

/// The settings of a vault that decide access, borrowed from its stored ARM properties for the
/// check every data-plane request makes: its strings point into the record instead of being copied
/// out of it. Properties that do not parse grant nothing.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessView<'a> {
    #[serde(default, borrow)]
    resource_group: &'a str,
    #[serde(default)]
    enable_rbac_authorization: bool,
    #[serde(default, borrow)]
    access_policies: Vec<PolicyView<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyView<'a> {
    #[serde(borrow)]
    tenant_id: &'a str,
    #[serde(borrow)]
    object_id: &'a str,
    #[serde(default, borrow)]
    application_id: Option<&'a str>,
    #[serde(borrow)]
    permissions: PermissionsView<'a>,
}

#[derive(Deserialize)]
struct PermissionsView<'a> {
    #[serde(default, borrow)]
    keys: Vec<&'a str>,
    #[serde(default, borrow)]
    secrets: Vec<&'a str>,
    #[serde(default, borrow)]
    certificates: Vec<&'a str>,
}

/// Which of a policy's permission lists a check reads.
#[derive(Clone, Copy)]
enum Plane {
    Keys,
    Secrets,
    Certificates,
}

impl<'a> AccessView<'a> {
    fn of(vault: &'a VaultRecord) -> Self {
        Self::deserialize(&vault.properties).unwrap_or_default()
    }

    /// Whether a policy for exactly this caller (object, tenant and, if the policy names one,
    /// application) lists a permission of `plane` that `grants` accepts.
    fn allows(&self, caller: &Caller, plane: Plane, grants: impl Fn(&str) -> bool) -> bool {
        self.access_policies.iter().any(|p| {
            p.object_id.eq_ignore_ascii_case(&caller.oid)
                && p.tenant_id.eq_ignore_ascii_case(&caller.tenant)
                && p.application_id.is_none_or(|a| a.eq_ignore_ascii_case(&caller.appid))
                && match plane {
                    Plane::Keys => &p.permissions.keys,
                    Plane::Secrets => &p.permissions.secrets,
                    Plane::Certificates => &p.permissions.certificates,
                }
                .iter()
                .any(|s| grants(s))
        })
    }
}

/// A refusal: the message names caller and missing right; `rbac` tells which mode refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub message: String,
    pub rbac: bool,
}

impl From<Denied> for VaultError {
    fn from(d: Denied) -> Self {
        VaultError::Forbidden {
            message: d.message,
            rbac: d.rbac,
        }
    }
}

#[derive(Clone)]
pub struct Authorizer {
    store: Arc<dyn Store>,
    /// Each principal's role assignments as last read: another node's grant or removal shows here
    /// within a second, this node's at once (see [`crate::fresh`]).
    assignments: Arc<Fresh<Arc<Vec<RoleAssignmentRecord>>>>,
    pub subscription_id: String,
}

/// Whether `scope` covers `resource`: equal, or an ancestor on a path-segment boundary.
pub fn covers(scope: &str, resource: &str) -> bool {
    let (s, r) = (
        scope.trim_end_matches('/').to_ascii_lowercase(),
        resource.trim_end_matches('/').to_ascii_lowercase(),
    );
    r == s || r.starts_with(&format!("{s}/"))
}

impl Authorizer {
    pub(crate) fn new(store: Arc<dyn Store>, subscription_id: String) -> Self {
        Self {
            assignments: Arc::new(Fresh::new(store.clone(), WriteKind::RoleAssignments)),
            store,
            subscription_id,
        }
    }

    async fn assignments_of(&self, oid: &str) -> Result<Arc<Vec<RoleAssignmentRecord>>, VaultError> {
        self.assignments
            .get(oid, || async {
                Ok(Arc::new(self.store.role_assignments_for(oid).await?))
            })
            .await
    }

    pub fn vault_id(&self, resource_group: &str, vault: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{resource_group}/providers/Microsoft.KeyVault/vaults/{vault}",
            self.subscription_id
        )
    }

    /// May `caller` perform `op` on secret `name` (or on the vault's secrets, for lists) of `vault`?
    pub async fn secret(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        op: SecretOp,
        name: Option<&str>,
    ) -> Result<(), VaultError> {
        let access = AccessView::of(vault);
        if access.enable_rbac_authorization {
            let vault_id = self.vault_id(access.resource_group, &vault.name);
            let resource = match name {
                Some(n) => format!("{vault_id}/secrets/{n}"),
                None => vault_id,
            };
            if self.data_action_allowed(caller, op.data_action(), &resource).await? {
                return Ok(());
            }
            return Err(Denied {
                message: format!(
                    "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={};iss=https://sts.windows.net/{}/\r\nAction: '{}'\r\nResource: '{}'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {};location={}\r\n",
                    caller.appid,
                    caller.oid,
                    caller.tenant,
                    op.data_action(),
                    resource.to_ascii_lowercase(),
                    vault.name,
                    vault.properties.get("location").and_then(|l| l.as_str()).unwrap_or("local"),
                ),
                rbac: true,
            }
            .into());
        }
        let wanted = op.permission();
        if access.allows(caller, Plane::Secrets, |s| {
            s.eq_ignore_ascii_case(wanted) || s.eq_ignore_ascii_case("all")
        }) {
            return Ok(());
        }
        Err(Denied {
            message: format!(
                "The user, group or application 'appid={};oid={};iss=https://sts.windows.net/{}/' does not have secrets {wanted} permission on key vault '{};location={}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                caller.appid,
                caller.oid,
                caller.tenant,
                vault.name,
                vault.properties.get("location").and_then(|l| l.as_str()).unwrap_or("local"),
            ),
            rbac: false,
        }
        .into())
    }

    async fn data_action_allowed(&self, caller: &Caller, action: &str, resource: &str) -> Result<bool, VaultError> {
        let assignments = self.assignments_of(&caller.oid).await?;
        Ok(assignments.iter().any(|a| {
            covers(&a.scope, resource)
                && roles::find(&a.role_definition_id).is_some_and(|r| r.allows_data_action(action))
        }))
    }

    /// Does `caller` hold any role assignment at or under `scope`? Azure lists a subscription to every
    /// principal with a role anywhere in it (what `az login` needs to find its subscription).
    pub async fn has_any_role_under(&self, caller: &Caller, scope: &str) -> Result<bool, VaultError> {
        let assignments = self.assignments_of(&caller.oid).await?;
        Ok(assignments.iter().any(|a| covers(scope, &a.scope)))
    }

    /// May `caller` perform control-plane `action` on `resource` (an ARM id)?
    pub async fn action(&self, caller: &Caller, action: &str, resource: &str) -> Result<bool, VaultError> {
        let assignments = self.assignments_of(&caller.oid).await?;
        Ok(assignments.iter().any(|a| {
            covers(&a.scope, resource) && roles::find(&a.role_definition_id).is_some_and(|r| r.allows_action(action))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{AccessView, Caller, Plane, covers};
    use crate::vaults::tests::record;

    #[test]
    fn scopes_cover_descendants_on_segment_boundaries() {
        let vault = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv";
        assert!(covers("/subscriptions/s", vault));
        assert!(covers("/subscriptions/S/resourcegroups/RG", vault));
        assert!(covers(vault, &format!("{vault}/secrets/a")));
        assert!(!covers(&format!("{vault}/secrets/a"), &format!("{vault}/secrets/ab")));
        assert!(
            !covers(&format!("{vault}/secrets/a"), vault),
            "a secret scope does not cover the vault"
        );
        assert!(!covers("/subscriptions/s/resourceGroups/rg2", vault));
    }

    #[test]
    fn a_policy_grants_only_its_own_principal_application_and_plane() {
        let vault = record(serde_json::json!({
            "resourceGroup": "rg1",
            "accessPolicies": [
                {"tenantId": "T", "objectId": "OID-A", "permissions": {"secrets": ["Get"], "keys": []}},
                {"tenantId": "t", "objectId": "oid-b", "applicationId": "app-1",
                 "permissions": {"certificates": ["all"]}}
            ]
        }));
        let access = AccessView::of(&vault);
        assert_eq!(access.resource_group, "rg1");
        assert!(!access.enable_rbac_authorization);
        let who = |oid: &str, appid: &str| Caller {
            oid: oid.into(),
            appid: appid.into(),
            tenant: "t".into(),
        };
        let get = |s: &str| s.eq_ignore_ascii_case("get");
        assert!(
            access.allows(&who("oid-a", "any"), Plane::Secrets, get),
            "ids compare without case"
        );
        assert!(!access.allows(&who("oid-a", "any"), Plane::Keys, get), "secrets only");
        assert!(
            !access.allows(&who("oid-c", "any"), Plane::Secrets, get),
            "another principal"
        );
        let all = |s: &str| s.eq_ignore_ascii_case("all");
        assert!(access.allows(&who("oid-b", "app-1"), Plane::Certificates, all));
        assert!(
            !access.allows(&who("oid-b", "app-2"), Plane::Certificates, all),
            "a compound identity's policy needs its application"
        );
        let other_tenant = Caller {
            tenant: "t2".into(),
            ..who("oid-a", "any")
        };
        assert!(!access.allows(&other_tenant, Plane::Secrets, get));
    }

    #[test]
    fn properties_that_do_not_parse_grant_nothing() {
        let vault = record(serde_json::json!({
            "enableRbacAuthorization": "yes",
            "accessPolicies": [{"tenantId": "t", "objectId": "o", "permissions": {"secrets": ["all"]}}]
        }));
        let access = AccessView::of(&vault);
        let caller = Caller {
            oid: "o".into(),
            appid: "a".into(),
            tenant: "t".into(),
        };
        assert!(!access.enable_rbac_authorization);
        assert!(!access.allows(&caller, Plane::Secrets, |_| true));
    }
}
