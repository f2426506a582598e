//! Identifiers and random secrets in Azure's formats. A failing system RNG fails the operation: a
//! secret made of the zeros a failed fill leaves behind would be guessable by anyone.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::CryptoError;

/// 32 lower-case hex characters, the form of Key Vault object versions.
pub fn version_id() -> String {
    uuid_v4().simple().to_string()
}

/// A GUID, the form of tenant, object and application ids.
pub fn guid() -> String {
    uuid_v4().to_string()
}

/// A version-4 UUID from AWS-LC's DRBG, which runs in user space: every request gets an id, and
/// `Uuid::new_v4` asks the kernel (a `getrandom` call) each time. Should AWS-LC ever fail, `uuid`'s
/// own draw from the kernel is the fallback.
fn uuid_v4() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => uuid::Builder::from_random_bytes(bytes).into_uuid(),
        Err(_) => uuid::Uuid::new_v4(),
    }
}

/// A client secret: 240 random bits, URL-safe, 40 characters (the length of Entra's secrets).
pub fn client_secret() -> Result<SecretString, CryptoError> {
    let bytes = random_bytes(30)?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(&*bytes)))
}

/// Random URL-safe token of `n` bytes of entropy (header secrets, join tokens, token ids).
pub fn token(n: usize) -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(&*random_bytes(n)?))
}

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols), by rejection sampling so
/// that no symbol is likelier than another: for codes a person types, like a device sign-in's.
pub fn code(alphabet: &[u8], len: usize) -> Result<String, CryptoError> {
    let n = alphabet.len();
    if n == 0 || n > 256 {
        return Err(CryptoError::KeyGen);
    }
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes(len * 2)?.iter() {
            if usize::from(*b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(*b) % n]));
            }
        }
    }
    Ok(out)
}

/// A storage-account access key: 512 random bits in standard base64 (88 characters, Azure's form).
pub fn storage_account_key() -> Result<String, CryptoError> {
    Ok(STANDARD.encode(&*random_bytes(64)?))
}

pub(crate) fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    fill(&mut bytes, aws_lc_rs::rand::fill)?;
    Ok(bytes)
}

/// Runs the RNG and turns its failure into an error; the filler is a parameter so tests can fail it.
fn fill(
    bytes: &mut [u8],
    rng: impl FnOnce(&mut [u8]) -> Result<(), aws_lc_rs::error::Unspecified>,
) -> Result<(), CryptoError> {
    rng(bytes).map_err(|_| CryptoError::KeyGen)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn a_failing_rng_is_an_error_not_zeros() {
        let mut bytes = [0u8; 16];
        let failed = fill(&mut bytes, |_| Err(aws_lc_rs::error::Unspecified));
        assert!(matches!(failed, Err(CryptoError::KeyGen)));
    }

    #[test]
    fn ids_are_random_version_4_uuids() {
        let (a, b) = (guid(), guid());
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).ok();
        assert_eq!(parsed.map(|u| u.get_version_num()), Some(4));
        assert_eq!(a.len(), 36);
        let v = version_id();
        assert!(v.len() == 32 && v.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(v, version_id());
    }

    #[test]
    fn secrets_have_azure_shapes_and_differ() -> Result<(), Box<dyn std::error::Error>> {
        let key = storage_account_key()?;
        assert_eq!(key.len(), 88);
        assert_ne!(key, storage_account_key()?);
        assert_ne!(STANDARD.decode(&key)?, vec![0u8; 64]);
        assert_eq!(client_secret()?.expose_secret().len(), 40);
        assert_eq!(token(24)?.len(), 32);
        Ok(())
    }
}
