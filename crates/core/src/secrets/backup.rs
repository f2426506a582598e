//! Backups: every version of a secret, values included, sealed under the keyring with associated
//! data naming this tenant and this keyhold instance. A blob therefore restores only here, and any
//! altered byte makes it refuse to open.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyhold_crypto::Sealed;
use keyhold_store::{SecretVersionRecord, StoreError, VaultRecord};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Secrets, Tags, aad, not_found, validate_secret_name};
use crate::{
    VaultError,
    authz::{Caller, SecretOp},
};

const MAGIC: &[u8; 4] = b"KHB1";

#[derive(Serialize, Deserialize)]
struct Payload {
    name: String,
    versions: Vec<Version>,
}

#[derive(Serialize, Deserialize)]
struct Version {
    version: String,
    value: String,
    content_type: Option<String>,
    tags: Option<Tags>,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    created: i64,
    updated: i64,
}

impl Secrets {
    fn backup_aad(&self) -> [&str; 3] {
        ["backup", &self.tenant_id, &self.instance_id]
    }

    /// The base64url blob of `POST /secrets/{name}/backup`.
    pub async fn backup(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<String, VaultError> {
        self.authz.secret(caller, vault, SecretOp::Backup, Some(name)).await?;
        validate_secret_name(name)?;
        let records = self.store.all_secret_versions(&vault.name, name).await?;
        if records.is_empty() {
            return Err(not_found(name));
        }
        let mut versions = Vec::with_capacity(records.len());
        for r in records {
            let value = self.open(&r).await?;
            versions.push(Version {
                value: value.expose_secret().to_owned(),
                version: r.version,
                content_type: r.content_type,
                tags: r.tags,
                enabled: r.enabled,
                nbf: r.nbf,
                exp: r.exp,
                created: r.created,
                updated: r.updated,
            });
        }
        let payload = Payload {
            name: name.to_owned(),
            versions,
        };
        let plain = Zeroizing::new(serde_json::to_vec(&payload).map_err(|e| VaultError::Internal(e.to_string()))?);
        drop(payload);
        let sealed = self.keys.seal(&self.backup_aad(), &plain)?;
        let mut blob = MAGIC.to_vec();
        blob.extend_from_slice(sealed.as_bytes());
        Ok(URL_SAFE_NO_PAD.encode(blob))
    }

    /// Restores a blob into `vault`; returns the latest version.
    pub async fn restore(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        blob: &str,
    ) -> Result<SecretVersionRecord, VaultError> {
        self.authz.secret(caller, vault, SecretOp::Restore, None).await?;
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
        validate_secret_name(&payload.name)?;
        let mut records = Vec::with_capacity(payload.versions.len());
        for v in payload.versions {
            let value = SecretString::from(v.value);
            records.push(SecretVersionRecord {
                vault: vault.name.clone(),
                name: payload.name.clone(),
                value: self.keys.seal(
                    &aad(&vault.name, &payload.name, &v.version),
                    value.expose_secret().as_bytes(),
                )?,
                version: v.version,
                content_type: v.content_type,
                tags: v.tags,
                enabled: v.enabled,
                nbf: v.nbf,
                exp: v.exp,
                created: v.created,
                updated: v.updated,
                seq: 0,
                managed: false,
            });
        }
        match self.store.restore_secret(&records).await {
            Ok(()) => {}
            Err(StoreError::Exists) => {
                return Err(VaultError::AlreadyExists { name: payload.name });
            }
            Err(StoreError::Deleted) => {
                return Err(VaultError::DeletedButRecoverable { name: payload.name });
            }
            Err(e) => return Err(e.into()),
        }
        self.store
            .secret_version(&vault.name, &payload.name, None)
            .await?
            .ok_or_else(|| not_found(&payload.name))
    }
}
