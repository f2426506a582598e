//! Command-line surface. Each command lives in its own module.

mod agent;
mod audit;
mod env;
mod operator;
mod rest;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "keyhold",
    version,
    about = "Self-hosted secrets vault with workload identity, wire-compatible with Azure Key Vault"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: HTTPS vaults + identity provider, and the managed-identity endpoint.
    Serve(serve::ServeArgs),
    /// Print `export` lines that point the unmodified Azure SDKs at a running server.
    #[command(
        after_help = "Example:\n  eval \"$(keyhold env --service-principal)\"\n  python -c 'from azure.identity import DefaultAzureCredential; ...'"
    )]
    Env(env::EnvArgs),
    /// Initialise, unseal and inspect the seal of a running server.
    Operator(operator::OperatorArgs),
    /// Check the audit log.
    Audit(audit::AuditArgs),
    /// Run the managed-identity endpoints for another host, or create its join token.
    #[command(
        after_help = "Examples:\n  keyhold agent join-token create --resource-id <vm id>\n  keyhold agent --server https://keyhold:8443 --join-token khj_... --ca-file ca.pem --imds-listen 169.254.169.254:80"
    )]
    Agent(agent::AgentArgs),
}

/// `--data-dir`, shared by every command that reads the server's files.
#[derive(Debug, Clone, clap::Args)]
pub struct DataDir {
    /// The server's data directory.
    #[arg(
        long = "data-dir",
        env = "KEYHOLD_DATA_DIR",
        default_value = "./keyhold-data",
        global = true
    )]
    pub path: PathBuf,
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Env(args) => env::run(args),
        Command::Operator(args) => operator::run(args).await,
        Command::Audit(args) => audit::run(args),
        Command::Agent(args) => agent::run(args).await,
    }
}
