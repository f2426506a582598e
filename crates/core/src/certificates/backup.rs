//! Certificate backups: every version with its key (PKCS#8) and secret (the value) and the policy,
//! sealed under the keyring with associated data naming this tenant and instance (as key and secret
//! backups are), so a blob restores only here and an altered byte makes it refuse to open.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use keyhold_crypto::Sealed;
use keyhold_store::{
    CertificatePolicyRecord, CertificateVersionRecord, NewCertificateVersion, PageRequest, StoreError, VaultRecord,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{CertificateView, Certificates, internal, not_found, validate_certificate_name};
use crate::{
    VaultError,
    authz::{Caller, CertificateOp},
    secrets::Tags,
};

const MAGIC: &[u8; 4] = b"KHC1";

#[derive(Serialize, Deserialize)]
struct Payload {
    name: String,
    policy: serde_json::Value,
    policy_created: i64,
    versions: Vec<Version>,
}

#[derive(Serialize, Deserialize)]
struct Version {
    version: String,
    cer: String,
    x5t: String,
    content_type: String,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    tags: Option<Tags>,
    #[serde(default)]
    preserve_cert_order: Option<bool>,
    created: i64,
    updated: i64,
    key_ops: Vec<String>,
    /// The key's public JWK (its spec).
    jwk: serde_json::Value,
    /// PKCS#8 and the secret's value; only ever inside the sealed blob.
    private: String,
    secret: String,
}

impl Certificates {
    fn backup_aad(&self) -> [&str; 3] {
        ["certificate-backup", &self.tenant_id, &self.instance_id]
    }

    pub async fn backup(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<String, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Backup, Some(name))
            .await?;
        validate_certificate_name(name)?;
        let all = PageRequest {
            after: None,
            limit: u32::MAX,
        };
        let records = self.store.list_certificate_versions(&vault.name, name, &all).await?;
        if records.is_empty() {
            return Err(not_found(name));
        }
        let policy = self
            .store
            .certificate_policy(&vault.name, name)
            .await?
            .ok_or_else(|| not_found(name))?;
        let mut versions = Vec::with_capacity(records.len());
        for r in records {
            let key = self
                .store
                .key_version(&vault.name, name, Some(&r.version))
                .await?
                .ok_or_else(|| internal("a certificate version without its key"))?;
            let secret = self
                .store
                .secret_version(&vault.name, name, Some(&r.version))
                .await?
                .ok_or_else(|| internal("a certificate version without its secret"))?;
            let der = self
                .keys
                .open(&crate::vault_keys::aad(&vault.name, name, &r.version), &key.private)
                .await?;
            let value = self
                .keys
                .open(&crate::secrets::aad(&vault.name, name, &r.version), &secret.value)
                .await?;
            versions.push(Version {
                private: STANDARD.encode(&*der),
                secret: String::from_utf8(value.to_vec()).map_err(|_| VaultError::Integrity)?,
                key_ops: key.key_ops,
                jwk: key.public_jwk,
                version: r.version,
                cer: STANDARD.encode(&r.cer),
                x5t: r.x5t,
                content_type: r.content_type,
                enabled: r.enabled,
                nbf: r.nbf,
                exp: r.exp,
                tags: r.tags,
                preserve_cert_order: r.preserve_cert_order,
                created: r.created,
                updated: r.updated,
            });
        }
        let payload = Payload {
            name: name.to_owned(),
            policy: policy.policy,
            policy_created: policy.created,
            versions,
        };
        let plain = Zeroizing::new(serde_json::to_vec(&payload).map_err(internal)?);
        for v in payload.versions {
            drop((Zeroizing::new(v.private), Zeroizing::new(v.secret)));
        }
        let sealed = self.keys.seal(&self.backup_aad(), &plain)?;
        let mut blob = MAGIC.to_vec();
        blob.extend_from_slice(sealed.as_bytes());
        Ok(URL_SAFE_NO_PAD.encode(blob))
    }

    pub async fn restore(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        blob: &str,
    ) -> Result<CertificateView, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Restore, None)
            .await?;
        let bytes = URL_SAFE_NO_PAD
            .decode(blob.trim_end_matches('='))
            .map_err(|_| VaultError::BadBackup)?;
        let sealed = bytes.strip_prefix(MAGIC.as_slice()).ok_or(VaultError::BadBackup)?;
        let sealed = Sealed::from_stored(sealed.to_vec()).map_err(|_| VaultError::BadBackup)?;
        let plain = self
            .keys
            .open(&self.backup_aad(), &sealed)
            .await
            .map_err(|_| VaultError::BadBackup)?;
        let payload: Payload = serde_json::from_slice(&plain).map_err(|_| VaultError::BadBackup)?;
        let name = payload.name.clone();
        validate_certificate_name(&name)?;
        let now = self.clock.now();
        let mut news = Vec::with_capacity(payload.versions.len());
        for v in payload.versions {
            let der = Zeroizing::new(
                STANDARD
                    .decode(v.private.as_bytes())
                    .map_err(|_| VaultError::BadBackup)?,
            );
            let secret_value = Zeroizing::new(v.secret);
            let spec = crate::vault_keys::jwk::public_from_jwk(&v.jwk)
                .map_err(|_| VaultError::BadBackup)?
                .spec();
            let key =
                keyhold_crypto::vault_key::PrivateKey::from_pkcs8(spec, der).map_err(|_| VaultError::BadBackup)?;
            let mut key_record = crate::vault_keys::sealed_version(
                &self.keys,
                &vault.name,
                &name,
                &v.version,
                &key,
                v.key_ops,
                v.created,
            )?;
            key_record.managed = true;
            key_record.enabled = v.enabled;
            key_record.nbf = v.nbf;
            key_record.exp = v.exp;
            key_record.updated = v.updated;
            let mut secret =
                crate::secrets::sealed_version(&self.keys, &vault.name, &name, &v.version, &secret_value, v.created)?;
            secret.content_type = Some(v.content_type.clone());
            secret.managed = true;
            secret.enabled = v.enabled;
            secret.nbf = v.nbf;
            secret.exp = v.exp;
            secret.updated = v.updated;
            news.push(NewCertificateVersion {
                certificate: CertificateVersionRecord {
                    vault: vault.name.clone(),
                    name: name.clone(),
                    version: v.version,
                    cer: STANDARD.decode(&v.cer).map_err(|_| VaultError::BadBackup)?,
                    x5t: v.x5t,
                    content_type: v.content_type,
                    enabled: v.enabled,
                    nbf: v.nbf,
                    exp: v.exp,
                    tags: v.tags,
                    preserve_cert_order: v.preserve_cert_order,
                    created: v.created,
                    updated: v.updated,
                    seq: 0,
                },
                key: key_record,
                secret,
                policy: CertificatePolicyRecord {
                    vault: vault.name.clone(),
                    name: name.clone(),
                    policy: payload.policy.clone(),
                    created: payload.policy_created,
                    updated: now,
                },
                operation: None,
            });
        }
        match self.store.restore_certificate(&news).await {
            Ok(()) => {}
            Err(StoreError::Exists) => return Err(VaultError::CertificateAlreadyExists { name }),
            Err(StoreError::Deleted) => return Err(VaultError::CertificateDeletedButRecoverable { name }),
            Err(e) => return Err(e.into()),
        }
        let record = self.record(vault, &name, None).await?;
        self.view(vault, record).await
    }
}
