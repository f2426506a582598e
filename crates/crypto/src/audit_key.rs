//! The audit chain's MAC key. Derived from the root key, so it exists only while the instance is
//! unsealed and whoever can rewrite the log file (or the database) without unsealing cannot forge a
//! record that verifies.

use aws_lc_rs::{hkdf, hmac};

use crate::{CryptoError, RootKey};

/// HMAC-SHA256 key over audit heads. Holds no bytes of its own that `Debug` could print.
pub struct AuditKey(hmac::Key);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

impl AuditKey {
    pub(crate) fn derive(root: &[u8; 32]) -> Result<Self, CryptoError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"keyhold").extract(root);
        let okm = prk
            .expand(&[b"audit-chain v1"], hmac::HMAC_SHA256)
            .map_err(|_| CryptoError::KeyGen)?;
        Ok(Self(hmac::Key::from(okm)))
    }

    /// Hex HMAC of `data`.
    pub fn mac(&self, data: &[u8]) -> String {
        hex::encode(hmac::sign(&self.0, data).as_ref())
    }

    /// Constant-time check of a hex MAC made by [`AuditKey::mac`].
    pub fn verify(&self, data: &[u8], mac_hex: &str) -> bool {
        hex::decode(mac_hex).is_ok_and(|tag| hmac::verify(&self.0, data, &tag).is_ok())
    }
}

impl RootKey {
    /// The audit chain's key: a separate derivation, so the MAC never exposes the root key.
    pub fn audit_key(&self) -> Result<AuditKey, CryptoError> {
        AuditKey::derive(self.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_root_verifies() -> Result<(), CryptoError> {
        let a = RootKey::generate()?.audit_key()?;
        let b = RootKey::generate()?.audit_key()?;
        let mac = a.mac(b"7\nabc");
        assert!(a.verify(b"7\nabc", &mac));
        assert!(!a.verify(b"7\nabd", &mac));
        assert!(!b.verify(b"7\nabc", &mac));
        assert!(!a.verify(b"7\nabc", "zz"));
        Ok(())
    }
}
