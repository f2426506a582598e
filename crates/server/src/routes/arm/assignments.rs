//! `Microsoft.Authorization/roleAssignments` at any scope, and the built-in `roleDefinitions`.

use axum::{
    extract::State,
    http::{Method, StatusCode},
    response::IntoResponse,
};
use keyhold_core::{
    authz::roles::{self, Role},
    management::{ArmError, NewAssignment},
};
use keyhold_proto::{
    admin::ValueList,
    arm::{RoleAssignment, RoleAssignmentProperties, RoleDefinition, RoleDefinitionProperties, RolePermissions},
};
use keyhold_store::RoleAssignmentRecord;
use serde::Deserialize;

use super::{ArmRequest, ArmResult, Target, iso, list, method_not_allowed, ok};
use crate::AppState;

#[derive(Deserialize)]
struct AssignmentBody {
    properties: AssignmentProps,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentProps {
    role_definition_id: String,
    principal_id: String,
    principal_type: Option<String>,
}

fn definition_id(s: &AppState, role_guid: &str) -> String {
    format!(
        "{}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
        s.core.management.subscription_scope()
    )
}

fn assignment_json(s: &AppState, a: &RoleAssignmentRecord) -> RoleAssignment {
    RoleAssignment {
        id: format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            a.scope.trim_end_matches('/'),
            a.name
        ),
        name: a.name.clone(),
        kind: "Microsoft.Authorization/roleAssignments".into(),
        properties: RoleAssignmentProperties {
            role_definition_id: definition_id(s, &a.role_definition_id),
            principal_id: a.principal_id.clone(),
            principal_type: a.principal_type.clone().unwrap_or_else(|| "ServicePrincipal".into()),
            scope: a.scope.clone(),
            created_on: iso(a.created),
            updated_on: iso(a.created),
        },
    }
}

fn definition_json(s: &AppState, r: &Role) -> RoleDefinition {
    let owned = |list: &[&str]| list.iter().map(|a| a.to_string()).collect();
    RoleDefinition {
        id: definition_id(s, r.id),
        name: r.id.to_owned(),
        kind: "Microsoft.Authorization/roleDefinitions".into(),
        properties: RoleDefinitionProperties {
            role_name: r.name.to_owned(),
            kind: "BuiltInRole".into(),
            description: r.description.to_owned(),
            assignable_scopes: vec!["/".into()],
            permissions: vec![RolePermissions {
                actions: owned(r.actions),
                not_actions: owned(r.not_actions),
                data_actions: owned(r.data_actions),
                not_data_actions: owned(r.not_data_actions),
            }],
        },
    }
}

/// `$filter=roleName eq 'X'` (what `az role definition list --name` sends), else every built-in role.
fn filtered_definitions(s: &AppState, filter: Option<&str>) -> Vec<RoleDefinition> {
    let wanted = filter.and_then(|f| {
        let f = f.trim();
        let rest = f
            .strip_prefix("roleName eq ")
            .or_else(|| f.strip_prefix("rolename eq "))?;
        Some(rest.trim().trim_matches('\'').to_owned())
    });
    roles::BUILT_IN
        .iter()
        .filter(|r| wanted.as_deref().is_none_or(|w| r.name.eq_ignore_ascii_case(w)))
        .map(|r| definition_json(s, r))
        .collect()
}

/// `principalId eq 'x'` from `$filter`, the one assignment filter keyhold honours.
fn principal_filter(filter: Option<&str>) -> Option<String> {
    let f = filter?.trim();
    let rest = f.strip_prefix("principalId eq ")?;
    Some(rest.trim().trim_matches('\'').to_owned())
}

pub(super) async fn handle(s: &AppState, req: &ArmRequest, target: &Target) -> ArmResult {
    let m = &s.core.management;
    let caller = &req.caller;
    match (target, &req.method) {
        (
            Target::Assignments {
                scope,
                name: Some(name),
            },
            &Method::PUT,
        ) => {
            let body: AssignmentBody = req.json()?;
            let new = NewAssignment {
                role_definition_id: body.properties.role_definition_id,
                principal_id: body.properties.principal_id,
                principal_type: body.properties.principal_type,
            };
            let (a, created) = m.put_assignment(caller, scope, name, new).await?;
            ok(
                if created { StatusCode::CREATED } else { StatusCode::OK },
                assignment_json(s, &a),
            )
        }
        (
            Target::Assignments {
                scope,
                name: Some(name),
            },
            &Method::GET,
        ) => ok(
            StatusCode::OK,
            assignment_json(s, &m.assignment(caller, scope, name).await?),
        ),
        (
            Target::Assignments {
                scope,
                name: Some(name),
            },
            &Method::DELETE,
        ) => match m.delete_assignment(caller, scope, name).await? {
            Some(a) => ok(StatusCode::OK, assignment_json(s, &a)),
            None => ok(StatusCode::NO_CONTENT, serde_json::Value::Null),
        },
        (Target::Assignments { scope, name: None }, &Method::GET) => {
            let principal = principal_filter(req.param("$filter"));
            let found = m.assignments(caller, scope, principal.as_deref()).await?;
            list(found.iter().map(|a| assignment_json(s, a)).collect())
        }
        (Target::Definitions { scope, name: None }, &Method::GET) => {
            m.require(caller, "Microsoft.Authorization/roleDefinitions/read", scope)
                .await?;
            list(filtered_definitions(s, req.param("$filter")))
        }
        (
            Target::Definitions {
                scope,
                name: Some(name),
            },
            &Method::GET,
        ) => {
            m.require(caller, "Microsoft.Authorization/roleDefinitions/read", scope)
                .await?;
            let role = roles::find(name).ok_or_else(|| ArmError::RoleDefinitionDoesNotExist(name.clone()))?;
            ok(StatusCode::OK, definition_json(s, role))
        }
        _ => method_not_allowed(req),
    }
}

/// `/providers/Microsoft.Authorization/roleDefinitions` with no scope: the built-in catalogue.
pub(super) async fn definitions_at_root(
    _: crate::extract::ArmCaller,
    State(s): State<AppState>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> axum::response::Response {
    let query: Vec<(String, String)> = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let filter = query.iter().find(|(k, _)| k == "$filter").map(|(_, v)| v.as_str());
    axum::Json(ValueList {
        value: filtered_definitions(&s, filter),
    })
    .into_response()
}
