//! The CLI's only way to the server: its REST APIs over HTTPS, trusting the server's CA.

use std::{path::Path, sync::Arc};

use anyhow::{Context, bail};
use keyhold_server::StateFile;
use rustls::pki_types::{CertificateDer, pem::PemObject};
use serde_json::Value;

pub struct Rest {
    pub base: String,
    http: reqwest::Client,
}

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
        let pem = std::fs::read(dir.join("ca.pem")).with_context(|| format!("cannot read {}/ca.pem", dir.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert?)?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            base,
            http: reqwest::Client::builder().use_preconfigured_tls(tls).build()?,
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        answer(self.http.get(format!("{}{path}", self.base)).send().await?).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        answer(self.http.post(format!("{}{path}", self.base)).json(body).send().await?).await
    }
}

/// The body of a success, or the server's own error message.
async fn answer(resp: reqwest::Response) -> anyhow::Result<Value> {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = body["error"]["message"]
        .as_str()
        .or(body["error_description"].as_str())
        .unwrap_or("no details");
    bail!("({status}) {message}")
}
