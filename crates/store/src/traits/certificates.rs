//! Key Vault certificates: versions (each written together with the key version and secret version
//! of the same name and version id), policies, pending operations and soft deletion. Deleting,
//! recovering or purging a certificate does the same to its key and secret in the same transaction.

use async_trait::async_trait;

use crate::{
    CertificateIssuerRecord, CertificateOperationRecord, CertificatePolicyRecord, CertificateVersionRecord,
    DeletedCertificate, DeletedCertificateRecord, NewCertificateVersion, PageRequest, Result,
};

/// Reads of live certificates never return versions of a soft-deleted name.
#[async_trait]
pub trait CertificateStore: Send + Sync + 'static {
    /// Adds a version with its key, secret and policy (and the operation's new state); `Deleted` if
    /// the certificate, its key or its secret is soft-deleted, `Exists` if a key or secret of the
    /// name is not a certificate's.
    async fn put_certificate_version(&self, c: &NewCertificateVersion) -> Result<()>;
    /// Replaces the attributes and tags of a live version; its key and secret version follow `enabled`.
    async fn update_certificate_version(&self, c: &CertificateVersionRecord) -> Result<()>;
    /// The given version, or the latest when `version` is `None`.
    async fn certificate_version(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<CertificateVersionRecord>>;
    /// Latest version of each live certificate, by name.
    async fn list_certificates(&self, vault: &str, page: &PageRequest) -> Result<Vec<CertificateVersionRecord>>;
    /// Versions of one live certificate, oldest first; `after` is a sequence number.
    async fn list_certificate_versions(
        &self,
        vault: &str,
        name: &str,
        page: &PageRequest,
    ) -> Result<Vec<CertificateVersionRecord>>;
    /// Inserts or replaces a policy.
    async fn put_certificate_policy(&self, p: &CertificatePolicyRecord) -> Result<()>;
    async fn certificate_policy(&self, vault: &str, name: &str) -> Result<Option<CertificatePolicyRecord>>;
    /// The policy of every live certificate (one with a version, not soft-deleted), for the renewal job.
    async fn certificate_policies(&self) -> Result<Vec<CertificatePolicyRecord>>;
    /// Inserts or replaces the pending operation (and the policy it follows, when given) in one
    /// transaction; `Deleted` if the name is soft-deleted.
    async fn put_certificate_operation(
        &self,
        o: &CertificateOperationRecord,
        policy: Option<&CertificatePolicyRecord>,
    ) -> Result<()>;
    async fn certificate_operation(&self, vault: &str, name: &str) -> Result<Option<CertificateOperationRecord>>;
    /// `NotFound` if there is none.
    async fn delete_certificate_operation(&self, vault: &str, name: &str) -> Result<()>;
    /// Soft-deletes a live certificate with its key and secret; `NotFound` if there is none.
    async fn delete_certificate(&self, d: &DeletedCertificateRecord) -> Result<()>;
    async fn deleted_certificate(&self, vault: &str, name: &str) -> Result<Option<DeletedCertificate>>;
    async fn list_deleted_certificates(&self, vault: &str, page: &PageRequest) -> Result<Vec<DeletedCertificate>>;
    /// Undeletes the certificate, its key and its secret; `NotFound` if it is not deleted.
    async fn recover_certificate(&self, vault: &str, name: &str) -> Result<()>;
    /// Removes a soft-deleted certificate, its versions, policy, operation, key and secret for good.
    async fn purge_certificate(&self, vault: &str, name: &str) -> Result<()>;
    /// Restores versions (each with its key and secret; the last one's policy) as a new live
    /// certificate; `Deleted` if the name is soft-deleted as a certificate, key or secret, `Exists` if
    /// it is taken by any of them.
    async fn restore_certificate(&self, versions: &[NewCertificateVersion]) -> Result<()>;
    /// Soft-deleted certificates whose purge date has passed.
    async fn purgeable_certificates(&self, now: i64) -> Result<Vec<(String, String)>>;

    /// A vault's certificate contacts (the domain's JSON), replaced as a whole.
    async fn put_certificate_contacts(&self, vault: &str, contacts: &serde_json::Value, now: i64) -> Result<()>;
    async fn certificate_contacts(&self, vault: &str) -> Result<Option<serde_json::Value>>;
    /// `NotFound` if the vault has none.
    async fn delete_certificate_contacts(&self, vault: &str) -> Result<()>;
    /// Inserts or replaces an issuer.
    async fn put_certificate_issuer(&self, i: &CertificateIssuerRecord) -> Result<()>;
    async fn certificate_issuer(&self, vault: &str, name: &str) -> Result<Option<CertificateIssuerRecord>>;
    /// By name; `after` is a name.
    async fn list_certificate_issuers(&self, vault: &str, page: &PageRequest) -> Result<Vec<CertificateIssuerRecord>>;
    /// `NotFound` if there is none.
    async fn delete_certificate_issuer(&self, vault: &str, name: &str) -> Result<()>;
}
