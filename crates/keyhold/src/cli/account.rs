//! `keyhold login`, `keyhold logout`, `keyhold account show`.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{
    output::OutputArgs,
    session::{Conn, Login, Profile, Session, config_dir, identity_token, save_profile},
};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  keyhold login --service-principal -u APP_ID -p SECRET --tenant TENANT
  keyhold login --identity
  keyhold login --identity --username CLIENT_ID_OF_A_USER_ASSIGNED_IDENTITY")]
pub struct LoginArgs {
    #[command(flatten)]
    conn: Conn,
    /// Sign in with a service principal's client credentials.
    #[arg(long)]
    service_principal: bool,
    /// Sign in with the managed identity of this host (IMDS).
    #[arg(long, visible_alias = "msi", conflicts_with = "service_principal")]
    identity: bool,
    /// The app id (with --service-principal), or the client id of a user-assigned identity (with --identity).
    #[arg(long, short = 'u')]
    username: Option<String>,
    /// The client secret (with --service-principal).
    #[arg(long, short = 'p')]
    password: Option<secrecy::SecretString>,
    /// The tenant (default: the local server's).
    #[arg(long, short = 't')]
    tenant: Option<String>,
    /// Accepted for az compatibility.
    #[arg(long, hide = true)]
    allow_no_subscriptions: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  keyhold account show\n  keyhold account show --query id -o tsv")]
pub struct AccountArgs {
    #[command(subcommand)]
    command: AccountCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// The signed-in account and its subscription.
    #[command(after_help = "Examples:\n  keyhold account show\n  keyhold account show --query user.name -o tsv")]
    Show,
    /// The subscriptions of the signed-in account (keyhold serves one).
    #[command(after_help = "Example:\n  keyhold account list -o table")]
    List,
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  keyhold logout")]
pub struct LogoutArgs {}

pub async fn login(args: LoginArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let server = args.conn.server()?;
    let tenant = match (&args.tenant, &server.tenant_id) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => bail!("--tenant is required when the server's data dir is not local"),
    };
    let login = if args.identity {
        let authority = match std::env::var("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
            Ok(a) if !a.is_empty() => a,
            _ => format!(
                "http://{}",
                server
                    .state
                    .as_ref()
                    .map(|s| s.mi_listen.clone())
                    .context("no managed-identity endpoint: set AZURE_POD_IDENTITY_AUTHORITY_HOST")?
            ),
        };
        // Proves the identity exists before it is saved, as az does.
        identity_token(&authority, args.username.as_deref(), &server.url)
            .await
            .context("Failed to connect to MSI. Please make sure MSI is configured correctly")?;
        Login::Identity {
            authority,
            client_id: args.username.clone(),
        }
    } else if args.service_principal {
        let (Some(app_id), Some(secret)) = (
            args.username.clone(),
            args.password
                .as_ref()
                .map(|p| secrecy::ExposeSecret::expose_secret(p).to_owned()),
        ) else {
            bail!("the following arguments are required: --username/-u, --password/-p");
        };
        Login::ServicePrincipal { app_id, secret }
    } else if let Some(admin) = args.conn.admin() {
        Login::ServicePrincipal {
            app_id: admin.app_id,
            secret: admin.password,
        }
    } else {
        bail!("interactive login is not supported: use --service-principal or --identity");
    };
    let mut profile = Profile {
        url: server.url,
        tenant_id: tenant,
        vault_resource: server.vault_resource,
        ca_file: server.ca_file,
        login,
        subscription_id: None,
    };
    // A new sign-in never reuses a cached token: the credential itself must work.
    let _ = std::fs::remove_file(config_dir().join("tokens.json"));
    let session = Session::new(profile.clone())?;
    session.token(&profile.url).await?;
    profile.subscription_id = session.subscription_id().await.ok();
    save_profile(&profile)?;
    let session = Session::new(profile)?;
    out.print(json!([account(&session)]))
}

pub fn logout(_: LogoutArgs) -> anyhow::Result<()> {
    let marker = Profile {
        url: String::new(),
        tenant_id: String::new(),
        vault_resource: String::new(),
        ca_file: Default::default(),
        login: Login::LoggedOut,
        subscription_id: None,
    };
    save_profile(&marker)?;
    let _ = std::fs::remove_file(config_dir().join("tokens.json"));
    Ok(())
}

pub async fn account_cmd(args: AccountArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let mut session = args.conn.session()?;
    if session.profile.subscription_id.is_none() {
        session.profile.subscription_id = session.subscription_id().await.ok();
    }
    match args.command {
        AccountCommand::Show => out.print(account(&session)),
        AccountCommand::List => out.print(json!([account(&session)])),
    }
}

/// az's account object.
fn account(s: &Session) -> Value {
    json!({
        "environmentName": "AzureCloud",
        "homeTenantId": s.profile.tenant_id,
        "id": s.profile.subscription_id,
        "isDefault": true,
        "managedByTenants": [],
        "name": "keyhold",
        "state": "Enabled",
        "tenantId": s.profile.tenant_id,
        "user": s.user(),
    })
}
