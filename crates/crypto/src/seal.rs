//! The seal: what unlocks the root key. Today the key-file seal (a development convenience: anyone who
//! can read the data dir can unseal). The root key itself is only ever stored wrapped by the seal, and
//! it in turn wraps the keyring.

use std::{fs, io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Aad, CryptoError, Keyring, Sealed, aead};

/// The key that wraps the keyring. Never leaves memory unwrapped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RootKey([u8; 32]);

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

/// A 32-byte unseal key in a 0600 file.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KeyFileSeal([u8; 32]);

impl std::fmt::Debug for KeyFileSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyFileSeal(<redacted>)")
    }
}

impl KeyFileSeal {
    /// Loads the key file, creating it (mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        if path.exists() {
            let bytes =
                Zeroizing::new(fs::read(path).map_err(|e| CryptoError::Seal(e.to_string()))?);
            let key: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| CryptoError::Seal("key file must hold 32 bytes".into()))?;
            return Ok(Self(key));
        }
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| CryptoError::KeyGen)?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| CryptoError::Seal(e.to_string()))?;
        f.write_all(&key)
            .and_then(|_| f.sync_all())
            .map_err(|e| CryptoError::Seal(e.to_string()))?;
        Ok(Self(key))
    }

    pub fn wrap_root(&self, root: &RootKey) -> Result<Sealed, CryptoError> {
        aead::seal(0, &self.0, &Aad::new(&["root-key"]), &root.0)
    }

    pub fn unwrap_root(&self, sealed: &Sealed) -> Result<RootKey, CryptoError> {
        let bytes = aead::open(&self.0, &Aad::new(&["root-key"]), sealed)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Malformed)?;
        Ok(RootKey(key))
    }
}

impl RootKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| CryptoError::KeyGen)?;
        Ok(Self(key))
    }

    pub fn wrap_keyring(&self, ring: &Keyring) -> Result<Sealed, CryptoError> {
        aead::seal(0, &self.0, &Aad::new(&["keyring"]), &ring.to_bytes())
    }

    pub fn unwrap_keyring(&self, sealed: &Sealed) -> Result<Keyring, CryptoError> {
        Keyring::from_bytes(&aead::open(&self.0, &Aad::new(&["keyring"]), sealed)?)
    }
}
