//! Client certificates registered on service principals: thumbprints and the RSA public key that
//! verifies their client assertions.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use x509_parser::prelude::*;

use crate::{CryptoError, jwt::PublicKey};

#[derive(Debug, Clone)]
pub struct ClientCertificate {
    pub der: Vec<u8>,
    /// Hex SHA-1 thumbprint (what Azure shows) and the base64url forms assertions carry.
    pub thumbprint_hex: String,
    pub x5t: String,
    pub x5t_s256: String,
    pub not_after: i64,
}

impl ClientCertificate {
    /// Parses a PEM (or bare DER) certificate holding an RSA key.
    pub fn parse(input: &[u8]) -> Result<Self, CryptoError> {
        let der = match x509_parser::pem::parse_x509_pem(input) {
            Ok((_, pem)) => pem.contents,
            Err(_) => input.to_vec(),
        };
        let (_, cert) = X509Certificate::from_der(&der).map_err(|e| CryptoError::Certificate(e.to_string()))?;
        pkcs1_of(&cert)?;
        let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        let sha256 = crate::sha256(&der);
        Ok(Self {
            thumbprint_hex: hex::encode_upper(sha1.as_ref()),
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256),
            not_after: cert.validity().not_after.timestamp(),
            der,
        })
    }

    pub fn public_key(&self) -> Result<PublicKey, CryptoError> {
        let (_, cert) = X509Certificate::from_der(&self.der).map_err(|e| CryptoError::Certificate(e.to_string()))?;
        pkcs1_of(&cert).map(PublicKey::from_pkcs1)
    }
}

fn pkcs1_of(cert: &X509Certificate<'_>) -> Result<Vec<u8>, CryptoError> {
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err(CryptoError::Certificate("only RSA certificates are supported".into()));
    }
    Ok(spki.subject_public_key.data.to_vec())
}
