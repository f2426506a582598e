//! `keyhold agent`: the managed-identity endpoints of another host. It enrols once with a join token
//! (generating its own key; the server keeps only the public half), then serves IMDS, App Service, the
//! 2017 protocol and the legacy POST for its resource's identities, getting each token from the server
//! with a fresh one-use assertion and caching it like IMDS does.

use std::{
    collections::HashMap,
    net::SocketAddr,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use anyhow::Context;
use clap::{Args, Subcommand};
use keyhold_core::identity::{AgentAssertion, IdentitySelector};
use keyhold_crypto::jwt::AgentKey;
use keyhold_server::{MiError, MiToken, TokenSource};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{DataDir, rest::Rest};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: Option<AgentCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Join tokens that enrol an agent for one resource (admin).
    #[command(subcommand)]
    JoinToken(JoinTokenCommand),
}

#[derive(Debug, Subcommand)]
enum JoinTokenCommand {
    /// A one-time, short-lived token enrolling an agent for `--resource-id`.
    #[command(
        after_help = "Example:\n  keyhold agent join-token create --resource-id /subscriptions/<sub>/resourceGroups/myRG/providers/Microsoft.Compute/virtualMachines/myVM"
    )]
    Create {
        #[arg(long)]
        resource_id: String,
        /// Lifetime in seconds (1 to 86400).
        #[arg(long, default_value_t = 900)]
        ttl: i64,
        #[command(flatten)]
        data_dir: DataDir,
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The keyhold server, e.g. https://keyhold.example:8443.
    #[arg(long, env = "KEYHOLD_SERVER")]
    server: Option<String>,
    /// Join token from `keyhold agent join-token create` (first start only).
    #[arg(long, env = "KEYHOLD_JOIN_TOKEN", hide_env_values = true)]
    join_token: Option<secrecy::SecretString>,
    /// Where the agent keeps its identity and key (0600).
    #[arg(long, default_value = "./keyhold-agent")]
    state_dir: PathBuf,
    /// The server's CA certificate (PEM).
    #[arg(long, env = "KEYHOLD_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Every managed-identity protocol (IDENTITY_ENDPOINT is http://<this>/msi/token).
    #[arg(long, default_value = "127.0.0.1:8481")]
    listen: SocketAddr,
    /// Also IMDS at this address, e.g. 169.254.169.254:80 (the address must be on the host).
    #[arg(long)]
    imds_listen: Option<SocketAddr>,
    /// Also the legacy VM-extension endpoint, e.g. 127.0.0.1:50342.
    #[arg(long)]
    legacy_listen: Option<SocketAddr>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentState {
    agent_id: String,
    server: String,
    resource_id: String,
    identity_header: String,
}

pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AgentCommand::JoinToken(JoinTokenCommand::Create {
            resource_id,
            ttl,
            data_dir,
            url,
        })) => {
            let rest = Rest::for_data_dir(&data_dir.path, url.as_deref())?
                .with_admin_token()
                .await?;
            let out = rest
                .post(
                    "/keyhold/v1/agents/joinTokens",
                    &json!({"resourceId": resource_id, "ttlSeconds": ttl}),
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        None => serve(args.run).await,
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

async fn serve(args: RunArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let ca_file = args
        .ca_file
        .clone()
        .or_else(|| std::env::var_os("SSL_CERT_FILE").map(PathBuf::from))
        .context("--ca-file is required")?;
    std::fs::create_dir_all(&args.state_dir)?;
    let (state_path, key_path) = (args.state_dir.join("agent.json"), args.state_dir.join("agent.key"));
    let (state, key) = if state_path.exists() {
        let state: AgentState = serde_json::from_slice(&std::fs::read(&state_path)?)?;
        let key = AgentKey::from_pkcs8(&std::fs::read(&key_path)?).map_err(|e| anyhow::anyhow!("agent key: {e}"))?;
        (state, key)
    } else {
        let server = args.server.clone().context("--server is required to enrol")?;
        let join = args
            .join_token
            .as_ref()
            .map(|t| secrecy::ExposeSecret::expose_secret(t).to_owned())
            .context("--join-token is required the first time")?;
        let key = AgentKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
        let rest = Rest::with_ca(&server, &ca_file)?;
        let enrolled = rest
            .post(
                "/keyhold/v1/agents/enroll",
                &json!({"joinToken": join, "publicKey": key.public_point()}),
            )
            .await
            .context("enrolment refused")?;
        let state = AgentState {
            agent_id: enrolled["agentId"].as_str().context("no agentId")?.to_owned(),
            server: server.trim_end_matches('/').to_owned(),
            resource_id: enrolled["resourceId"].as_str().context("no resourceId")?.to_owned(),
            identity_header: keyhold_crypto::random::token(24)?,
        };
        write_private(&key_path, key.pkcs8())?;
        write_private(&state_path, &serde_json::to_vec_pretty(&state)?)?;
        (state, key)
    };
    let source = Arc::new(RemoteTokens {
        rest: Rest::with_ca(&state.server, &ca_file)?,
        agent_id: state.agent_id.clone(),
        audience: format!("{}{}", state.server, keyhold_server::agent_token_path()),
        key,
        cache: Mutex::new(HashMap::new()),
    });
    let router = keyhold_server::protocol_routes(source, SecretString::from(state.identity_header.clone()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for addr in [Some(args.listen), args.imds_listen, args.legacy_listen]
        .into_iter()
        .flatten()
    {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("bind {addr}"))?;
        tasks.push(tokio::spawn(keyhold_server::serve_listener(
            listener,
            None,
            router.clone(),
            keyhold_server::Limits::default(),
            stop_rx.clone(),
        )));
    }
    eprintln!(
        "keyhold agent {} serving the identities of {}\n  export IDENTITY_ENDPOINT='http://{}/msi/token' IDENTITY_HEADER='{}' AZURE_POD_IDENTITY_AUTHORITY_HOST='http://{}'",
        state.agent_id, state.resource_id, args.listen, state.identity_header, args.listen
    );
    super::serve::shutdown_signal().await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// Tokens from the server, signed for with the agent's key, cached until ten minutes before expiry.
struct RemoteTokens {
    rest: Rest,
    agent_id: String,
    audience: String,
    key: AgentKey,
    cache: Mutex<HashMap<(String, String), MiToken>>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[async_trait::async_trait]
impl TokenSource for RemoteTokens {
    async fn token(&self, selector: &IdentitySelector, audience: &str) -> Result<MiToken, MiError> {
        let key = (format!("{selector:?}"), audience.to_owned());
        let now = unix_now();
        if let Some(t) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .filter(|t| t.expires_on - now > 600)
            .cloned()
        {
            return Ok(t);
        }
        let claims = AgentAssertion {
            iss: self.agent_id.clone(),
            sub: self.agent_id.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + 120,
            jti: keyhold_crypto::random::guid(),
        };
        let assertion = self
            .key
            .sign(&self.agent_id, &claims)
            .map_err(|e| MiError::BadRequest(e.to_string()))?;
        let mut body = json!({"assertion": assertion, "resource": audience});
        match selector {
            IdentitySelector::SystemAssigned => {}
            IdentitySelector::ClientId(c) => body["client_id"] = json!(c),
            IdentitySelector::ObjectId(o) => body["object_id"] = json!(o),
            IdentitySelector::ResourceId(r) => body["msi_res_id"] = json!(r),
        }
        let (status, answer) = self
            .rest
            .post_raw(keyhold_server::agent_token_path(), &body)
            .await
            .map_err(|e| MiError::Upstream(e.to_string()))?;
        let describe = |v: &Value| {
            v["error_description"]
                .as_str()
                .unwrap_or("the server refused")
                .to_owned()
        };
        match status {
            200 => {}
            400 => return Err(MiError::BadRequest(describe(&answer))),
            401 | 403 => return Err(MiError::Unauthorized(describe(&answer))),
            _ => {
                return Err(MiError::Upstream(format!(
                    "server answered {status}: {}",
                    describe(&answer)
                )));
            }
        }
        let field = |k: &str| {
            answer[k]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| MiError::Upstream(format!("no {k} in the server's answer")))
        };
        let token = MiToken {
            access_token: field("access_token")?,
            object_id: field("object_id")?,
            client_id: field("client_id")?,
            expires_on: answer["expires_on"].as_i64().unwrap_or(now),
            not_before: answer["not_before"].as_i64().unwrap_or(now),
            resource: field("resource")?,
        };
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, token.clone());
        Ok(token)
    }
}
