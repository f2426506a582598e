//! The sys API's two requests as the domain sees them: initialise (which seal, with what) and one
//! unseal attempt (a Shamir share or the passphrase, whichever this instance's seal takes). The server
//! parses the body and hands the fields over; the rules (which fields a seal needs, the passphrase's
//! minimum length, collecting shares up to the threshold) live here.

use keyhold_crypto::RootKey;
use keyhold_store::Store;
use secrecy::{ExposeSecret, SecretString};

use super::{SealError, SealInfo, Source, Unsealed, Unsealer};

/// A passphrase shorter than this is refused at initialisation.
const MIN_PASSPHRASE_CHARS: usize = 12;

/// What an initialisation produced.
pub enum Initialised {
    /// Shamir: the shares, to be shown once; the instance stays sealed.
    Shares {
        keys: Vec<SecretString>,
        shares: u8,
        threshold: u8,
    },
    /// Passphrase: the root key, so the caller unseals at once.
    Root(RootKey),
}

/// The fields of an initialisation request.
pub struct InitRequest {
    pub kind: String,
    pub shares: Option<u8>,
    pub threshold: Option<u8>,
    pub passphrase: Option<SecretString>,
}

/// The fields of an unseal request: one share, or the passphrase.
pub struct UnsealRequest {
    pub key: Option<SecretString>,
    pub passphrase: Option<SecretString>,
}

fn bad(message: &str) -> SealError {
    SealError::BadInput(message.to_owned())
}

impl Unsealer {
    pub async fn initialise(&self, store: &dyn Store, req: InitRequest) -> Result<Initialised, SealError> {
        match req.kind.as_str() {
            "shamir" => {
                let (Some(shares), Some(threshold)) = (req.shares, req.threshold) else {
                    return Err(bad("shamir needs 'shares' and 'threshold'"));
                };
                let keys = super::init_shamir(store, shares, threshold).await?;
                Ok(Initialised::Shares {
                    keys,
                    shares,
                    threshold,
                })
            }
            "passphrase" => {
                let pass = req.passphrase.ok_or_else(|| bad("passphrase needed"))?;
                if pass.expose_secret().chars().count() < MIN_PASSPHRASE_CHARS {
                    return Err(bad("the passphrase must be at least 12 characters"));
                }
                Ok(Initialised::Root(self.init_passphrase(store, pass).await?))
            }
            other => Err(SealError::BadInput(format!(
                "unknown seal type '{other}': use 'shamir' or 'passphrase' (the key-file seal is chosen with `keyhold serve --seal keyfile`)"
            ))),
        }
    }

    /// One unseal attempt from `source` at `now` (Unix seconds), by whatever this instance's seal takes.
    pub async fn attempt(
        &self,
        store: &dyn Store,
        req: UnsealRequest,
        source: Source,
        now: i64,
    ) -> Result<Unsealed, SealError> {
        match super::info(store).await?.ok_or(SealError::NotInitialized)? {
            SealInfo::Shamir { threshold, .. } => {
                let share = req.key.ok_or_else(|| bad("'key' (one unseal share) is required"))?;
                self.share(store, share, threshold).await
            }
            SealInfo::Passphrase { params } => {
                let pass = req.passphrase.ok_or_else(|| bad("'passphrase' is required"))?;
                let root = self.passphrase(store, params, pass, source, now).await?;
                Ok(Unsealed::Root(root))
            }
            SealInfo::Keyfile => Err(bad("this keyhold uses the key-file seal; it unseals itself at start")),
        }
    }
}
