//! Key permissions: the access-policy `keys` list or, in RBAC mode, the `Microsoft.KeyVault/vaults/keys/*`
//! data actions at vault or single-key scope. Same decision rules and denial texts as secrets.

use keyhold_store::VaultRecord;

use super::{AccessView, Authorizer, Caller, Denied, Plane};
use crate::VaultError;

/// The data-plane operations on keys, each with its access-policy permission and RBAC data action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOp {
    Get,
    List,
    Update,
    Create,
    Import,
    Delete,
    Recover,
    Backup,
    Restore,
    Purge,
    Decrypt,
    Encrypt,
    UnwrapKey,
    WrapKey,
    Verify,
    Sign,
    Release,
    Rotate,
    GetRotationPolicy,
    SetRotationPolicy,
}

impl KeyOp {
    pub fn permission(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Update => "update",
            Self::Create => "create",
            Self::Import => "import",
            Self::Delete => "delete",
            Self::Recover => "recover",
            Self::Backup => "backup",
            Self::Restore => "restore",
            Self::Purge => "purge",
            Self::Decrypt => "decrypt",
            Self::Encrypt => "encrypt",
            Self::UnwrapKey => "unwrapKey",
            Self::WrapKey => "wrapKey",
            Self::Verify => "verify",
            Self::Sign => "sign",
            Self::Release => "release",
            Self::Rotate => "rotate",
            Self::GetRotationPolicy => "getrotationpolicy",
            Self::SetRotationPolicy => "setrotationpolicy",
        }
    }

    pub fn data_action(self) -> &'static str {
        match self {
            Self::Get | Self::List => "Microsoft.KeyVault/vaults/keys/read",
            Self::Update => "Microsoft.KeyVault/vaults/keys/update/action",
            Self::Create => "Microsoft.KeyVault/vaults/keys/create/action",
            Self::Import => "Microsoft.KeyVault/vaults/keys/import/action",
            Self::Delete => "Microsoft.KeyVault/vaults/keys/delete",
            Self::Recover => "Microsoft.KeyVault/vaults/keys/recover/action",
            Self::Backup => "Microsoft.KeyVault/vaults/keys/backup/action",
            Self::Restore => "Microsoft.KeyVault/vaults/keys/restore/action",
            Self::Purge => "Microsoft.KeyVault/vaults/keys/purge/action",
            Self::Decrypt => "Microsoft.KeyVault/vaults/keys/decrypt/action",
            Self::Encrypt => "Microsoft.KeyVault/vaults/keys/encrypt/action",
            Self::UnwrapKey => "Microsoft.KeyVault/vaults/keys/unwrap/action",
            Self::WrapKey => "Microsoft.KeyVault/vaults/keys/wrap/action",
            Self::Verify => "Microsoft.KeyVault/vaults/keys/verify/action",
            Self::Sign => "Microsoft.KeyVault/vaults/keys/sign/action",
            Self::Release => "Microsoft.KeyVault/vaults/keys/release/action",
            Self::Rotate => "Microsoft.KeyVault/vaults/keys/rotate/action",
            Self::GetRotationPolicy => "Microsoft.KeyVault/vaults/keyrotationpolicies/read",
            Self::SetRotationPolicy => "Microsoft.KeyVault/vaults/keyrotationpolicies/write",
        }
    }
}

impl Authorizer {
    /// May `caller` perform `op` on key `name` (or on the vault's keys, for lists) of `vault`?
    pub async fn key(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        op: KeyOp,
        name: Option<&str>,
    ) -> Result<(), VaultError> {
        let access = AccessView::of(vault);
        let location = vault
            .properties
            .get("location")
            .and_then(|l| l.as_str())
            .unwrap_or("local");
        if access.enable_rbac_authorization {
            let vault_id = self.vault_id(access.resource_group, &vault.name);
            let resource = match name {
                Some(n) => format!("{vault_id}/keys/{n}"),
                None => vault_id,
            };
            if self.data_action_allowed(caller, op.data_action(), &resource).await? {
                return Ok(());
            }
            return Err(Denied {
                message: format!(
                    "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={};iss=https://sts.windows.net/{}/\r\nAction: '{}'\r\nResource: '{}'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {};location={location}\r\n",
                    caller.appid,
                    caller.oid,
                    caller.tenant,
                    op.data_action(),
                    resource.to_ascii_lowercase(),
                    vault.name,
                ),
                rbac: true,
            }
            .into());
        }
        let wanted = op.permission();
        if access.allows(caller, Plane::Keys, |s| {
            s.eq_ignore_ascii_case(wanted) || s.eq_ignore_ascii_case("all")
        }) {
            return Ok(());
        }
        Err(Denied {
            message: format!(
                "The user, group or application 'appid={};oid={};iss=https://sts.windows.net/{}/' does not have keys {wanted} permission on key vault '{};location={location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                caller.appid, caller.oid, caller.tenant, vault.name,
            ),
            rbac: false,
        }
        .into())
    }
}
