//! `keyhold role assignment create|list|delete`, `keyhold role definition list`: Azure RBAC.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    arm::{self, call},
    output::OutputArgs,
    session::{Conn, Session},
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold role assignment create --assignee APP_ID --role \"Key Vault Secrets User\" --scope VAULT_ID\n  keyhold role assignment list --assignee APP_ID\n  keyhold role definition list --name Reader"
)]
pub struct RoleArgs {
    #[command(subcommand)]
    command: RoleCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Subcommand)]
enum RoleCommand {
    /// Role assignments.
    #[command(
        after_help = "Example:\n  keyhold role assignment create --assignee APP_ID --role Reader --scope /subscriptions/SUB/resourceGroups/myRG"
    )]
    Assignment {
        #[command(subcommand)]
        command: AssignmentCommand,
    },
    /// Role definitions (keyhold's built-in roles).
    #[command(after_help = "Example:\n  keyhold role definition list --name \"Key Vault Secrets User\"")]
    Definition {
        #[command(subcommand)]
        command: DefinitionCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AssignmentCommand {
    /// Give a principal a role at a scope.
    #[command(after_help = "Examples:
  keyhold role assignment create --assignee APP_ID --role \"Key Vault Secrets User\" --scope VAULT_ID
  keyhold role assignment create --assignee-object-id OID --role Reader")]
    Create {
        /// Object id or app id of the principal.
        #[arg(long, required_unless_present = "assignee_object_id")]
        assignee: Option<String>,
        #[arg(long)]
        assignee_object_id: Option<String>,
        #[arg(long)]
        assignee_principal_type: Option<String>,
        /// Role name or GUID.
        #[arg(long)]
        role: String,
        /// Default: the subscription.
        #[arg(long)]
        scope: Option<String>,
    },
    /// List role assignments (at --scope, default the subscription).
    #[command(after_help = "Example:\n  keyhold role assignment list --assignee APP_ID --all -o table")]
    List {
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        /// Accepted for az compatibility.
        #[arg(long)]
        all: bool,
    },
    /// Delete role assignments by id, or those matching --assignee/--role/--scope.
    #[command(after_help = "Examples:
  keyhold role assignment delete --assignee APP_ID --role Reader
  keyhold role assignment delete --ids ASSIGNMENT_ID")]
    Delete {
        #[arg(long, num_args = 1..)]
        ids: Vec<String>,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        scope: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DefinitionCommand {
    /// List role definitions.
    #[command(after_help = "Example:\n  keyhold role definition list --name \"Key Vault Secrets User\"")]
    List {
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[arg(long)]
        scope: Option<String>,
    },
}

pub async fn run(args: RoleArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let s = args.conn.session()?;
    let result = match args.command {
        RoleCommand::Assignment { command } => assignment(&s, command).await?,
        RoleCommand::Definition {
            command: DefinitionCommand::List { name, scope },
        } => Value::Array(definitions(&s, name.as_deref(), scope).await?),
    };
    out.print(result)
}

async fn assignment(s: &Session, command: AssignmentCommand) -> anyhow::Result<Value> {
    match command {
        AssignmentCommand::Create {
            assignee,
            assignee_object_id,
            assignee_principal_type,
            role,
            scope,
        } => {
            let principal = match (assignee_object_id, assignee) {
                (Some(o), _) => o,
                (None, Some(a)) => super::principal::resolve_object_id(s, &a).await?,
                (None, None) => bail!("give --assignee or --assignee-object-id"),
            };
            let scope = scope_or_sub(s, scope).await?;
            let role_id = role_definition_id(s, &role, &scope).await?;
            create(s, &scope, &role_id, &principal, assignee_principal_type.as_deref()).await
        }
        AssignmentCommand::List {
            assignee, role, scope, ..
        } => Ok(Value::Array(matching(s, assignee, role, scope).await?)),
        AssignmentCommand::Delete {
            ids,
            assignee,
            role,
            scope,
        } => {
            let targets: Vec<String> = if ids.is_empty() {
                if assignee.is_none() && role.is_none() && scope.is_none() {
                    bail!("give --ids, or at least one of --assignee, --role, --scope");
                }
                matching(s, assignee, role, scope)
                    .await?
                    .iter()
                    .filter_map(|a| a["id"].as_str().map(str::to_owned))
                    .collect()
            } else {
                ids
            };
            for id in &targets {
                call(s, Method::DELETE, id, None).await?;
            }
            Ok(Value::Null)
        }
    }
}

/// PUT `{scope}/providers/Microsoft.Authorization/roleAssignments/{new guid}`.
pub async fn create(
    s: &Session,
    scope: &str,
    role_id: &str,
    principal: &str,
    principal_type: Option<&str>,
) -> anyhow::Result<Value> {
    let name = uuid::Uuid::new_v4();
    let mut props = json!({"roleDefinitionId": role_id, "principalId": principal});
    if let Some(t) = principal_type {
        props["principalType"] = json!(t);
    }
    let path = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{name}",
        scope.trim_end_matches('/')
    );
    call(s, Method::PUT, &path, Some(&json!({"properties": props}))).await
}

async fn scope_or_sub(s: &Session, scope: Option<String>) -> anyhow::Result<String> {
    match scope {
        Some(sc) => Ok(sc),
        None => arm::sub(s).await,
    }
}

async fn definitions(s: &Session, name: Option<&str>, scope: Option<String>) -> anyhow::Result<Vec<Value>> {
    let scope = scope_or_sub(s, scope).await?;
    let mut path = format!(
        "{}/providers/Microsoft.Authorization/roleDefinitions",
        scope.trim_end_matches('/')
    );
    if let Some(n) = name {
        let f: String = url::form_urlencoded::byte_serialize(format!("roleName eq '{n}'").as_bytes()).collect();
        path.push_str(&format!("?$filter={f}"));
    }
    Ok(arm::items(call(s, Method::GET, &path, None).await?))
}

/// The full definition id of a role given by name or GUID.
pub async fn role_definition_id(s: &Session, role: &str, scope: &str) -> anyhow::Result<String> {
    let sub = arm::sub(s).await?;
    if uuid::Uuid::parse_str(role).is_ok() {
        return Ok(format!(
            "{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
        ));
    }
    if role.contains("/roleDefinitions/") {
        return Ok(role.to_owned());
    }
    let found = definitions(s, Some(role), Some(scope.to_owned())).await?;
    found
        .first()
        .and_then(|d| d["id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("Role '{role}' doesn't exist."))
}

async fn matching(
    s: &Session,
    assignee: Option<String>,
    role: Option<String>,
    scope: Option<String>,
) -> anyhow::Result<Vec<Value>> {
    let scope = scope_or_sub(s, scope).await?;
    let principal = match assignee {
        Some(a) => Some(super::principal::resolve_object_id(s, &a).await?),
        None => None,
    };
    let mut path = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments",
        scope.trim_end_matches('/')
    );
    if let Some(p) = &principal {
        let f: String = url::form_urlencoded::byte_serialize(format!("principalId eq '{p}'").as_bytes()).collect();
        path.push_str(&format!("?$filter={f}"));
    }
    let mut found = arm::items(call(s, Method::GET, &path, None).await?);
    if let Some(r) = role {
        let role_id = role_definition_id(s, &r, &scope).await?;
        let guid = role_id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
        found.retain(|a| {
            a["properties"]["roleDefinitionId"]
                .as_str()
                .is_some_and(|d| d.to_ascii_lowercase().ends_with(&guid))
        });
    }
    Ok(found)
}
