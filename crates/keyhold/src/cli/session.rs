//! Who the CLI is signed in as, and its access tokens: the saved profile (`profile`), else, for a CLI
//! run on the server machine with access to the data dir, the admin (`admin.json`); tokens come from
//! the 0600 token cache, else from the profile's credential (a person's refresh token is redeemed and
//! its successor saved under the profile lock).

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use keyhold_server::{AdminFile, StateFile};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::profile::{
    Login, Profile, config_dir, lock_profile, save_profile, saved_profile, update_profile, write_private,
};
use super::{
    DataDir,
    profile::{profile_path, read_json, tokens_path},
    rest, signin,
};

/// Where the server is: shared by every az-shaped command.
#[derive(Debug, Clone, Args)]
pub struct Conn {
    #[command(flatten)]
    pub data_dir: DataDir,
    /// The server's URL (default: the one running in --data-dir, or the signed-in profile's).
    #[arg(long, env = "KEYHOLD_URL", global = true)]
    pub url: Option<String>,
    /// PEM bundle to trust (default: <data-dir>/ca.pem, then REQUESTS_CA_BUNDLE).
    #[arg(long, global = true)]
    pub ca_file: Option<PathBuf>,
    /// Accepted for az compatibility; keyhold serves one subscription.
    #[arg(long, global = true, hide = true)]
    pub subscription: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenCache {
    /// `<user>|<resource>` → token.
    tokens: BTreeMap<String, CachedToken>,
}

#[derive(Clone, Serialize, Deserialize)]
struct CachedToken {
    access_token: String,
    expires_on: i64,
}

/// A bearer token is a credential until it expires: never printed.
impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// A signed-in CLI: the server, the credential, and HTTP clients trusting the server's CA.
pub struct Session {
    pub profile: Profile,
    pub http: reqwest::Client,
    server_addr: SocketAddr,
}

/// What the data dir (if local) and the flags say about the server, before anyone signs in.
pub struct ServerInfo {
    pub url: String,
    pub tenant_id: Option<String>,
    pub vault_resource: String,
    pub ca_file: PathBuf,
    pub state: Option<StateFile>,
}

impl Conn {
    pub fn state(&self) -> Option<StateFile> {
        read_json(&self.data_dir.path.join("state.json"))
    }

    /// The data dir's admin credentials, when this machine is the server and the user may read them.
    pub fn admin(&self) -> Option<AdminFile> {
        read_json(&self.data_dir.path.join("admin.json"))
    }

    pub fn server(&self) -> anyhow::Result<ServerInfo> {
        let state = self.state();
        let url = match (&self.url, &state) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some(s)) => s.url.clone(),
            (None, None) => bail!(
                "no keyhold server found: pass --url (or set KEYHOLD_URL), or run on the server machine with --data-dir"
            ),
        };
        let vault_resource = match (std::env::var("KEYHOLD_VAULT_RESOURCE").ok(), &state) {
            (Some(v), _) => v,
            (None, Some(s)) => s.vault_resource.clone(),
            (None, None) => {
                let port = url::Url::parse(&url).ok().and_then(|u| u.port()).unwrap_or(443);
                format!("https://vault.localhost:{port}")
            }
        };
        Ok(ServerInfo {
            url,
            tenant_id: state.as_ref().map(|s| s.tenant_id.clone()),
            vault_resource,
            ca_file: self.ca_file()?,
            state,
        })
    }

    pub fn ca_file(&self) -> anyhow::Result<PathBuf> {
        if let Some(f) = &self.ca_file {
            return Ok(f.clone());
        }
        let local = self.data_dir.path.join("ca.pem");
        if local.exists() {
            return Ok(local);
        }
        match std::env::var_os("REQUESTS_CA_BUNDLE") {
            Some(f) => Ok(PathBuf::from(f)),
            None => bail!("cannot find keyhold's CA: pass --ca-file or set REQUESTS_CA_BUNDLE"),
        }
    }

    /// The signed-in session: the saved profile, else the admin of a local data dir.
    pub fn session(&self) -> anyhow::Result<Session> {
        let mut profile = match read_json::<Profile>(&profile_path()) {
            Some(p) if matches!(p.login, Login::LoggedOut) => None,
            Some(p) => Some(p),
            None => self.admin_profile(),
        }
        .context("Please run 'keyhold login' to setup account.")?;
        if let Some(u) = &self.url {
            profile.url = u.trim_end_matches('/').to_owned();
        }
        if let Some(f) = &self.ca_file {
            profile.ca_file = f.clone();
        }
        Session::new(profile)
    }

    fn admin_profile(&self) -> Option<Profile> {
        let admin = self.admin()?;
        let server = self.server().ok()?;
        Some(Profile {
            url: server.url,
            tenant_id: admin.tenant,
            vault_resource: server.vault_resource,
            ca_file: server.ca_file,
            login: Login::ServicePrincipal {
                app_id: admin.app_id,
                secret: admin.password,
            },
            subscription_id: None,
        })
    }
}

