//! Key Vault certificates: X.509 certificates issued for a Key Vault key ([`PrivateKey`]), their
//! signing requests, and the two forms of a certificate's secret (PKCS#12 without a password, or a
//! PEM bundle of the private key and the chain). Outputs holding a private key are zeroizing.

mod import;

use std::net::IpAddr;

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    OtherNameValue, SanType, SerialNumber, SignatureAlgorithm,
};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use zeroize::Zeroizing;

use crate::vault_key::{Curve, KeySpec, PrivateKey};

pub use import::{ImportError, Imported, belongs_to, import};

/// What went wrong; the domain maps each to Azure's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// A subject, name or usage the certificate cannot carry.
    #[error("{0}")]
    Invalid(String),
    /// The key cannot sign certificates (secp256k1).
    #[error("keys on curve {0} cannot back a certificate")]
    UnsupportedKey(&'static str),
    #[error("not a valid X.509 certificate")]
    BadCertificate,
    #[error("certificate issuing failed")]
    Failed,
}

/// The X.509 content of a certificate to issue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertSpec {
    /// An X.500 name as Key Vault writes it: `CN=a, O=b`.
    pub subject: String,
    pub dns_names: Vec<String>,
    pub emails: Vec<String>,
    pub upns: Vec<String>,
    pub uris: Vec<String>,
    pub ip_addresses: Vec<String>,
    /// Dotted OIDs.
    pub ekus: Vec<String>,
    /// Key Vault's names (`digitalSignature`, `keyEncipherment`, …).
    pub key_usage: Vec<String>,
    pub validity_months: u32,
}

/// What a stored certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// base64url SHA-1 of the DER, as Key Vault's `x5t`.
    pub x5t: String,
    pub not_before: i64,
    pub not_after: i64,
    pub subject: String,
    pub issuer: String,
    /// The SubjectPublicKeyInfo, to compare with a key.
    pub spki: Vec<u8>,
    /// What the certificate says, in a policy's terms (for imported certificates).
    pub content: CertSpec,
}

/// Key Vault's key usage names.
pub const KEY_USAGES: &[&str] = &[
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

const UPN_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];

fn invalid(msg: impl Into<String>) -> CertError {
    CertError::Invalid(msg.into())
}

fn sign_algorithm(spec: KeySpec) -> Result<&'static SignatureAlgorithm, CertError> {
    match spec {
        KeySpec::Rsa(_) => Ok(&rcgen::PKCS_RSA_SHA256),
        KeySpec::Ec(Curve::P256) => Ok(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeySpec::Ec(Curve::P384) => Ok(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeySpec::Ec(Curve::P521) => Ok(&rcgen::PKCS_ECDSA_P521_SHA512),
        KeySpec::Ec(Curve::P256K) => Err(CertError::UnsupportedKey("P-256K")),
    }
}

fn key_pair(key: &PrivateKey) -> Result<KeyPair, CertError> {
    let alg = sign_algorithm(key.spec())?;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(key.pkcs8());
    KeyPair::from_pkcs8_der_and_sign_algo(&der, alg).map_err(|_| CertError::Failed)
}

/// Parses `CN=a, O=b` (commas inside values are not supported, as in Key Vault's portal).
pub fn parse_subject(subject: &str) -> Result<DistinguishedName, CertError> {
    let mut dn = DistinguishedName::new();
    for part in subject.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| invalid(format!("Invalid subject name: {subject}")))?;
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        if v.is_empty() {
            return Err(invalid(format!("Invalid subject name: {subject}")));
        }
        let kind = match k.to_ascii_uppercase().as_str() {
            "CN" => DnType::CommonName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "L" => DnType::LocalityName,
            "S" | "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            "E" | "EMAIL" | "EMAILADDRESS" => DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            "DC" => DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
            "STREET" => DnType::CustomDnType(vec![2, 5, 4, 9]),
            "SERIALNUMBER" => DnType::CustomDnType(vec![2, 5, 4, 5]),
            _ => return Err(invalid(format!("Invalid subject name: {subject}"))),
        };
        dn.push(kind, v);
    }
    if dn.iter().next().is_none() {
        return Err(invalid(format!("Invalid subject name: {subject}")));
    }
    Ok(dn)
}

