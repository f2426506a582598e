//! `keyhold resource list|show`: any ARM resource, through `/resources` and resource ids.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use super::{
    arm::{self, call},
    output::OutputArgs,
    session::Conn,
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold resource list -n myVM --query [*].identity.principalId --out tsv\n  keyhold resource show --ids RESOURCE_ID"
)]
pub struct ResourceArgs {
    #[command(subcommand)]
    command: ResourceCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Subcommand)]
enum ResourceCommand {
    /// List resources, filtered by name, type or group.
    #[command(after_help = "Examples:
  keyhold resource list -n myVM --query [*].identity.principalId --out tsv
  keyhold resource list -g myRG --resource-type Microsoft.KeyVault/vaults")]
    List {
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[arg(long, short = 'g')]
        resource_group: Option<String>,
        #[arg(long)]
        resource_type: Option<String>,
    },
    /// Show a resource by id, or by group, name and type.
    #[command(after_help = "Examples:
  keyhold resource show --ids /subscriptions/.../resourceGroups/myRG/providers/Microsoft.Compute/virtualMachines/myVM
  keyhold resource show -g myRG -n myVM --resource-type Microsoft.Compute/virtualMachines")]
    Show {
        #[arg(long, num_args = 1..)]
        ids: Vec<String>,
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[arg(long, short = 'g')]
        resource_group: Option<String>,
        #[arg(long)]
        resource_type: Option<String>,
        /// Accepted for az compatibility (the type carries the namespace).
        #[arg(long)]
        namespace: Option<String>,
    },
}

pub async fn run(args: ResourceArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let s = args.conn.session()?;
    let result = match args.command {
        ResourceCommand::List {
            name,
            resource_group,
            resource_type,
        } => {
            let mut clauses = Vec::new();
            if let Some(n) = &name {
                clauses.push(format!("name eq '{n}'"));
            }
            if let Some(t) = &resource_type {
                clauses.push(format!("resourceType eq '{t}'"));
            }
            let mut path = match &resource_group {
                Some(g) => format!("{}/resources", arm::group_path(&s, g).await?),
                None => format!("{}/resources", arm::sub(&s).await?),
            };
            if !clauses.is_empty() {
                let filter: String = url::form_urlencoded::byte_serialize(clauses.join(" and ").as_bytes()).collect();
                path.push_str(&format!("?$filter={filter}"));
            }
            Value::Array(arm::items(call(&s, Method::GET, &path, None).await?))
        }
        ResourceCommand::Show {
            ids,
            name,
            resource_group,
            resource_type,
            namespace,
        } => {
            if !ids.is_empty() {
                let mut found = Vec::new();
                for id in &ids {
                    found.push(call(&s, Method::GET, id, None).await?);
                }
                if found.len() == 1 {
                    found.remove(0)
                } else {
                    Value::Array(found)
                }
            } else {
                let (Some(n), Some(g), Some(t)) = (name, resource_group, resource_type) else {
                    bail!("give --ids, or --resource-group, --name and --resource-type");
                };
                let kind = match namespace {
                    Some(ns) if !t.contains('/') => format!("{ns}/{t}"),
                    _ => t,
                };
                if !kind.contains('/') {
                    bail!("--resource-type must be namespace/type, such as Microsoft.Compute/virtualMachines");
                }
                let path = arm::resource_path(&s, &g, &kind, &n).await.context("resource show")?;
                call(&s, Method::GET, &path, None).await?
            }
        }
    };
    out.print(result)
}
