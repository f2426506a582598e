//! Unsealing through the sys API, which anyone who reaches the server can call, sealed or not. So it
//! must not be a way to take the server down exactly when an operator is bringing it up: one key
//! derivation (Argon2id, 64 MiB) runs at a time, a source that keeps sending wrong passphrases is
//! slowed down, and a bad Shamir share costs only itself, never the shares already collected.

use std::time::Duration;

use keyhold_crypto::{PassphraseParams, RootKey, Sealed, UnsealKey};
use keyhold_store::Store;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use super::{SealError, SealInfo};

pub use crate::throttle::Source;
use crate::throttle::Throttle;

/// How long a request waits for the one key derivation slot before it is told to retry.
const KDF_WAIT: Duration = Duration::from_secs(2);
/// Wrong passphrases a source may send in [`FAILURE_WINDOW_SECS`] before it must wait.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW_SECS: i64 = 60;
/// Sources remembered at most.
const MAX_SOURCES: usize = 10_000;
/// Shares are at most this many (keyhold splits into 1–16), so trying every k of them stays cheap.
const MAX_SHARES: usize = 16;

/// What an accepted unseal request achieved.
pub enum Unsealed {
    /// The root key: the caller opens the domain with it.
    Root(RootKey),
    /// Shamir shares collected so far, fewer than needed (or none of their k-subsets unseals yet).
    Progress,
}

pub struct Unsealer {
    /// Distinct shares submitted so far with their x coordinates, in memory only.
    shares: tokio::sync::Mutex<Vec<(u8, SecretString)>>,
    kdf: Semaphore,
    /// Wrong passphrases per source address.
    failures: Throttle<Source>,
}

impl Default for Unsealer {
    fn default() -> Self {
        Self {
            shares: tokio::sync::Mutex::new(Vec::new()),
            kdf: Semaphore::new(1),
            failures: Throttle::new(MAX_FAILURES, FAILURE_WINDOW_SECS, MAX_SOURCES),
        }
    }
}

impl Unsealer {
    /// How many shares have been collected.
    pub async fn progress(&self) -> usize {
        self.shares.lock().await.len()
    }

    /// Argon2id over `passphrase`, one derivation at a time on a blocking thread.
    pub async fn derive(&self, passphrase: SecretString, params: PassphraseParams) -> Result<UnsealKey, SealError> {
        let _slot = tokio::time::timeout(KDF_WAIT, self.kdf.acquire())
            .await
            .map_err(|_| SealError::Busy { retry_after_secs: 2 })?
            .map_err(|_| SealError::Busy { retry_after_secs: 2 })?;
        tokio::task::spawn_blocking(move || UnsealKey::from_passphrase(&passphrase, &params))
            .await
            .map_err(|e| SealError::Internal(e.to_string()))?
            .map_err(SealError::from)
    }

    /// Initialises a passphrase seal, through the same single derivation slot.
    pub async fn init_passphrase(&self, store: &dyn Store, passphrase: SecretString) -> Result<RootKey, SealError> {
        let params = PassphraseParams::generate()?;
        let key = self.derive(passphrase, params.clone()).await?;
        super::initialise(store, &key, &SealInfo::Passphrase { params }).await
    }

    /// One passphrase attempt from `source`. `now` is Unix seconds.
    pub async fn passphrase(
        &self,
        store: &dyn Store,
        params: PassphraseParams,
        passphrase: SecretString,
        source: Source,
        now: i64,
    ) -> Result<RootKey, SealError> {
        if let Some(retry_after_secs) = self.failures.blocked(&source, now) {
            return Err(SealError::Throttled { retry_after_secs });
        }
        let key = self.derive(passphrase, params).await?;
        match super::unseal(store, &key).await {
            Err(SealError::WrongKey) => {
                self.failures.fail(source, now);
                Err(SealError::WrongKey)
            }
            other => other,
        }
    }

    /// One Shamir share. A malformed share, or one that contradicts a collected share at the same
    /// index, is refused alone; once `threshold` shares are in, every k-subset is tried, so one wrong
    /// share among them does not make the operator start over.
    pub async fn share(&self, store: &dyn Store, share: SecretString, threshold: u8) -> Result<Unsealed, SealError> {
        let index = UnsealKey::share_index(&share).map_err(|e| SealError::BadShare(e.to_string()))?;
        let mut shares = self.shares.lock().await;
        match shares.iter().find(|(x, _)| *x == index) {
            Some((_, same)) if same.expose_secret().trim() == share.expose_secret().trim() => {}
            Some(_) => {
                return Err(SealError::BadShare(format!(
                    "a different share with index {index} was already submitted; this one was discarded, the {} collected are kept",
                    shares.len()
                )));
            }
            None if shares.len() >= MAX_SHARES => {
                return Err(SealError::BadShare(format!(
                    "{MAX_SHARES} shares are collected already and none {threshold} of them unseal; restart the server to begin again"
                )));
            }
            None => shares.push((index, share)),
        }
        let k = threshold as usize;
        if shares.len() < k {
            return Ok(Unsealed::Progress);
        }
        let wrapped = store.meta("root_key").await?.ok_or(SealError::NotInitialized)?;
        let sealed = Sealed::from_stored(wrapped).map_err(|e| SealError::Internal(format!("stored root key: {e}")))?;
        let newest = shares.len() - 1;
        // Every k-subset that contains the newest share: the others were tried before it came.
        for mut pick in subsets(newest, k - 1) {
            pick.push(newest);
            let candidate: Vec<SecretString> = pick.iter().map(|&i| shares[i].1.clone()).collect();
            if let Ok(root) = UnsealKey::combine(&candidate, threshold).and_then(|key| key.unwrap_root(&sealed)) {
                shares.clear();
                return Ok(Unsealed::Root(root));
            }
        }
        Err(SealError::SharesDoNotUnseal {
            collected: shares.len(),
            threshold,
        })
    }
}

/// Every `k`-element subset of `0..n`, as sorted index lists.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut pick = Vec::with_capacity(k);
    fn walk(start: usize, n: usize, k: usize, pick: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if pick.len() == k {
            out.push(pick.clone());
            return;
        }
        for i in start..n {
            if n - i < k - pick.len() {
                break;
            }
            pick.push(i);
            walk(i + 1, n, k, pick, out);
            pick.pop();
        }
    }
    walk(0, n, k, &mut pick, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::subsets;

    #[test]
    fn subsets_are_every_combination() {
        assert_eq!(subsets(4, 2).len(), 6);
        assert_eq!(subsets(3, 0), vec![Vec::<usize>::new()]);
        assert_eq!(subsets(2, 3), Vec::<Vec<usize>>::new());
        assert_eq!(subsets(16, 8).len(), 12_870);
    }
}
