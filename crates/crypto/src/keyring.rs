//! The versioned keyring of data keys. Records are sealed under the newest key; older keys stay to
//! open records written before a rotation.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Aad, CryptoError, Sealed, aead};

#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct DataKey {
    id: u32,
    key: [u8; 32],
}

#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Keyring {
    keys: Vec<DataKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring(<redacted>, {} keys)", self.keys.len())
    }
}

impl Keyring {
    /// A keyring holding one fresh data key.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut ring = Self { keys: Vec::new() };
        ring.rotate()?;
        Ok(ring)
    }

    /// Adds a new data key, which becomes the one new records are sealed under.
    pub fn rotate(&mut self) -> Result<u32, CryptoError> {
        let id = self.keys.iter().map(|k| k.id).max().unwrap_or(0) + 1;
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| CryptoError::KeyGen)?;
        self.keys.push(DataKey { id, key });
        Ok(id)
    }

    /// The id of the newest data key, which [`Keyring::seal`] uses.
    pub fn current_id(&self) -> u32 {
        self.keys.last().map_or(0, |k| k.id)
    }

    pub fn seal(&self, aad: &Aad, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        let current = self.keys.last().ok_or(CryptoError::UnknownKey(0))?;
        aead::seal(current.id, &current.key, aad, plaintext)
    }

    pub fn open(&self, aad: &Aad, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let id = sealed.key_id().ok_or(CryptoError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(CryptoError::UnknownKey(id))?;
        aead::open(&key.key, aad, sealed)
    }

    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(serde_json::to_vec(self).unwrap_or_default())
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        serde_json::from_slice(bytes).map_err(|_| CryptoError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_open_only_with_their_own_aad() -> Result<(), CryptoError> {
        let ring = Keyring::generate()?;
        let a = ring.seal(&Aad::new(&["secret", "v", "a", "1"]), b"alpha")?;
        assert_eq!(&ring.open(&Aad::new(&["secret", "v", "a", "1"]), &a)?[..], b"alpha");
        assert!(matches!(
            ring.open(&Aad::new(&["secret", "v", "b", "1"]), &a),
            Err(CryptoError::Integrity)
        ));
        Ok(())
    }

    #[test]
    fn old_records_open_after_rotation() -> Result<(), CryptoError> {
        let mut ring = Keyring::generate()?;
        let aad = Aad::new(&["x"]);
        let old = ring.seal(&aad, b"old")?;
        ring.rotate()?;
        let new = ring.seal(&aad, b"new")?;
        assert_ne!(old.key_id(), new.key_id());
        assert_eq!(new.key_id(), Some(ring.current_id()));
        assert_eq!(&ring.open(&aad, &old)?[..], b"old");
        Ok(())
    }
}
