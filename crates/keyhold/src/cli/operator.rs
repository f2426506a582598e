//! `keyhold operator`: initialise and unseal a server, and rotate its data key, through its sys API.

use std::{io::Read, path::PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{DataDir, rest::Rest};

#[derive(Debug, Args)]
pub struct OperatorArgs {
    #[command(subcommand)]
    command: OperatorCommand,
    #[command(flatten)]
    data_dir: DataDir,
    /// The server (default: the one running in --data-dir).
    #[arg(long, global = true)]
    url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Initialise a server started with `--seal shamir` or `--seal passphrase`.
    #[command(
        after_help = "Examples:\n  keyhold operator init --shares 5 --threshold 3\n  keyhold operator init --passphrase-file /run/secrets/keyhold"
    )]
    Init {
        /// Split the unseal key into this many shares (Shamir).
        #[arg(long, requires = "threshold")]
        shares: Option<u8>,
        /// How many shares unseal.
        #[arg(long)]
        threshold: Option<u8>,
        /// Seal with a passphrase read from this file (`-` for standard input).
        #[arg(long, conflicts_with = "shares")]
        passphrase_file: Option<PathBuf>,
    },
    /// Submit one unseal share, or the passphrase.
    #[command(
        after_help = "Examples:\n  keyhold operator unseal 'AbCd...'\n  keyhold operator unseal --passphrase-file -"
    )]
    Unseal {
        /// One Shamir share as printed by `operator init`.
        share: Option<String>,
        #[arg(long, conflicts_with = "share")]
        passphrase_file: Option<PathBuf>,
    },
    /// Whether the server is sealed, the unseal progress, and the background jobs this node leads.
    SealStatus,
    /// Add a data key; records are re-sealed under it in the background (as the admin, `admin.json`).
    #[command(after_help = "Example:\n  keyhold operator rotate && keyhold operator rotation-status")]
    Rotate,
    /// How many records are still sealed under older data keys.
    RotationStatus,
}

/// A secret from a file (or stdin for `-`), without its trailing newline.
pub(super) fn read_secret(path: &std::path::Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    }
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

pub async fn run(args: OperatorArgs) -> anyhow::Result<()> {
    let rest = Rest::for_data_dir(&args.data_dir.path, args.url.as_deref())?;
    let out = match args.command {
        OperatorCommand::Init {
            shares,
            threshold,
            passphrase_file,
        } => {
            let body = match (shares, passphrase_file) {
                (Some(n), None) => json!({"type": "shamir", "shares": n, "threshold": threshold}),
                (None, Some(file)) => json!({"type": "passphrase", "passphrase": read_secret(&file)?}),
                _ => anyhow::bail!("give --shares N --threshold K, or --passphrase-file FILE"),
            };
            rest.post("/keyhold/v1/sys/init", &body).await?
        }
        OperatorCommand::Unseal { share, passphrase_file } => {
            let body = match (share, passphrase_file) {
                (Some(key), None) => json!({ "key": key }),
                (None, Some(file)) => json!({ "passphrase": read_secret(&file)? }),
                _ => anyhow::bail!("give one share, or --passphrase-file FILE"),
            };
            rest.post("/keyhold/v1/sys/unseal", &body).await?
        }
        OperatorCommand::SealStatus => rest.get("/keyhold/v1/sys/seal-status").await?,
        OperatorCommand::Rotate => rest.post_as_admin("/keyhold/v1/sys/rotate").await?,
        OperatorCommand::RotationStatus => rest.get_as_admin("/keyhold/v1/sys/rotation-status").await?,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
