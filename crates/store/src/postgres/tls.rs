//! TLS to PostgreSQL, through rustls: the database of a real deployment is on another machine. The URL
//! takes libpq's `sslmode` and `sslrootcert` query parameters, with libpq's meanings:
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | no | – |
//! | `prefer` (default) | if the server offers it | no |
//! | `require` | yes, or the connection fails | no (libpq's meaning: only a passive eavesdropper is kept out) |
//! | `verify-ca` | yes | chains to `sslrootcert` |
//! | `verify-full` | yes | chains to `sslrootcert` and names the host |
//!
//! Without verification the handshake signature is still checked, so the peer holds the key of the
//! certificate it showed; it just is not known to be the right peer.

use std::sync::Arc;

use rustls::{
    DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, aws_lc_rs},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// How the certificate of the database server is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    Nothing,
    Chain,
    ChainAndName,
}

/// A parsed `--database` URL: tokio-postgres's configuration and the TLS connector it is used with.
pub(crate) struct Database {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
}

fn bad(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("database URL: {what}"))
}

/// Parses the URL, taking out the parameters tokio-postgres does not know (`verify-ca`,
/// `verify-full`, `sslrootcert`) and building the matching rustls configuration.
pub(crate) fn parse(url: &str) -> Result<Database, StoreError> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let (mut mode, mut root_cert) = (None, None);
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = Some(value.to_owned()),
            Some(("sslrootcert", value)) => root_cert = Some(percent_decode(value)?),
            _ => rest.push(pair),
        }
    }
    let (ssl_mode, verify) = match mode.as_deref() {
        None | Some("prefer") => (SslMode::Prefer, Verify::Nothing),
        Some("disable") => (SslMode::Disable, Verify::Nothing),
        Some("require") => (SslMode::Require, Verify::Nothing),
        Some("verify-ca") => (SslMode::Require, Verify::Chain),
        Some("verify-full") => (SslMode::Require, Verify::ChainAndName),
        Some(other) => {
            return Err(bad(format!(
                "sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
            )));
        }
    };
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let mut config: tokio_postgres::Config = url.parse().map_err(bad)?;
    config.ssl_mode(ssl_mode);
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, root_cert) {
        (Verify::Nothing, _) => Arc::new(Relaxed {
            chain: None,
            provider: provider(),
        }),
        (_, None) => {
            return Err(bad(
                "sslmode=verify-ca and verify-full need sslrootcert=<file with the CA certificate(s)>",
            ));
        }
        (verify, Some(path)) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&path).map_err(|e| bad(format!("sslrootcert={path}: {e}")))? {
                let cert = cert.map_err(|e| bad(format!("sslrootcert={path}: {e}")))?;
                roots.add(cert).map_err(|e| bad(format!("sslrootcert={path}: {e}")))?;
            }
            if roots.is_empty() {
                return Err(bad(format!("sslrootcert={path}: no certificate in the file")));
            }
            let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| bad(format!("sslrootcert={path}: {e}")))?;
            if verify == Verify::Chain {
                Arc::new(Relaxed {
                    chain: Some(chain),
                    provider: provider(),
                })
            } else {
                chain
            }
        }
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(bad)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Database {
        config,
        tls: MakeRustlsConnect::new(tls),
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// `%2F` and friends in a file path given as a URL parameter.
fn percent_decode(value: &str) -> Result<String, StoreError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3).ok_or_else(|| bad("a bad %-escape"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad("a bad %-escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad("sslrootcert is not UTF-8"))
}

/// `require`/`prefer` (no chain) and `verify-ca` (a chain, any name): what rustls's own verifier does
/// not offer. Handshake signatures are always checked, so the peer holds the certificate's key.
#[derive(Debug)]
struct Relaxed {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_parameters_are_taken_out_and_checked() -> Result<(), StoreError> {
        let db = parse("postgres://u@db.example:5433/k?sslmode=require&application_name=kh")?;
        assert_eq!(db.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(db.config.get_application_name(), Some("kh"));
        assert_eq!(parse("postgres://u@h/k")?.config.get_ssl_mode(), SslMode::Prefer);
        assert!(parse("postgres://u@h/k?sslmode=verify-full").is_err(), "needs a CA");
        assert!(parse("postgres://u@h/k?sslmode=allow-anything").is_err());
        assert!(parse("postgres://u@h/k?sslmode=verify-full&sslrootcert=/nonexistent").is_err());
        Ok(())
    }
}
