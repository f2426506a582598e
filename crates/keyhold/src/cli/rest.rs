//! The CLI's only way to the server: its REST APIs over HTTPS, trusting the server's CA. Nothing here
//! (or anywhere in the CLI) opens the database: the data dir is read only for its JSON files and CA.

use std::{
    net::{SocketAddr, ToSocketAddrs},
    path::Path,
    sync::Arc,
};

use anyhow::{Context, bail};
use keyhold_server::StateFile;
use reqwest::Method;
use rustls::pki_types::{CertificateDer, pem::PemObject};
use serde_json::Value;

pub struct Rest {
    pub base: String,
    http: reqwest::Client,
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
        let base = match url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => {
                let bytes = std::fs::read(dir.join("state.json"))
                    .with_context(|| format!("no running server found in {} (pass --url)", dir.display()))?;
                serde_json::from_slice::<StateFile>(&bytes)?.url
            }
        };
        let http = client(&dir.join("ca.pem"), None)?;
        Ok(Self { base, http })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        answer(self.http.get(format!("{}{path}", self.base)).send().await?).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        answer(self.http.post(format!("{}{path}", self.base)).json(body).send().await?).await
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
