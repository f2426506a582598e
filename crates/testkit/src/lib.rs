//! A real `keyhold serve` for tests: the binary, started on port 0 in a temp dir, reached over real
//! HTTPS that trusts only the server's own CA. Vault host names resolve to loopback inside the client,
//! so tests need no `/etc/hosts` edits. Test support code: `anyhow` and panics on setup failure are fine.
#![forbid(unsafe_code)]

mod postgres;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use serde::Deserialize;
use serde_json::Value;

pub use postgres::{PostgresDatabase, tokio_postgres};

/// `state.json` as the server writes it: the server's own type.
pub use keyhold_proto::data_dir::StateFile as State;

/// `admin.json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Admin {
    pub app_id: String,
    pub password: String,
    pub tenant: String,
    pub object_id: String,
}

pub struct Server {
    bin: PathBuf,
    extra: Vec<String>,
    _dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    child: Option<Child>,
    pub state: State,
    pub admin: Admin,
    pub http: reqwest::Client,
}

/// What another node of a service needs from the first one's data dir: the unseal key, the CA that
/// issues every node's TLS certificate, and the admin credentials.
pub const NODE_FILES: [&str; 4] = ["seal.key", "ca.pem", "ca.key", "admin.json"];

impl Server {
    /// Starts `bin serve` on ephemeral ports with extra flags.
    pub fn start(bin: &Path, extra: &[&str]) -> Result<Self> {
        let mut server = Self::start_sealed(bin, extra)?;
        server.load_admin()?;
        Ok(server)
    }

