//! `keyhold storage account ...`: `Microsoft.Storage/storageAccounts` and their access keys.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    arm::{self, STORAGE, call},
    output::OutputArgs,
    session::{Conn, Session},
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold storage account create -g myRG -n mystorage\n  keyhold storage account keys list -g myRG -n mystorage"
)]
pub struct StorageArgs {
    #[command(subcommand)]
    command: StorageCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Subcommand)]
enum StorageCommand {
    /// Storage accounts.
    #[command(
        after_help = "Examples:\n  keyhold storage account create -g myRG -n mystorage\n  keyhold storage account keys list -g myRG -n mystorage"
    )]
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
}

#[derive(Debug, Args)]
struct Named {
    #[arg(long, short = 'n', visible_alias = "account-name")]
    name: String,
    #[arg(long, short = 'g')]
    resource_group: String,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create a storage account (3-24 lowercase letters and digits).
    #[command(after_help = "Example:\n  keyhold storage account create -g myRG -n mystorage --sku Standard_LRS")]
    Create {
        #[command(flatten)]
        account: Named,
        #[arg(long, short = 'l')]
        location: Option<String>,
        #[arg(long, default_value = "Standard_LRS")]
        sku: String,
        #[arg(long, default_value = "StorageV2")]
        kind: String,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    /// Show a storage account.
    #[command(after_help = "Example:\n  keyhold storage account show -g myRG -n mystorage")]
    Show(Named),
    /// List storage accounts.
    #[command(after_help = "Example:\n  keyhold storage account list -g myRG -o table")]
    List {
        #[arg(long, short = 'g')]
        resource_group: Option<String>,
    },
    /// Delete a storage account.
    #[command(after_help = "Example:\n  keyhold storage account delete -g myRG -n mystorage --yes")]
    Delete {
        #[command(flatten)]
        account: Named,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// The account's access keys.
    #[command(
        after_help = "Examples:\n  keyhold storage account keys list -g myRG -n mystorage\n  keyhold storage account keys renew -g myRG -n mystorage --key primary"
    )]
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List the access keys (needs listKeys permission, e.g. Storage Account Key Operator).
    #[command(
        after_help = "Example:\n  keyhold storage account keys list -g myRG -n mystorage --query [0].value -o tsv"
    )]
    List(Named),
    /// Regenerate one access key.
    #[command(after_help = "Example:\n  keyhold storage account keys renew -g myRG -n mystorage --key primary")]
    Renew {
        #[command(flatten)]
        account: Named,
        /// primary (key1) or secondary (key2).
        #[arg(long, value_parser = ["primary", "secondary"])]
        key: String,
    },
}

pub async fn run(args: StorageArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let s = args.conn.session()?;
    let StorageCommand::Account { command } = args.command;
    let result = match command {
        AccountCommand::Create {
            account,
            location,
            sku,
            kind,
            tags,
        } => {
            let location = match location {
                Some(l) => arm::location(&l),
                None => arm::group_location(&s, &account.resource_group).await?,
            };
            let body = json!({"location": location, "sku": {"name": sku}, "kind": kind, "tags": arm::tags(&tags)});
            call(&s, Method::PUT, &path(&s, &account).await?, Some(&body)).await?
        }
        AccountCommand::Show(a) => call(&s, Method::GET, &path(&s, &a).await?, None).await?,
        AccountCommand::List { resource_group } => {
            let p = match resource_group {
                Some(g) => format!("{}/providers/{STORAGE}", arm::group_path(&s, &g).await?),
                None => format!("{}/providers/{STORAGE}", arm::sub(&s).await?),
            };
            Value::Array(arm::items(call(&s, Method::GET, &p, None).await?))
        }
        AccountCommand::Delete { account, yes } => {
            if !yes && !super::confirm("Are you sure you want to perform this operation? (y/n): ")? {
                return Ok(());
            }
            call(&s, Method::DELETE, &path(&s, &account).await?, None).await?
        }
        AccountCommand::Keys {
            command: KeysCommand::List(a),
        } => {
            let keys = call(&s, Method::POST, &format!("{}/listKeys", path(&s, &a).await?), None).await?;
            keys["keys"].clone()
        }
        AccountCommand::Keys {
            command: KeysCommand::Renew { account, key },
        } => {
            let name = if key == "primary" { "key1" } else { "key2" };
            let keys = call(
                &s,
                Method::POST,
                &format!("{}/regenerateKey", path(&s, &account).await?),
                Some(&json!({"keyName": name})),
            )
            .await?;
            keys["keys"].clone()
        }
    };
    out.print(result)
}

async fn path(s: &Session, a: &Named) -> anyhow::Result<String> {
    arm::resource_path(s, &a.resource_group, STORAGE, &a.name).await
}