fn ia5(kind: &str, v: &str) -> Result<rcgen::string::Ia5String, CertError> {
    rcgen::string::Ia5String::try_from(v.to_owned())
        .map_err(|_| invalid(format!("Invalid {kind} in the subject alternative names: {v}")))
}

fn oid_arcs(oid: &str) -> Result<Vec<u64>, CertError> {
    let arcs: Option<Vec<u64>> = oid.split('.').map(|a| a.parse().ok()).collect();
    match arcs {
        Some(a) if a.len() >= 2 => Ok(a),
        _ => Err(invalid(format!("Invalid enhanced key usage: {oid}"))),
    }
}

fn eku(oid: &str) -> Result<ExtendedKeyUsagePurpose, CertError> {
    Ok(match oid {
        "1.3.6.1.5.5.7.3.1" => ExtendedKeyUsagePurpose::ServerAuth,
        "1.3.6.1.5.5.7.3.2" => ExtendedKeyUsagePurpose::ClientAuth,
        "1.3.6.1.5.5.7.3.3" => ExtendedKeyUsagePurpose::CodeSigning,
        "1.3.6.1.5.5.7.3.4" => ExtendedKeyUsagePurpose::EmailProtection,
        "1.3.6.1.5.5.7.3.8" => ExtendedKeyUsagePurpose::TimeStamping,
        "1.3.6.1.5.5.7.3.9" => ExtendedKeyUsagePurpose::OcspSigning,
        "2.5.29.37.0" => ExtendedKeyUsagePurpose::Any,
        other => ExtendedKeyUsagePurpose::Other(oid_arcs(other)?),
    })
}

fn key_usage(name: &str) -> Result<KeyUsagePurpose, CertError> {
    Ok(match name {
        "digitalSignature" => KeyUsagePurpose::DigitalSignature,
        "nonRepudiation" => KeyUsagePurpose::ContentCommitment,
        "keyEncipherment" => KeyUsagePurpose::KeyEncipherment,
        "dataEncipherment" => KeyUsagePurpose::DataEncipherment,
        "keyAgreement" => KeyUsagePurpose::KeyAgreement,
        "keyCertSign" => KeyUsagePurpose::KeyCertSign,
        "cRLSign" => KeyUsagePurpose::CrlSign,
        "encipherOnly" => KeyUsagePurpose::EncipherOnly,
        "decipherOnly" => KeyUsagePurpose::DecipherOnly,
        other => return Err(invalid(format!("Invalid key usage: {other}"))),
    })
}

/// `n` calendar months after `t` (the day clamped to the month's length).
pub fn add_months(t: i64, n: u32) -> Result<i64, CertError> {
    let dt = OffsetDateTime::from_unix_timestamp(t).map_err(|_| CertError::Failed)?;
    let total = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month())) - 1 + i64::from(n);
    let year = i32::try_from(total / 12).map_err(|_| CertError::Failed)?;
    let month = time::Month::try_from(u8::try_from(total % 12 + 1).map_err(|_| CertError::Failed)?)
        .map_err(|_| CertError::Failed)?;
    let day = dt.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).map_err(|_| CertError::Failed)?;
    Ok(dt.replace_date(date).unix_timestamp())
}

