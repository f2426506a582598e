use thiserror::Error;

#[derive(Debug, Error)]
pub enum CryptoError {
    /// Authentication of a sealed record failed: wrong key, tampered bytes, or a record moved to
    /// another owner (its associated data no longer matches).
    #[error("integrity check failed for a sealed record")]
    Integrity,
    #[error("sealed record is malformed")]
    Malformed,
    #[error("unknown data key {0}")]
    UnknownKey(u32),
    #[error("key generation failed")]
    KeyGen,
    #[error("signing failed")]
    Signing,
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("seal: {0}")]
    Seal(String),
}
