//! Everything keyhold does with key material: the seal that unlocks the root key, the keyring of data
//! keys, AES-256-GCM records bound to their owner by associated data, JWT signing and verification,
//! the local CA, and parsing of client certificates.
//!
//! Invariants: no other crate touches a raw key; every key type zeroizes on drop and prints
//! `<redacted>`; only this crate can build a [`Sealed`], so the store can only ever hold ciphertext.
#![forbid(unsafe_code)]

mod aead;
mod audit_key;
pub mod certificate;
mod error;
pub mod jwt;
mod keyring;
pub mod password;
pub mod random;
mod seal;
mod spki;
pub mod tls;
pub mod vault_key;
pub mod x509;

pub use aead::{Aad, Sealed};
pub use audit_key::AuditKey;
pub use error::CryptoError;
pub use keyring::Keyring;
pub use seal::{PassphraseParams, RootKey, UnsealKey};

/// SHA-256 digest, for token-cache keys and hashed client secrets.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-256 in standard base64: the form of a Content-Security-Policy script hash.
pub fn sha256_base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(sha256(data))
}

/// Constant-time equality for secrets and their hashes.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
