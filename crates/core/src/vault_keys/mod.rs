//! Key Vault keys: create, import, versions, attributes, soft delete, recover, purge, backup and
//! restore, rotation and its policy, and the cryptographic operations, with Azure's rules.
//!
//! Private keys are PKCS#8 sealed under the keyring with associated data `["key", vault, name,
//! version]`; they are opened only inside an operation, held in zeroizing buffers, and never returned.
//! The parsed keys of recently used versions are kept (bounded, for minutes) in [`cache::KeyCache`].
//! A deleted key keeps its public JWK.

mod backup;
pub mod cache;
pub mod jwk;
mod ops;
pub mod policy;

use std::sync::Arc;

use keyhold_crypto::vault_key::{KeySpec, PrivateKey};
use keyhold_proto::keys::{KeyCreateParameters, KeyImportParameters, KeyUpdateParameters};
use keyhold_store::{DeletedKey, DeletedKeyRecord, KeyVersionRecord, Store, StoreError, VaultRecord};

pub use ops::{EncryptOp, OpResult};

use crate::{
    Keys, VaultError,
    authz::{Authorizer, Caller, KeyOp},
    clock::Clock,
    secrets::{Cursor, Listing, validate_secret_name},
};

#[derive(Clone)]
pub struct VaultKeys {
    store: Arc<dyn Store>,
    keys: Keys,
    clock: Arc<dyn Clock>,
    tenant_id: String,
    instance_id: String,
    authz: Authorizer,
    parsed: Arc<cache::KeyCache>,
}

pub(crate) fn aad<'a>(vault: &'a str, name: &'a str, version: &'a str) -> [&'a str; 4] {
    ["key", vault, name, version]
}

fn managed(name: &str) -> VaultError {
    VaultError::Managed {
        kind: "key",
        name: name.to_owned(),
    }
}

fn not_found(name: &str) -> VaultError {
    VaultError::KeyNotFound { name: name.to_owned() }
}

fn deleted_not_found(name: &str) -> VaultError {
    VaultError::DeletedKeyNotFound { name: name.to_owned() }
}

/// A new enabled version `version` of `name` around `key`, its private key sealed to that version
/// (also the key of a certificate version).
pub(crate) fn sealed_version(
    keys: &Keys,
    vault: &str,
    name: &str,
    version: &str,
    key: &PrivateKey,
    key_ops: Vec<String>,
    now: i64,
) -> Result<KeyVersionRecord, VaultError> {
    let public = key.public().map_err(|e| VaultError::Internal(e.to_string()))?;
    Ok(KeyVersionRecord {
        vault: vault.to_owned(),
        name: name.to_owned(),
        private: keys.seal(&aad(vault, name, version), key.pkcs8())?,
        version: version.to_owned(),
        kty: match key.spec() {
            KeySpec::Rsa(_) => "RSA".into(),
            KeySpec::Ec(_) => "EC".into(),
        },
        public_jwk: jwk::public_jwk(&public),
        key_ops,
        enabled: true,
        nbf: None,
        exp: None,
        exportable: false,
        tags: None,
        created: now,
        updated: now,
        seq: 0,
        managed: false,
    })
}

/// Key names follow the secret rules: 1–127 of `[0-9a-zA-Z-]`.
pub fn validate_key_name(name: &str) -> Result<(), VaultError> {
    validate_secret_name(name).map_err(|_| {
        VaultError::BadParameter(format!(
            "The request URI contains an invalid name: {name}. Key names must be 1-127 characters of 0-9, a-z, A-Z and -."
        ))
    })
}

/// The spec of a stored key, from its public JWK.
pub(crate) fn spec_of(r: &KeyVersionRecord) -> Result<KeySpec, VaultError> {
    Ok(jwk::public_from_jwk(&r.public_jwk)?.spec())
}

fn release_policy_refused(policy: Option<&serde_json::Value>, exportable: Option<bool>) -> Result<(), VaultError> {
    if policy.is_some() {
        return Err(VaultError::BadParameter(
            "Key release policies need a secure key release service (an attestation authority), which keyhold does not offer.".into(),
        ));
    }
    if exportable == Some(true) {
        return Err(VaultError::BadParameter(
            "Exportable keys must have a release policy.".into(),
        ));
    }
    Ok(())
}

/// Key generation off the async workers: an RSA-4096 key takes up to a second of CPU, during which
/// the worker running it would serve no other request.
pub(crate) async fn generate_key(spec: KeySpec) -> Result<PrivateKey, VaultError> {
    tokio::task::spawn_blocking(move || PrivateKey::generate(spec))
        .await
        .map_err(|e| VaultError::Internal(e.to_string()))?
        .map_err(|e| VaultError::Internal(e.to_string()))
}