/// The rcgen parameters of `spec`, valid from `not_before`.
pub fn params(spec: &CertSpec, not_before: i64) -> Result<CertificateParams, CertError> {
    let mut p = CertificateParams::default();
    p.distinguished_name = parse_subject(&spec.subject)?;
    for d in &spec.dns_names {
        p.subject_alt_names.push(SanType::DnsName(ia5("DNS name", d)?));
    }
    for e in &spec.emails {
        p.subject_alt_names.push(SanType::Rfc822Name(ia5("email", e)?));
    }
    for u in &spec.uris {
        p.subject_alt_names.push(SanType::URI(ia5("URI", u)?));
    }
    for ip in &spec.ip_addresses {
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| invalid(format!("Invalid IP address in the subject alternative names: {ip}")))?;
        p.subject_alt_names.push(SanType::IpAddress(addr));
    }
    for upn in &spec.upns {
        p.subject_alt_names.push(SanType::OtherName((
            UPN_OID.to_vec(),
            OtherNameValue::Utf8String(upn.clone()),
        )));
    }
    p.extended_key_usages = spec.ekus.iter().map(|o| eku(o)).collect::<Result<_, _>>()?;
    p.key_usages = spec.key_usage.iter().map(|k| key_usage(k)).collect::<Result<_, _>>()?;
    p.is_ca = IsCa::ExplicitNoCa;
    p.not_before = OffsetDateTime::from_unix_timestamp(not_before).map_err(|_| CertError::Failed)?;
    p.not_after = OffsetDateTime::from_unix_timestamp(add_months(not_before, spec.validity_months)?)
        .map_err(|_| CertError::Failed)?;
    let mut serial = crate::vault_key::random_bytes(16).map_err(|_| CertError::Failed)?;
    serial[0] &= 0x7f;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(p)
}

/// A certificate for `key`, signed by `key` itself; DER.
pub fn self_signed(key: &PrivateKey, spec: &CertSpec, not_before: i64) -> Result<Vec<u8>, CertError> {
    let kp = key_pair(key)?;
    let cert = params(spec, not_before)?
        .self_signed(&kp)
        .map_err(|_| CertError::Failed)?;
    Ok(cert.der().to_vec())
}

/// A self-signed issuing CA certificate for `key`: `CA:TRUE` with path length 0, `keyCertSign` and
/// `cRLSign`, valid `years` from `not_before`; DER.
pub fn issuing_ca(key: &PrivateKey, subject: &str, not_before: i64, years: u32) -> Result<Vec<u8>, CertError> {
    let kp = key_pair(key)?;
    let spec = CertSpec {
        subject: subject.to_owned(),
        key_usage: vec!["keyCertSign".into(), "cRLSign".into(), "digitalSignature".into()],
        validity_months: years * 12,
        ..CertSpec::default()
    };
    let mut p = params(&spec, not_before)?;
    p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let cert = p.self_signed(&kp).map_err(|_| CertError::Failed)?;
    Ok(cert.der().to_vec())
}

/// A certificate for `key` with the content of `spec`, signed by the CA (`ca_key`, `ca_der`); DER.
/// It names the CA's key (authority key identifier), so chains build.
pub fn issued_by(
    key: &PrivateKey,
    spec: &CertSpec,
    not_before: i64,
    ca_key: &PrivateKey,
    ca_der: &[u8],
) -> Result<Vec<u8>, CertError> {
    let subject = key_pair(key)?;
    let ca = key_pair(ca_key)?;
    let issuer = rcgen::Issuer::from_ca_cert_der(&rustls_pki_types::CertificateDer::from(ca_der), ca)
        .map_err(|_| CertError::BadCertificate)?;
    let mut p = params(spec, not_before)?;
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&subject, &issuer).map_err(|_| CertError::Failed)?;
    Ok(cert.der().to_vec())
}

/// A PKCS#10 signing request for `key` with the subject and names of `spec`; DER.
pub fn signing_request(key: &PrivateKey, spec: &CertSpec) -> Result<Vec<u8>, CertError> {
    let kp = key_pair(key)?;
    let mut p = params(spec, 0)?;
    p.serial_number = None;
    let csr = p.serialize_request(&kp).map_err(|_| CertError::Failed)?;
    Ok(csr.der().to_vec())
}