impl Session {
    pub fn new(profile: Profile) -> anyhow::Result<Self> {
        let http = rest::client(&profile.ca_file, None)?;
        let server_addr = rest::address_of(&profile.url)?;
        Ok(Self {
            profile,
            http,
            server_addr,
        })
    }

    fn user_key(&self) -> String {
        match &self.profile.login {
            Login::ServicePrincipal { app_id, .. } => app_id.clone(),
            Login::Identity { client_id, .. } => format!("msi:{}", client_id.as_deref().unwrap_or("system")),
            Login::User { object_id, .. } => format!("user:{object_id}"),
            Login::LoggedOut => String::new(),
        }
    }

    /// The user as `az account show` prints it.
    pub fn user(&self) -> Value {
        match &self.profile.login {
            Login::ServicePrincipal { app_id, .. } => serde_json::json!({"name": app_id, "type": "servicePrincipal"}),
            Login::Identity { client_id, .. } => serde_json::json!({
                "assignedIdentityInfo": client_id.as_ref().map(|c| format!("MSIClient-{c}")).unwrap_or_else(|| "MSI".into()),
                "name": if client_id.is_some() { "userAssignedIdentity" } else { "systemAssignedIdentity" },
                "type": "servicePrincipal",
            }),
            Login::User {
                user_principal_name, ..
            } => serde_json::json!({"name": user_principal_name, "type": "user"}),
            Login::LoggedOut => Value::Null,
        }
    }

    /// A bearer token for `resource` (the management URL or the vault resource), cached until a
    /// minute before it expires.
    pub async fn token(&self, resource: &str) -> anyhow::Result<String> {
        let key = format!("{}|{}|{resource}", self.profile.url, self.user_key());
        let now = now();
        let mut cache: TokenCache = read_json(&tokens_path()).unwrap_or_default();
        if let Some(t) = cache.tokens.get(&key)
            && t.expires_on > now + 60
        {
            return Ok(t.access_token.clone());
        }
        let fresh = self.fetch_token(resource).await?;
        cache.tokens.retain(|_, t| t.expires_on > now);
        cache.tokens.insert(key, fresh.clone());
        // A cache that cannot be written only costs a token request next time.
        let _ = write_private(&tokens_path(), &cache);
        Ok(fresh.access_token)
    }

    /// Puts a token just granted (a sign-in's) into the cache.
    pub fn cache_token(&self, resource: &str, access_token: &str, expires_in: i64) {
        let key = format!("{}|{}|{resource}", self.profile.url, self.user_key());
        let mut cache: TokenCache = read_json(&tokens_path()).unwrap_or_default();
        cache.tokens.insert(
            key,
            CachedToken {
                access_token: access_token.to_owned(),
                expires_on: now() + expires_in,
            },
        );
        let _ = write_private(&tokens_path(), &cache);
    }

