//! `keyhold login`, `keyhold logout`, `keyhold account show`. A person signs in as with az (the
//! flows are `signin`'s); a service principal, a managed identity or the local admin as before.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{
    output::OutputArgs,
    rest,
    session::{
        Conn, Login, Profile, Session, config_dir, identity_token, lock_profile, save_profile, saved_profile,
        update_profile,
    },
    signin,
};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  keyhold login --url https://keyhold.example:8443 --ca-file ca.pem
  keyhold login --use-device-code
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
    /// Sign a person in with a code entered at the server's /devicelogin page, instead of the browser.
    #[arg(long, conflicts_with_all = ["service_principal", "identity"])]
    use_device_code: bool,
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
    // Plain `login` where the data dir's admin.json is readable stays the admin's, as before.
    let person = !args.identity && !args.service_principal && (args.use_device_code || args.conn.admin().is_none());
    if person {
        return user_login(args, server, out).await;
    }
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
        bail!("no sign-in method: use --service-principal, --identity or --use-device-code");
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
    {
        let _lock = lock_profile()?;
        revoke_saved_person().await;
        save_profile(&profile)?;
    }
    let session = Session::new(profile)?;
    out.print(json!([account(&session)]))
}

/// A person signs in (browser, or `--use-device-code`) for the management plane; the profile keeps
/// their refresh token, and the management token goes into the cache.
async fn user_login(args: LoginArgs, server: super::session::ServerInfo, out: &OutputArgs) -> anyhow::Result<()> {
    if args.username.is_some() || args.password.is_some() {
        bail!(
            "a person signs in through the browser or with --use-device-code; --username/--password are for --service-principal"
        );
    }
    // az's default authority for people; the tokens name keyhold's one tenant.
    let tenant = args
        .tenant
        .clone()
        .or(server.tenant_id.clone())
        .unwrap_or_else(|| "organizations".into());
    let http = rest::client(&server.ca_file, None)?;
    let grant = if args.use_device_code {
        signin::device_code(&http, &server.url, &tenant, &server.url).await?
    } else {
        signin::browser(&http, &server.url, &tenant, &server.url).await?
    };
    let claims = grant.claims()?;
    let claim = |name: &str| {
        claims[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the access token has no {name}"))
    };
    let mut profile = Profile {
        url: server.url,
        tenant_id: claim("tid")?,
        vault_resource: server.vault_resource,
        ca_file: server.ca_file,
        login: Login::User {
            user_principal_name: claim("upn")?,
            object_id: claim("oid")?,
            refresh_token: grant.refresh_token.clone(),
        },
        subscription_id: None,
    };
    {
        let _lock = lock_profile()?;
        revoke_saved_person().await;
        save_profile(&profile)?;
    }
    let session = Session::new(profile.clone())?;
    session.cache_token(&profile.url, &grant.access_token, grant.expires_in);
    profile.subscription_id = session.subscription_id().await.ok();
    update_profile(|p| p.subscription_id.clone_from(&profile.subscription_id))?;
    let session = Session::new(profile)?;
    out.print(json!([account(&session)]))
}

/// Forgets the profile and its tokens; a person's refresh token is revoked at the server first
/// (a server that cannot be reached is warned about: the local sign-out happens regardless).
pub async fn logout(_: LogoutArgs) -> anyhow::Result<()> {
    let _lock = lock_profile()?;
    revoke_saved_person().await;
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

/// Revokes the refresh token of the person saved in the profile, if one is, before it is replaced
/// or cleared (the caller holds the profile lock). An unreachable server only costs a warning.
async fn revoke_saved_person() {
    let Some(profile) = saved_profile() else { return };
    let Login::User { refresh_token, .. } = &profile.login else {
        return;
    };
    let revoked = match rest::client(&profile.ca_file, None) {
        Ok(http) => signin::revoke(&http, &profile.url, &profile.tenant_id, refresh_token).await,
        Err(e) => Err(e),
    };
    if let Err(e) = revoked {
        eprintln!("WARNING: the refresh token could not be revoked at the server: {e:#}");
    }
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
