//! Secrets: versions, attributes, soft delete, recover, purge, backup and restore, with Azure's rules.
//! Values are sealed under the keyring with associated data `["secret", vault, name, version]`, so a
//! ciphertext moved to another row fails to open instead of answering with someone else's value.

mod backup;
mod paging;
mod validate;

use std::{collections::BTreeMap, sync::Arc};

use keyhold_store::{DeletedSecretRecord, SecretVersionRecord, Store, StoreError, VaultRecord};
use secrecy::{ExposeSecret, SecretString};

pub use paging::Cursor;
pub(crate) use paging::{finish as finish_page, request as page_request};
pub(crate) use validate::tags as validate_tags;
pub use validate::validate_secret_name;

use crate::{
    Keys, VaultError,
    authz::{Authorizer, Caller, SecretOp},
    clock::Clock,
};

pub type Tags = BTreeMap<String, String>;

#[derive(Clone)]
pub struct Secrets {
    store: Arc<dyn Store>,
    keys: Keys,
    clock: Arc<dyn Clock>,
    tenant_id: String,
    instance_id: String,
    authz: Authorizer,
}

/// A new version, as the client asked for it.
pub struct NewSecret {
    pub value: SecretString,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// PATCH: `None` leaves a field unchanged.
#[derive(Debug, Default)]
pub struct SecretPatch {
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// A version with its value opened (only for operations that return values).
pub struct SecretWithValue {
    pub record: SecretVersionRecord,
    pub value: SecretString,
}

/// A page of results and the cursor of the next page, if any.
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

pub type DeletedSecret = (DeletedSecretRecord, SecretVersionRecord);

pub(crate) fn aad<'a>(vault: &'a str, name: &'a str, version: &'a str) -> [&'a str; 4] {
    ["secret", vault, name, version]
}

/// A new enabled version `version` of `name` holding `value`, sealed to that version (also the
/// secret of a certificate version).
pub(crate) fn sealed_version(
    keys: &Keys,
    vault: &str,
    name: &str,
    version: &str,
    value: &str,
    now: i64,
) -> Result<SecretVersionRecord, VaultError> {
    Ok(SecretVersionRecord {
        vault: vault.to_owned(),
        name: name.to_owned(),
        value: keys.seal(&aad(vault, name, version), value.as_bytes())?,
        version: version.to_owned(),
        content_type: None,
        tags: None,
        enabled: true,
        nbf: None,
        exp: None,
        created: now,
        updated: now,
        seq: 0,
        managed: false,
    })
}

fn managed(name: &str) -> VaultError {
    VaultError::Managed {
        kind: "secret",
        name: name.to_owned(),
    }
}

fn not_found(name: &str) -> VaultError {
    VaultError::SecretNotFound { name: name.to_owned() }
}

impl Secrets {
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
        }
    }

    pub async fn set(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        new: NewSecret,
    ) -> Result<SecretWithValue, VaultError> {
        self.authz.secret(caller, vault, SecretOp::Set, Some(name)).await?;
        validate_secret_name(name)?;
        validate::value(new.value.expose_secret())?;
        validate::content_type(new.content_type.as_deref())?;
        validate::tags(new.tags.as_ref())?;
        let version = keyhold_crypto::random::version_id();
        let mut record = sealed_version(
            &self.keys,
            &vault.name,
            name,
            &version,
            new.value.expose_secret(),
            self.clock.now(),
        )?;
        record.content_type = new.content_type;
        record.tags = new.tags;
        record.enabled = new.enabled.unwrap_or(true);
        record.nbf = new.nbf;
        record.exp = new.exp;
        match self.store.put_secret_version(&record).await {
            Ok(()) => Ok(SecretWithValue {
                record,
                value: new.value,
            }),
            Err(StoreError::Deleted) => Err(VaultError::DeletedButRecoverable { name: name.to_owned() }),
            Err(StoreError::Managed) => Err(managed(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses changes to a certificate's secret.
    async fn unmanaged(&self, vault: &VaultRecord, name: &str) -> Result<(), VaultError> {
        let latest = match self.store.secret_version(&vault.name, name, None).await? {
            Some(r) => Some(r.managed),
            None => self
                .store
                .deleted_secret(&vault.name, name)
                .await?
                .map(|(_, r)| r.managed),
        };
        if latest == Some(true) {
            return Err(managed(name));
        }
        Ok(())
    }

    /// Reads a version with its value. Disabled versions are refused; expired or not-yet-valid ones are
    /// returned, as Key Vault does for secrets.
    pub async fn get(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
    ) -> Result<SecretWithValue, VaultError> {
        self.authz.secret(caller, vault, SecretOp::Get, Some(name)).await?;
        validate_secret_name(name)?;
        let record = self
            .store
            .secret_version(&vault.name, name, version)
            .await?
            .ok_or_else(|| not_found(name))?;
        if !record.enabled {
            return Err(VaultError::Disabled);
        }
        let value = self.open(&record).await?;
        Ok(SecretWithValue { record, value })
    }

    async fn open(&self, r: &SecretVersionRecord) -> Result<SecretString, VaultError> {
        let bytes = self.keys.open(&aad(&r.vault, &r.name, &r.version), &r.value).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| VaultError::Integrity)?;
        Ok(SecretString::from(text.to_owned()))
    }

    pub async fn update(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
        patch: SecretPatch,
    ) -> Result<SecretVersionRecord, VaultError> {
        self.authz.secret(caller, vault, SecretOp::Update, Some(name)).await?;
        validate_secret_name(name)?;
        validate::content_type(patch.content_type.as_deref())?;
        validate::tags(patch.tags.as_ref())?;
        self.unmanaged(vault, name).await?;
        let mut record = self
            .store
            .secret_version(&vault.name, name, version)
            .await?
            .ok_or_else(|| not_found(name))?;
        if let Some(ct) = patch.content_type {
            record.content_type = Some(ct);
        }
        if let Some(tags) = patch.tags {
            record.tags = Some(tags);
        }
        record.enabled = patch.enabled.unwrap_or(record.enabled);
        record.nbf = patch.nbf.or(record.nbf);
        record.exp = patch.exp.or(record.exp);
        record.updated = self.clock.now();
        match self.store.update_secret_version(&record).await {
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
    ) -> Result<Listing<SecretVersionRecord>, VaultError> {
        self.authz.secret(caller, vault, SecretOp::List, None).await?;
        let page = paging::request(max, cursor)?;
        let rows = self.store.list_secrets(&vault.name, &page).await?;
        Ok(paging::finish(rows, page.limit, |r| r.name.clone()))
    }

    pub async fn list_versions(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<SecretVersionRecord>, VaultError> {
        self.authz.secret(caller, vault, SecretOp::List, Some(name)).await?;
        validate_secret_name(name)?;
        let page = paging::request(max, cursor)?;
        let rows = self.store.list_secret_versions(&vault.name, name, &page).await?;
        Ok(paging::finish(rows, page.limit, |r| r.seq.to_string()))
    }

    /// Soft delete: the secret moves to the deleted list until recovered, purged, or its retention ends.
    pub async fn delete(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<DeletedSecret, VaultError> {
        self.authz.secret(caller, vault, SecretOp::Delete, Some(name)).await?;
        validate_secret_name(name)?;
        self.unmanaged(vault, name).await?;
        let now = self.clock.now();
        let record = DeletedSecretRecord {
            vault: vault.name.clone(),
            name: name.to_owned(),
            deleted_date: now,
            scheduled_purge_date: now + vault.retention_days * 86_400,
        };
        match self.store.delete_secret(&record).await {
            Ok(()) => self.deleted_unchecked(vault, name).await,
            Err(StoreError::NotFound) => Err(not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// A deleted secret, for operations that were already authorized.
    async fn deleted_unchecked(&self, vault: &VaultRecord, name: &str) -> Result<DeletedSecret, VaultError> {
        self.store
            .deleted_secret(&vault.name, name)
            .await?
            .ok_or_else(|| VaultError::DeletedSecretNotFound { name: name.to_owned() })
    }

    pub async fn deleted(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<DeletedSecret, VaultError> {
        self.authz
            .secret(caller, vault, SecretOp::GetDeleted, Some(name))
            .await?;
        validate_secret_name(name)?;
        self.store
            .deleted_secret(&vault.name, name)
            .await?
            .ok_or_else(|| VaultError::DeletedSecretNotFound { name: name.to_owned() })
    }

    pub async fn list_deleted(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<DeletedSecret>, VaultError> {
        self.authz.secret(caller, vault, SecretOp::List, None).await?;
        let page = paging::request(max, cursor)?;
        let rows = self.store.list_deleted_secrets(&vault.name, &page).await?;
        Ok(paging::finish(rows, page.limit, |(d, _)| d.name.clone()))
    }

    pub async fn recover(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<SecretVersionRecord, VaultError> {
        self.authz.secret(caller, vault, SecretOp::Recover, Some(name)).await?;
        validate_secret_name(name)?;
        self.unmanaged(vault, name).await?;
        match self.store.recover_secret(&vault.name, name).await {
            Ok(()) => self
                .store
                .secret_version(&vault.name, name, None)
                .await?
                .ok_or_else(|| not_found(name)),
            Err(StoreError::NotFound) => Err(VaultError::DeletedSecretNotFound { name: name.to_owned() }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn purge(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<(), VaultError> {
        self.authz.secret(caller, vault, SecretOp::Purge, Some(name)).await?;
        validate_secret_name(name)?;
        self.unmanaged(vault, name).await?;
        if vault.purge_protection {
            // Still 404 for a name that is not deleted, so callers learn the right thing first.
            self.deleted_unchecked(vault, name).await?;
            return Err(VaultError::PurgeProtected);
        }
        match self.store.purge_secret(&vault.name, name).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(VaultError::DeletedSecretNotFound { name: name.to_owned() }),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes deleted secrets whose retention has ended; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, VaultError> {
        let due = self.store.purgeable_secrets(self.clock.now()).await?;
        for (vault, name) in &due {
            match self.store.purge_secret(vault, name).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(due.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use keyhold_crypto::RootKey;
    use keyhold_store::SqliteStore;

    use super::*;

    use crate::clock::FakeClock;

    fn new_secret(value: &str) -> NewSecret {
        NewSecret {
            value: value.to_owned().into(),
            content_type: None,
            tags: None,
            enabled: None,
            nbf: None,
            exp: None,
        }
    }

    #[tokio::test]
    async fn purge_scheduler_removes_deleted_secrets_when_retention_ends() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("keyhold-purge-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db"))?);
        let clock = Arc::new(FakeClock(AtomicI64::new(1_000_000)));
        let authz = crate::authz::Authorizer::new(store.clone(), "sub".into());
        let keys = Keys::load(store.clone(), RootKey::generate()?).await?;
        let secrets = Secrets::new(store, keys, clock.clone(), "t".into(), "i".into(), authz);
        let me = Caller {
            oid: "o".into(),
            appid: "a".into(),
            tenant: "t".into(),
        };
        let policy = serde_json::json!({"resourceGroup": "rg", "accessPolicies": [
            {"tenantId": "t", "objectId": "o", "permissions": {"secrets": ["all"]}}
        ]});
        let vault = VaultRecord {
            name: "kv1".into(),
            tenant_id: "t".into(),
            retention_days: 7,
            purge_protection: false,
            created: 0,
            properties: policy,
            deleted_at: None,
            purge_at: None,
        };
        secrets.set(&me, &vault, "a", new_secret("v")).await?;
        secrets.set(&me, &vault, "b", new_secret("v")).await?;
        secrets.delete(&me, &vault, "a").await?;

        clock.0.fetch_add(7 * 86_400 - 1, Ordering::SeqCst);
        assert_eq!(secrets.purge_expired().await?, 0, "not before the retention ends");
        assert!(secrets.deleted(&me, &vault, "a").await.is_ok());

        clock.0.fetch_add(1, Ordering::SeqCst);
        assert_eq!(secrets.purge_expired().await?, 1);
        assert!(matches!(
            secrets.deleted(&me, &vault, "a").await,
            Err(VaultError::DeletedSecretNotFound { .. })
        ));
        assert!(
            secrets.get(&me, &vault, "b", None).await.is_ok(),
            "live secrets are untouched"
        );
        secrets.set(&me, &vault, "a", new_secret("again")).await?;
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