    /// A person's token for `resource`: the saved refresh token is redeemed and its successor saved,
    /// under the profile lock.
    async fn user_token(&self, object_id: &str, resource: &str) -> anyhow::Result<CachedToken> {
        let _lock = lock_profile()?;
        let mut saved = saved_profile().context("Please run 'keyhold login' to setup account.")?;
        let Login::User {
            object_id: saved_oid,
            refresh_token,
            ..
        } = &mut saved.login
        else {
            bail!("Please run 'keyhold login' to setup account.");
        };
        if saved_oid != object_id {
            bail!("another account signed in meanwhile: run the command again");
        }
        let grant = signin::refresh(
            &self.http,
            &self.profile.url,
            &self.profile.tenant_id,
            refresh_token,
            resource,
        )
        .await
        .map_err(|e| {
            let revoked = e
                .downcast_ref::<rest::HttpError>()
                .is_some_and(|h| h.code.as_deref() == Some("invalid_grant"));
            if revoked {
                e.context("the sign-in is no longer valid (run 'keyhold login' again)")
            } else {
                e
            }
        })?;
        *refresh_token = grant.refresh_token.clone();
        write_private(&profile_path(), &saved)?;
        Ok(CachedToken {
            access_token: grant.access_token,
            expires_on: now() + grant.expires_in,
        })
    }

    async fn fetch_token(&self, resource: &str) -> anyhow::Result<CachedToken> {
        match &self.profile.login {
            Login::ServicePrincipal { app_id, secret } => {
                let url = format!("{}/{}/oauth2/v2.0/token", self.profile.url, self.profile.tenant_id);
                let scope = format!("{resource}/.default");
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", app_id.as_str()),
                    ("client_secret", secret.as_str()),
                    ("scope", scope.as_str()),
                ];
                let resp = self
                    .http
                    .post(&url)
                    .form(&form)
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {}", self.profile.url))?;
                let status = resp.status();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                if !status.is_success() {
                    bail!(
                        "{}: {}",
                        body["error"].as_str().unwrap_or("token request failed"),
                        body["error_description"].as_str().unwrap_or("no details")
                    );
                }
                let token = body["access_token"].as_str().context("no access_token in the answer")?;
                let expires_in = body["expires_in"].as_i64().unwrap_or(3600);
                Ok(CachedToken {
                    access_token: token.to_owned(),
                    expires_on: now() + expires_in,
                })
            }
            Login::Identity { authority, client_id } => {
                let body = identity_token(authority, client_id.as_deref(), resource).await?;
                let token = body["access_token"].as_str().context("no access_token in the answer")?;
                let expires_on = body["expires_on"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .or(body["expires_on"].as_i64())
                    .unwrap_or(now() + 300);
                Ok(CachedToken {
                    access_token: token.to_owned(),
                    expires_on,
                })
            }
            Login::User { object_id, .. } => self.user_token(object_id, resource).await,
            Login::LoggedOut => bail!("Please run 'keyhold login' to setup account."),
        }
    }

    /// The object id (`oid`) of the signed-in principal, read from its management token.
    pub async fn object_id(&self) -> anyhow::Result<String> {
        let token = self.token(&self.profile.url).await?;
        let claims = signin::jwt_claims(&token).context("the access token is not a JWT")?;
        claims["oid"]
            .as_str()
            .map(str::to_owned)
            .context("the access token has no oid")
    }

    /// A call to the management plane (`path` from `/`), JSON in and out.
    pub async fn mgmt(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let token = self.token(&self.profile.url).await?;
        let url = format!("{}{path}", self.profile.url);
        rest::send(&self.http, method, &url, Some(&token), body).await
    }

    /// A call to keyhold's Microsoft Graph (`path` from `/`, under `/graph/v1.0`), JSON in and out.
    pub async fn graph(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let resource = format!("{}/graph/", self.profile.url.trim_end_matches('/'));
        let token = self.token(&resource).await?;
        let url = format!("{resource}v1.0{path}");
        rest::send(&self.http, method, &url, Some(&token), body).await
    }

