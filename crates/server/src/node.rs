//! A node's life: sealed until its root key is recovered, then serving. While sealed, every request but
//! the sys API gets 503 with a body that says what to do; nothing else is reachable because the routers
//! that could serve it do not exist yet.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use keyhold_core::{Bootstrap, CoreConfig, audit::AuditLog, clock::SystemClock, identity::IdentitySelector};
use keyhold_crypto::RootKey;
use keyhold_proto::{admin::Health, error::ErrorBody};
use keyhold_store::Store;
use secrecy::ExposeSecret;
use tokio::sync::{Mutex, OnceCell, watch};
use tower::ServiceExt;

use crate::{
    AppState, MiState, ServeError, app,
    files::{self, AdminFile, MiFile},
    jobs::{self, Jobs, Leading},
    routes, sys,
};

pub(crate) struct Node {
    pub store: Arc<dyn Store>,
    pub audit: Arc<AuditLog>,
    pub core_config: CoreConfig,
    pub data_dir: PathBuf,
    pub mi_addr: SocketAddr,
    /// `--host-resource`: whose identities the managed-identity endpoints serve (default: this host's VM).
    pub host_resource: Option<String>,
    /// Unsealing through the sys API: Shamir shares so far (never written anywhere), the one key
    /// derivation slot, wrong attempts per source.
    pub unsealer: keyhold_core::seal::Unsealer,
    /// Background jobs this node leads.
    pub leading: Arc<Leading>,
    ready: OnceCell<Ready>,
    /// Set once start-up has written `state.json` (and, when unsealed, `admin.json` and `mi.json`).
    pub started: std::sync::atomic::AtomicBool,
    unlocking: Mutex<()>,
    stop: watch::Receiver<bool>,
}

struct Ready {
    https: Router,
    mi: Router,
}

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ServeError {
    move |e| ServeError(format!("{what}: {e}"))
}

impl Node {
    pub fn new(
        store: Arc<dyn Store>,
        audit: Arc<AuditLog>,
        core_config: CoreConfig,
        data_dir: PathBuf,
        mi_addr: SocketAddr,
        host_resource: Option<String>,
        stop: watch::Receiver<bool>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            audit,
            core_config,
            data_dir,
            mi_addr,
            host_resource,
            unsealer: Default::default(),
            leading: Arc::default(),
            ready: OnceCell::new(),
            started: std::sync::atomic::AtomicBool::new(false),
            unlocking: Mutex::new(()),
            stop,
        })
    }

    pub fn is_sealed(&self) -> bool {
        !self.ready.initialized()
    }

    /// Opens the domain with the recovered root key and starts serving. Idempotent.
    pub async fn unlock(&self, root: RootKey) -> Result<(), ServeError> {
        let _one_at_a_time = self.unlocking.lock().await;
        if self.ready.initialized() {
            return Ok(());
        }
        // From here on every audit line carries a MAC only an unsealed instance can make.
        self.audit.set_key(root.audit_key().map_err(err("audit key"))?);
        let boot = Bootstrap::open(
            self.store.clone(),
            root,
            Arc::new(SystemClock),
            self.core_config.clone(),
        )
        .await
        .map_err(err("bootstrap"))?;
        if let Some(admin) = &boot.admin {
            let file = AdminFile {
                app_id: admin.app_id.clone(),
                display_name: admin.display_name.clone(),
                password: admin.password.expose_secret().to_owned(),
                tenant: admin.tenant.clone(),
                object_id: admin.object_id.clone(),
            };
            let json = serde_json::to_vec_pretty(&file).map_err(err("admin.json"))?;
            files::write_atomic(&self.data_dir.join("admin.json"), &json, 0o600)?;
        }
        let identity = &boot.core.identity;
        let host_resource = match &self.host_resource {
            Some(id) => id.clone(),
            None => boot
                .core
                .management
                .ensure_host_resource(&host_name())
                .await
                .map_err(err("host resource"))?,
        };
        // The system identity, for `keyhold env` and tests; a host resource without one serves only
        // its user-assigned identities.
        let host = identity
            .select_identity(&host_resource, &IdentitySelector::SystemAssigned)
            .await
            .ok();
        let header = identity.identity_header().await.map_err(err("identity header"))?;
        let mi_file = MiFile {
            identity_endpoint: format!("http://{}{}", self.mi_addr, routes::mi::APP_SERVICE_PATH),
            identity_header: header.clone(),
            imds_authority: format!("http://{}", self.mi_addr),
            client_id: host.as_ref().map(|h| h.client_id.clone()).unwrap_or_default(),
            object_id: host.as_ref().map(|h| h.object_id.clone()).unwrap_or_default(),
            resource_id: host_resource.clone(),
        };
        let json = serde_json::to_vec_pretty(&mi_file).map_err(err("mi.json"))?;
        files::write_atomic(&self.data_dir.join("mi.json"), &json, 0o600)?;

        let state = AppState {
            core: Arc::new(boot.core),
            mi: Arc::new(MiState {
                host_resource,
                header: header.into(),
            }),
            audit: self.audit.clone(),
        };
        let jobs = Jobs {
            state: state.clone(),
            store: self.store.clone(),
            leading: self.leading.clone(),
        };
        jobs::spawn(jobs, self.stop.clone());
        let ready = Ready {
            https: app(state.clone()),
            mi: routes::mi_router(state),
        };
        self.ready.set(ready).map_err(|_| ServeError("unlocked twice".into()))?;
        tracing::info!("unsealed; serving");
        Ok(())
    }

    /// The HTTPS application behind the seal gate, with the sys API always reachable.
    pub fn https_router(self: &Arc<Self>) -> Router {
        sys::routes::<Node>()
            .into_router(&self.audit)
            .route("/readyz", get(readiness))
            .fallback(|State(node): State<Arc<Node>>, req: Request| async move {
                match node.ready.get() {
                    Some(ready) => ready.https.clone().oneshot(req).await.into_response(),
                    None => sealed(),
                }
            })
            .with_state(self.clone())
    }

    pub fn mi_router(self: &Arc<Self>) -> Router {
        Router::new()
            .fallback(|State(node): State<Arc<Node>>, req: Request| async move {
                match node.ready.get() {
                    Some(ready) => ready.mi.clone().oneshot(req).await.into_response(),
                    None => sealed(),
                }
            })
            .with_state(self.clone())
    }
}

