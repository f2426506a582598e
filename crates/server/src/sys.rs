//! The sys API, reachable sealed or not: seal status, initialisation (Shamir shares or a passphrase)
//! and unsealing. Shares and passphrases pass through memory only. It knows the node only through
//! [`Sealable`], so the node (which mounts these routes) and the sys API do not depend on each other.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{
    Json,
    extract::{ConnectInfo, State},
};
use keyhold_core::{
    clock::Clock,
    seal::{self, InitRequest, Initialised, SealInfo, UnsealRequest, Unsealed, Unsealer},
};
use keyhold_crypto::RootKey;
use keyhold_proto::admin::{InitBody, InitPassphrase, InitShamir, SealStatus, UnsealBody};
use keyhold_store::Store;
use secrecy::{ExposeSecret, SecretString};

use crate::{ServeError, audit::Routes, error::ApiError, extract::KvJson};

type Result<T> = std::result::Result<T, ApiError>;

/// What the sys API needs of a node.
pub(crate) trait Sealable: Send + Sync + 'static {
    fn store(&self) -> &dyn Store;
    fn unsealer(&self) -> &Unsealer;
    fn is_sealed(&self) -> bool;
    /// The background jobs this node leads.
    fn leading(&self) -> Vec<String>;
    /// Opens the domain with the recovered root key and starts serving.
    fn unlock(&self, root: RootKey) -> impl Future<Output = std::result::Result<(), ServeError>> + Send;
}

/// The three sys routes over node `N`.
pub(crate) fn routes<N: Sealable>() -> Routes<Arc<N>> {
    Routes::new()
        .get("/keyhold/v1/sys/seal-status", "SealStatus", status::<N>)
        .post("/keyhold/v1/sys/init", "SealInit", init::<N>)
        .post("/keyhold/v1/sys/unseal", "Unseal", unseal::<N>)
}

async fn status<N: Sealable>(State(node): State<Arc<N>>) -> Result<Json<SealStatus>> {
    let info = seal::info(node.store()).await?;
    let (threshold, shares) = match &info {
        Some(SealInfo::Shamir { shares, threshold }) => (Some(*threshold), Some(*shares)),
        _ => (None, None),
    };
    Ok(Json(SealStatus {
        initialized: info.is_some(),
        sealed: node.is_sealed(),
        kind: info.as_ref().map(|i| i.kind().to_owned()),
        threshold,
        shares,
        progress: node.unsealer().progress().await,
        leading: node.leading(),
    }))
}

async fn init<N: Sealable>(
    State(node): State<Arc<N>>,
    KvJson(body): KvJson<InitBody>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let req = InitRequest {
        kind: body.kind,
        shares: body.shares,
        threshold: body.threshold,
        passphrase: body.passphrase.map(SecretString::from),
    };
    match node.unsealer().initialise(node.store(), req).await? {
        Initialised::Shares {
            keys,
            shares,
            threshold,
        } => Ok(Json(InitShamir {
            keys: keys.iter().map(|k| k.expose_secret().to_owned()).collect(),
            shares,
            threshold,
            sealed: true,
        })
        .into_response()),
        Initialised::Root(root) => {
            node.unlock(root).await.map_err(|e| ApiError::Internal(e.0))?;
            Ok(Json(InitPassphrase { sealed: false }).into_response())
        }
    }
}

async fn unseal<N: Sealable>(
    State(node): State<Arc<N>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    KvJson(body): KvJson<UnsealBody>,
) -> Result<Json<SealStatus>> {
    if node.is_sealed() {
        let req = UnsealRequest {
            key: body.key.map(SecretString::from),
            passphrase: body.passphrase.map(SecretString::from),
        };
        let now = keyhold_core::clock::SystemClock.now();
        let attempt = node.unsealer().attempt(node.store(), req, Some(peer.ip()), now).await?;
        if let Unsealed::Root(root) = attempt {
            node.unlock(root).await.map_err(|e| ApiError::Internal(e.0))?;
        }
    }
    status(State(node)).await
}
