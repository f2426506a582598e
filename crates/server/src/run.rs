//! `keyhold serve`: bind, open the store, start serving (sealed), unseal when the seal allows it at
//! start, and stop cleanly.

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use keyhold_core::{CoreConfig, audit::AuditLog, seal};
use keyhold_crypto::UnsealKey;
use keyhold_store::{PostgresStore, SqliteStore, Store};
use secrecy::SecretString;
use tokio::{net::TcpListener, sync::watch};

use crate::{
    ServeError,
    files::{self, StateFile},
    listener,
    node::Node,
    tls,
};

/// Which seal protects a new instance. An initialised instance keeps the seal it was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealMode {
    /// `seal.key` in the data dir: unseals itself at start. A development convenience.
    Keyfile,
    /// Argon2id passphrase, given at start or through `keyhold operator unseal`.
    Passphrase,
    /// k-of-n shares from `keyhold operator init`, submitted with `keyhold operator unseal`.
    Shamir,
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub mi_listen: SocketAddr,
    pub dns_suffix: String,
    /// Lifetime of issued tokens. The SDKs refresh 5 minutes before expiry, so keep it well above that.
    pub token_lifetime_secs: i64,
    /// How long a device code (a person's sign-in on another device) stays good; Entra's is 900.
    pub device_code_lifetime_secs: i64,
    /// Tolerance for `nbf`/`exp` between machines' clocks.
    pub clock_skew_secs: i64,
    pub seal: SealMode,
    /// Unseals (or initialises) a passphrase seal at start.
    pub passphrase: Option<SecretString>,
    /// Where the audit log goes (default `<data-dir>/audit.log`).
    pub audit_log: Option<PathBuf>,
    /// The ARM id of the resource whose identities the managed-identity endpoints serve (default: the
    /// VM resource keyhold keeps for this host).
    pub host_resource: Option<String>,
    /// `postgres://` / `postgresql://` URL; `None` is the embedded SQLite file in the data dir.
    pub database: Option<String>,
    /// `https://host[:port]`: the service's public origin, the same on every node of one service. It
    /// fixes token `iss`, the management audience and the port of the vault audience. `None` is
    /// `https://localhost:<bound port>`.
    pub public_url: Option<String>,
    /// Timeouts and the connection cap of both listeners.
    pub limits: listener::Limits,
}

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ServeError {
    move |e| ServeError(format!("{what}: {e}"))
}

