//! Certificate permissions: the access-policy `certificates` list or, in RBAC mode, the
//! `Microsoft.KeyVault/vaults/certificates/*` (and `certificatecas`, `certificatecontacts`) data
//! actions at vault or single-certificate scope. Same decision rules and denial texts as keys. The
//! certificate's key and secret, read through the keys and secrets APIs, follow their own permissions.

use keyhold_store::VaultRecord;

use super::{AccessView, Authorizer, Caller, Denied, Plane};
use crate::VaultError;

/// The data-plane operations on certificates, each with its access-policy permission and RBAC data
/// action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateOp {
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
    ManageContacts,
    GetIssuers,
    ListIssuers,
    SetIssuers,
    DeleteIssuers,
}

impl CertificateOp {
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
            Self::ManageContacts => "managecontacts",
            Self::GetIssuers => "getissuers",
            Self::ListIssuers => "listissuers",
            Self::SetIssuers => "setissuers",
            Self::DeleteIssuers => "deleteissuers",
        }
    }

    /// `manageissuers` grants every issuer operation, as in Azure.
    fn granted_by(self, permission: &str) -> bool {
        permission.eq_ignore_ascii_case(self.permission())
            || permission.eq_ignore_ascii_case("all")
            || (permission.eq_ignore_ascii_case("manageissuers")
                && matches!(
                    self,
                    Self::GetIssuers | Self::ListIssuers | Self::SetIssuers | Self::DeleteIssuers
                ))
    }

    pub fn data_action(self) -> &'static str {
        match self {
            Self::Get | Self::List => "Microsoft.KeyVault/vaults/certificates/read",
            Self::Update => "Microsoft.KeyVault/vaults/certificates/update/action",
            Self::Create => "Microsoft.KeyVault/vaults/certificates/create/action",
            Self::Import => "Microsoft.KeyVault/vaults/certificates/import/action",
            Self::Delete => "Microsoft.KeyVault/vaults/certificates/delete",
            Self::Recover => "Microsoft.KeyVault/vaults/certificates/recover/action",
            Self::Backup => "Microsoft.KeyVault/vaults/certificates/backup/action",
            Self::Restore => "Microsoft.KeyVault/vaults/certificates/restore/action",
            Self::Purge => "Microsoft.KeyVault/vaults/certificates/purge/action",
            Self::ManageContacts => "Microsoft.KeyVault/vaults/certificatecontacts/write",
            Self::GetIssuers | Self::ListIssuers => "Microsoft.KeyVault/vaults/certificatecas/read",
            Self::SetIssuers => "Microsoft.KeyVault/vaults/certificatecas/write",
            Self::DeleteIssuers => "Microsoft.KeyVault/vaults/certificatecas/delete",
        }
    }
}

impl Authorizer {
    /// May `caller` perform `op` on certificate `name` (or on the vault's certificates, for lists,
    /// contacts and issuers) of `vault`?
    pub async fn certificate(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        op: CertificateOp,
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
                Some(n) => format!("{vault_id}/certificates/{n}"),
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
        if access.allows(caller, Plane::Certificates, |s| op.granted_by(s)) {
            return Ok(());
        }
        Err(Denied {
            message: format!(
                "The user, group or application 'appid={};oid={};iss=https://sts.windows.net/{}/' does not have certificates {} permission on key vault '{};location={location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                caller.appid,
                caller.oid,
                caller.tenant,
                op.permission(),
                vault.name,
            ),
            rbac: false,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::CertificateOp;

    #[test]
    fn manageissuers_covers_issuer_operations_only() {
        assert!(CertificateOp::SetIssuers.granted_by("ManageIssuers"));
        assert!(CertificateOp::GetIssuers.granted_by("manageissuers"));
        assert!(!CertificateOp::Get.granted_by("manageissuers"));
        assert!(CertificateOp::Create.granted_by("all"));
        assert!(!CertificateOp::Create.granted_by("import"));
    }
}
