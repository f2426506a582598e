//! The CLI's only way to the server: its REST APIs over HTTPS, trusting the server's CA.

use std::{path::Path, sync::Arc};

use anyhow::{Context, bail};
use keyhold_server::{AdminFile, StateFile};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use serde_json::Value;

pub struct Rest {
    /// This node's origin: where requests go.
    pub base: String,
    /// The service's public origin: the audience of admin tokens.
    public: String,
    dir: std::path::PathBuf,
    http: reqwest::Client,
}

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
            public,
            dir: dir.to_owned(),
            http: reqwest::Client::builder().use_preconfigured_tls(tls).build()?,
        })
    }

    /// A management token of the admin principal, from `admin.json` in the data dir.
    pub async fn admin_token(&self) -> anyhow::Result<String> {
        let path = self.dir.join("admin.json");
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

    pub async fn get_as_admin(&self, path: &str) -> anyhow::Result<Value> {
        let token = self.admin_token().await?;
        answer(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(token)
                .send()
                .await?,
        )
        .await
    }

    pub async fn post_as_admin(&self, path: &str) -> anyhow::Result<Value> {
        let token = self.admin_token().await?;
        answer(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(token)
                .send()
                .await?,
        )
        .await
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
