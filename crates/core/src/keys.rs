//! The unsealed keyring, held in memory for the life of the process. All sealing of records goes
//! through here so that associated data is built the same way everywhere.

use std::sync::Arc;

use keyhold_crypto::{Aad, CryptoError, Keyring, Sealed};
use zeroize::Zeroizing;

#[derive(Clone)]
pub struct Keys {
    ring: Arc<Keyring>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    pub fn new(ring: Keyring) -> Self {
        Self { ring: Arc::new(ring) }
    }

    pub fn seal(&self, owner: &[&str], plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        self.ring.seal(&Aad::new(owner), plaintext)
    }

    pub fn open(&self, owner: &[&str], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.ring.open(&Aad::new(owner), sealed)
    }
}
