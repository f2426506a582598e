//! Importing a certificate with its private key: a PKCS#12 archive (with or without a password) or a
//! PEM bundle (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`, and `CERTIFICATE`s). The key must
//! be the leaf certificate's; the leaf comes first in the chain returned.

use base64::{Engine, engine::general_purpose::STANDARD};
use x509_parser::{
    prelude::{FromDer, X509Certificate},
    public_key::PublicKey as CertPublicKey,
};
use zeroize::Zeroizing;

use crate::vault_key::{Curve, KeySpec, PrivateKey, PublicKey};

/// Why an import was refused; each is Azure's 400 with its own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Not a readable PKCS#12 archive, or the password is wrong.
    #[error(
        "The specified PKCS#12 X.509 certificate content can not be read. Please check if certificate is in valid PKCS#12 format, and the password is correct."
    )]
    BadPkcs12,
    #[error(
        "The specified X.509 PEM certificate content can not be read. Please check if certificate is in valid PEM format."
    )]
    BadPem,
    #[error(
        "Private key is not specified in the specified X.509 certificate content. Please specify private key in the X.509 certificate content."
    )]
    NoKey,
    #[error("The specified X.509 certificate content does not contain a certificate.")]
    NoCertificate,
    #[error("The private key does not match the public key of the certificate.")]
    KeyMismatch,
    #[error("The certificate's key is not supported: {0}")]
    UnsupportedKey(String),
}

/// An imported key with its chain (leaf first) and the form it came in.
pub struct Imported {
    pub key: PrivateKey,
    /// Leaf first.
    pub chain: Vec<Vec<u8>>,
    /// As the input had them.
    pub given: Vec<Vec<u8>>,
    pub was_pem: bool,
}

impl std::fmt::Debug for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imported")
            .field("key", &self.key)
            .field("chain", &self.chain.len())
            .finish()
    }
}

/// Reads `value` as Key Vault's `value` member: PEM text, base64 of PEM text (the Python SDK), or
/// base64 of a PKCS#12 archive.
pub fn import(value: &str, password: Option<&str>) -> Result<Imported, ImportError> {
    let trimmed = value.trim();
    if trimmed.starts_with("-----BEGIN") {
        return pem(trimmed);
    }
    let compact: String = trimmed.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = Zeroizing::new(
        STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| ImportError::BadPkcs12)?,
    );
    if bytes.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(&bytes).map_err(|_| ImportError::BadPem)?;
        return pem(text);
    }
    pkcs12(&bytes, password.unwrap_or(""))
}

fn pkcs12(der: &[u8], password: &str) -> Result<Imported, ImportError> {
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(der, password).map_err(|_| ImportError::BadPkcs12)?;
    let key = archive.keys.first().ok_or(ImportError::NoKey)?;
    let pkcs8 = Zeroizing::new(key.key.as_der().to_vec());
    let certs: Vec<Vec<u8>> = archive.certs.iter().map(|c| c.cert.as_der().to_vec()).collect();
    let (key, chain) = pair(KeyDer::Pkcs8(pkcs8), certs.clone())?;
    Ok(Imported {
        key,
        chain,
        given: certs,
        was_pem: false,
    })
}

enum KeyDer {
    Pkcs8(Zeroizing<Vec<u8>>),
    Pkcs1(Zeroizing<Vec<u8>>),
    Sec1(Zeroizing<Vec<u8>>),
}

fn pem(text: &str) -> Result<Imported, ImportError> {
    let mut key = None;
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----").ok_or(ImportError::BadPem)?;
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start.find(&end_marker).ok_or(ImportError::BadPem)?;
        let b64: String = body_start[..body_end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = Zeroizing::new(STANDARD.decode(b64.as_bytes()).map_err(|_| ImportError::BadPem)?);
        match label {
            "CERTIFICATE" => certs.push(der.to_vec()),
            "PRIVATE KEY" => key = Some(KeyDer::Pkcs8(der)),
            "RSA PRIVATE KEY" => key = Some(KeyDer::Pkcs1(der)),
            "EC PRIVATE KEY" => key = Some(KeyDer::Sec1(der)),
            "ENCRYPTED PRIVATE KEY" => return Err(ImportError::BadPem),
            _ => {}
        }
        rest = &body_start[body_end + end_marker.len()..];
    }
    if certs.is_empty() {
        return Err(ImportError::NoCertificate);
    }
    let (key, chain) = pair(key.ok_or(ImportError::NoKey)?, certs.clone())?;
    Ok(Imported {
        key,
        chain,
        given: certs,
        was_pem: true,
    })
}

/// The spec of a certificate's public key.
fn spec_of(cert: &X509Certificate<'_>) -> Result<KeySpec, ImportError> {
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(CertPublicKey::RSA(rsa)) => {
            let bits = rsa.key_size() as u32;
            match bits {
                2048 | 3072 | 4096 => Ok(KeySpec::Rsa(bits)),
                other => Err(ImportError::UnsupportedKey(format!(
                    "RSA keys must be 2048, 3072 or 4096 bits, not {other}"
                ))),
            }
        }
        Ok(CertPublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => Ok(KeySpec::Ec(Curve::P256)),
                Some("1.3.132.0.34") => Ok(KeySpec::Ec(Curve::P384)),
                Some("1.3.132.0.35") => Ok(KeySpec::Ec(Curve::P521)),
                Some("1.3.132.0.10") => Ok(KeySpec::Ec(Curve::P256K)),
                other => Err(ImportError::UnsupportedKey(format!(
                    "unknown curve {}",
                    other.unwrap_or("?")
                ))),
            }
        }
        _ => Err(ImportError::UnsupportedKey("only RSA and EC keys".into())),
    }
}

