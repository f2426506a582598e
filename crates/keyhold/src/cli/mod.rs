//! Command-line surface. Each command (group) lives in its own module. The az-shaped groups talk to
//! the server only through its REST APIs (`rest`, `session`); they never open the database.

mod account;
mod ad;
mod agent;
mod arm;
mod audit;
mod certificate;
mod env;
mod group;
mod identity;
mod key;
mod keyvault;
mod operator;
mod output;
mod principal;
mod profile;
mod resource;
mod rest;
mod role;
mod secret;
mod serve;
mod session;
mod signin;
mod storage;
mod user;
mod vm;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "keyhold",
    version,
    about = "Self-hosted secrets vault with workload identity, wire-compatible with Azure Key Vault",
    after_help = "The az-shaped commands (login, group, keyvault, vm, identity, resource, role, ad, storage) \
talk to a running server's REST APIs. Examples:
  keyhold login --service-principal -u APP_ID -p SECRET --tenant TENANT
  keyhold group create --name myRG --location \"West US\"
  keyhold keyvault create --name myvault --resource-group myRG
  keyhold keyvault secret set --vault-name myvault --name AppSecret --value MySecret"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    output: output::OutputArgs,
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
    /// Sign in: a person (browser or device code), a service principal, this host's managed identity,
    /// or (plain `login` on the server machine) the admin.
    Login(account::LoginArgs),
    /// Forget the signed-in account and its tokens (a person's refresh token is revoked).
    Logout(account::LogoutArgs),
    /// The signed-in account.
    Account(account::AccountArgs),
    /// Resource groups.
    Group(group::GroupArgs),
    /// Key vaults, their access policies and secrets.
    Keyvault(keyvault::KeyvaultArgs),
    /// Virtual machines (records holding managed identities).
    Vm(vm::VmArgs),
    /// User-assigned managed identities.
    Identity(identity::IdentityArgs),
    /// Any ARM resource.
    Resource(resource::ResourceArgs),
    /// Role-based access control.
    Role(role::RoleArgs),
    /// Service principals.
    Ad(ad::AdArgs),
    /// Storage accounts and their keys.
    Storage(storage::StorageArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  source <(keyhold completion bash)\n  keyhold completion zsh > ~/.zfunc/_keyhold"
    )]
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
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
    let out = &cli.output;
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Env(args) => env::run(args),
        Command::Operator(args) => operator::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Agent(args) => agent::run(args).await,
        Command::Login(args) => account::login(args, out).await,
        Command::Logout(args) => account::logout(args).await,
        Command::Account(args) => account::account_cmd(args, out).await,
        Command::Group(args) => group::run(args, out).await,
        Command::Keyvault(args) => keyvault::run(args, out).await,
        Command::Vm(args) => vm::run(args, out).await,
        Command::Identity(args) => identity::run(args, out).await,
        Command::Resource(args) => resource::run(args, out).await,
        Command::Role(args) => role::run(args, out).await,
        Command::Ad(args) => ad::run(args, out).await,
        Command::Storage(args) => storage::run(args, out).await,
        Command::Completion { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "keyhold", &mut script);
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            Ok(())
        }
    }
}

/// az's exit codes: 3 when the thing asked for does not exist, 1 for any other failure.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<rest::HttpError>() {
        Some(h) if h.status == 404 => 3,
        _ => 1,
    }
}

pub(crate) fn not_found(e: &anyhow::Error) -> bool {
    exit_code(e) == 3
}

/// Asks on the terminal; a non-interactive run without `--yes` is refused.
pub(crate) fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("confirmation needed: pass --yes");
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod debug_tests {
    use clap::Parser;

    use super::Cli;

    /// Parsed command lines end up in `Debug` output (errors, traces): secrets given as flags must not.
    #[test]
    fn debug_of_parsed_commands_hides_secret_flags() -> Result<(), clap::Error> {
        for (argv, secret) in [
            (
                vec![
                    "keyhold",
                    "login",
                    "--service-principal",
                    "-u",
                    "app",
                    "-p",
                    "pw-hunter2",
                    "--tenant",
                    "t",
                ],
                "pw-hunter2",
            ),
            (
                vec!["keyhold", "agent", "--join-token", "khj_join-hunter2"],
                "join-hunter2",
            ),
            (
                vec![
                    "keyhold",
                    "keyvault",
                    "secret",
                    "set",
                    "--vault-name",
                    "v",
                    "--name",
                    "n",
                    "--value",
                    "val-hunter2",
                ],
                "val-hunter2",
            ),
        ] {
            let shown = format!("{:?}", Cli::try_parse_from(&argv)?);
            assert!(!shown.contains(secret), "{shown}");
        }
        Ok(())
    }
}
