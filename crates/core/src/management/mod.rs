//! The management plane's domain: resource groups, vaults as ARM resources (settings, access policies,
//! soft delete, recover, purge) and role assignments. Every method authorizes its caller against the
//! control-plane action first, deny by default.

mod activity;
mod admin;
mod assignments;
mod groups;
mod names;
pub mod resources;
mod subscription;
mod vaults;

pub use names::NameAvailability;

use std::sync::Arc;

use keyhold_store::{Store, StoreError};

pub use assignments::NewAssignment;
pub use vaults::{PolicyEdit, Sku, VaultProperties, VaultSpec};

use crate::{
    Keys,
    authz::{Authorizer, Caller},
    clock::Clock,
};

/// Management failures, named for what happened; the server maps each to ARM's error body once.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    #[error(
        "The client '{oid}' with object id '{oid}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
    )]
    AuthorizationFailed { oid: String, action: String, scope: String },
    #[error(
        "The client '{oid}' with object id '{oid}' has permission to perform action '{action}' on scope '{scope}'; however, it does not have permission to perform action(s) '{linked_action}' on the linked scope(s) '{linked_scope}' (respectively) or the linked scope(s) are invalid."
    )]
    LinkedAuthorizationFailed {
        oid: String,
        action: String,
        scope: String,
        linked_action: String,
        linked_scope: String,
    },
    #[error("Resource group '{0}' could not be found.")]
    ResourceGroupNotFound(String),
    #[error("The Resource '{kind}/{name}' under resource group '{group}' was not found.")]
    ResourceNotFound { kind: String, name: String, group: String },
    #[error("The vault name '{0}' is already in use. Vault names are globally unique.")]
    VaultAlreadyExists(String),
    #[error(
        "A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault '{0}'."
    )]
    VaultDeletedConflict(String),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("The role assignment already exists.")]
    RoleAssignmentExists,
    #[error("The specified role definition with ID '{0}' does not exist.")]
    RoleDefinitionDoesNotExist(String),
    #[error("Operation 'purge' is not allowed because purge protection is enabled for vault '{0}'.")]
    PurgeProtected(String),
    /// A data-plane rule refused the request (or failed): Key Vault's code and status.
    #[error(transparent)]
    Vault(crate::VaultError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ArmError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<crate::VaultError> for ArmError {
    fn from(e: crate::VaultError) -> Self {
        match e {
            crate::VaultError::BadParameter(message) => Self::BadRequest {
                code: "BadRequest",
                message,
            },
            other @ (crate::VaultError::BadBackup
            | crate::VaultError::SecretNotFound { .. }
            | crate::VaultError::DeletedSecretNotFound { .. }
            | crate::VaultError::DeletedButRecoverable { .. }
            | crate::VaultError::AlreadyExists { .. }
            | crate::VaultError::KeyNotFound { .. }
            | crate::VaultError::DeletedKeyNotFound { .. }
            | crate::VaultError::KeyDeletedButRecoverable { .. }
            | crate::VaultError::KeyAlreadyExists { .. }
            | crate::VaultError::KeyOperationForbidden(_)
            | crate::VaultError::CertificateNotFound { .. }
            | crate::VaultError::DeletedCertificateNotFound { .. }
            | crate::VaultError::PendingCertificateNotFound { .. }
            | crate::VaultError::CertificateDeletedButRecoverable { .. }
            | crate::VaultError::CertificateIssuerNotFound { .. }
            | crate::VaultError::ContactsNotFound
            | crate::VaultError::Managed { .. }
            | crate::VaultError::NameTaken { .. }
            | crate::VaultError::CertificateAlreadyExists { .. }
            | crate::VaultError::Disabled
            | crate::VaultError::Forbidden { .. }
            | crate::VaultError::PurgeProtected
            | crate::VaultError::VaultNotFound(_)
            | crate::VaultError::Integrity
            | crate::VaultError::Internal(_)) => Self::Vault(other),
        }
    }
}

pub fn bad_request(code: &'static str, message: impl Into<String>) -> ArmError {
    ArmError::BadRequest {
        code,
        message: message.into(),
    }
}

/// Azure's tag limits for resources and groups.
const MAX_TAGS: usize = 50;
const MAX_TAG_NAME: usize = 512;
const MAX_TAG_VALUE: usize = 256;

/// ARM refuses what keyhold would otherwise store without bound: more than 50 tags, or names and
/// values past their lengths.
pub(crate) fn validate_tags(tags: Option<&crate::secrets::Tags>) -> Result<(), ArmError> {
    let Some(tags) = tags else { return Ok(()) };
    if tags.len() > MAX_TAGS {
        return Err(bad_request(
            "InvalidTag",
            format!("The resource has {} tags; at most {MAX_TAGS} are allowed.", tags.len()),
        ));
    }
    for (name, value) in tags {
        if name.is_empty() || name.chars().count() > MAX_TAG_NAME {
            return Err(bad_request(
                "InvalidTag",
                format!("A tag name must be 1 to {MAX_TAG_NAME} characters long."),
            ));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(bad_request(
                "InvalidTag",
                format!("The value of tag '{name}' is longer than {MAX_TAG_VALUE} characters."),
            ));
        }
    }
    Ok(())
}

/// `West US` → `westus`, as ARM stores locations.
pub fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The resource group of what keyhold creates for itself (its host, vaults made through the admin API).
pub const HOST_GROUP: &str = "keyhold";

#[derive(Clone)]
pub struct Management {
    store: Arc<dyn Store>,
    keys: Keys,
    clock: Arc<dyn Clock>,
    pub authz: Authorizer,
    tenant_id: String,
}

impl Management {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keys: Keys,
        clock: Arc<dyn Clock>,
        authz: Authorizer,
        tenant_id: String,
    ) -> Self {
        Self {
            store,
            keys,
            clock,
            authz,
            tenant_id,
        }
    }

    pub fn subscription_id(&self) -> &str {
        &self.authz.subscription_id
    }

    pub fn subscription_scope(&self) -> String {
        format!("/subscriptions/{}", self.authz.subscription_id)
    }

    pub fn group_id(&self, group: &str) -> String {
        format!("{}/resourceGroups/{group}", self.subscription_scope())
    }

    /// Refuses unless `caller` may perform `action` on `resource`.
    pub async fn require(&self, caller: &Caller, action: &str, resource: &str) -> Result<(), ArmError> {
        if self.authz.action(caller, action, resource).await? {
            Ok(())
        } else {
            Err(ArmError::AuthorizationFailed {
                oid: caller.oid.clone(),
                action: action.to_owned(),
                scope: resource.to_owned(),
            })
        }
    }
}
