//! The sys API, reachable sealed or not: seal status, initialisation (Shamir shares or a passphrase)
//! and unsealing. Shares and passphrases pass through memory only.

use std::sync::Arc;

use axum::{Json, extract::State};
use keyhold_core::seal::{self, SealError, SealInfo};
use keyhold_crypto::UnsealKey;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    error::{ApiError, bad_parameter},
    extract::KvJson,
    node::Node,
};

type Result<T> = std::result::Result<T, ApiError>;

fn seal_error(e: SealError) -> ApiError {
    match e {
        SealError::Store(inner) => ApiError::Vault(keyhold_core::VaultError::Internal(inner.to_string())),
        other => bad_parameter(other.to_string()),
    }
}

pub(crate) async fn status(State(node): State<Arc<Node>>) -> Result<Json<Value>> {
    let info = seal::info(&*node.store).await.map_err(seal_error)?;
    let progress = node.shares.lock().await.len();
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
            let keys = seal::init_shamir(&*node.store, n, k).await.map_err(seal_error)?;
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
            let root = seal::init_passphrase(&*node.store, &pass).await.map_err(seal_error)?;
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

pub(crate) async fn unseal(State(node): State<Arc<Node>>, KvJson(body): KvJson<UnsealBody>) -> Result<Json<Value>> {
    if !node.is_sealed() {
        return status(State(node)).await;
    }
    let info = seal::info(&*node.store)
        .await
        .map_err(seal_error)?
        .ok_or_else(|| seal_error(SealError::NotInitialized))?;
    match info {
        SealInfo::Shamir { threshold, .. } => {
            let share = SecretString::from(
                body.key
                    .ok_or_else(|| bad_parameter("'key' (one unseal share) is required"))?,
            );
            let mut shares = node.shares.lock().await;
            if !shares.iter().any(|s| s.expose_secret() == share.expose_secret()) {
                shares.push(share);
            }
            if shares.len() >= threshold as usize {
                let collected = std::mem::take(&mut *shares);
                drop(shares);
                let key = UnsealKey::combine(&collected, threshold);
                let root = match key {
                    Ok(key) => seal::unseal(&*node.store, &key).await,
                    Err(e) => Err(e.into()),
                };
                match root {
                    Ok(root) => node
                        .unlock(root)
                        .await
                        .map_err(|e| ApiError::Vault(keyhold_core::VaultError::Internal(e.0)))?,
                    Err(e) => {
                        return Err(bad_parameter(format!(
                            "{e}; the submitted shares were discarded, start again"
                        )));
                    }
                }
            }
        }
        SealInfo::Passphrase { params } => {
            let pass = SecretString::from(
                body.passphrase
                    .ok_or_else(|| bad_parameter("'passphrase' is required"))?,
            );
            let key = tokio::task::spawn_blocking(move || UnsealKey::from_passphrase(&pass, &params))
                .await
                .map_err(|e| bad_parameter(e.to_string()))?
                .map_err(|e| seal_error(e.into()))?;
            let root = seal::unseal(&*node.store, &key).await.map_err(seal_error)?;
            node.unlock(root)
                .await
                .map_err(|e| ApiError::Vault(keyhold_core::VaultError::Internal(e.0)))?;
        }
        SealInfo::Keyfile => {
            return Err(bad_parameter(
                "this keyhold uses the key-file seal; it unseals itself at start",
            ));
        }
    }
    status(State(node)).await
}
