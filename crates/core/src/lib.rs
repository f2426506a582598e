//! The domain: tenants, principals, tokens, vaults and secrets. Knows no HTTP and no SQL: handlers call
//! in with parsed values and get domain results or one of this crate's error enums back.
#![forbid(unsafe_code)]

pub mod audit;
pub mod authz;
mod bootstrap;
pub mod clock;
mod error;
pub mod identity;
mod keys;
pub mod management;
pub mod reconcile;
pub mod rotation;
pub mod seal;
pub mod secrets;
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
    /// `https://<dns-suffix>[:port]`: the audience of vault tokens and the challenge resource.
    pub vault_resource: String,
    pub dns_suffix: String,
    pub token_lifetime_secs: i64,
    /// Signing keys are replaced once older than this (the old key stays published for its tokens).
    pub signing_key_max_age_secs: i64,
    pub clock_skew_secs: i64,
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
    pub management: management::Management,
    pub rotation: rotation::Rotation,
}
