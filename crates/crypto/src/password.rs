//! Users' passwords: Argon2id (the argon2 crate's PHC strings, OWASP's 19 MiB / 2 passes / 1 lane),
//! with a 16-byte salt from the system RNG. Only the PHC string is stored; a password is never
//! kept, logged or compared except through [`verify`], which is the crate's constant-time check.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use secrecy::{ExposeSecret, SecretString};

use crate::{CryptoError, random::random_bytes};

/// Hashes a password for storage.
pub fn hash(password: &SecretString) -> Result<String, CryptoError> {
    let salt_bytes = random_bytes(16)?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| CryptoError::Seal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Seal(e.to_string()))
}

/// Whether `password` matches a stored PHC string. A malformed string matches nothing.
pub fn verify(password: &SecretString, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A PHC string for a password nobody has, so a sign-in for an unknown user costs what a known
/// user's does and its timing does not tell which names exist.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        // A fixed salt: the decoy is never a real credential, only its cost matters.
        let Ok(salt) = SaltString::encode_b64(b"keyhold-decoy-16") else {
            return String::new();
        };
        Argon2::default()
            .hash_password(b"keyhold-decoy-password-never-valid", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_right_password_verifies_and_others_do_not() {
        let stored = hash(&SecretString::from("Correct-Horse-9")).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("Correct-Horse-9"));
        assert!(verify(&SecretString::from("Correct-Horse-9"), &stored));
        assert!(!verify(&SecretString::from("correct-horse-9"), &stored));
        assert!(!verify(&SecretString::from("Correct-Horse-9"), "not a phc string"));
        assert_ne!(stored, hash(&SecretString::from("Correct-Horse-9")).unwrap(), "salted");
        assert!(!verify(&SecretString::from("anything"), decoy()));
    }
}
