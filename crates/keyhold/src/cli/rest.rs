//! The CLI's only way to the server: its REST APIs over HTTPS, trusting the server's CA.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail};
use keyhold_server::{AdminFile, StateFile};
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
        let pem = std::fs::read(ca_file).with_context(|| format!("cannot read {}", ca_file.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert?)?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder().use_preconfigured_tls(tls).build()?;
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
