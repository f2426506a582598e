//! SubjectPublicKeyInfo parsing, kept apart from certificates so that JWT verification (which takes
//! bare public keys) and X.509 (which yields them) do not depend on each other.

use x509_parser::prelude::*;

use crate::CryptoError;

/// The PKCS#1 key inside a SubjectPublicKeyInfo.
pub(crate) fn pkcs1_from_spki(spki: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (_, info) = SubjectPublicKeyInfo::from_der(spki).map_err(|_| CryptoError::Malformed)?;
    Ok(info.subject_public_key.data.to_vec())
}
