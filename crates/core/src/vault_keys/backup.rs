//! Key backups: every version, private keys included, sealed under the keyring with associated data
//! naming this tenant and instance (as secret backups are), so a blob restores only here and an
//! altered byte makes it refuse to open. The private keys exist unsealed only inside this process.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use keyhold_crypto::Sealed;
use keyhold_store::{KeyVersionRecord, StoreError, VaultRecord};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{VaultKeys, aad, not_found, validate_key_name};
use crate::{
    VaultError,
    authz::{Caller, KeyOp},
    secrets::Tags,
};

const MAGIC: &[u8; 4] = b"KHK1";

#[derive(Serialize, Deserialize)]
struct Payload {
    name: String,
    versions: Vec<Version>,
}

#[derive(Serialize, Deserialize)]
struct Version {
    version: String,
    kty: String,
    jwk: serde_json::Value,
    key_ops: Vec<String>,
    /// PKCS#8, base64; only ever inside the sealed blob.
    private: String,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    tags: Option<Tags>,
    created: i64,
    updated: i64,
}

impl VaultKeys {
    fn backup_aad(&self) -> [&str; 3] {
        ["key-backup", &self.tenant_id, &self.instance_id]
    }

    pub async fn backup(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<String, VaultError> {
        self.authz.key(caller, vault, KeyOp::Backup, Some(name)).await?;
        validate_key_name(name)?;
        let all = keyhold_store::PageRequest {
            after: None,
            limit: u32::MAX,
        };
        let records = self.store.list_key_versions(&vault.name, name, &all).await?;
        if records.is_empty() {
            return Err(not_found(name));
        }
        let mut versions = Vec::with_capacity(records.len());
        for r in records {
            let der = self.keys.open(&aad(&r.vault, &r.name, &r.version), &r.private).await?;
            versions.push(Version {
                private: STANDARD.encode(&*der),
                version: r.version,
                kty: r.kty,
                jwk: r.public_jwk,
                key_ops: r.key_ops,
                enabled: r.enabled,
                nbf: r.nbf,
                exp: r.exp,
                tags: r.tags,
                created: r.created,
                updated: r.updated,
            });
        }
        let payload = Payload {
            name: name.to_owned(),
            versions,
        };
        let plain = Zeroizing::new(serde_json::to_vec(&payload).map_err(|e| VaultError::Internal(e.to_string()))?);
        for v in payload.versions {
            drop(Zeroizing::new(v.private));
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
    ) -> Result<KeyVersionRecord, VaultError> {
        self.authz.key(caller, vault, KeyOp::Restore, None).await?;
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
        validate_key_name(&payload.name)?;
        let mut records = Vec::with_capacity(payload.versions.len());
        for v in payload.versions {
            let der = Zeroizing::new(
                STANDARD
                    .decode(v.private.as_bytes())
                    .map_err(|_| VaultError::BadBackup)?,
            );
            drop(Zeroizing::new(v.private));
            records.push(KeyVersionRecord {
                vault: vault.name.clone(),
                name: payload.name.clone(),
                private: self.keys.seal(&aad(&vault.name, &payload.name, &v.version), &der)?,
                version: v.version,
                kty: v.kty,
                public_jwk: v.jwk,
                key_ops: v.key_ops,
                enabled: v.enabled,
                nbf: v.nbf,
                exp: v.exp,
                exportable: false,
                tags: v.tags,
                created: v.created,
                updated: v.updated,
                seq: 0,
                managed: false,
            });
        }
        match self.store.restore_key(&records).await {
            Ok(()) => {}
            Err(StoreError::Exists) => return Err(VaultError::KeyAlreadyExists { name: payload.name }),
            Err(StoreError::Deleted) => return Err(VaultError::KeyDeletedButRecoverable { name: payload.name }),
            Err(e) => return Err(e.into()),
        }
        self.record(vault, &payload.name, None).await
    }
}
