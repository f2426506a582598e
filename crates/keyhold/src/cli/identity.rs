//! `keyhold identity ...`: user-assigned managed identities (`Microsoft.ManagedIdentity/userAssignedIdentities`).

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    arm::{self, IDENTITIES, call},
    output::OutputArgs,
    session::Conn,
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold identity create -g myRG -n myID\n  keyhold vm identity assign -g myRG -n myVM --identities myID"
)]
pub struct IdentityArgs {
    #[command(subcommand)]
    command: IdentityCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Args)]
struct Named {
    #[arg(long, short = 'n')]
    name: String,
    #[arg(long, short = 'g')]
    resource_group: String,
}

#[derive(Debug, Subcommand)]
enum IdentityCommand {
    /// Create a user-assigned identity (a principal of its own).
    #[command(after_help = "Example:\n  keyhold identity create -g myRG -n myID")]
    Create {
        #[command(flatten)]
        id: Named,
        #[arg(long, short = 'l')]
        location: Option<String>,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    /// List user-assigned identities.
    #[command(after_help = "Example:\n  keyhold identity list -g myRG --query [].clientId")]
    List {
        #[arg(long, short = 'g')]
        resource_group: Option<String>,
    },
    /// Show one (clientId, principalId, tenantId).
    #[command(after_help = "Example:\n  keyhold identity show -g myRG -n myID --query principalId -o tsv")]
    Show(Named),
    /// Delete one, and its principal.
    #[command(after_help = "Example:\n  keyhold identity delete -g myRG -n myID")]
    Delete(Named),
}

pub async fn run(args: IdentityArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let s = args.conn.session()?;
    let result = match args.command {
        IdentityCommand::Create { id, location, tags } => {
            let location = match location {
                Some(l) => arm::location(&l),
                None => arm::group_location(&s, &id.resource_group).await?,
            };
            let path = arm::resource_path(&s, &id.resource_group, IDENTITIES, &id.name).await?;
            flatten(
                call(
                    &s,
                    Method::PUT,
                    &path,
                    Some(&json!({"location": location, "tags": arm::tags(&tags)})),
                )
                .await?,
            )
        }
        IdentityCommand::List { resource_group } => {
            let p = match resource_group {
                Some(g) => format!("{}/providers/{IDENTITIES}", arm::group_path(&s, &g).await?),
                None => format!("{}/providers/{IDENTITIES}", arm::sub(&s).await?),
            };
            Value::Array(
                arm::items(call(&s, Method::GET, &p, None).await?)
                    .into_iter()
                    .map(flatten)
                    .collect(),
            )
        }
        IdentityCommand::Show(id) => {
            let path = arm::resource_path(&s, &id.resource_group, IDENTITIES, &id.name).await?;
            flatten(call(&s, Method::GET, &path, None).await?)
        }
        IdentityCommand::Delete(id) => {
            let path = arm::resource_path(&s, &id.resource_group, IDENTITIES, &id.name).await?;
            call(&s, Method::DELETE, &path, None).await?
        }
    };
    out.print(result)
}

/// az prints an identity with `clientId`, `principalId`, `tenantId` at the top level (and `resourceGroup`).
fn flatten(mut v: Value) -> Value {
    if let Some(props) = v["properties"].as_object().cloned() {
        for (k, val) in props {
            v[k] = val;
        }
    }
    if let Some(g) = v["id"].as_str().and_then(arm::group_of) {
        v["resourceGroup"] = json!(g);
    }
    v
}
