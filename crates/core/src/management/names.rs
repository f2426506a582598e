//! `checkNameAvailability` for the two kinds whose names are global in Azure: storage accounts and
//! key vaults (both become DNS names). A name is taken when any resource of the kind has it, in any
//! group, whoever may see it; a soft-deleted vault keeps its name until it is purged.

use super::{ArmError, Management, resources::STORAGE_ACCOUNTS};
use crate::{authz::Caller, vaults::validate_vault_name};

/// ARM's answer: `nameAvailable`, and when not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAvailability {
    pub available: bool,
    /// `AlreadyExists` or `AccountNameInvalid` (storage) / `Invalid` (vaults).
    pub reason: Option<&'static str>,
    pub message: Option<String>,
}

const VAULTS: &str = "Microsoft.KeyVault/vaults";

impl NameAvailability {
    fn taken(message: String) -> Self {
        Self {
            available: false,
            reason: Some("AlreadyExists"),
            message: Some(message),
        }
    }

    fn invalid(reason: &'static str, message: String) -> Self {
        Self {
            available: false,
            reason: Some(reason),
            message: Some(message),
        }
    }
}

impl Management {
    /// Whether `name` is free for a resource of `kind`. Anyone with a role somewhere in the
    /// subscription may ask (so a team scoped to one group can create its storage account); others
    /// are refused as ARM refuses them.
    pub async fn check_name(&self, caller: &Caller, kind: &str, name: &str) -> Result<NameAvailability, ArmError> {
        if !self.subscription_listed(caller).await? {
            return Err(ArmError::AuthorizationFailed {
                oid: caller.oid.clone(),
                action: format!(
                    "{}/checkNameAvailability/action",
                    kind.split('/').next().unwrap_or(kind)
                ),
                scope: self.subscription_scope(),
            });
        }
        if kind.eq_ignore_ascii_case(STORAGE_ACCOUNTS) {
            let valid =
                (3..=24).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !valid {
                return Ok(NameAvailability::invalid(
                    "AccountNameInvalid",
                    format!(
                        "{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."
                    ),
                ));
            }
            let taken = self
                .store
                .list_resources(None)
                .await?
                .iter()
                .any(|r| r.kind == STORAGE_ACCOUNTS && r.name.eq_ignore_ascii_case(name));
            return Ok(if taken {
                NameAvailability::taken(format!("The storage account named {name} is already taken."))
            } else {
                NameAvailability {
                    available: true,
                    reason: None,
                    message: None,
                }
            });
        }
        if kind.eq_ignore_ascii_case(VAULTS) {
            if let Err(e) = validate_vault_name(name) {
                return Ok(NameAvailability::invalid("Invalid", e.to_string()));
            }
            return Ok(if self.store.vault_any(name).await?.is_some() {
                NameAvailability::taken(format!("The vault name '{name}' is already in use."))
            } else {
                NameAvailability {
                    available: true,
                    reason: None,
                    message: None,
                }
            });
        }
        Err(super::bad_request(
            "InvalidResourceType",
            format!("The resource type '{kind}' does not support checkNameAvailability here."),
        ))
    }
}