impl sys::Sealable for Node {
    fn store(&self) -> &dyn Store {
        &*self.store
    }

    fn unsealer(&self) -> &keyhold_core::seal::Unsealer {
        &self.unsealer
    }

    fn is_sealed(&self) -> bool {
        Node::is_sealed(self)
    }

    fn leading(&self) -> Vec<String> {
        self.leading.jobs().into_iter().map(str::to_owned).collect()
    }

    async fn unlock(&self, root: RootKey) -> Result<(), ServeError> {
        Node::unlock(self, root).await
    }
}

/// 503 with `Retry-After`: the SDKs retry it, and a person reading it learns what to do.
fn sealed() -> Response {
    let body = ErrorBody::new(
        "ServiceUnavailable",
        "keyhold is sealed: unseal it with `keyhold operator unseal` (GET /keyhold/v1/sys/seal-status shows the progress).",
    );
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}

/// `GET /readyz`: 200 only when this node can serve audited writes: start-up has finished writing its
/// files, the seal is open, the audit log's last write succeeded and the database takes a write. Not
/// audited itself (probes would flood the log). `/healthz` only says the process is alive.
async fn readiness(State(node): State<Arc<Node>>) -> Response {
    let mut problems = Vec::new();
    if !node.started.load(std::sync::atomic::Ordering::Acquire) {
        problems.push("starting");
    }
    if node.is_sealed() {
        problems.push("sealed");
    }
    if !node.audit.healthy() && !probe_audit(&node.audit) {
        problems.push("audit log not writable");
    }
    let probe = node.store.put_meta("readiness-probe", b"1");
    match tokio::time::timeout(std::time::Duration::from_secs(5), probe).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "DATABASE NOT WRITABLE (readiness probe)");
            problems.push("database not writable");
        }
        Err(_) => problems.push("database not answering"),
    }
    if problems.is_empty() {
        return Json(Health {
            status: "ready".into(),
            reasons: Vec::new(),
        })
        .into_response();
    }
    tracing::warn!(reasons = ?problems, "not ready");
    let body = Health {
        status: "not ready".into(),
        reasons: problems.into_iter().map(str::to_owned).collect(),
    };
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}

/// After a failed audit write, readiness tries one record of its own (at most once a second), so a node
/// with no traffic still turns ready when space returns; while the log is healthy it writes nothing.
fn probe_audit(log: &AuditLog) -> bool {
    let now = time::OffsetDateTime::now_utc();
    if !log.accepting(now.unix_timestamp()) {
        return false;
    }
    let entry = keyhold_core::audit::AuditEntry {
        time: keyhold_core::clock::now_rfc3339(),
        request_id: keyhold_crypto::random::guid(),
        operation: "AuditLogWritable".into(),
        result: 200,
        ..Default::default()
    };
    log.append(entry, now.unix_timestamp()).is_ok()
}

/// This machine's name, for the host resource (`.../virtualMachines/<name>`).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .unwrap_or_else(|| "keyhold-host".into())
}
