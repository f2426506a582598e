//! The domain: tenants, principals, tokens, vaults and secrets. Knows no HTTP and no SQL: handlers call
//! in with parsed values and get domain results or one of this crate's error enums back.
#![forbid(unsafe_code)]

pub mod audit;
pub mod authz;
mod bootstrap;
pub mod certificates;
pub mod clock;
pub mod directory;
mod error;
mod fresh;
pub mod identity;
mod keys;
pub mod management;
pub mod reconcile;
pub mod rotation;
pub mod seal;
pub mod secrets;
mod throttle;
pub mod vault_keys;
pub mod vaults;

use std::sync::Arc;

pub use bootstrap::{AdminCredentials, Bootstrap, tenant_id};
pub use error::{AuthError, VaultError};
pub use keyhold_store::{Store, StoreError};
pub use keys::{Keys, KeysError};

/// Settings the domain needs, resolved by the server once its listeners are bound.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The service's public origin (`--public-url`, default `https://localhost:PORT`): token `iss` and
    /// the management audience. The same on every node of one service.
    pub public_url: String,
    /// This node's own origin (`https://localhost:<bound port>`), which clients on the node's machine
    /// may use instead of the public one.
    pub node_url: String,
    /// `https://<dns-suffix>[:port]`: the audience of vault tokens and the challenge resource.
    pub vault_resource: String,
    pub dns_suffix: String,
    pub token_lifetime_secs: i64,
    /// How long a device code waits for its person (Entra's 15 minutes unless configured shorter).
    pub device_code_lifetime_secs: i64,
    /// Signing keys are replaced once older than this (the old key stays published for its tokens).
    pub signing_key_max_age_secs: i64,
    pub clock_skew_secs: i64,
}

impl CoreConfig {
    /// `https://<vault>.<dns-suffix>[:port]/`: a vault's data-plane URI, the same in every body.
    pub fn vault_uri(&self, vault: &str) -> String {
        format!(
            "https://{vault}.{}/",
            self.vault_resource.trim_start_matches("https://")
        )
    }

    /// `https://<public origin>/graph/`: the audience of Graph tokens, and where az sends Graph
    /// requests (`<resource>v1.0/...`). A path of the public origin rather than an origin of its
    /// own, so no further DNS name is needed; not the origin itself, which is the management audience.
    pub fn graph_resource(&self) -> String {
        format!("{}/graph/", self.public_url.trim_end_matches('/'))
    }

    /// The origin to name in documents and accept in assertion audiences for a request addressed to
    /// `requested`: itself when it is one of ours (the public origin, or this node's on loopback),
    /// else the public origin. A `Host` header is the client's word, so it never picks a foreign one.
    pub fn own_origin(&self, requested: &str) -> String {
        let requested = requested.trim_end_matches('/').to_ascii_lowercase();
        let port = self.node_url.rsplit(':').next().unwrap_or_default();
        let ours = [
            self.public_url.to_ascii_lowercase(),
            self.node_url.to_ascii_lowercase(),
            format!("https://127.0.0.1:{port}"),
            format!("https://[::1]:{port}"),
        ];
        if ours.contains(&requested) {
            requested
        } else {
            self.public_url.clone()
        }
    }
}

impl Keyhold {
    /// The admin API's one rule until RBAC covers it: only the admin principal may call it.
    pub fn require_admin(&self, caller: &authz::Caller) -> Result<(), AuthError> {
        if caller.oid == self.admin_object_id {
            Ok(())
        } else {
            Err(AuthError::NotAdmin(caller.oid.clone()))
        }
    }
}

/// Everything the handlers call, built once at start-up and shared.
#[derive(Clone)]
pub struct Keyhold {
    pub config: Arc<CoreConfig>,
    pub tenant_id: String,
    /// The admin principal: the one caller allowed on the admin API until RBAC lands.
    pub admin_object_id: String,
    pub identity: Arc<identity::Identity>,
    pub vaults: vaults::Vaults,
    pub secrets: secrets::Secrets,
    pub vault_keys: vault_keys::VaultKeys,
    pub certificates: certificates::Certificates,
    pub management: management::Management,
    pub rotation: rotation::Rotation,
    /// The directory as Microsoft Graph shows it.
    pub directory: directory::Directory,
}
