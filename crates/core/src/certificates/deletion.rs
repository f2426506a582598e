//! Soft deletion of certificates: delete, the deleted list, recover, purge and the retention purge.
//! The store moves the certificate's key and secret with it, in the same transaction.

use keyhold_proto::certificates::CertificatePolicy;
use keyhold_store::{DeletedCertificate, DeletedCertificateRecord, StoreError, VaultRecord};

use super::{Certificates, not_found, policy_of, validate_certificate_name};
use crate::{
    VaultError,
    authz::{Caller, CertificateOp},
    secrets::{Cursor, Listing},
};

fn deleted_not_found(name: &str) -> VaultError {
    VaultError::DeletedCertificateNotFound { name: name.to_owned() }
}

impl Certificates {
    pub async fn delete(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<(DeletedCertificate, CertificatePolicy), VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Delete, Some(name))
            .await?;
        validate_certificate_name(name)?;
        let now = self.clock.now();
        let record = DeletedCertificateRecord {
            vault: vault.name.clone(),
            name: name.to_owned(),
            deleted_date: now,
            scheduled_purge_date: now + vault.retention_days * 86_400,
        };
        match self.store.delete_certificate(&record).await {
            Ok(()) => self.deleted_unchecked(vault, name).await,
            Err(StoreError::NotFound) => Err(not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    async fn deleted_unchecked(
        &self,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<(DeletedCertificate, CertificatePolicy), VaultError> {
        let d = self
            .store
            .deleted_certificate(&vault.name, name)
            .await?
            .ok_or_else(|| deleted_not_found(name))?;
        let policy = match self.store.certificate_policy(&vault.name, name).await? {
            Some(p) => policy_of(&p)?,
            None => CertificatePolicy::default(),
        };
        Ok((d, policy))
    }

    pub async fn deleted(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<(DeletedCertificate, CertificatePolicy), VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Get, Some(name))
            .await?;
        validate_certificate_name(name)?;
        self.deleted_unchecked(vault, name).await
    }

    pub async fn list_deleted(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<DeletedCertificate>, VaultError> {
        self.authz.certificate(caller, vault, CertificateOp::List, None).await?;
        let page = crate::secrets::page_request(max, cursor)?;
        let rows = self.store.list_deleted_certificates(&vault.name, &page).await?;
        Ok(crate::secrets::finish_page(rows, page.limit, |(d, _)| d.name.clone()))
    }

    pub async fn recover(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<super::CertificateView, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Recover, Some(name))
            .await?;
        validate_certificate_name(name)?;
        match self.store.recover_certificate(&vault.name, name).await {
            Ok(()) => {
                let record = self.record(vault, name, None).await?;
                self.view(vault, record).await
            }
            Err(StoreError::NotFound) => Err(deleted_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn purge(&self, caller: &Caller, vault: &VaultRecord, name: &str) -> Result<(), VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Purge, Some(name))
            .await?;
        validate_certificate_name(name)?;
        if vault.purge_protection {
            self.deleted_unchecked(vault, name).await?;
            return Err(VaultError::PurgeProtected);
        }
        match self.store.purge_certificate(&vault.name, name).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(deleted_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes deleted certificates (with their keys and secrets) whose retention has ended.
    pub async fn purge_expired(&self) -> Result<usize, VaultError> {
        let due = self.store.purgeable_certificates(self.clock.now()).await?;
        for (vault, name) in &due {
            match self.store.purge_certificate(vault, name).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(due.len())
    }
}
