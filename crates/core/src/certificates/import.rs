//! Importing a certificate with its private key (PKCS#12 with or without a password, or PEM) as a
//! new version: the key becomes the version's key, the chain and key its secret (in the policy's
//! content type, PKCS#12 by default for a PFX and PEM for PEM input). Without a policy, the policy
//! is the certificate's own content with issuer `Unknown`, as in Key Vault.

use keyhold_crypto::{certificate as x509, vault_key::KeySpec};
use keyhold_proto::certificates::{CertificateImportParameters, KeyProperties, SecretProperties};
use keyhold_store::VaultRecord;

use super::{CertificateView, Certificates, policy, validate_certificate_name};
use crate::{
    VaultError,
    authz::{Caller, CertificateOp},
    secrets::validate_tags,
};

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::BadParameter(msg.into())
}

impl Certificates {
    pub async fn import(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        p: CertificateImportParameters,
    ) -> Result<CertificateView, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Import, Some(name))
            .await?;
        validate_certificate_name(name)?;
        validate_tags(p.tags.as_ref())?;
        let value = p
            .value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| bad("The parameter 'value' is required."))?;
        let imported = x509::import(&value, p.pwd.as_deref()).map_err(|e| bad(e.to_string()))?;
        let leaf = imported
            .chain
            .first()
            .ok_or_else(|| bad(x509::ImportError::NoCertificate.to_string()))?;
        let info = x509::info(leaf).map_err(|e| bad(e.to_string()))?;
        let spec = imported.key.spec();
        // What the caller's policy leaves out comes from the certificate itself.
        let own = policy::of_certificate(&info.content);
        let mut requested = match p.policy {
            Some(given) => policy::merge(own, given),
            None => own,
        };
        let given = requested.key_props.clone().unwrap_or_default();
        let kty = match spec {
            KeySpec::Rsa(_) => "RSA",
            KeySpec::Ec(_) => "EC",
        };
        if given.kty.as_deref().is_some_and(|k| !k.eq_ignore_ascii_case(kty)) {
            return Err(bad(format!(
                "The policy's key type '{}' does not match the certificate's key ({kty}).",
                given.kty.unwrap_or_default()
            )));
        }
        requested.key_props = Some(KeyProperties {
            kty: Some(kty.into()),
            key_size: match spec {
                KeySpec::Rsa(bits) => Some(bits),
                KeySpec::Ec(_) => None,
            },
            crv: match spec {
                KeySpec::Ec(c) => Some(c.name().to_owned()),
                KeySpec::Rsa(_) => None,
            },
            ..given
        });
        if requested
            .secret_props
            .as_ref()
            .and_then(|s| s.content_type.as_ref())
            .is_none()
        {
            requested.secret_props = Some(SecretProperties {
                content_type: Some(if imported.was_pem { policy::PEM } else { policy::PKCS12 }.into()),
            });
        }
        let now = self.clock.now();
        let (stored, issuance) = policy::normalize_imported(requested, now)?;
        let enabled = p.attributes.as_ref().and_then(|a| a.enabled).unwrap_or(true);
        let record = self
            .issue(
                vault,
                name,
                &imported.key,
                if p.preserve_cert_order == Some(true) {
                    imported.given
                } else {
                    imported.chain
                },
                &issuance,
                &stored,
                enabled,
                p.tags,
                p.preserve_cert_order,
                None,
                now,
            )
            .await?;
        Ok(CertificateView { record, policy: stored })
    }
}
