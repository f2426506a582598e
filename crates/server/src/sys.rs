//! The sys API, reachable sealed or not: seal status, initialisation (Shamir shares or a passphrase)
//! and unsealing. Shares and passphrases pass through memory only.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, State},
};
use keyhold_core::seal::{self, SealError, SealInfo, Unsealed};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    error::{ApiError, bad_parameter},
    extract::KvJson,
    node::Node,
};

type Result<T> = std::result::Result<T, ApiError>;

pub(crate) async fn status(State(node): State<Arc<Node>>) -> Result<Json<Value>> {
    let info = seal::info(&*node.store).await?;
    let progress = node.unsealer.progress().await;
    let (threshold, shares) = match &info {
        Some(SealInfo::Shamir { shares, threshold }) => (Some(*threshold), Some(*shares)),
        _ => (None, None),
    };
    Ok(Json(json!({
        "initialized": info.is_some(),
        "sealed": node.is_sealed(),
        "type": info.as_ref().map(SealInfo::kind),
        "threshold": threshold,
        "shares": shares,
        "progress": progress,
        // Background jobs (purge, reseal) this node runs; one node of a service leads each.
        "leading": node.leading.jobs(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InitBody {
    #[serde(rename = "type")]
    kind: String,
    shares: Option<u8>,
    threshold: Option<u8>,
    passphrase: Option<String>,
}

pub(crate) async fn init(State(node): State<Arc<Node>>, KvJson(body): KvJson<InitBody>) -> Result<Json<Value>> {
    match body.kind.as_str() {
        "shamir" => {
            let (Some(n), Some(k)) = (body.shares, body.threshold) else {
                return Err(bad_parameter("shamir needs 'shares' and 'threshold'"));
            };
            let keys = seal::init_shamir(&*node.store, n, k).await?;
            let keys: Vec<&str> = keys.iter().map(ExposeSecret::expose_secret).collect();
            Ok(Json(
                json!({ "keys": keys, "shares": n, "threshold": k, "sealed": true }),
            ))
        }
        "passphrase" => {
            let pass = SecretString::from(body.passphrase.ok_or_else(|| bad_parameter("passphrase needed"))?);
            if pass.expose_secret().chars().count() < 12 {
                return Err(bad_parameter("the passphrase must be at least 12 characters"));
            }
            let root = node.unsealer.init_passphrase(&*node.store, pass).await?;
            node.unlock(root)
                .await
                .map_err(|e| ApiError::Vault(keyhold_core::VaultError::Internal(e.0)))?;
            Ok(Json(json!({ "sealed": false })))
        }
        other => Err(bad_parameter(format!(
            "unknown seal type '{other}': use 'shamir' or 'passphrase' (the key-file seal is chosen with `keyhold serve --seal keyfile`)"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnsealBody {
    key: Option<String>,
    passphrase: Option<String>,
}

pub(crate) async fn unseal(
    State(node): State<Arc<Node>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    KvJson(body): KvJson<UnsealBody>,
) -> Result<Json<Value>> {
    if !node.is_sealed() {
        return status(State(node)).await;
    }
    let info = seal::info(&*node.store).await?.ok_or(SealError::NotInitialized)?;
    let unsealer = &node.unsealer;
    let root = match info {
        SealInfo::Shamir { threshold, .. } => {
            let share = SecretString::from(
                body.key
                    .ok_or_else(|| bad_parameter("'key' (one unseal share) is required"))?,
            );
            match unsealer.share(&*node.store, share, threshold).await? {
                Unsealed::Root(root) => Some(root),
                Unsealed::Progress => None,
            }
        }
        SealInfo::Passphrase { params } => {
            let pass = SecretString::from(
                body.passphrase
                    .ok_or_else(|| bad_parameter("'passphrase' is required"))?,
            );
            let now = keyhold_core::clock::Clock::now(&keyhold_core::clock::SystemClock);
            Some(
                unsealer
                    .passphrase(&*node.store, params, pass, Some(peer.ip()), now)
                    .await?,
            )
        }
        SealInfo::Keyfile => {
            return Err(bad_parameter(
                "this keyhold uses the key-file seal; it unseals itself at start",
            ));
        }
    };
    if let Some(root) = root {
        node.unlock(root)
            .await
            .map_err(|e| ApiError::Vault(keyhold_core::VaultError::Internal(e.0)))?;
    }
    status(State(node)).await
}
