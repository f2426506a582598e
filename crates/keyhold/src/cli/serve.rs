//! `keyhold serve`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use keyhold_server::{SealMode, ServeConfig};

use super::DataDir;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    data_dir: DataDir,
    /// HTTPS listener for vaults, the identity provider and the admin API (port 0 picks a free port).
    #[arg(long, env = "KEYHOLD_LISTEN", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Plain-HTTP listener for the managed-identity endpoints of this host.
    #[arg(long, env = "KEYHOLD_MI_LISTEN", default_value = "127.0.0.1:8480")]
    mi_listen: SocketAddr,
    /// Vault `v` is served at `https://v.<suffix>:<port>`.
    #[arg(long, env = "KEYHOLD_DNS_SUFFIX", default_value = "vault.localhost")]
    dns_suffix: String,
    /// Lifetime of issued access tokens, in seconds. The SDKs refresh 5 minutes before expiry.
    #[arg(long, env = "KEYHOLD_TOKEN_LIFETIME_SECS", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(1..=86_400))]
    token_lifetime_secs: i64,
    /// How long a device code waits for its person to sign in, in seconds (Entra's 15 minutes).
    #[arg(long, env = "KEYHOLD_DEVICE_CODE_LIFETIME_SECS", default_value_t = 900, value_parser = clap::value_parser!(i64).range(1..=900))]
    device_code_lifetime_secs: i64,
    /// Accepted clock difference when checking `nbf`/`exp`, in seconds.
    #[arg(long, env = "KEYHOLD_CLOCK_SKEW_SECS", default_value_t = 60, value_parser = clap::value_parser!(i64).range(0..=600))]
    clock_skew_secs: i64,
    /// The seal of a new instance: `keyfile` (development default), `passphrase` or `shamir`.
    #[arg(long, env = "KEYHOLD_SEAL", default_value = "keyfile", value_parser = ["keyfile", "passphrase", "shamir"])]
    seal: String,
    /// Read the seal passphrase from this file at start (unseals, or initialises a new instance).
    #[arg(long, env = "KEYHOLD_SEAL_PASSPHRASE_FILE")]
    seal_passphrase_file: Option<std::path::PathBuf>,
    /// The audit log (one hash-chained JSON line per operation). Default: `<data-dir>/audit.log`.
    #[arg(long, env = "KEYHOLD_AUDIT_LOG")]
    audit_log: Option<std::path::PathBuf>,
    /// PostgreSQL URL (`postgres://user[:password]@host[:port]/db`, no TLS) to keep state in instead
    /// of the embedded SQLite file in the data dir, which keeps its other files (seal, CA, state).
    #[arg(long, env = "KEYHOLD_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// Serve the managed identities of this ARM resource (a VM or web app id) instead of those of the VM
    /// resource keyhold creates for this host.
    #[arg(long, env = "KEYHOLD_HOST_RESOURCE")]
    host_resource: Option<String>,
    /// The service's public origin, `https://host[:port]` (default `https://localhost:<listen port>`).
    /// Token issuer, management audience and the vault audience's port derive from it, so every node
    /// of one service (several `serve` on one PostgreSQL) must be given the same value.
    #[arg(long, env = "KEYHOLD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Seconds a client has to finish the TLS handshake and each request head (and, on HTTP/1, to
    /// send the next request of a kept-alive connection) before it is disconnected.
    #[arg(long, env = "KEYHOLD_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=30))]
    header_read_timeout_secs: u64,
    /// Seconds between HTTP/2 keep-alive pings; a connection that does not answer is closed.
    #[arg(long, env = "KEYHOLD_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout_secs: u64,
    /// Open connections per listener; more are closed at once (and logged).
    #[arg(long, env = "KEYHOLD_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYHOLD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let suffix = args.dns_suffix.trim().trim_matches('.').to_ascii_lowercase();
    anyhow::ensure!(
        suffix.contains('.') || suffix == "localhost",
        "--dns-suffix must be a domain such as vault.localhost"
    );
    let passphrase = match &args.seal_passphrase_file {
        Some(path) => Some(secrecy::SecretString::from(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
        )),
        None => None,
    };
    let seal = match args.seal.as_str() {
        "passphrase" => SealMode::Passphrase,
        "shamir" => SealMode::Shamir,
        _ => SealMode::Keyfile,
    };
    let config = ServeConfig {
        data_dir: args.data_dir.path,
        listen: args.listen,
        mi_listen: args.mi_listen,
        dns_suffix: suffix,
        token_lifetime_secs: args.token_lifetime_secs,
        device_code_lifetime_secs: args.device_code_lifetime_secs,
        clock_skew_secs: args.clock_skew_secs,
        seal,
        passphrase,
        audit_log: args.audit_log,
        database: args.database,
        host_resource: args.host_resource,
        public_url: args.public_url,
        limits: keyhold_server::Limits {
            header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_secs),
            idle_timeout: std::time::Duration::from_secs(args.idle_timeout_secs),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        },
    };
    keyhold_server::run(config, shutdown_signal())
        .await
        .context("keyhold serve")
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
