//! The seal: what unlocks the root key. Three ways to obtain the 32-byte unseal key:
//! a key file in the data dir (the default, a development convenience: whoever reads the data dir can
//! unseal), a passphrase stretched with Argon2id, or k-of-n Shamir shares held by different people.
//! The root key is only ever stored wrapped by the unseal key, and it wraps the keyring.

use std::{fs, io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
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

/// The key that wraps the root key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct UnsealKey([u8; 32]);

impl std::fmt::Debug for UnsealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsealKey(<redacted>)")
    }
}

/// Argon2id cost and salt, stored in the clear beside the wrapped root key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PassphraseParams {
    pub salt: String,
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl PassphraseParams {
    /// A fresh salt with OWASP's recommended Argon2id cost (64 MiB, 3 passes).
    pub fn generate() -> Result<Self, CryptoError> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| CryptoError::KeyGen)?;
        Ok(Self {
            salt: B64.encode(salt),
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        })
    }
}

fn random32() -> Result<[u8; 32], CryptoError> {
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| CryptoError::KeyGen)?;
    Ok(key)
}

fn seal_err(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Seal(e.to_string())
}

impl UnsealKey {
    pub fn generate() -> Result<Self, CryptoError> {
        random32().map(Self)
    }

    /// Loads an existing key file.
    pub fn load_file(path: &Path) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(fs::read(path).map_err(seal_err)?);
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| seal_err("key file must hold 32 bytes"))?;
        Ok(Self(key))
    }

    /// Loads the key file, creating it (mode 0600) if it does not exist.
    pub fn load_or_create_file(path: &Path) -> Result<Self, CryptoError> {
        if path.exists() {
            return Self::load_file(path);
        }
        let key = Self::generate()?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(seal_err)?;
        f.write_all(&key.0).and_then(|_| f.sync_all()).map_err(seal_err)?;
        Ok(key)
    }

    /// Argon2id over the passphrase.
    pub fn from_passphrase(passphrase: &SecretString, params: &PassphraseParams) -> Result<Self, CryptoError> {
        let salt = B64.decode(&params.salt).map_err(seal_err)?;
        let argon_params =
            argon2::Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32)).map_err(seal_err)?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase.expose_secret().as_bytes(), &salt, &mut key)
            .map_err(seal_err)?;
        Ok(Self(key))
    }

    /// Splits into `shares` base64 strings, any `threshold` of which rebuild the key.
    pub fn split(&self, shares: u8, threshold: u8) -> Result<Vec<SecretString>, CryptoError> {
        if threshold < 1 || threshold > shares {
            return Err(seal_err("the threshold must be between 1 and the number of shares"));
        }
        let dealer = blahaj::Sharks(threshold).dealer(&self.0);
        Ok(dealer
            .take(shares as usize)
            .map(|share| {
                let bytes = Zeroizing::new(Vec::from(&share));
                SecretString::from(B64.encode(&*bytes))
            })
            .collect())
    }

    /// The x coordinate of a well-formed share (33 bytes, x ≠ 0), which tells shares apart: a malformed
    /// share is refused on arrival instead of spoiling the whole set later.
    pub fn share_index(share: &SecretString) -> Result<u8, CryptoError> {
        let bytes = Zeroizing::new(
            B64.decode(share.expose_secret().trim())
                .map_err(|_| seal_err("the share is not valid base64"))?,
        );
        match bytes.as_slice() {
            [x, y @ ..] if *x != 0 && y.len() == 32 => Ok(*x),
            _ => Err(seal_err(
                "the share is malformed: it is not one of the shares keyhold handed out",
            )),
        }
    }

    /// Rebuilds the key from at least `threshold` distinct shares. Wrong shares rebuild a wrong key,
    /// which the root key's authentication tag then refuses.
    pub fn combine(shares: &[SecretString], threshold: u8) -> Result<Self, CryptoError> {
        let parsed = shares
            .iter()
            .map(|s| {
                let bytes = Zeroizing::new(
                    B64.decode(s.expose_secret().trim())
                        .map_err(|_| seal_err("a share is not valid base64"))?,
                );
                blahaj::Share::try_from(bytes.as_slice()).map_err(|e| seal_err(format!("a share is malformed: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secret = Zeroizing::new(blahaj::Sharks(threshold).recover(&parsed).map_err(seal_err)?);
        let key: [u8; 32] = secret
            .as_slice()
            .try_into()
            .map_err(|_| seal_err("shares rebuild a key of the wrong size"))?;
        Ok(Self(key))
    }

    pub fn wrap_root(&self, root: &RootKey) -> Result<Sealed, CryptoError> {
        aead::seal(0, &self.0, &Aad::new(&["root-key"]), &root.0)
    }

    /// Fails with [`CryptoError::Integrity`] when this is not the key the root was wrapped with.
    pub fn unwrap_root(&self, sealed: &Sealed) -> Result<RootKey, CryptoError> {
        let bytes = aead::open(&self.0, &Aad::new(&["root-key"]), sealed)?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(RootKey(key))
    }
}

impl RootKey {
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn generate() -> Result<Self, CryptoError> {
        random32().map(Self)
    }

    pub fn wrap_keyring(&self, ring: &Keyring) -> Result<Sealed, CryptoError> {
        aead::seal(0, &self.0, &Aad::new(&["keyring"]), &ring.to_bytes())
    }

    pub fn unwrap_keyring(&self, sealed: &Sealed) -> Result<Keyring, CryptoError> {
        Keyring::from_bytes(&aead::open(&self.0, &Aad::new(&["keyring"]), sealed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_of_n_shares_rebuild_the_key_and_fewer_do_not() -> Result<(), CryptoError> {
        let key = UnsealKey::generate()?;
        let root = RootKey::generate()?;
        let wrapped = key.wrap_root(&root)?;
        let shares = key.split(5, 3)?;
        assert_eq!(shares.len(), 5);
        let three = [shares[4].clone(), shares[0].clone(), shares[2].clone()];
        assert!(UnsealKey::combine(&three, 3)?.unwrap_root(&wrapped).is_ok());
        let two = [shares[1].clone(), shares[3].clone()];
        let rebuilt = UnsealKey::combine(&two, 3);
        assert!(rebuilt.is_err() || rebuilt.is_ok_and(|k| k.unwrap_root(&wrapped).is_err()));
        Ok(())
    }

    #[test]
    fn only_the_right_passphrase_unwraps() -> Result<(), CryptoError> {
        let params = PassphraseParams {
            m_cost_kib: 1024,
            t_cost: 1,
            ..PassphraseParams::generate()?
        };
        let key = UnsealKey::from_passphrase(&"correct horse".to_owned().into(), &params)?;
        let wrapped = key.wrap_root(&RootKey::generate()?)?;
        let again = UnsealKey::from_passphrase(&"correct horse".to_owned().into(), &params)?;
        assert!(again.unwrap_root(&wrapped).is_ok());
        let wrong = UnsealKey::from_passphrase(&"battery staple".to_owned().into(), &params)?;
        assert!(matches!(wrong.unwrap_root(&wrapped), Err(CryptoError::Integrity)));
        Ok(())
    }
}
