//! `keyhold serve`: bind, unlock, write the data-dir files, serve until told to stop.

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use keyhold_core::{Bootstrap, CoreConfig, clock::SystemClock};
use keyhold_crypto::KeyFileSeal;
use keyhold_store::{PostgresStore, SqliteStore, Store};
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, sync::watch};

use crate::{
    AppState, MiState, ServeError, app,
    files::{self, AdminFile, MiFile, StateFile},
    listener, tls,
};

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub mi_listen: SocketAddr,
    pub dns_suffix: String,
    /// Lifetime of issued tokens. The SDKs refresh 5 minutes before expiry, so keep it well above that.
    pub token_lifetime_secs: i64,
    /// Tolerance for `nbf`/`exp` between machines' clocks.
    pub clock_skew_secs: i64,
    /// `postgres://` / `postgresql://` URL; `None` is the embedded SQLite file in the data dir.
    pub database: Option<String>,
}

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ServeError {
    move |e| ServeError(format!("{what}: {e}"))
}

pub async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    files::create_data_dir(&config.data_dir)?;
    let https = TcpListener::bind(config.listen)
        .await
        .map_err(err("bind --listen"))?;
    let mi = TcpListener::bind(config.mi_listen)
        .await
        .map_err(err("bind --mi-listen"))?;
    let https_addr = https.local_addr().map_err(err("listen address"))?;
    let mi_addr = mi.local_addr().map_err(err("mi address"))?;
    let port = https_addr.port();
    let public_url = format!("https://localhost:{port}");
    let vault_resource = if port == 443 {
        format!("https://{}", config.dns_suffix)
    } else {
        format!("https://{}:{port}", config.dns_suffix)
    };

    let store = open_store(&config).await?;
    let seal =
        KeyFileSeal::load_or_create(&config.data_dir.join("seal.key")).map_err(err("seal"))?;
    let core_config = CoreConfig {
        public_url: public_url.clone(),
        vault_resource: vault_resource.clone(),
        dns_suffix: config.dns_suffix.clone(),
        token_lifetime_secs: config.token_lifetime_secs,
        clock_skew_secs: config.clock_skew_secs,
    };
    let boot = Bootstrap::open(store, &seal, Arc::new(SystemClock), core_config)
        .await
        .map_err(err("bootstrap"))?;
    drop(seal);

    files::write_ca_bundle(&config.data_dir, &boot.ca.cert_pem)?;
    if let Some(admin) = &boot.admin {
        let file = AdminFile {
            app_id: admin.app_id.clone(),
            display_name: admin.display_name.clone(),
            password: admin.password.expose_secret().to_owned(),
            tenant: admin.tenant.clone(),
            object_id: admin.object_id.clone(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(err("admin.json"))?;
        files::write_atomic(&config.data_dir.join("admin.json"), &json, 0o600)?;
    }
    let suffix = &config.dns_suffix;
    let names = [
        "localhost".to_owned(),
        "127.0.0.1".into(),
        "::1".into(),
        suffix.clone(),
        format!("*.{suffix}"),
    ];
    let leaf = boot
        .ca
        .issue_leaf(&names)
        .map_err(err("leaf certificate"))?;
    let tls = tls::server_config(&leaf.cert_pem, &leaf.key_pem)?;

    let host_name = fs_host_name();
    let host = boot
        .core
        .identity
        .host_identity(&host_name)
        .await
        .map_err(err("host identity"))?;
    let header = boot
        .core
        .identity
        .identity_header()
        .await
        .map_err(err("identity header"))?;
    let mi_file = MiFile {
        identity_endpoint: format!("http://{mi_addr}{}", crate::routes::mi::APP_SERVICE_PATH),
        identity_header: header.clone(),
        imds_authority: format!("http://{mi_addr}"),
        client_id: host.client_id.clone(),
        object_id: host.object_id.clone(),
        resource_id: host.resource_id.clone(),
    };
    let json = serde_json::to_vec_pretty(&mi_file).map_err(err("mi.json"))?;
    files::write_atomic(&config.data_dir.join("mi.json"), &json, 0o600)?;
    let state = AppState {
        core: boot.core.clone(),
        mi: Arc::new(MiState {
            host,
            header: header.into(),
        }),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let https_task = tokio::spawn(listener::serve(
        https,
        Some(tls),
        app(state.clone()),
        stop_rx.clone(),
    ));
    let mi_task = tokio::spawn(listener::serve(
        mi,
        None,
        crate::routes::mi_router(state.clone()),
        stop_rx.clone(),
    ));
    let purge_task = tokio::spawn(purge_loop(state.clone(), stop_rx.clone()));

    let state_file = StateFile {
        pid: std::process::id(),
        listen: https_addr.to_string(),
        mi_listen: mi_addr.to_string(),
        url: public_url.clone(),
        tenant_id: boot.core.tenant_id.clone(),
        dns_suffix: config.dns_suffix.clone(),
        vault_resource,
    };
    let json = serde_json::to_vec_pretty(&state_file).map_err(err("state.json"))?;
    files::write_atomic(&config.data_dir.join("state.json"), &json, 0o644)?;
    banner(&config, &state_file);

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(https_task, mi_task, purge_task);
    Ok(())
}

/// The backend named by `--database`'s URL scheme, else SQLite in the data dir.
async fn open_store(config: &ServeConfig) -> Result<Arc<dyn Store>, ServeError> {
    let Some(url) = config.database.as_deref() else {
        let path = config.data_dir.join("keyhold.db");
        return Ok(Arc::new(
            SqliteStore::open(&path).map_err(err("open database"))?,
        ));
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url)
            .await
            .map_err(err("connect to database"))?;
        return Ok(Arc::new(store));
    }
    // Not the URL itself: it may hold a password.
    Err(ServeError(
        "--database: expected a postgres:// or postgresql:// URL".into(),
    ))
}

/// This machine's name, for the host resource (`.../virtualMachines/<name>`).
fn fs_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| "keyhold-host".into())
}

/// Removes soft-deleted secrets whose retention has ended, once a minute.
async fn purge_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        match state.core.secrets.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "purged expired deleted secrets"),
            Err(e) => tracing::warn!(error = %e, "purge run failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
    }
}

fn banner(config: &ServeConfig, s: &StateFile) {
    let dir = config.data_dir.display();
    eprintln!(
        "keyhold is running\n  \
         identity provider + admin API  {url}\n  \
         vaults                         https://<vault>.{suffix}:{port}\n  \
         managed identity endpoint      http://{mi}\n  \
         tenant                         {tenant}\n  \
         data dir                       {dir}  (CA: {dir}/ca.pem, admin credentials: {dir}/admin.json)\n  \
         seal                           key file {dir}/seal.key — a development convenience: anyone who can read the data dir can unseal\n\
         Point the Azure SDKs at it:  eval \"$(keyhold env --data-dir {dir} --service-principal)\"",
        url = s.url,
        suffix = s.dns_suffix,
        port = s.listen.rsplit(':').next().unwrap_or(""),
        mi = s.mi_listen,
        tenant = s.tenant_id,
    );
}
