//! Setting up a server for the benchmarks through its public API: tokens, a vault, secrets. The bulk load
//! of secrets also goes through the API (HTTPS PUTs from concurrent tasks), bounded in count and time.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use keyhold_testkit::{Admin, State};
use serde_json::{Value, json};

/// What the benchmarks need to reach one server.
pub struct Target {
    pub http: reqwest::Client,
    pub state: State,
    pub port: u16,
    /// `{vault}.{dns_suffix}:{port}`, the `Host` header of the data plane.
    pub vault_host: String,
    /// Data-plane bearer token of the admin principal (the vault's creator).
    pub token: String,
}

impl Target {
    /// Reads `state.json` and `admin.json`, takes tokens, creates `vault` and one secret `bench-get`.
    pub async fn setup(data_dir: &Path, pid: u32, vault: &str) -> Result<Self> {
        let state = read_state(data_dir, pid).await?;
        let admin: Admin = serde_json::from_slice(&std::fs::read(data_dir.join("admin.json"))?)?;
        let http = keyhold_testkit::client(data_dir)?;
        let (port, vault_host) = address(&state, vault)?;
        let management = token(&http, &state, &admin, &state.url).await?;
        let create = http
            .put(format!("{}/keyhold/v1/vaults/{vault}", state.url))
            .bearer_auth(management)
            .json(&json!({}));
        succeed(create, "create vault").await?;
        let token = token(&http, &state, &admin, &state.vault_resource).await?;
        let target = Self {
            http,
            state,
            port,
            vault_host,
            token,
        };
        target
            .put_secret("bench-get", "a value of a typical size: 32 chars")
            .await?;
        Ok(target)
    }

    /// The same vault, principal and token, reached through another node of the service.
    pub async fn on_node(&self, data_dir: &Path, pid: u32) -> Result<Self> {
        let state = read_state(data_dir, pid).await?;
        let vault = self.vault_host.split('.').next().context("vault host")?;
        let (port, vault_host) = address(&state, vault)?;
        Ok(Self {
            http: keyhold_testkit::client(data_dir)?,
            vault_host,
            state,
            port,
            token: self.token.clone(),
        })
    }

    /// `GET /secrets/{name}`, which must answer 200.
    pub async fn get_secret(&self, name: &str) -> Result<()> {
        let url = format!("{}/secrets/{name}?api-version=7.4", self.vault_url());
        succeed(
            self.http.get(url).bearer_auth(&self.token),
            &format!("GET secret {name}"),
        )
        .await
    }

    pub fn vault_url(&self) -> String {
        format!("https://{}", self.vault_host)
    }

    pub async fn put_secret(&self, name: &str, value: &str) -> Result<()> {
        put(&self.http, &self.vault_url(), &self.token, name, value).await
    }

    /// Creates key `name` (`body` as `POST /keys/{name}/create` takes it).
    pub async fn create_key(&self, name: &str, body: Value) -> Result<()> {
        let url = format!("{}/keys/{name}/create?api-version=7.4", self.vault_url());
        let request = self.http.post(url).bearer_auth(&self.token).json(&body);
        succeed(request, &format!("create key {name}")).await
    }

    /// Fills the token cache of the managed-identity endpoint, and checks it answers.
    pub async fn warm_imds(&self, url: &str) -> Result<()> {
        let resp = self.http.get(url).header("Metadata", "true").send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        ensure!(
            status == 200 && body["access_token"].is_string(),
            "IMDS: {status} {body}"
        );
        Ok(())
    }

    /// PUTs `count` new secrets (`load-<n>`) from `concurrency` tasks; stops early at `deadline`.
    /// Returns how many were stored and how long it took.
    pub async fn load(&self, count: u64, concurrency: usize, deadline: Duration) -> Result<(u64, Duration)> {
        let next = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (next, done) = (next.clone(), done.clone());
            let (http, url, token) = (self.http.clone(), self.vault_url(), self.token.clone());
            tasks.spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count || started.elapsed() > deadline {
                        return Ok::<_, anyhow::Error>(());
                    }
                    let value = format!("loaded-value-{n:08}-{}", uuid::Uuid::new_v4().simple());
                    put(&http, &url, &token, &format!("load-{n}"), &value).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        Ok((done.load(Ordering::Relaxed), started.elapsed()))
    }
}

async fn put(http: &reqwest::Client, vault_url: &str, token: &str, name: &str, value: &str) -> Result<()> {
    let request = http
        .put(format!("{vault_url}/secrets/{name}?api-version=7.4"))
        .bearer_auth(token)
        .json(&json!({ "value": value }));
    succeed(request, &format!("PUT secret {name}")).await
}

/// This node's HTTPS port and the data plane's `Host` for `vault` on it.
fn address(state: &State, vault: &str) -> Result<(u16, String)> {
    let port: u16 = state.listen.rsplit(':').next().context("listen address")?.parse()?;
    Ok((port, format!("{vault}.{}:{port}", state.dns_suffix)))
}

/// Sends `request`; anything but a 2xx is an error naming `what`, the status and the body.
async fn succeed(request: reqwest::RequestBuilder, what: &str) -> Result<()> {
    let resp = request.send().await?;
    let status = resp.status();
    ensure!(status.is_success(), "{what}: {status} {}", resp.text().await?);
    Ok(())
}

async fn token(http: &reqwest::Client, state: &State, admin: &Admin, resource: &str) -> Result<String> {
    let scope = format!("{resource}/.default");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", admin.app_id.as_str()),
        ("client_secret", admin.password.as_str()),
        ("scope", scope.as_str()),
    ];
    let resp = http
        .post(format!("{}/{}/oauth2/v2.0/token", state.url, state.tenant_id))
        .form(&form)
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    ensure!(status.is_success(), "token: {status} {body}");
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token")
}

/// `state.json` of this process (it is written as the server starts; allow it 10 s).
async fn read_state(data_dir: &Path, pid: u32) -> Result<State> {
    let path = data_dir.join("state.json");
    let started = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(state) = serde_json::from_slice::<State>(&bytes)
            && state.pid == pid
        {
            return Ok(state);
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("no state.json for pid {pid} in {}", data_dir.display());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