/// Reads a DER certificate.
pub fn info(der: &[u8]) -> Result<CertInfo, CertError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|_| CertError::BadCertificate)?;
    if !rest.is_empty() {
        return Err(CertError::BadCertificate);
    }
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut content = CertSpec {
        subject: cert.subject().to_string(),
        ..CertSpec::default()
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => content.dns_names.push((*d).to_owned()),
                GeneralName::RFC822Name(e) => content.emails.push((*e).to_owned()),
                GeneralName::URI(u) => content.uris.push((*u).to_owned()),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => content
                        .ip_addresses
                        .push(IpAddr::from(<[u8; 4]>::try_from(*ip).unwrap_or_default()).to_string()),
                    16 => content
                        .ip_addresses
                        .push(IpAddr::from(<[u8; 16]>::try_from(*ip).unwrap_or_default()).to_string()),
                    _ => {}
                },
                GeneralName::OtherName(oid, value) if oid.to_id_string() == "1.3.6.1.4.1.311.20.2.3" => {
                    // [0] EXPLICIT UTF8String: the string is the tail after the two headers.
                    if let Some(text) = value.get(4..).and_then(|t| std::str::from_utf8(t).ok()) {
                        content.upns.push(text.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let e = eku.value;
        for (on, oid) in [
            (e.server_auth, "1.3.6.1.5.5.7.3.1"),
            (e.client_auth, "1.3.6.1.5.5.7.3.2"),
            (e.code_signing, "1.3.6.1.5.5.7.3.3"),
            (e.email_protection, "1.3.6.1.5.5.7.3.4"),
            (e.time_stamping, "1.3.6.1.5.5.7.3.8"),
            (e.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
            (e.any, "2.5.29.37.0"),
        ] {
            if on {
                content.ekus.push(oid.to_owned());
            }
        }
        content.ekus.extend(e.other.iter().map(|o| o.to_id_string()));
    }
    if let Ok(Some(ku)) = cert.key_usage() {
        let k = ku.value;
        for (on, name) in [
            (k.digital_signature(), "digitalSignature"),
            (k.non_repudiation(), "nonRepudiation"),
            (k.key_encipherment(), "keyEncipherment"),
            (k.data_encipherment(), "dataEncipherment"),
            (k.key_agreement(), "keyAgreement"),
            (k.key_cert_sign(), "keyCertSign"),
            (k.crl_sign(), "cRLSign"),
            (k.encipher_only(), "encipherOnly"),
            (k.decipher_only(), "decipherOnly"),
        ] {
            if on {
                content.key_usage.push(name.to_owned());
            }
        }
    }
    let (nb, na) = (
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    );
    content.validity_months = u32::try_from(((na - nb) as f64 / (30.436_875 * 86_400.0)).round() as i64)
        .unwrap_or(1)
        .max(1);
    Ok(CertInfo {
        x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        spki: cert.public_key().raw.to_vec(),
        content,
    })
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A PEM bundle: the private key (PKCS#8) when given, then the chain leaf first, as Key Vault serves
/// a `application/x-pem-file` secret.
pub fn pem_bundle(key: Option<&PrivateKey>, chain: &[Vec<u8>]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    if let Some(k) = key {
        out.push_str(&Zeroizing::new(pem_block("PRIVATE KEY", k.pkcs8())));
    }
    for c in chain {
        out.push_str(&pem_block("CERTIFICATE", c));
    }
    out
}

/// A PKCS#12 archive with an empty password (Key Vault's certificate secrets have none): the key
/// (when given) with the chain, leaf first.
pub fn pkcs12(key: Option<&PrivateKey>, chain: &[Vec<u8>]) -> Result<Zeroizing<Vec<u8>>, CertError> {
    let certs = chain
        .iter()
        .map(|c| p12_keystore::Certificate::from_der(c).map_err(|_| CertError::BadCertificate))
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = p12_keystore::KeyStore::new();
    match key {
        Some(k) => {
            let pk = p12_keystore::PrivateKey::from_der(k.pkcs8()).map_err(|_| CertError::Failed)?;
            let id = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                chain.first().map_or(&[][..], |c| c),
            );
            let chain = p12_keystore::PrivateKeyChain::new(id.as_ref().to_vec(), pk, certs);
            store.add_entry("1", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        }
        None => {
            for (i, c) in certs.into_iter().enumerate() {
                store.add_entry(&i.to_string(), p12_keystore::KeyStoreEntry::Certificate(c));
            }
        }
    }
    store
        .writer("")
        .write()
        .map(Zeroizing::new)
        .map_err(|_| CertError::Failed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec() -> CertSpec {
        CertSpec {
            subject: "CN=example.test, O=keyhold".into(),
            dns_names: vec!["example.test".into()],
            ip_addresses: vec!["10.0.0.1".into()],
            upns: vec!["u@example.test".into()],
            ekus: vec!["1.3.6.1.5.5.7.3.1".into()],
            key_usage: vec!["digitalSignature".into(), "keyEncipherment".into()],
            validity_months: 12,
            ..CertSpec::default()
        }
    }

    #[test]
    fn self_signed_certificates_carry_the_policy() {
        for ks in [KeySpec::Rsa(2048), KeySpec::Ec(Curve::P256), KeySpec::Ec(Curve::P384)] {
            let key = PrivateKey::generate(ks).unwrap();
            let der = self_signed(&key, &spec(), 1_700_000_000).unwrap();
            let i = info(&der).unwrap();
            assert_eq!(i.not_before, 1_700_000_000);
            assert_eq!(i.not_after, add_months(1_700_000_000, 12).unwrap());
            assert!(i.subject.contains("CN=example.test"), "{}", i.subject);
            assert_eq!(i.subject, i.issuer);
            assert_eq!(i.content.dns_names, ["example.test"]);
            assert_eq!(i.content.ip_addresses, ["10.0.0.1"]);
            assert_eq!(i.content.upns, ["u@example.test"]);
            assert_eq!(i.content.ekus, ["1.3.6.1.5.5.7.3.1"]);
            assert_eq!(i.content.key_usage, ["digitalSignature", "keyEncipherment"]);
            assert_eq!(i.content.validity_months, 12);
            let (_, cert) = X509Certificate::from_der(&der).unwrap();
            assert!(cert.verify_signature(None).is_ok());
            assert!(pkcs12(Some(&key), std::slice::from_ref(&der)).unwrap().len() > der.len());
            assert!(pem_bundle(Some(&key), &[der]).starts_with("-----BEGIN PRIVATE KEY-----\n"));
            assert!(!signing_request(&key, &spec()).unwrap().is_empty());
        }
        let k1 = PrivateKey::generate(KeySpec::Ec(Curve::P256K)).unwrap();
        assert_eq!(self_signed(&k1, &spec(), 0), Err(CertError::UnsupportedKey("P-256K")));
    }

    #[test]
    fn the_issuing_ca_signs_leaf_certificates() {
        let ca_key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
        let ca = issuing_ca(&ca_key, "CN=keyhold issuing CA, O=keyhold", 1_700_000_000, 10).unwrap();
        let leaf_key = PrivateKey::generate(KeySpec::Rsa(2048)).unwrap();
        let leaf = issued_by(&leaf_key, &spec(), 1_700_000_000, &ca_key, &ca).unwrap();
        let (_, ca_cert) = X509Certificate::from_der(&ca).unwrap();
        let (_, leaf_cert) = X509Certificate::from_der(&leaf).unwrap();
        assert!(leaf_cert.verify_signature(Some(ca_cert.public_key())).is_ok());
        assert_eq!(leaf_cert.issuer(), ca_cert.subject());
        assert!(ca_cert.is_ca());
        assert!(!leaf_cert.is_ca());
    }

    #[test]
    fn months_clamp_to_the_end_of_the_month() {
        // 2024-01-31 + 1 month = 2024-02-29.
        assert_eq!(add_months(1_706_659_200, 1).unwrap(), 1_709_164_800);
        assert!(parse_subject("nonsense").is_err());
        assert!(parse_subject("XX=a").is_err());
    }
}
