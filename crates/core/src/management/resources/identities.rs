//! Managed identities of resources: the `identity` block of a PUT or PATCH, the system-assigned
//! principal born and deleted with its resource, and the linked check on attaching a user-assigned one.

use std::collections::BTreeMap;

use keyhold_crypto::random;
use keyhold_store::{PrincipalKind, PrincipalRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdentitySpec {
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Resource id → anything (`null` in a PATCH removes it). The whole map may be `null` too, which
    /// `az vm identity remove` sends when it drops the last user-assigned identity.
    #[serde(rename = "userAssignedIdentities", default, deserialize_with = "null_as_empty")]
    pub user_assigned: BTreeMap<String, Value>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Value>, D::Error> {
    Ok(Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default())
}

impl Management {
    pub(super) async fn new_identity_principal(&self, display_name: &str) -> Result<PrincipalRecord, ArmError> {
        let principal = PrincipalRecord {
            object_id: random::guid(),
            app_id: Some(random::guid()),
            display_name: display_name.to_owned(),
            kind: PrincipalKind::ManagedIdentity,
            tenant_id: self.tenant_id.clone(),
            created: self.clock.now(),
        };
        self.store.put_principal(&principal).await?;
        Ok(principal)
    }

    /// The `identity` block after applying `spec`: system-assigned principals are created or deleted,
    /// user-assigned ids must name existing identities. `caller` is `None` only for keyhold's own
    /// start-up work.
    pub(super) async fn apply_identity(
        &self,
        caller: Option<&Caller>,
        record: &ResourceRecord,
        spec: &IdentitySpec,
        patch: bool,
    ) -> Result<Option<Value>, ArmError> {
        let kind = spec.kind.to_ascii_lowercase();
        let wants_system = kind.contains("systemassigned");
        let wants_user = kind.contains("userassigned");
        if !(wants_system || wants_user || kind == "none") {
            return Err(bad_request(
                "InvalidIdentityType",
                format!("The identity type '{}' is not valid.", spec.kind),
            ));
        }
        let current = record.identity.clone().unwrap_or(Value::Null);
        let mut user: BTreeMap<String, Value> = if patch && wants_user {
            current["userAssignedIdentities"]
                .as_object()
                .map(|m| m.clone().into_iter().collect())
                .unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        if wants_user {
            for (uai_id, value) in &spec.user_assigned {
                if value.is_null() {
                    user.retain(|k, _| !k.eq_ignore_ascii_case(uai_id));
                    continue;
                }
                let attached = current["userAssignedIdentities"]
                    .as_object()
                    .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(uai_id)));
                if !attached && let Some(caller) = caller {
                    self.require_assign(caller, &record.id, uai_id).await?;
                }
                let uai = self
                    .store
                    .resource(uai_id)
                    .await?
                    .filter(|r| r.kind == USER_ASSIGNED_IDENTITIES)
                    .ok_or_else(|| {
                        bad_request(
                            "FailedIdentityOperation",
                            format!(
                                "Resource '{uai_id}' was not found: it must be an existing user-assigned identity."
                            ),
                        )
                    })?;
                user.insert(
                    uai.id.clone(),
                    json!({"principalId": uai.properties["principalId"], "clientId": uai.properties["clientId"]}),
                );
            }
            if user.is_empty() {
                return Err(bad_request(
                    "BadRequest",
                    "A UserAssigned identity type needs at least one user-assigned identity.",
                ));
            }
        }
        // The system-assigned principal changes only once every user-assigned identity has passed
        // its checks: a refused request leaves no principal behind.
        let current_system = current["principalId"].as_str().map(str::to_owned);
        let system = match (wants_system, current_system) {
            (true, Some(existing)) => Some(existing),
            (true, None) => Some(self.new_identity_principal(&record.name).await?.object_id),
            (false, Some(existing)) => {
                let _ = self.store.delete_principal(&existing).await;
                None
            }
            (false, None) => None,
        };
        let type_name = match (system.is_some(), !user.is_empty()) {
            (true, true) => "SystemAssigned, UserAssigned",
            (true, false) => "SystemAssigned",
            (false, true) => "UserAssigned",
            (false, false) => return Ok(None),
        };
        let mut identity = json!({"type": type_name});
        if let Some(oid) = system {
            identity["principalId"] = json!(oid);
            identity["tenantId"] = json!(self.tenant_id);
        }
        if !user.is_empty() {
            identity["userAssignedIdentities"] = json!(user);
        }
        Ok(Some(identity))
    }

    /// Attaching a user-assigned identity lets the resource's workloads act as it, so Azure checks a
    /// linked action on the identity itself, not only `write` on the resource. Checked before the
    /// identity is looked up, so a refusal says nothing about whether it exists.
    pub(super) async fn require_assign(
        &self,
        caller: &Caller,
        resource_id: &str,
        uai_id: &str,
    ) -> Result<(), ArmError> {
        if self.authz.action(caller, ASSIGN_IDENTITY, uai_id).await? {
            Ok(())
        } else {
            Err(ArmError::LinkedAuthorizationFailed {
                oid: caller.oid.clone(),
                action: format!("{}/write", kind_of_id(resource_id)),
                scope: resource_id.to_owned(),
                linked_action: ASSIGN_IDENTITY.to_owned(),
                linked_scope: uai_id.to_owned(),
            })
        }
    }
}