impl VaultKeys {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keys: Keys,
        clock: Arc<dyn Clock>,
        tenant_id: String,
        instance_id: String,
        authz: Authorizer,
    ) -> Self {
        Self {
            store,
            keys,
            clock,
            tenant_id,
            instance_id,
            authz,
            parsed: Arc::default(),
        }
    }

    /// Builds (and seals) a new version of `name` around `key`.
    fn version_record(
        &self,
        vault: &VaultRecord,
        name: &str,
        key: &PrivateKey,
        key_ops: Vec<String>,
        attrs: Option<&keyhold_proto::keys::KeyAttributes>,
        tags: Option<crate::secrets::Tags>,
    ) -> Result<KeyVersionRecord, VaultError> {
        let version = keyhold_crypto::random::version_id();
        let mut r = sealed_version(&self.keys, &vault.name, name, &version, key, key_ops, self.clock.now())?;
        r.enabled = attrs.and_then(|a| a.enabled).unwrap_or(true);
        r.nbf = attrs.and_then(|a| a.nbf);
        r.exp = attrs.and_then(|a| a.exp);
        r.tags = tags;
        Ok(r)
    }

    async fn put(&self, record: KeyVersionRecord) -> Result<KeyVersionRecord, VaultError> {
        match self.store.put_key_version(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::Deleted) => Err(VaultError::KeyDeletedButRecoverable {
                name: record.name.clone(),
            }),
            Err(StoreError::Managed) => Err(managed(&record.name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        p: KeyCreateParameters,
    ) -> Result<KeyVersionRecord, VaultError> {
        self.authz.key(caller, vault, KeyOp::Create, Some(name)).await?;
        validate_key_name(name)?;
        let spec = jwk::create_spec(p.kty.as_deref(), p.key_size, p.public_exponent, p.crv.as_deref())?;
        let ops = jwk::key_ops(p.key_ops, spec)?;
        crate::secrets::validate_tags(p.tags.as_ref())?;
        release_policy_refused(
            p.release_policy.as_ref(),
            p.attributes.as_ref().and_then(|a| a.exportable),
        )?;
        let key = generate_key(spec).await?;
        let record = self.version_record(vault, name, &key, ops, p.attributes.as_ref(), p.tags)?;
        self.put(record).await
    }

    pub async fn import(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        p: KeyImportParameters,
    ) -> Result<KeyVersionRecord, VaultError> {
        self.authz.key(caller, vault, KeyOp::Import, Some(name)).await?;
        validate_key_name(name)?;
        let jwk = p
            .key
            .ok_or_else(|| VaultError::BadParameter("The parameter 'key' is required.".into()))?;
        if p.hsm == Some(true) {
            return Err(jwk::refuse_unsupported_kty("RSA-HSM"));
        }
        crate::secrets::validate_tags(p.tags.as_ref())?;
        release_policy_refused(
            p.release_policy.as_ref(),
            p.attributes.as_ref().and_then(|a| a.exportable),
        )?;
        let key = jwk::import(&jwk)?;
        let ops = jwk::key_ops(jwk.key_ops.clone(), key.spec())?;
        let record = self.version_record(vault, name, &key, ops, p.attributes.as_ref(), p.tags)?;
        self.put(record).await
    }

    /// A version's metadata and public key. Disabled keys are readable (their operations are not).
    pub async fn get(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
    ) -> Result<KeyVersionRecord, VaultError> {
        self.authz.key(caller, vault, KeyOp::Get, Some(name)).await?;
        validate_key_name(name)?;
        self.record(vault, name, version).await
    }

    /// Refuses changes to a certificate's key.
    async fn unmanaged(&self, vault: &VaultRecord, name: &str) -> Result<(), VaultError> {
        let latest = match self.store.key_version(&vault.name, name, None).await? {
            Some(r) => Some(r.managed),
            None => self.store.deleted_key(&vault.name, name).await?.map(|(_, r)| r.managed),
        };
        if latest == Some(true) {
            return Err(managed(name));
        }
        Ok(())
    }

    async fn record(
        &self,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
    ) -> Result<KeyVersionRecord, VaultError> {
        self.store
            .key_version(&vault.name, name, version)
            .await?
            .ok_or_else(|| not_found(name))
    }

    pub async fn update(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
        p: KeyUpdateParameters,
    ) -> Result<KeyVersionRecord, VaultError> {
        self.authz.key(caller, vault, KeyOp::Update, Some(name)).await?;
        validate_key_name(name)?;
        self.unmanaged(vault, name).await?;
        crate::secrets::validate_tags(p.tags.as_ref())?;
        let attrs = p.attributes.unwrap_or_default();
        release_policy_refused(p.release_policy.as_ref(), attrs.exportable)?;
        let mut record = self.record(vault, name, version).await?;
        if let Some(ops) = p.key_ops {
            record.key_ops = jwk::key_ops(Some(ops), spec_of(&record)?)?;
        }
        if let Some(tags) = p.tags {
            record.tags = Some(tags);
        }
        record.enabled = attrs.enabled.unwrap_or(record.enabled);
        record.nbf = attrs.nbf.or(record.nbf);
        record.exp = attrs.exp.or(record.exp);
        record.updated = self.clock.now();
        match self.store.update_key_version(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::NotFound) => Err(not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<KeyVersionRecord>, VaultError> {
        self.authz.key(caller, vault, KeyOp::List, None).await?;
        let page = crate::secrets::page_request(max, cursor)?;
        let rows = self.store.list_keys(&vault.name, &page).await?;
        Ok(crate::secrets::finish_page(rows, page.limit, |r| r.name.clone()))
    }

    pub async fn list_versions(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<KeyVersionRecord>, VaultError> {
        self.authz.key(caller, vault, KeyOp::List, Some(name)).await?;
        validate_key_name(name)?;
        let page = crate::secrets::page_request(max, cursor)?;
        let rows = self.store.list_key_versions(&vault.name, name, &page).await?;
        Ok(crate::secrets::finish_page(rows, page.limit, |r| r.seq.to_string()))
    }

    pub async fn delete(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<DeletedKey, VaultError> {
        self.authz.key(caller, vault, KeyOp::Delete, Some(name)).await?;
        validate_key_name(name)?;
        self.unmanaged(vault, name).await?;
        let now = self.clock.now();
        let record = DeletedKeyRecord {
            vault: vault.name.clone(),
            name: name.to_owned(),
            deleted_date: now,
            scheduled_purge_date: now + vault.retention_days * 86_400,
        };
        self.parsed.forget(&vault.name, name);
        match self.store.delete_key(&record).await {
            Ok(()) => self.deleted_unchecked(vault, name).await,
            Err(StoreError::NotFound) => Err(not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    async fn deleted_unchecked(&self, vault: &VaultRecord, name: &str) -> Result<DeletedKey, VaultError> {
        self.store
            .deleted_key(&vault.name, name)
            .await?
            .ok_or_else(|| deleted_not_found(name))
    }

    pub async fn deleted(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<DeletedKey, VaultError> {
        self.authz.key(caller, vault, KeyOp::Get, Some(name)).await?;
        validate_key_name(name)?;
        self.deleted_unchecked(vault, name).await
    }

    pub async fn list_deleted(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<DeletedKey>, VaultError> {
        self.authz.key(caller, vault, KeyOp::List, None).await?;
        let page = crate::secrets::page_request(max, cursor)?;
        let rows = self.store.list_deleted_keys(&vault.name, &page).await?;
        Ok(crate::secrets::finish_page(rows, page.limit, |(d, _)| d.name.clone()))
    }

    pub async fn recover(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<KeyVersionRecord, VaultError> {
        self.authz.key(caller, vault, KeyOp::Recover, Some(name)).await?;
        validate_key_name(name)?;
        self.unmanaged(vault, name).await?;
        match self.store.recover_key(&vault.name, name).await {
            Ok(()) => self.record(vault, name, None).await,
            Err(StoreError::NotFound) => Err(deleted_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn purge(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<(), VaultError> {
        self.authz.key(caller, vault, KeyOp::Purge, Some(name)).await?;
        validate_key_name(name)?;
        self.unmanaged(vault, name).await?;
        if vault.purge_protection {
            self.deleted_unchecked(vault, name).await?;
            return Err(VaultError::PurgeProtected);
        }
        self.parsed.forget(&vault.name, name);
        match self.store.purge_key(&vault.name, name).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(deleted_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes deleted keys whose retention has ended; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, VaultError> {
        let due = self.store.purgeable_keys(self.clock.now()).await?;
        for (vault, name) in &due {
            match self.store.purge_key(vault, name).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(due.len())
    }

    /// A new version of the same type and size, with the latest version's `key_ops` and tags.
    pub async fn rotate(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<KeyVersionRecord, VaultError> {
        self.authz.key(caller, vault, KeyOp::Rotate, Some(name)).await?;
        validate_key_name(name)?;
        self.unmanaged(vault, name).await?;
        self.rotate_unchecked(vault, name).await
    }

    pub(crate) async fn rotate_unchecked(
        &self,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<KeyVersionRecord, VaultError> {
        let latest = self.record(vault, name, None).await?;
        let spec = spec_of(&latest)?;
        let key = generate_key(spec).await?;
        let expiry = self.policy_expiry(vault, name).await?;
        let mut record = self.version_record(vault, name, &key, latest.key_ops.clone(), None, latest.tags.clone())?;
        record.exp = expiry.map(|secs| record.created + secs);
        self.put(record).await
    }

    /// Random bytes from the system RNG, 1–128 of them.
    pub fn random_bytes(&self, count: Option<i64>) -> Result<Vec<u8>, VaultError> {
        let n = count.ok_or_else(|| VaultError::BadParameter("The parameter 'count' is required.".into()))?;
        if !(1..=128).contains(&n) {
            return Err(VaultError::BadParameter(
                "Invalid count: it must be between 1 and 128.".into(),
            ));
        }
        keyhold_crypto::vault_key::random_bytes(n as usize).map_err(|e| VaultError::Internal(e.to_string()))
    }

    /// `release`: allowed only for exportable keys with a release policy, which keyhold never has,
    /// so an authorized caller gets Azure's answer for a key without one.
    pub async fn release(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
    ) -> Result<(), VaultError> {
        self.authz.key(caller, vault, KeyOp::Release, Some(name)).await?;
        validate_key_name(name)?;
        self.record(vault, name, version).await?;
        Err(VaultError::BadParameter(
            "The key is not exportable and has no release policy; it cannot be released.".into(),
        ))
    }
}
