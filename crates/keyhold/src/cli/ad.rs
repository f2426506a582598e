//! `keyhold ad sp ...`: service principals through keyhold's admin API (`/keyhold/v1/servicePrincipals`);
//! `keyhold ad user ...`: users through Graph (`user.rs`).

use anyhow::Context;
use clap::{Args, Subcommand};
use keyhold_server::AdminFile;
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    output::OutputArgs,
    principal,
    session::{Conn, write_private},
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold ad sp create-for-rbac --name myapp\n  keyhold ad sp list --query [].appId -o tsv\n  keyhold ad sp credential reset --id APP_ID"
)]
pub struct AdArgs {
    #[command(subcommand)]
    command: AdCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Subcommand)]
enum AdCommand {
    /// Service principals.
    #[command(after_help = "Examples:\n  keyhold ad sp create-for-rbac --name myapp\n  keyhold ad sp show --id APP_ID")]
    Sp {
        #[command(subcommand)]
        command: SpCommand,
    },
    /// Users: people who sign in interactively.
    #[command(
        after_help = "Examples:\n  keyhold ad user create --display-name Alice --user-principal-name alice@contoso.example --password PASSWORD\n  keyhold ad user list"
    )]
    User {
        #[command(subcommand)]
        command: super::user::UserCommand,
    },
}

#[derive(Debug, Args)]
struct SpId {
    /// App id or object id.
    #[arg(long)]
    id: String,
}

#[derive(Debug, Subcommand)]
enum SpCommand {
    /// Create a service principal with a client secret, optionally with a role assignment.
    #[command(after_help = "Examples:
  keyhold ad sp create-for-rbac --name myapp
  keyhold ad sp create-for-rbac --name myapp --role \"Key Vault Secrets User\" --scopes VAULT_ID")]
    CreateForRbac {
        /// Display name (default: azure-cli-<timestamp>). Its credentials are also saved to
        /// <data-dir>/principals/<NAME>.json when the data dir is local.
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long, num_args = 1..)]
        scopes: Vec<String>,
        /// Accepted for az compatibility.
        #[arg(long)]
        years: Option<u32>,
    },
    /// List service principals.
    #[command(after_help = "Example:\n  keyhold ad sp list --query [].appId -o tsv")]
    List {
        /// Accepted for az compatibility.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Show a service principal.
    #[command(after_help = "Example:\n  keyhold ad sp show --id APP_ID --query id -o tsv")]
    Show(SpId),
    /// Delete a service principal and its credentials (tokens already issued live until they expire, as in Entra).
    #[command(after_help = "Example:\n  keyhold ad sp delete --id APP_ID")]
    Delete(SpId),
    /// Client credentials.
    #[command(after_help = "Example:\n  keyhold ad sp credential reset --id APP_ID")]
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CredentialCommand {
    /// Replace every client secret of a service principal with a new one.
    #[command(after_help = "Example:\n  keyhold ad sp credential reset --id APP_ID --query password -o tsv")]
    Reset(SpId),
}

pub async fn run(args: AdArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let s = args.conn.session()?;
    let command = match args.command {
        AdCommand::Sp { command } => command,
        AdCommand::User { command } => return out.print(super::user::run(&s, command).await?),
    };
    let result = match command {
        SpCommand::CreateForRbac { name, role, scopes, .. } => {
            let display = name
                .clone()
                .unwrap_or_else(|| format!("azure-cli-{}", super::session::now()));
            let sp = s
                .mgmt(
                    Method::POST,
                    "/keyhold/v1/servicePrincipals",
                    Some(&json!({"displayName": display})),
                )
                .await?;
            if let Some(role) = &role {
                let object_id = sp["objectId"].as_str().context("no objectId in the answer")?;
                let scopes = if scopes.is_empty() {
                    vec![super::arm::sub(&s).await?]
                } else {
                    scopes
                };
                for scope in &scopes {
                    let role_id = super::role::role_definition_id(&s, role, scope).await?;
                    super::role::create(&s, scope, &role_id, object_id, Some("ServicePrincipal")).await?;
                }
            }
            if let Some(n) = &name {
                save_locally(&args.conn, n, &sp)?;
            }
            json!({
                "appId": sp["appId"],
                "displayName": sp["displayName"],
                "password": sp["password"],
                "tenant": sp["tenant"],
            })
        }
        SpCommand::List { display_name, .. } => {
            let all = s.mgmt(Method::GET, "/keyhold/v1/servicePrincipals", None).await?;
            let mut items = super::arm::items(all);
            if let Some(d) = display_name {
                items.retain(|i| i["displayName"].as_str() == Some(d.as_str()));
            }
            Value::Array(items)
        }
        SpCommand::Show(sp) => principal::show(&s, &sp.id).await?,
        SpCommand::Delete(sp) => s.mgmt(Method::DELETE, &principal::sp_path(&sp.id), None).await?,
        SpCommand::Credential {
            command: CredentialCommand::Reset(sp),
        } => {
            s.mgmt(
                Method::POST,
                &format!("{}/credentials/reset", principal::sp_path(&sp.id)),
                None,
            )
            .await?
        }
    };
    out.print(result)
}

/// `<data-dir>/principals/<name>.json` (0600), which `keyhold env --service-principal <name>` reads.
fn save_locally(conn: &Conn, name: &str, sp: &Value) -> anyhow::Result<()> {
    let dir = &conn.data_dir.path;
    if !dir.join("state.json").exists() {
        return Ok(());
    }
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Ok(());
    }
    let s = |k: &str| sp[k].as_str().unwrap_or_default().to_owned();
    let file = AdminFile {
        app_id: s("appId"),
        display_name: s("displayName"),
        password: s("password"),
        tenant: s("tenant"),
        object_id: s("objectId"),
    };
    write_private(&dir.join("principals").join(format!("{name}.json")), &file)
}