pub async fn run(config: ServeConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    files::create_data_dir(&config.data_dir)?;
    // One server per data dir: two would interleave the audit chain. Held until the process exits.
    let _dir_lock = files::lock_data_dir(&config.data_dir)?;
    let https = TcpListener::bind(config.listen).await.map_err(err("bind --listen"))?;
    let mi = TcpListener::bind(config.mi_listen)
        .await
        .map_err(err("bind --mi-listen"))?;
    let https_addr = https.local_addr().map_err(err("listen address"))?;
    let mi_addr = mi.local_addr().map_err(err("mi address"))?;
    let node_url = format!("https://localhost:{}", https_addr.port());
    let suffix = &config.dns_suffix;
    let (public_url, public_host, public_port) = match &config.public_url {
        Some(url) => public_origin(url)?,
        None => (node_url.clone(), "localhost".to_owned(), https_addr.port()),
    };
    let vault_resource = if public_port == 443 {
        format!("https://{suffix}")
    } else {
        format!("https://{suffix}:{public_port}")
    };

    let store = open_store(&config).await?;
    let tenant_id = keyhold_core::tenant_id(&*store).await.map_err(err("tenant"))?;

    // TLS material lives outside the seal, as it must to accept unseal requests.
    let ca = tls::load_or_create_ca(&config.data_dir)?;
    files::write_ca_bundle(&config.data_dir, &ca.cert_pem)?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".into(),
        "::1".into(),
        suffix.clone(),
        format!("*.{suffix}"),
    ];
    if !names.contains(&public_host) {
        names.push(public_host);
    }
    let leaf = ca.issue_leaf(&names).map_err(err("leaf certificate"))?;
    let tls = tls::server_config(&leaf.cert_pem, &leaf.key_pem)?;

    let core_config = CoreConfig {
        public_url: public_url.clone(),
        node_url: node_url.clone(),
        vault_resource: vault_resource.clone(),
        dns_suffix: suffix.clone(),
        token_lifetime_secs: config.token_lifetime_secs,
        device_code_lifetime_secs: config.device_code_lifetime_secs,
        // Entra rolls its signing keys every few weeks; so does keyhold.
        signing_key_max_age_secs: 30 * 86_400,
        clock_skew_secs: config.clock_skew_secs,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let audit_path = config
        .audit_log
        .clone()
        .unwrap_or_else(|| config.data_dir.join("audit.log"));
    let anchor_key = keyhold_core::audit::anchor_key(&audit_path);
    // The head the last run recorded: the start checks only what was appended after it.
    let head = store
        .meta(&anchor_key)
        .await
        .ok()
        .flatten()
        .and_then(|a| serde_json::from_slice::<keyhold_core::audit::Anchor>(&a).ok());
    let audit = Arc::new(AuditLog::open_after(&audit_path, head.as_ref()).map_err(err("audit log"))?);
    let sync_task = tokio::spawn(sync_audit(
        audit.clone(),
        store.clone(),
        audit_path.clone(),
        anchor_key,
        head,
        stop_rx.clone(),
    ));
    let node = Node::new(
        store.clone(),
        audit,
        core_config,
        config.data_dir.clone(),
        mi_addr,
        config.host_resource.clone(),
        stop_rx.clone(),
    );
    let https_task = tokio::spawn(listener::serve(
        https,
        Some(tls),
        node.https_router(),
        config.limits,
        stop_rx.clone(),
    ));
    let mi_task = tokio::spawn(listener::serve(
        mi,
        None,
        node.mi_router(),
        config.limits,
        stop_rx.clone(),
    ));

    let seal_note = unseal_at_start(&node, &config).await?;

    let state_file = StateFile {
        pid: std::process::id(),
        listen: https_addr.to_string(),
        mi_listen: mi_addr.to_string(),
        url: public_url,
        node_url,
        tenant_id,
        dns_suffix: suffix.clone(),
        vault_resource,
    };
    let json = serde_json::to_vec_pretty(&state_file).map_err(err("state.json"))?;
    // 0600 like every file of the data dir: only the server's user reads it.
    files::write_atomic(&config.data_dir.join("state.json"), &json, 0o600)?;
    node.started.store(true, std::sync::atomic::Ordering::Release);
    banner(&config, &state_file, &seal_note, node.is_sealed());

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(https_task, mi_task, sync_task);
    Ok(())
}

/// `https://host[:port]` without path, query or credentials, normalised (lower case, no trailing
/// slash, no `:443`), and its port.
fn public_origin(raw: &str) -> Result<(String, String, u16), ServeError> {
    let bad = |why: &str| ServeError(format!("--public-url {raw}: {why}"));
    let url = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "https" {
        return Err(bad("must be an https:// URL"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("must be an origin only: https://host[:port]"));
    }
    let host = url.host_str().ok_or_else(|| bad("has no host"))?.to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(443);
    let origin = if port == 443 {
        format!("https://{host}")
    } else {
        format!("https://{host}:{port}")
    };
    Ok((origin, host, port))
}

/// The backend named by `--database`'s URL scheme, else SQLite in the data dir.
async fn open_store(config: &ServeConfig) -> Result<Arc<dyn Store>, ServeError> {
    let Some(url) = config.database.as_deref() else {
        let path = config.data_dir.join("keyhold.db");
        return Ok(Arc::new(SqliteStore::open(&path).map_err(err("open database"))?));
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url).await.map_err(err("connect to database"))?;
        return Ok(Arc::new(store));
    }
    // Not the URL itself: it may hold a password.
    Err(ServeError(
        "--database: expected a postgres:// or postgresql:// URL".into(),
    ))
}

