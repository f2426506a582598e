//! The unsealed keyring, held in memory for the life of the process, and the root key that wraps it
//! (both zeroized on drop). All sealing of records goes through here so that associated data is built
//! the same way everywhere.
//!
//! Rotation adds a data key and stores the re-wrapped keyring (meta `keyring`) with a compare-and-swap,
//! so two nodes rotating at once cannot lose each other's key. Data keys are never removed: backups and
//! records not yet re-sealed stay readable. A node that meets a record under a key id it does not know
//! (another node rotated) reloads the keyring from the store and tries once more.

use std::sync::{Arc, RwLock};

use keyhold_crypto::{Aad, CryptoError, Keyring, RootKey, Sealed};
use keyhold_store::{Store, StoreError};
use zeroize::Zeroizing;

const META_KEY: &str = "keyring";

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("keyring: {0}")]
    Crypto(#[from] CryptoError),
    #[error("keyring storage: {0}")]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Keys {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    root: RootKey,
    ring: RwLock<Arc<Keyring>>,
    /// One reload or rotation at a time in this process.
    changing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// Unwraps the stored keyring, creating it on the first start (several nodes starting at once agree
    /// through `put_meta_if_absent`).
    pub async fn load(store: Arc<dyn Store>, root: RootKey) -> Result<Self, KeysError> {
        let candidate = root.wrap_keyring(&Keyring::generate()?)?;
        let stored = store.put_meta_if_absent(META_KEY, candidate.as_bytes()).await?;
        let ring = root.unwrap_keyring(&Sealed::from_stored(stored)?)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                root,
                ring: RwLock::new(Arc::new(ring)),
                changing: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn ring(&self) -> Arc<Keyring> {
        self.inner.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn install(&self, ring: Keyring) {
        *self.inner.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
    }

    /// Seals under the newest data key this node knows.
    pub fn seal(&self, owner: &[&str], plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        self.ring().seal(&Aad::new(owner), plaintext)
    }

    /// Opens a record under any data key; an unknown key id reloads the keyring once.
    pub async fn open(&self, owner: &[&str], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match self.ring().open(&Aad::new(owner), sealed) {
            Err(CryptoError::UnknownKey(id)) => {
                if let Err(e) = self.reload().await {
                    tracing::warn!(error = %e, key_id = id, "keyring reload failed");
                }
                self.ring().open(&Aad::new(owner), sealed)
            }
            other => other,
        }
    }

    /// The id of the data key new records are sealed under.
    pub fn current_key_id(&self) -> u32 {
        self.ring().current_id()
    }

    /// Reads the keyring from the store again (another node may have rotated).
    pub async fn reload(&self) -> Result<u32, KeysError> {
        let _one = self.inner.changing.lock().await;
        let stored = self.inner.store.meta(META_KEY).await?.ok_or(StoreError::NotFound)?;
        let ring = self.inner.root.unwrap_keyring(&Sealed::from_stored(stored)?)?;
        let id = ring.current_id();
        self.install(ring);
        Ok(id)
    }

    /// Adds a data key, which new records are sealed under from now on; returns its id.
    pub async fn rotate(&self) -> Result<u32, KeysError> {
        let _one = self.inner.changing.lock().await;
        loop {
            let stored = self.inner.store.meta(META_KEY).await?.ok_or(StoreError::NotFound)?;
            let mut ring = self.inner.root.unwrap_keyring(&Sealed::from_stored(stored.clone())?)?;
            let id = ring.rotate()?;
            let wrapped = self.inner.root.wrap_keyring(&ring)?;
            // Lost a race with another node's rotation: start again from its keyring.
            if self
                .inner
                .store
                .replace_meta(META_KEY, &stored, wrapped.as_bytes())
                .await?
            {
                self.install(ring);
                return Ok(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use keyhold_crypto::UnsealKey;
    use keyhold_store::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn nodes_see_each_others_rotations() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("keyhold-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db"))?);
        // Two nodes: one store, one root key.
        let unseal = UnsealKey::generate()?;
        let wrapped = unseal.wrap_root(&RootKey::generate()?)?;
        let a = Keys::load(store.clone(), unseal.unwrap_root(&wrapped)?).await?;
        let b = Keys::load(store.clone(), unseal.unwrap_root(&wrapped)?).await?;
        let owner = ["secret", "v", "n", "1"];
        let first = a.seal(&owner, b"first")?;

        assert_eq!(b.rotate().await?, 2);
        let second = b.seal(&owner, b"second")?;
        assert_eq!(second.key_id(), Some(2));
        assert_eq!(a.current_key_id(), 1, "a has not looked yet");
        assert_eq!(
            &a.open(&owner, &second).await?[..],
            b"second",
            "an unknown key id reloads"
        );
        assert_eq!(a.current_key_id(), 2);

        // Rotations at once on both nodes: neither key is lost.
        let (x, y) = tokio::join!(a.rotate(), b.rotate());
        let mut ids = [x?, y?];
        ids.sort_unstable();
        assert_eq!(ids, [3, 4]);
        assert_eq!((a.reload().await?, b.reload().await?), (4, 4));
        for keys in [&a, &b] {
            assert_eq!(&keys.open(&owner, &first).await?[..], b"first");
            assert_eq!(&keys.open(&owner, &second).await?[..], b"second");
        }
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