fn strip(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[i..]
}

fn matches(cert: &X509Certificate<'_>, public: &PublicKey) -> bool {
    match (cert.public_key().parsed(), public) {
        (Ok(CertPublicKey::RSA(c)), PublicKey::Rsa { n, e }) => {
            strip(c.modulus) == strip(n) && strip(c.exponent) == strip(e)
        }
        (Ok(CertPublicKey::EC(point)), PublicKey::Ec { x, y, .. }) => {
            let mut ours = vec![4u8];
            ours.extend_from_slice(x);
            ours.extend_from_slice(y);
            point.data() == ours.as_slice()
        }
        _ => false,
    }
}

fn to_pkcs8(spec: KeySpec, der: KeyDer) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    use aws_lc_rs::{encoding::AsDer, rsa, signature};
    match der {
        KeyDer::Pkcs8(d) => Ok(d),
        KeyDer::Pkcs1(d) => {
            let kp = rsa::KeyPair::from_der(&d).map_err(|_| ImportError::KeyMismatch)?;
            Ok(Zeroizing::new(
                kp.as_der().map_err(|_| ImportError::KeyMismatch)?.as_ref().to_vec(),
            ))
        }
        KeyDer::Sec1(d) => {
            let alg = match spec {
                KeySpec::Ec(Curve::P256) => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                KeySpec::Ec(Curve::P384) => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                KeySpec::Ec(Curve::P521) => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
                KeySpec::Ec(Curve::P256K) => &signature::ECDSA_P256K1_SHA256_FIXED_SIGNING,
                KeySpec::Rsa(_) => return Err(ImportError::KeyMismatch),
            };
            let kp = signature::EcdsaKeyPair::from_private_key_der(alg, &d).map_err(|_| ImportError::KeyMismatch)?;
            Ok(Zeroizing::new(
                kp.to_pkcs8v1().map_err(|_| ImportError::KeyMismatch)?.as_ref().to_vec(),
            ))
        }
    }
}

/// Whether the DER certificate `der` is one of `key`'s (for merging a signed request).
pub fn belongs_to(der: &[u8], key: &PrivateKey) -> Result<bool, ImportError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| ImportError::NoCertificate)?;
    let public = key.public().map_err(|_| ImportError::KeyMismatch)?;
    Ok(matches(&cert, &public))
}

/// Finds the certificate of `key` among `certs` and puts it first.
fn pair(key: KeyDer, certs: Vec<Vec<u8>>) -> Result<(PrivateKey, Vec<Vec<u8>>), ImportError> {
    let first = certs.first().ok_or(ImportError::NoCertificate)?;
    let (_, leaf) = X509Certificate::from_der(first).map_err(|_| ImportError::NoCertificate)?;
    // The key's spec is the one of the certificate it claims to belong to; a key of another type
    // fails to parse under it, which is a mismatch.
    let spec = spec_of(&leaf)?;
    let pkcs8 = to_pkcs8(spec, key)?;
    let key = PrivateKey::from_pkcs8(spec, pkcs8).map_err(|_| ImportError::KeyMismatch)?;
    let public = key.public().map_err(|_| ImportError::KeyMismatch)?;
    let at = certs
        .iter()
        .position(|c| X509Certificate::from_der(c).is_ok_and(|(_, x)| matches(&x, &public)))
        .ok_or(ImportError::KeyMismatch)?;
    let mut chain = certs;
    let leaf = chain.remove(at);
    chain.insert(0, leaf);
    Ok((key, chain))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::certificate::{CertSpec, pem_bundle, pkcs12 as to_pkcs12, self_signed};

    fn spec() -> CertSpec {
        CertSpec {
            subject: "CN=imp".into(),
            validity_months: 1,
            ..CertSpec::default()
        }
    }

    #[test]
    fn pfx_and_pem_round_trip_and_mismatches_are_refused() {
        let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
        let der = self_signed(&key, &spec(), 1_700_000_000).unwrap();
        let pfx = STANDARD.encode(&*to_pkcs12(Some(&key), std::slice::from_ref(&der)).unwrap());
        let got = import(&pfx, None).unwrap();
        assert_eq!((got.chain.clone(), got.was_pem), (vec![der.clone()], false));
        assert_eq!(got.key.pkcs8(), key.pkcs8());

        let pem = pem_bundle(Some(&key), std::slice::from_ref(&der));
        assert!(import(&pem, None).unwrap().was_pem);
        assert!(import(&STANDARD.encode(pem.as_bytes()), None).unwrap().was_pem);
        assert_eq!(
            import(&pem_bundle(None, std::slice::from_ref(&der)), None).err(),
            Some(ImportError::NoKey)
        );
        let other = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
        assert_eq!(
            import(&pem_bundle(Some(&other), std::slice::from_ref(&der)), None).err(),
            Some(ImportError::KeyMismatch)
        );
        let rsa = PrivateKey::generate(KeySpec::Rsa(2048)).unwrap();
        assert_eq!(
            import(&pem_bundle(Some(&rsa), &[der]), None).err(),
            Some(ImportError::KeyMismatch)
        );
        assert_eq!(import("bm90IGEgcGZ4", None).err(), Some(ImportError::BadPkcs12));
    }
}
