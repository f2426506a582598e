//! The CLI's only way to the server: its REST APIs over HTTPS, trusting the server's CA.

use std::{path::Path, sync::Arc};

use anyhow::{Context, bail};
use keyhold_server::StateFile;
use rustls::pki_types::{CertificateDer, pem::PemObject};
use serde_json::Value;

pub struct Rest {
    pub base: String,
    http: reqwest::Client,
    bearer: Option<String>,
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
        Self::with_ca(&base, &dir.join("ca.pem"))
    }

    /// A server at `base` whose certificates chain to the CA in `ca_file`.
    pub fn with_ca(base: &str, ca_file: &Path) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        let pem = std::fs::read(ca_file).with_context(|| format!("cannot read {}", ca_file.display()))?;
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
            bearer: None,
        })
    }

    /// The same client, authenticated as the admin of a local data dir (`admin.json`).
    pub async fn with_admin_token(mut self, dir: &Path) -> anyhow::Result<Self> {
        let admin: keyhold_server::AdminFile = serde_json::from_slice(
            &std::fs::read(dir.join("admin.json"))
                .context("admin.json not readable: run this on the server as its owner")?,
        )?;
        let state: StateFile = serde_json::from_slice(&std::fs::read(dir.join("state.json"))?)?;
        let scope = format!("{}/.default", self.base);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", admin.app_id.as_str()),
            ("client_secret", admin.password.as_str()),
            ("scope", scope.as_str()),
        ];
        let url = format!("{}/{}/oauth2/v2.0/token", self.base, state.tenant_id);
        let token = answer(self.http.post(url).form(&form).send().await?).await?;
        self.bearer = Some(token["access_token"].as_str().context("no access_token")?.to_owned());
        Ok(self)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        answer(self.request(reqwest::Method::GET, path).send().await?).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        answer(self.request(reqwest::Method::POST, path).json(body).send().await?).await
    }

    /// Status and JSON body, whatever the status.
    pub async fn post_raw(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let resp = self.request(reqwest::Method::POST, path).json(body).send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match &self.bearer {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }
}

/// The body of a success, or the server's own error message.
pub(crate) async fn answer(resp: reqwest::Response) -> anyhow::Result<Value> {
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