/// fsyncs the audit log once a second, and a last time at shutdown, and records the durable head in
/// the store (the anchor `audit verify` checks, so that truncating the log shows). Before its first
/// anchor replaces the one an earlier run left, it checks that the log still holds that one: a log cut
/// or rewritten while keyhold was stopped gets a keyed `AuditLogDiscontinuity` record saying so, rather
/// than a new anchor that would hide it. When the start resumed at that anchor (checking only what
/// followed it), the rest of the log is read here, in the background, and a break found gets a keyed
/// `AuditLogBroken` record (and `keyhold audit verify` names the line).
async fn sync_audit(
    log: Arc<AuditLog>,
    store: Arc<dyn Store>,
    path: PathBuf,
    anchor_key: String,
    previous: Option<keyhold_core::audit::Anchor>,
    mut stop: watch::Receiver<bool>,
) {
    // The anchor read at start is still the store's: only this server (holding the log's lock)
    // writes it.
    let mut previous = previous;
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => false,
            _ = stop.changed() => true,
        };
        match log.sync() {
            Ok(Some(mut anchor)) => {
                if let Some(previous) = previous.take()
                    && let Some(newer) = check_continuity(&log, &path, &previous).await
                {
                    anchor = newer;
                }
                match serde_json::to_vec(&anchor) {
                    Ok(json) => {
                        if let Err(e) = store.put_meta(&anchor_key, &json).await {
                            tracing::warn!(error = %e, "could not record the audit log's anchor");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "audit anchor"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "audit log fsync failed"),
        }
        if stopping {
            return;
        }
    }
}

/// Records a discontinuity if the log no longer holds the anchor an earlier run recorded; returns the
/// head that includes that record.
async fn check_continuity(
    log: &AuditLog,
    path: &std::path::Path,
    previous: &keyhold_core::audit::Anchor,
) -> Option<keyhold_core::audit::Anchor> {
    use keyhold_core::audit::{holds, holds_at_hint};
    if !log.authentic(previous) {
        return None;
    }
    if holds_at_hint(path, previous) {
        // The start resumed after this anchor without reading what came before it: read it now, off
        // the request path, and leave a keyed record if it is broken.
        let scan_path = path.to_owned();
        let scan = tokio::task::spawn_blocking(move || keyhold_core::audit::verify_prefix(&scan_path)).await;
        if let Ok(Err(e)) = scan {
            tracing::error!(error = %e, "AUDIT LOG BROKEN before the head this start resumed from");
            return record(log, keyhold_core::audit::BROKEN, e.to_string());
        }
        return None;
    }
    let (scan_path, scan_anchor) = (path.to_owned(), previous.clone());
    let held = tokio::task::spawn_blocking(move || holds(&scan_path, &scan_anchor))
        .await
        .ok()?
        .ok()?;
    if held {
        return None;
    }
    tracing::error!(
        seq = previous.seq,
        "AUDIT LOG DISCONTINUITY: the log no longer holds the record the store's anchor names"
    );
    record(
        log,
        keyhold_core::audit::DISCONTINUITY,
        format!(
            "the log no longer holds record {} (hash {}) that the previous run anchored: it was cut or rewritten while keyhold was stopped",
            previous.seq, previous.hash
        ),
    )
}

/// Appends a finding about the log to the log itself, and returns the head that includes it.
fn record(log: &AuditLog, operation: &str, detail: String) -> Option<keyhold_core::audit::Anchor> {
    let now = time::OffsetDateTime::now_utc();
    let entry = keyhold_core::audit::AuditEntry {
        time: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        request_id: keyhold_crypto::random::guid(),
        operation: operation.into(),
        detail: Some(detail),
        ..Default::default()
    };
    log.append(entry, now.unix_timestamp()).ok()?;
    log.sync().ok()?
}

/// Unseals now if the seal allows it; returns a line for the banner.
async fn unseal_at_start(node: &Node, config: &ServeConfig) -> Result<String, ServeError> {
    let store = &*node.store;
    let key_file = config.data_dir.join("seal.key");
    match seal::info(store).await.map_err(err("seal"))? {
        None => match (config.seal, &config.passphrase) {
            (SealMode::Keyfile, _) => {
                let key = UnsealKey::load_or_create_file(&key_file).map_err(err("seal"))?;
                node.unlock(seal::init_keyfile(store, &key).await.map_err(err("seal"))?)
                    .await?;
            }
            (SealMode::Passphrase, Some(pass)) => {
                node.unlock(seal::init_passphrase(store, pass).await.map_err(err("seal"))?)
                    .await?;
            }
            (SealMode::Passphrase, None) => {
                return Ok("not initialised: run `keyhold operator init --passphrase-file FILE`".into());
            }
            (SealMode::Shamir, _) => {
                return Ok("not initialised: run `keyhold operator init --shares N --threshold K`".into());
            }
        },
        Some(seal::SealInfo::Keyfile) => {
            if !key_file.exists() {
                return Err(ServeError(format!(
                    "{} is missing: this data dir uses the key-file seal",
                    key_file.display()
                )));
            }
            let key = UnsealKey::load_or_create_file(&key_file).map_err(err("seal"))?;
            node.unlock(seal::unseal(store, &key).await.map_err(err("seal.key"))?)
                .await?;
        }
        Some(seal::SealInfo::Passphrase { params }) => {
            let Some(pass) = config.passphrase.clone() else {
                return Ok("sealed (passphrase): run `keyhold operator unseal --passphrase-file FILE`".into());
            };
            let key = tokio::task::spawn_blocking(move || UnsealKey::from_passphrase(&pass, &params))
                .await
                .map_err(err("passphrase"))?
                .map_err(err("passphrase"))?;
            match seal::unseal(store, &key).await {
                Ok(root) => node.unlock(root).await?,
                Err(e) => {
                    tracing::error!(error = %e, "the configured passphrase does not unseal this keyhold");
                    return Ok("sealed: the configured passphrase is wrong; use `keyhold operator unseal`".into());
                }
            }
        }
        Some(seal::SealInfo::Shamir { threshold, shares }) => {
            return Ok(format!(
                "sealed (shamir, {threshold} of {shares}): run `keyhold operator unseal` with {threshold} shares"
            ));
        }
    }
    Ok(match config.seal {
        SealMode::Keyfile => format!(
            "key file {}: a development convenience, anyone who can read the data dir can unseal",
            key_file.display()
        ),
        _ => "unsealed".into(),
    })
}

fn banner(config: &ServeConfig, s: &StateFile, seal: &str, sealed: bool) {
    let dir = config.data_dir.display();
    eprintln!(
        "keyhold is running{sealed}\n  \
         identity provider + admin API  {url}\n  \
         vaults                         https://<vault>.{suffix}:{port}\n  \
         managed identity endpoint      http://{mi}\n  \
         tenant                         {tenant}\n  \
         data dir                       {dir}  (CA: {dir}/ca.pem, admin credentials: {dir}/admin.json)\n  \
         seal                           {seal}\n\
         Point the Azure SDKs at it:  eval \"$(keyhold env --data-dir {dir} --service-principal)\"",
        sealed = if sealed {
            " (SEALED: everything but the sys API answers 503)"
        } else {
            ""
        },
        url = s.url,
        suffix = s.dns_suffix,
        port = s.listen.rsplit(':').next().unwrap_or(""),
        mi = s.mi_listen,
        tenant = s.tenant_id,
    );
}

#[cfg(test)]
mod tests {
    use super::public_origin;

    #[test]
    fn public_url_is_an_https_origin() {
        let ok = |raw: &str| public_origin(raw).map_err(|e| e.0);
        assert_eq!(
            ok("https://Keyhold.Example.com:9443/"),
            Ok((
                "https://keyhold.example.com:9443".into(),
                "keyhold.example.com".into(),
                9443
            ))
        );
        assert_eq!(
            ok("https://keyhold.example.com:443"),
            Ok(("https://keyhold.example.com".into(), "keyhold.example.com".into(), 443))
        );
        for bad in [
            "http://localhost:8443",
            "https://localhost:8443/tenant",
            "https://u:p@localhost",
            "localhost",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }
}
