//! AES-256-GCM records. A [`Sealed`] can only be produced here, which is how the type system keeps
//! plaintext away from the store.

use aws_lc_rs::aead::{AES_256_GCM, Aad as LcAad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::CryptoError;

/// Associated data: who a ciphertext belongs to. Built from its owner's coordinates, so a ciphertext
/// copied to another row (another vault, name or version) fails to open.
#[derive(Debug, Clone)]
pub struct Aad(Vec<u8>);

impl Aad {
    /// `parts` are joined unambiguously (length-prefixed), e.g. `["secret", vault, name, version]`.
    pub fn new(parts: &[&str]) -> Self {
        let mut out = Vec::new();
        for p in parts {
            out.extend_from_slice(&(p.len() as u32).to_be_bytes());
            out.extend_from_slice(p.as_bytes());
        }
        Self(out)
    }
}

/// Ciphertext as stored: format byte, data-key id, nonce, ciphertext with tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

const FORMAT_V1: u8 = 1;
const HEADER: usize = 1 + 4 + NONCE_LEN;

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed(key {}, {} bytes)", self.key_id().unwrap_or(0), self.0.len())
    }
}

impl Sealed {
    /// Bytes as read back from storage; validated lazily when opened.
    pub fn from_stored(bytes: Vec<u8>) -> Result<Self, CryptoError> {
        if bytes.len() < HEADER + 16 || bytes[0] != FORMAT_V1 {
            return Err(CryptoError::Malformed);
        }
        Ok(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn key_id(&self) -> Option<u32> {
        let b = self.0.get(1..5)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

pub(crate) fn seal(key_id: u32, key: &[u8; 32], aad: &Aad, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
    let lkey = less_safe(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::KeyGen)?;
    let mut buf = plaintext.to_vec();
    lkey.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), LcAad::from(&aad.0), &mut buf)
        .map_err(|_| CryptoError::Integrity)?;
    let mut out = Vec::with_capacity(HEADER + buf.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&key_id.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(Sealed(out))
}

pub(crate) fn open(key: &[u8; 32], aad: &Aad, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let lkey = less_safe(key)?;
    let bytes = &sealed.0;
    let nonce: [u8; NONCE_LEN] = bytes[5..HEADER].try_into().map_err(|_| CryptoError::Malformed)?;
    let mut buf = Zeroizing::new(bytes[HEADER..].to_vec());
    let len = lkey
        .open_in_place(Nonce::assume_unique_for_key(nonce), LcAad::from(&aad.0), &mut buf)
        .map_err(|_| CryptoError::Integrity)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

fn less_safe(key: &[u8; 32]) -> Result<LessSafeKey, CryptoError> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::KeyGen)?,
    ))
}