    /// The vault resource's `(dns suffix, port)`.
    fn vault_host(&self) -> anyhow::Result<(String, u16)> {
        let u = url::Url::parse(&self.profile.vault_resource).context("bad vault resource")?;
        Ok((
            u.host_str().unwrap_or("vault.localhost").to_owned(),
            u.port_or_known_default().unwrap_or(443),
        ))
    }

    pub fn vault_url(&self, vault: &str) -> anyhow::Result<String> {
        let (suffix, port) = self.vault_host()?;
        Ok(format!("https://{}.{suffix}:{port}", vault.to_ascii_lowercase()))
    }

    /// A call to a vault's data plane; `path` starts with `/`, the api-version is added here.
    pub async fn vault(&self, method: Method, vault: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let base = self.vault_url(vault)?;
        let sep = if path.contains('?') { '&' } else { '?' };
        self.vault_at(method, vault, &format!("{base}{path}{sep}api-version=7.4"), body)
            .await
    }

    /// A data-plane call to a full URL of `vault` (a `nextLink`, a secret id).
    pub async fn vault_at(
        &self,
        method: Method,
        vault: &str,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let (suffix, _) = self.vault_host()?;
        let host = format!("{}.{suffix}", vault.to_ascii_lowercase());
        let http = rest::client(&self.profile.ca_file, Some((&host, self.server_addr)))?;
        let token = self.token(&self.profile.vault_resource).await?;
        let first = rest::send(&http, method.clone(), url, Some(&token), body).await;
        // A 401 whose challenge names another resource: ask for a token for that one, once, as the
        // Azure SDKs do (the vault resource was guessed when no state.json was at hand).
        let other = first.as_ref().err().and_then(|e| {
            e.downcast_ref::<rest::HttpError>()
                .filter(|h| h.status == 401)
                .and_then(|h| h.challenge_resource.clone())
                .filter(|r| r.trim_end_matches('/') != self.profile.vault_resource.trim_end_matches('/'))
        });
        match other {
            Some(resource) => {
                let token = self.token(resource.trim_end_matches('/')).await?;
                rest::send(&http, method, url, Some(&token), body).await
            }
            None => first,
        }
    }

    /// The subscription id (cached in the profile when there is one).
    pub async fn subscription_id(&self) -> anyhow::Result<String> {
        if let Some(s) = &self.profile.subscription_id {
            return Ok(s.clone());
        }
        let subs = self
            .mgmt(Method::GET, "/subscriptions?api-version=2022-12-01", None)
            .await?;
        subs["value"][0]["subscriptionId"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "No subscriptions found for {}: it has no role in keyhold's subscription (grant one with `keyhold role assignment create`)",
                    self.user()["name"].as_str().unwrap_or("the signed-in principal")
                )
            })
    }
}

/// One IMDS token request (`Metadata: true`), as `az login --identity` makes it.
pub async fn identity_token(authority: &str, client_id: Option<&str>, resource: &str) -> anyhow::Result<Value> {
    let mut url = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
        authority.trim_end_matches('/'),
        form_urlencoded::byte_serialize(resource.as_bytes()).collect::<String>()
    );
    if let Some(c) = client_id {
        url.push_str(&format!("&client_id={c}"));
    }
    let resp = rest::plain_client()?
        .get(&url)
        .header("Metadata", "true")
        .send()
        .await
        .with_context(|| format!("cannot reach the managed-identity endpoint {authority}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "the managed-identity endpoint refused: {}",
            body["error_description"]
                .as_str()
                .or(body["error"]["message"].as_str())
                .unwrap_or("no details")
        );
    }
    Ok(body)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod debug_tests {
    use super::CachedToken;

    #[test]
    fn debug_hides_cached_tokens() {
        let token = CachedToken {
            access_token: "eyJ.cached-secret.sig".into(),
            expires_on: 1,
        };
        let shown = format!("{token:?}");
        assert!(
            !shown.contains("cached-secret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
