//! `keyhold group create|list|show|delete|exists`: ARM resource groups.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    arm::{self, call},
    output::OutputArgs,
    session::Conn,
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold group create --name myRG --location \"West US\"\n  keyhold group list --query [].name -o tsv\n  keyhold group delete --name myRG --yes"
)]
pub struct GroupArgs {
    #[command(subcommand)]
    command: GroupCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Create (or update) a resource group.
    #[command(after_help = "Example:\n  keyhold group create --name myRG --location \"West US\"")]
    Create {
        #[arg(long, short = 'n', visible_alias = "resource-group", short_alias = 'g')]
        name: String,
        #[arg(long, short = 'l')]
        location: String,
        /// Space-separated tags: key[=value].
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    /// List the resource groups.
    #[command(after_help = "Example:\n  keyhold group list -o table")]
    List,
    /// Show one resource group.
    #[command(after_help = "Example:\n  keyhold group show --name myRG")]
    Show {
        #[arg(long, short = 'n', visible_alias = "resource-group", short_alias = 'g')]
        name: String,
    },
    /// Whether a resource group exists (prints true or false).
    #[command(after_help = "Example:\n  keyhold group exists --name myRG")]
    Exists {
        #[arg(long, short = 'n', visible_alias = "resource-group", short_alias = 'g')]
        name: String,
    },
    /// Delete a resource group and everything in it.
    #[command(after_help = "Example:\n  keyhold group delete --name myRG --yes")]
    Delete {
        #[arg(long, short = 'n', visible_alias = "resource-group", short_alias = 'g')]
        name: String,
        /// Do not prompt for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Accepted for az compatibility (keyhold deletes synchronously).
        #[arg(long)]
        no_wait: bool,
    },
}

pub async fn run(args: GroupArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let s = args.conn.session()?;
    let result = match args.command {
        GroupCommand::Create { name, location, tags } => {
            let body = json!({"location": arm::location(&location), "tags": arm::tags(&tags)});
            call(&s, Method::PUT, &arm::group_path(&s, &name).await?, Some(&body)).await?
        }
        GroupCommand::List => Value::Array(arm::items(
            call(
                &s,
                Method::GET,
                &format!("{}/resourcegroups", arm::sub(&s).await?),
                None,
            )
            .await?,
        )),
        GroupCommand::Show { name } => call(&s, Method::GET, &arm::group_path(&s, &name).await?, None).await?,
        GroupCommand::Exists { name } => {
            let found = call(&s, Method::GET, &arm::group_path(&s, &name).await?, None).await;
            match found {
                Ok(_) => Value::Bool(true),
                Err(e) if super::not_found(&e) => Value::Bool(false),
                Err(e) => return Err(e),
            }
        }
        GroupCommand::Delete { name, yes, .. } => {
            if !yes && !super::confirm("Are you sure you want to perform this operation? (y/n): ")? {
                return Ok(());
            }
            call(&s, Method::DELETE, &arm::group_path(&s, &name).await?, None).await?
        }
    };
    out.print(result)
}