    /// Starts another node of `peer`'s service (give both the same `--database` and `--public-url`):
    /// its data dir gets a copy of the peer's unseal key, CA and admin credentials.
    pub fn start_node(bin: &Path, extra: &[&str], peer: &Server) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir)?;
        for file in NODE_FILES {
            std::fs::copy(peer.data_dir.join(file), data_dir.join(file)).with_context(|| format!("copy {file}"))?;
        }
        let mut server = Self::spawn_in(bin, dir, data_dir, extra)?;
        server.load_admin()?;
        Ok(server)
    }

    /// Starts a server that may come up sealed: `admin` stays empty until [`Server::load_admin`].
    pub fn start_sealed(bin: &Path, extra: &[&str]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("data");
        Self::spawn_in(bin, dir, data_dir, extra)
    }

    fn spawn_in(bin: &Path, dir: tempfile::TempDir, data_dir: PathBuf, extra: &[&str]) -> Result<Self> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut child = spawn(bin, &data_dir, "127.0.0.1:0", "127.0.0.1:0", &extra)?;
        let state = wait_for_state(&data_dir, &mut child)?;
        let http = client(&data_dir)?;
        Ok(Self {
            bin: bin.to_owned(),
            extra,
            _dir: dir,
            data_dir,
            child: Some(child),
            state,
            admin: Admin::default(),
            http,
        })
    }

    /// Reads `admin.json`, written when the server first unseals.
    pub fn load_admin(&mut self) -> Result<()> {
        self.admin = serde_json::from_slice(&std::fs::read(self.data_dir.join("admin.json"))?)?;
        Ok(())
    }

    /// Runs the keyhold CLI against this server's data dir; returns (success, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> Result<(bool, String, String)> {
        let out = Command::new(&self.bin)
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()?;
        Ok((
            out.status.success(),
            String::from_utf8(out.stdout)?,
            String::from_utf8(out.stderr)?,
        ))
    }

    /// SIGKILL, as a crash would; waits until the process is gone.
    pub fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("server not running")
        };
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// SIGTERM; returns the exit status.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("server not running")
        };
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("server did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (if running) and starts it again on the same data dir, ports and flags.
    pub fn restart(&mut self) -> Result<()> {
        let extra = self.extra.clone();
        self.restart_with(&extra)
    }

    /// [`Server::restart`] with other flags.
    pub fn restart_with(&mut self, extra: &[String]) -> Result<()> {
        self.extra = extra.to_vec();
        if self.child.is_some() {
            let status = self.stop()?;
            anyhow::ensure!(status.success(), "server exited with {status} on SIGTERM");
        }
        let _ = std::fs::remove_file(self.data_dir.join("state.json"));
        let mut child = spawn(
            &self.bin,
            &self.data_dir,
            &self.state.listen,
            &self.state.mi_listen,
            &self.extra,
        )?;
        self.state = wait_for_state(&self.data_dir, &mut child)?;
        self.child = Some(child);
        self.http = client(&self.data_dir)?;
        Ok(())
    }

    /// This node's own origin (`state.url` is the service's, which may be another node's).
    pub fn base(&self) -> &str {
        if self.state.node_url.is_empty() {
            &self.state.url
        } else {
            &self.state.node_url
        }
    }

    /// The pid of the running server process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn port(&self) -> u16 {
        self.state.listen.parse::<SocketAddr>().map(|a| a.port()).unwrap_or(0)
    }

    pub fn mi_url(&self) -> String {
        format!("http://{}", self.state.mi_listen)
    }

    pub fn vault_url(&self, vault: &str) -> String {
        format!("https://{vault}.{}:{}", self.state.dns_suffix, self.port())
    }

    /// Client-credentials token for `resource` with the admin's secret (v2 endpoint).
    pub async fn token(&self, resource: &str) -> Result<String> {
        let (client_id, secret) = (self.admin.app_id.clone(), self.admin.password.clone());
        self.token_for(&client_id, &secret, resource).await
    }

    pub async fn token_for(&self, client_id: &str, secret: &str, resource: &str) -> Result<String> {
        let url = format!("{}/{}/oauth2/v2.0/token", self.base(), self.state.tenant_id);
        let scope = format!("{resource}/.default");
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", &scope),
        ];
        let resp = self.http.post(url).form(&form).send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        anyhow::ensure!(status.is_success(), "token request failed: {status} {body}");
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access_token")
    }

    /// The published signing keys (JWKS).
    pub async fn jwks(&self) -> Result<Value> {
        let url = format!("{}/{}/discovery/v2.0/keys", self.state.url, self.state.tenant_id);
        Ok(self.http.get(url).send().await?.json().await?)
    }

    /// The instance's one subscription id.
    pub async fn subscription_id(&self) -> Result<String> {
        let (status, body) = self.arm(reqwest::Method::GET, "/subscriptions", None).await?;
        anyhow::ensure!(status == 200, "list subscriptions: {status} {body}");
        body["value"][0]["subscriptionId"]
            .as_str()
            .map(str::to_owned)
            .context("no subscription")
    }

    /// An ARM call as the admin (`path` from `/subscriptions...`; `api-version` is added).
    pub async fn arm(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let token = self.token(&self.state.url).await?;
        self.arm_as(&token, method, path, body).await
    }

    /// An ARM call with a given management token.
    pub async fn arm_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}api-version=2023-07-01", self.base());
        self.call(method, &url, Some(token), body).await
    }

    /// One request to `url` (any host this kit's client resolves), with an optional bearer token and
    /// JSON body: the status and the body as JSON (`null` when it is not JSON). The one way e2e tests
    /// send a request, so none of them builds its own.
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self.http.request(method, url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Creates (or updates) a resource group in the one subscription through ARM; returns its path.
    pub async fn resource_group(&self, name: &str) -> Result<String> {
        let rg = format!("/subscriptions/{}/resourceGroups/{name}", self.subscription_id().await?);
        let (status, body) = self
            .arm(
                reqwest::Method::PUT,
                &rg,
                Some(serde_json::json!({"location": "westus"})),
            )
            .await?;
        anyhow::ensure!(
            status == 200 || status == 201,
            "create resource group {name}: {status} {body}"
        );
        Ok(rg)
    }

    /// Grants `object_id` these secret permissions on a vault made by [`Self::create_vault`] (whose
    /// group is `keyhold`), by an access policy added through ARM.
    pub async fn grant_secrets(&self, vault: &str, object_id: &str, secrets: &[&str]) -> Result<()> {
        let path = format!(
            "/subscriptions/{}/resourceGroups/keyhold/providers/Microsoft.KeyVault/vaults/{vault}/accessPolicies/add",
            self.subscription_id().await?
        );
        let policy = serde_json::json!({"properties": {"accessPolicies": [
            {"tenantId": self.state.tenant_id, "objectId": object_id, "permissions": {"secrets": secrets}}
        ]}});
        let (status, body) = self.arm(reqwest::Method::PUT, &path, Some(policy)).await?;
        anyhow::ensure!(status == 200 || status == 201, "grant on {vault}: {status} {body}");
        Ok(())
    }

    /// Creates a service principal through the admin API; returns its `appId`, `password`, `id`, ….
    pub async fn create_service_principal(&self, display_name: &str) -> Result<Value> {
        let token = self.token(&self.state.url).await?;
        let resp = self
            .http
            .post(format!("{}/keyhold/v1/servicePrincipals", self.state.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"displayName": display_name}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        anyhow::ensure!(status.is_success(), "create service principal: {status} {body}");
        Ok(body)
    }

    /// Creates a vault through the admin API.
    pub async fn create_vault(&self, name: &str) -> Result<Value> {
        let token = self.token(&self.state.url).await?;
        let resp = self
            .http
            .put(format!("{}/keyhold/v1/vaults/{name}", self.base()))
            .bearer_auth(token)
            .json(&serde_json::json!({}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        anyhow::ensure!(status.is_success(), "create vault failed: {status} {body}");
        Ok(body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The server's stderr goes to `server.log` beside the data dir, to read when a test fails.
fn spawn(bin: &Path, data_dir: &Path, listen: &str, mi: &str, extra: &[String]) -> Result<Child> {
    let log_path = data_dir.parent().unwrap_or(data_dir).join("server.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log_path)?;
    Command::new(bin)
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", listen, "--mi-listen", mi])
        .args(extra)
        .env("KEYHOLD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))
}

/// Waits for the server to write `state.json`, or to exit (a start-up failure, reported at once).
fn wait_for_state(data_dir: &Path, child: &mut Child) -> Result<State> {
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let path = data_dir.join("state.json");
    loop {
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(state) = serde_json::from_slice::<State>(&bytes)
            && state.pid == pid
        {
            return Ok(state);
        }
        if let Some(status) = child.try_wait()? {
            bail!("server exited during start-up with {status} (see server.log)");
        }
        if Instant::now() > deadline {
            bail!("server did not write {} within 30 s", path.display());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// An HTTPS client trusting only the server's CA, with every name resolving to loopback.
pub fn client(data_dir: &Path) -> Result<reqwest::Client> {
    client_from(data_dir, None)
}

/// [`client`] whose connections leave from `source` (another loopback address such as 127.0.0.2),
/// for tests where the server must tell clients apart by address.
pub fn client_from(data_dir: &Path, source: Option<std::net::IpAddr>) -> Result<reqwest::Client> {
    builder(data_dir, source)?.build().map_err(Into::into)
}

/// [`client`] that does not follow redirects, for sign-in tests that read where a page sends the
/// browser (`Location`) instead of going there.
pub fn client_without_redirects(data_dir: &Path) -> Result<reqwest::Client> {
    builder(data_dir, None)?
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(Into::into)
}

fn builder(data_dir: &Path, source: Option<std::net::IpAddr>) -> Result<reqwest::ClientBuilder> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(data_dir.join("ca.pem"))?;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert?)?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .dns_resolver(Arc::new(Loopback))
        .local_address(source)
        .timeout(Duration::from_secs(30)))
}

struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
        Box::pin(std::future::ready(Ok(addrs)))
    }
}
