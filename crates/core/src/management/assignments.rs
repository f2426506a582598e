//! RBAC role assignments at any scope from the subscription down to a single secret.

use keyhold_store::RoleAssignmentRecord;

use super::{ArmError, Management, bad_request};
use crate::authz::{Caller, covers, roles};

#[derive(Debug, Clone)]
pub struct NewAssignment {
    /// A built-in role's GUID or full definition id.
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: Option<String>,
}

fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

impl Management {
    fn check_scope(&self, scope: &str) -> Result<(), ArmError> {
        if covers(&self.subscription_scope(), scope) {
            Ok(())
        } else {
            Err(bad_request(
                "InvalidScope",
                format!(
                    "The scope '{scope}' is not within subscription '{}'.",
                    self.subscription_id()
                ),
            ))
        }
    }

    /// PUT of a role assignment; returns it and whether it was created. Idempotent for the same values.
    pub async fn put_assignment(
        &self,
        caller: &Caller,
        scope: &str,
        name: &str,
        new: NewAssignment,
    ) -> Result<(RoleAssignmentRecord, bool), ArmError> {
        self.check_scope(scope)?;
        if !is_guid(name) {
            return Err(bad_request(
                "InvalidRoleAssignmentId",
                format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
            ));
        }
        self.require(caller, "Microsoft.Authorization/roleAssignments/write", scope)
            .await?;
        let role = roles::find(&new.role_definition_id)
            .ok_or_else(|| ArmError::RoleDefinitionDoesNotExist(new.role_definition_id.clone()))?;
        let found = if is_guid(&new.principal_id) {
            self.store.principal(&new.principal_id).await?
        } else {
            None
        };
        let Some(principal) = found else {
            return Err(bad_request(
                "PrincipalNotFound",
                format!(
                    "Principal {} does not exist in the directory {}.",
                    new.principal_id, self.tenant_id
                ),
            ));
        };
        // As ARM records it when the caller does not say: from the directory.
        let directory_type = match principal.kind {
            keyhold_store::PrincipalKind::User => "User",
            keyhold_store::PrincipalKind::ServicePrincipal | keyhold_store::PrincipalKind::ManagedIdentity => {
                "ServicePrincipal"
            }
        };
        let record = RoleAssignmentRecord {
            name: name.to_ascii_lowercase(),
            scope: scope.to_owned(),
            principal_id: new.principal_id.to_ascii_lowercase(),
            role_definition_id: role.id.to_owned(),
            principal_type: new.principal_type.or_else(|| Some(directory_type.to_owned())),
            created: self.clock.now(),
        };
        let same = |a: &RoleAssignmentRecord| {
            a.scope.eq_ignore_ascii_case(&record.scope)
                && a.principal_id.eq_ignore_ascii_case(&record.principal_id)
                && a.role_definition_id.eq_ignore_ascii_case(&record.role_definition_id)
        };
        if let Some(existing) = self.store.role_assignment(name).await? {
            return if same(&existing) {
                Ok((existing, false))
            } else {
                Err(bad_request(
                    "RoleAssignmentUpdateNotPermitted",
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                ))
            };
        }
        if self
            .store
            .role_assignments_for(&record.principal_id)
            .await?
            .iter()
            .any(same)
        {
            return Err(ArmError::RoleAssignmentExists);
        }
        self.store.put_role_assignment(&record).await?;
        Ok((record, true))
    }

    pub async fn assignment(&self, caller: &Caller, scope: &str, name: &str) -> Result<RoleAssignmentRecord, ArmError> {
        self.require(caller, "Microsoft.Authorization/roleAssignments/read", scope)
            .await?;
        match self.store.role_assignment(name).await? {
            Some(a) if a.scope.eq_ignore_ascii_case(scope) => Ok(a),
            _ => Err(ArmError::ResourceNotFound {
                kind: "Microsoft.Authorization/roleAssignments".into(),
                name: name.to_owned(),
                group: String::new(),
            }),
        }
    }

    /// Deletes; `None` if there was nothing to delete.
    pub async fn delete_assignment(
        &self,
        caller: &Caller,
        scope: &str,
        name: &str,
    ) -> Result<Option<RoleAssignmentRecord>, ArmError> {
        self.require(caller, "Microsoft.Authorization/roleAssignments/delete", scope)
            .await?;
        match self.store.role_assignment(name).await? {
            Some(a) if a.scope.eq_ignore_ascii_case(scope) => {
                self.store.delete_role_assignment(&a.name).await?;
                Ok(Some(a))
            }
            _ => Ok(None),
        }
    }

    /// Assignments that apply at `scope` (at it, above it, or below it), optionally of one principal.
    pub async fn assignments(
        &self,
        caller: &Caller,
        scope: &str,
        principal: Option<&str>,
    ) -> Result<Vec<RoleAssignmentRecord>, ArmError> {
        self.check_scope(scope)?;
        self.require(caller, "Microsoft.Authorization/roleAssignments/read", scope)
            .await?;
        let all = match principal {
            Some(p) => self.store.role_assignments_for(p).await?,
            None => self.store.role_assignments().await?,
        };
        Ok(all
            .into_iter()
            .filter(|a| covers(&a.scope, scope) || covers(scope, &a.scope))
            .collect())
    }

    /// Start-up only: makes `principal` Owner of the subscription unless it already is.
    pub(crate) async fn ensure_owner(&self, principal: &str) -> Result<(), ArmError> {
        let scope = self.subscription_scope();
        let has = self.store.role_assignments_for(principal).await?.iter().any(|a| {
            a.role_definition_id.eq_ignore_ascii_case(roles::OWNER.id) && a.scope.eq_ignore_ascii_case(&scope)
        });
        if !has {
            self.store
                .put_role_assignment(&RoleAssignmentRecord {
                    name: uuid::Uuid::new_v4().to_string(),
                    scope,
                    principal_id: principal.to_ascii_lowercase(),
                    role_definition_id: roles::OWNER.id.to_owned(),
                    principal_type: Some("ServicePrincipal".into()),
                    created: self.clock.now(),
                })
                .await?;
        }
        Ok(())
    }
}
