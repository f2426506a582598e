//! keyhold's own issuing CA (provider [`KEYHOLD_CA`]): one per tenant, made on first use, its
//! certificate in the clear and its P-256 key sealed with associated data `["certificate-ca",
//! tenant]` in the store's meta record `certificate_issuing_ca`. Several nodes creating it at once
//! agree through `put_meta_if_absent`. Certificates it signs carry the chain leaf → CA, so a
//! platform team trusts one CA certificate for every internal TLS certificate its vaults issue.

use base64::{Engine, engine::general_purpose::STANDARD};
use keyhold_crypto::{
    Sealed, certificate as x509,
    vault_key::{Curve, KeySpec, PrivateKey},
};
use keyhold_store::VaultRecord;
use serde::{Deserialize, Serialize};

use super::{Certificates, Issuance, cert_error, internal, issuers::KEYHOLD_CA};
use crate::VaultError;

const META: &str = "certificate_issuing_ca";
const CA_YEARS: u32 = 10;

#[derive(Serialize, Deserialize)]
struct StoredCa {
    /// base64 DER.
    cert: String,
    /// base64 of the sealed PKCS#8.
    key: String,
}

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::BadParameter(msg.into())
}

impl Certificates {
    /// The tenant's issuing CA: its key and certificate (DER).
    pub(crate) async fn issuing_ca(&self) -> Result<(PrivateKey, Vec<u8>), VaultError> {
        let aad = ["certificate-ca", self.tenant_id.as_str()];
        let stored = match self.store.meta(META).await? {
            Some(bytes) => bytes,
            None => {
                let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).map_err(internal)?;
                let subject = format!("CN=keyhold issuing CA {}, O=keyhold", self.tenant_id);
                let cert = x509::issuing_ca(&key, &subject, self.clock.now(), CA_YEARS).map_err(cert_error)?;
                let record = StoredCa {
                    cert: STANDARD.encode(&cert),
                    key: STANDARD.encode(self.keys.seal(&aad, key.pkcs8())?.as_bytes()),
                };
                let json = serde_json::to_vec(&record).map_err(internal)?;
                self.store.put_meta_if_absent(META, &json).await?
            }
        };
        let record: StoredCa = serde_json::from_slice(&stored).map_err(internal)?;
        let cert = STANDARD.decode(record.cert).map_err(internal)?;
        let sealed = Sealed::from_stored(STANDARD.decode(record.key).map_err(internal)?)?;
        let pkcs8 = self.keys.open(&aad, &sealed).await?;
        let key = PrivateKey::from_pkcs8(KeySpec::Ec(Curve::P256), pkcs8).map_err(internal)?;
        Ok((key, cert))
    }

    /// A chain (leaf, CA) for `key` from the vault's issuer named in the policy.
    pub(super) async fn signed_by_issuer(
        &self,
        vault: &VaultRecord,
        issuance: &Issuance,
        key: &PrivateKey,
        now: i64,
    ) -> Result<Vec<Vec<u8>>, VaultError> {
        let name = issuance.issuer.as_str();
        let issuer = match self.issuer_unchecked(vault, name).await {
            Ok(i) => i,
            Err(VaultError::CertificateIssuerNotFound { .. }) => {
                return Err(bad(format!(
                    "The issuer '{name}' does not exist in this vault: create it (provider '{KEYHOLD_CA}' for keyhold's own CA) or use 'Self' or 'Unknown'."
                )));
            }
            Err(e) => return Err(e),
        };
        let provider = issuer.provider.unwrap_or_default();
        if !provider.eq_ignore_ascii_case(KEYHOLD_CA) {
            return Err(bad(format!(
                "The issuer '{name}' has provider '{provider}', which keyhold cannot reach; keyhold issues with its own CA (provider '{KEYHOLD_CA}'), 'Self' or 'Unknown'."
            )));
        }
        if issuer.attributes.and_then(|a| a.enabled) == Some(false) {
            return Err(bad(format!("The issuer '{name}' is disabled.")));
        }
        let (ca_key, ca) = self.issuing_ca().await?;
        let leaf = x509::issued_by(key, &issuance.cert, now, &ca_key, &ca).map_err(cert_error)?;
        Ok(vec![leaf, ca])
    }
}
