//! Identifiers and random secrets in Azure's formats.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use secrecy::SecretString;

/// 32 lower-case hex characters, the form of Key Vault object versions.
pub fn version_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A GUID, the form of tenant, object and application ids.
pub fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A client secret: 240 random bits, URL-safe, 40 characters (the length of Entra's secrets).
pub fn client_secret() -> SecretString {
    let mut bytes = [0u8; 30];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

/// Random URL-safe token of `n` bytes of entropy (header secrets, trace ids).
pub fn token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
