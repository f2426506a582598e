//! The CLI's only way to the server: its REST APIs over HTTPS, trusting the server's CA. Nothing here
//! (or anywhere in the CLI) opens the database: the data dir is read only for its JSON files and CA.

use std::{
    net::{SocketAddr, ToSocketAddrs},
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail};
use keyhold_server::{AdminFile, StateFile};
use reqwest::Method;
use rustls::pki_types::{CertificateDer, pem::PemObject};
use serde_json::Value;

pub struct Rest {
    /// This node's origin: where requests go.
    pub base: String,
    /// The service's public origin: the audience of admin tokens.
    public: String,
    /// The server's data dir, when it is local (admin credentials).
    dir: Option<PathBuf>,
    http: reqwest::Client,
    bearer: Option<String>,
}

/// A non-2xx answer, kept apart so `main` can pick az's exit code (3 for "not found").
#[derive(Debug)]
pub struct HttpError {
    pub status: u16,
    pub code: Option<String>,
    pub message: String,
    /// The `resource` of a 401's Key Vault challenge (`Bearer authorization="...", resource="..."`).
    pub challenge_resource: Option<String>,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "({code}) {}", self.message),
            None => write!(f, "(HTTP {}) {}", self.status, self.message),
        }
    }
}

impl std::error::Error for HttpError {}

impl Rest {
    /// The server of a data dir: its URL from `state.json` (or `url`), trusting its `ca.pem`.
    pub fn for_data_dir(dir: &Path, url: Option<&str>) -> anyhow::Result<Self> {
        let state = std::fs::read(dir.join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<StateFile>(&b).ok());
        let base = match (url, &state) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some(s)) if !s.node_url.is_empty() => s.node_url.clone(),
            (None, Some(s)) => s.url.clone(),
            (None, None) => bail!("no running server found in {} (pass --url)", dir.display()),
        };
        let public = state.map_or_else(|| base.clone(), |s| s.url);
        let mut rest = Self::with_ca(&base, &dir.join("ca.pem"))?;
        rest.public = public;
        rest.dir = Some(dir.to_owned());
        Ok(rest)
    }

    /// A server at `base` whose certificates chain to the CA in `ca_file`.
    pub fn with_ca(base: &str, ca_file: &Path) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        let http = client(ca_file, None)?;
        Ok(Self {
            public: base.clone(),
            base,
            dir: None,
            http,
            bearer: None,
        })
    }

    /// A management token of the admin principal, from `admin.json` in the data dir.
    pub async fn admin_token(&self) -> anyhow::Result<String> {
        let dir = self
            .dir
            .as_ref()
            .context("the admin's credentials need the server's data dir")?;
        let path = dir.join("admin.json");
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read {} (the admin's credentials)", path.display()))?;
        let admin: AdminFile = serde_json::from_slice(&bytes)?;
        let scope = format!("{}/.default", self.public);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", admin.app_id.as_str()),
            ("client_secret", admin.password.as_str()),
            ("scope", scope.as_str()),
        ];
        let url = format!("{}/{}/oauth2/v2.0/token", self.base, admin.tenant);
        let body = answer(self.http.post(url).form(&form).send().await?).await?;
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("the token endpoint answered without an access_token")
    }

    /// The same client, sending the admin's management token with every request.
    pub async fn with_admin_token(mut self) -> anyhow::Result<Self> {
        self.bearer = Some(self.admin_token().await?);
        Ok(self)
    }

    pub async fn get_as_admin(&self, path: &str) -> anyhow::Result<Value> {
        let token = self.admin_token().await?;
        send(
            &self.http,
            Method::GET,
            &format!("{}{path}", self.base),
            Some(&token),
            None,
        )
        .await
    }

    pub async fn post_as_admin(&self, path: &str) -> anyhow::Result<Value> {
        let token = self.admin_token().await?;
        send(
            &self.http,
            Method::POST,
            &format!("{}{path}", self.base),
            Some(&token),
            None,
        )
        .await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        send(
            &self.http,
            Method::GET,
            &format!("{}{path}", self.base),
            self.bearer.as_deref(),
            None,
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        send(
            &self.http,
            Method::POST,
            &format!("{}{path}", self.base),
            self.bearer.as_deref(),
            Some(body),
        )
        .await
    }

    /// Status and JSON body, whatever the status.
    pub async fn post_raw(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }
}

/// An HTTPS client trusting the certificates of `ca_file`; `resolve` pins a host name (a vault's
/// `<name>.<dns-suffix>`) to the server's own address so no `/etc/hosts` entry is needed.
pub fn client(ca_file: &Path, resolve: Option<(&str, SocketAddr)>) -> anyhow::Result<reqwest::Client> {
    let pem = std::fs::read(ca_file).with_context(|| format!("cannot read the CA file {}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        // A system bundle may hold certificates rustls refuses; keyhold's own CA is what matters.
        let _ = roots.add(cert.with_context(|| format!("{} is not a PEM bundle", ca_file.display()))?);
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(std::time::Duration::from_secs(60));
    if let Some((host, addr)) = resolve {
        builder = builder.resolve(host, addr);
    }
    Ok(builder.build()?)
}

/// A client for plain-HTTP endpoints (the managed-identity endpoint); it trusts no certificate.
pub fn plain_client() -> anyhow::Result<reqwest::Client> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(std::time::Duration::from_secs(30))
        .build()?)
}

/// The address of `url`'s host, IPv4 first (the server listens on 127.0.0.1 by default).
pub fn address_of(url: &str) -> anyhow::Result<SocketAddr> {
    let parsed = url::Url::parse(url).with_context(|| format!("'{url}' is not a URL"))?;
    let host = parsed.host_str().context("the server URL has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .with_context(|| format!("{host} has no address"))
}

/// One JSON request with an optional bearer token.
pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.map_err(|e| {
        let host = url.split('/').nth(2).unwrap_or(url);
        anyhow::anyhow!("cannot reach {host}: {}", root_cause(&e))
    })?;
    answer(resp).await
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The body of a success (`null` when empty), or the server's own error message.
async fn answer(resp: reqwest::Response) -> anyhow::Result<Value> {
    let status = resp.status();
    let challenge_resource = resp
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split("resource=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned);
    let bytes = resp.bytes().await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = body["error"]["message"]
        .as_str()
        .or(body["error_description"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("no details").to_owned()
            } else {
                text
            }
        });
    let code = body["error"]["code"]
        .as_str()
        .or(body["error"].as_str())
        .map(str::to_owned);
    bail!(HttpError {
        status: status.as_u16(),
        code,
        message,
        challenge_resource,
    })
}
