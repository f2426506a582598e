//! Initialising and unsealing: which seal protects this instance (stored in the clear as `seal`), and
//! recovering the root key from an unseal key. Nothing here serves requests; the server decides when
//! to call it (at start for the key file or a configured passphrase, through its sys API otherwise).

mod requests;
mod unsealer;

pub use requests::{InitRequest, Initialised, UnsealRequest};
pub use unsealer::{Source, Unsealed, Unsealer};

use keyhold_crypto::{PassphraseParams, RootKey, Sealed, UnsealKey};
use keyhold_store::{Store, StoreError};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How this instance is sealed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SealInfo {
    Keyfile,
    Passphrase { params: PassphraseParams },
    Shamir { shares: u8, threshold: u8 },
}

impl SealInfo {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Keyfile => "keyfile",
            Self::Passphrase { .. } => "passphrase",
            Self::Shamir { .. } => "shamir",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("keyhold is not initialised yet")]
    NotInitialized,
    #[error("keyhold is already initialised")]
    AlreadyInitialized,
    #[error("the key does not unseal this keyhold")]
    WrongKey,
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    BadShare(String),
    #[error(
        "the {collected} shares collected do not unseal: at least one is wrong. They are kept; submit another share (any {threshold} right ones unseal)"
    )]
    SharesDoNotUnseal { collected: usize, threshold: u8 },
    #[error("another unseal attempt is running; try again shortly")]
    Busy { retry_after_secs: u64 },
    #[error("too many wrong unseal attempts from this address; try again later")]
    Throttled { retry_after_secs: u64 },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A failure of keyhold itself (key generation, a corrupt stored seal record): not the caller's.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<keyhold_crypto::CryptoError> for SealError {
    fn from(e: keyhold_crypto::CryptoError) -> Self {
        match e {
            keyhold_crypto::CryptoError::Integrity => Self::WrongKey,
            e @ (keyhold_crypto::CryptoError::Malformed
            | keyhold_crypto::CryptoError::UnknownKey(_)
            | keyhold_crypto::CryptoError::KeyGen
            | keyhold_crypto::CryptoError::Signing
            | keyhold_crypto::CryptoError::Certificate(_)
            | keyhold_crypto::CryptoError::Seal(_)) => Self::Internal(e.to_string()),
        }
    }
}

pub async fn info(store: &dyn Store) -> Result<Option<SealInfo>, SealError> {
    match store.meta("seal").await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SealError::Internal(format!("stored seal record: {e}"))),
    }
}

/// Records a new root key wrapped by `key`, and the seal kind. Refuses if another node or an earlier
/// start initialised first.
async fn initialise(store: &dyn Store, key: &UnsealKey, info: &SealInfo) -> Result<RootKey, SealError> {
    let json = serde_json::to_vec(info).map_err(|e| SealError::Internal(e.to_string()))?;
    if store.put_meta_if_absent("seal", &json).await? != json {
        return Err(SealError::AlreadyInitialized);
    }
    let root = RootKey::generate()?;
    store.put_meta("root_key", key.wrap_root(&root)?.as_bytes()).await?;
    Ok(root)
}

/// Initialises with the key file (the development default).
pub async fn init_keyfile(store: &dyn Store, key: &UnsealKey) -> Result<RootKey, SealError> {
    initialise(store, key, &SealInfo::Keyfile).await
}

pub async fn init_passphrase(store: &dyn Store, passphrase: &SecretString) -> Result<RootKey, SealError> {
    let params = PassphraseParams::generate()?;
    let key = UnsealKey::from_passphrase(passphrase, &params)?;
    initialise(store, &key, &SealInfo::Passphrase { params }).await
}

/// Initialises with a fresh unseal key split into shares, which are returned once and never stored.
pub async fn init_shamir(store: &dyn Store, shares: u8, threshold: u8) -> Result<Vec<SecretString>, SealError> {
    if !(1..=16).contains(&shares) || threshold < 1 || threshold > shares {
        return Err(SealError::BadInput(
            "shares must be 1-16 and the threshold between 1 and shares".into(),
        ));
    }
    let key = UnsealKey::generate()?;
    let split = key.split(shares, threshold)?;
    initialise(store, &key, &SealInfo::Shamir { shares, threshold }).await?;
    Ok(split)
}

/// The root key, if `key` is the one it was wrapped with.
pub async fn unseal(store: &dyn Store, key: &UnsealKey) -> Result<RootKey, SealError> {
    let wrapped = store.meta("root_key").await?.ok_or(SealError::NotInitialized)?;
    let sealed = Sealed::from_stored(wrapped).map_err(|e| SealError::Internal(format!("stored root key: {e}")))?;
    Ok(key.unwrap_root(&sealed)?)
}
