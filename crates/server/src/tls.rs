//! rustls over aws-lc-rs, with the leaf issued by the local CA at start-up.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::ServeError;

pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError(format!("leaf certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| ServeError(format!("leaf key: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The local CA: `ca.pem` and `ca.key` (0600) in the data dir, created on first start. Kept outside the
/// seal because TLS must work while the server is sealed (to accept unseal requests).
pub fn load_or_create_ca(dir: &std::path::Path) -> Result<keyhold_crypto::tls::LocalCa, ServeError> {
    use keyhold_crypto::tls::LocalCa;
    let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
    if let (Ok(cert), Ok(key)) = (std::fs::read_to_string(&cert_path), std::fs::read_to_string(&key_path)) {
        return Ok(LocalCa::from_parts(cert, zeroize::Zeroizing::new(key)));
    }
    let ca = LocalCa::generate("keyhold local CA").map_err(|e| ServeError(e.to_string()))?;
    crate::files::write_atomic(&key_path, ca.key_pem().as_bytes(), 0o600)?;
    crate::files::write_atomic(&cert_path, ca.cert_pem.as_bytes(), 0o600)?;
    Ok(ca)
}
