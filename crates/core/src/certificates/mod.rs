//! Key Vault certificates: create (a long-running operation), versions, attributes, policies and the
//! pending operation, with Azure's rules.
//!
//! A certificate version IS a key version and a secret version of the same name and version id, as
//! in Azure: the key is built and sealed by the keys domain (`vault_keys::sealed_version`, associated
//! data `["key", vault, name, version]`) and answers the keys API; the secret is built and sealed by
//! the secrets domain (PKCS#12 base64 or a PEM bundle, per the policy's content type) and answers the
//! secrets API. The store writes all three in one transaction. Private keys exist in clear only
//! inside an issuing call, in zeroizing buffers.

mod backup;
mod ca;
mod deletion;
mod import;
pub mod issuers;
mod pending;
pub mod policy;
pub mod renewal;

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::STANDARD};
use keyhold_crypto::{certificate as x509, vault_key::PrivateKey};
use keyhold_proto::certificates::{
    CertificateCreateParameters, CertificateOperation, CertificatePolicy, CertificateUpdateParameters, IssuerParameters,
};
use keyhold_store::{
    CertificateOperationRecord, CertificatePolicyRecord, CertificateVersionRecord, NewCertificateVersion, Store,
    StoreError, VaultRecord,
};

use crate::{
    Keys, VaultError,
    authz::{Authorizer, Caller, CertificateOp},
    clock::Clock,
    secrets::{Cursor, Listing, validate_secret_name, validate_tags},
    vault_keys::jwk,
};

pub use policy::Issuance;

pub(crate) const IN_PROGRESS_DETAILS: &str = "Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later.";

#[derive(Clone)]
pub struct Certificates {
    store: Arc<dyn Store>,
    keys: Keys,
    clock: Arc<dyn Clock>,
    authz: Authorizer,
    tenant_id: String,
    instance_id: String,
}

/// A version with the certificate's current policy.
#[derive(Debug, Clone)]
pub struct CertificateView {
    pub record: CertificateVersionRecord,
    pub policy: CertificatePolicy,
}

fn not_found(name: &str) -> VaultError {
    VaultError::CertificateNotFound { name: name.to_owned() }
}

fn pending_not_found(name: &str) -> VaultError {
    VaultError::PendingCertificateNotFound { name: name.to_owned() }
}

/// Certificate names follow the secret rules: 1–127 of `[0-9a-zA-Z-]`.
pub fn validate_certificate_name(name: &str) -> Result<(), VaultError> {
    validate_secret_name(name).map_err(|_| {
        VaultError::BadParameter(format!(
            "The request URI contains an invalid name: {name}. Certificate names must be 1-127 characters of 0-9, a-z, A-Z and -."
        ))
    })
}

fn internal(e: impl std::fmt::Display) -> VaultError {
    VaultError::Internal(e.to_string())
}

fn cert_error(e: x509::CertError) -> VaultError {
    match e {
        x509::CertError::Invalid(m) => VaultError::BadParameter(m),
        x509::CertError::UnsupportedKey(_) | x509::CertError::BadCertificate => VaultError::BadParameter(e.to_string()),
        x509::CertError::Failed => internal(e),
    }
}

fn policy_json(p: &CertificatePolicy) -> Result<serde_json::Value, VaultError> {
    serde_json::to_value(p).map_err(internal)
}

fn policy_of(r: &CertificatePolicyRecord) -> Result<CertificatePolicy, VaultError> {
    serde_json::from_value(r.policy.clone()).map_err(internal)
}

fn operation_of(r: &CertificateOperationRecord) -> Result<CertificateOperation, VaultError> {
    serde_json::from_value(r.operation.clone()).map_err(internal)
}

impl Certificates {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keys: Keys,
        clock: Arc<dyn Clock>,
        authz: Authorizer,
        tenant_id: String,
        instance_id: String,
    ) -> Self {
        Self {
            store,
            keys,
            clock,
            authz,
            tenant_id,
            instance_id,
        }
    }

    async fn stored_policy(
        &self,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<Option<CertificatePolicyRecord>, VaultError> {
        Ok(self.store.certificate_policy(&vault.name, name).await?)
    }

    /// Starts creating a new version. Issuer `Self` completes at once (the operation is stored as
    /// completed with the version); the answer is the operation as Azure first reports it,
    /// `inProgress`, and the version made, if one was (for the audit record).
    pub async fn create(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        p: CertificateCreateParameters,
    ) -> Result<(CertificateOperation, Option<String>), VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Create, Some(name))
            .await?;
        validate_certificate_name(name)?;
        validate_tags(p.tags.as_ref())?;
        let enabled = p.attributes.as_ref().and_then(|a| a.enabled).unwrap_or(true);
        self.new_version(vault, name, p.policy, enabled, p.tags, p.preserve_cert_order)
            .await
    }

    /// Issues a new version of `name` under `requested` (else the stored policy, else Azure's
    /// default): at once for `Self` and keyhold's CA, as a pending request for `Unknown`. Create and
    /// renewal both come here.
    pub(crate) async fn new_version(
        &self,
        vault: &VaultRecord,
        name: &str,
        requested: Option<CertificatePolicy>,
        enabled: bool,
        tags: Option<crate::secrets::Tags>,
        preserve_cert_order: Option<bool>,
    ) -> Result<(CertificateOperation, Option<String>), VaultError> {
        let now = self.clock.now();
        let existing = self.stored_policy(vault, name).await?;
        let requested = match (requested, &existing) {
            (Some(given), _) => given,
            (None, Some(stored)) => policy_of(stored)?,
            (None, None) => policy::default_policy(),
        };
        let (mut stored, issuance) = policy::normalize(requested, now)?;
        if let (Some(old), Some(attrs)) = (&existing, stored.attributes.as_mut()) {
            attrs.created = Some(old.created);
        }
        let key = match self.reusable_key(vault, name, &issuance).await? {
            Some(k) => k,
            None => crate::vault_keys::generate_key(issuance.key).await?,
        };
        let csr = x509::signing_request(&key, &issuance.cert).map_err(cert_error)?;
        let chain = match issuance.issuer.to_ascii_lowercase().as_str() {
            "self" => vec![x509::self_signed(&key, &issuance.cert, now).map_err(cert_error)?],
            "unknown" => {
                return self
                    .start_pending(
                        vault,
                        name,
                        &key,
                        &csr,
                        &stored,
                        existing.as_ref(),
                        preserve_cert_order,
                        now,
                    )
                    .await
                    .map(|op| (op, None));
            }
            _ => self.signed_by_issuer(vault, &issuance, &key, now).await?,
        };
        let mut op = CertificateOperation {
            id: None,
            issuer: Some(IssuerParameters {
                name: Some(issuance.issuer.clone()),
                ..stored.issuer.clone().unwrap_or_default()
            }),
            csr: Some(STANDARD.encode(&csr)),
            cancellation_requested: false,
            status: "completed".into(),
            status_details: String::new(),
            error: None,
            target: None,
            request_id: Some(keyhold_crypto::random::version_id()),
            preserve_cert_order,
        };
        let version = self
            .issue(
                vault,
                name,
                &key,
                chain,
                &issuance,
                &stored,
                enabled,
                tags,
                preserve_cert_order,
                Some(&op),
                now,
            )
            .await?;
        tracing::debug!(vault = %vault.name, name, version = %version.version, "certificate issued");
        op.status = "inProgress".into();
        op.status_details = IN_PROGRESS_DETAILS.into();
        Ok((op, Some(version.version)))
    }

    /// With `reuse_key`, the latest version's key when it has the policy's type and size (a renewal
    /// keeps the key pinned by clients); else `None`, and a new key is made.
    async fn reusable_key(
        &self,
        vault: &VaultRecord,
        name: &str,
        issuance: &Issuance,
    ) -> Result<Option<PrivateKey>, VaultError> {
        if !issuance.reuse_key {
            return Ok(None);
        }
        let Some(latest) = self.store.key_version(&vault.name, name, None).await? else {
            return Ok(None);
        };
        if !latest.managed || jwk::public_from_jwk(&latest.public_jwk)?.spec() != issuance.key {
            return Ok(None);
        }
        let der = self
            .keys
            .open(
                &crate::vault_keys::aad(&vault.name, name, &latest.version),
                &latest.private,
            )
            .await?;
        PrivateKey::from_pkcs8(issuance.key, der).map(Some).map_err(internal)
    }

    /// Writes a new version for `key` and `chain` (leaf first): the certificate, its key and its
    /// secret under one new version id, with the policy and the operation's final state.
    #[allow(clippy::too_many_arguments)]
    async fn issue(
        &self,
        vault: &VaultRecord,
        name: &str,
        key: &PrivateKey,
        chain: Vec<Vec<u8>>,
        issuance: &Issuance,
        policy: &CertificatePolicy,
        enabled: bool,
        tags: Option<crate::secrets::Tags>,
        preserve_cert_order: Option<bool>,
        operation: Option<&CertificateOperation>,
        now: i64,
    ) -> Result<CertificateVersionRecord, VaultError> {
        // `chain` is leaf first unless the client asked to preserve its order; a PEM secret keeps
        // that order, a PKCS#12 one always starts with the key's certificate.
        let at = chain
            .iter()
            .position(|c| x509::belongs_to(c, key).unwrap_or(false))
            .unwrap_or(0);
        let leaf = chain.get(at).ok_or_else(|| internal("empty chain"))?.clone();
        let mut leaf_first = chain.clone();
        let l = leaf_first.remove(at);
        leaf_first.insert(0, l);
        let info = x509::info(&leaf).map_err(cert_error)?;
        let version = keyhold_crypto::random::version_id();
        let private = issuance.exportable.then_some(key);
        let value = if issuance.content_type == policy::PEM {
            x509::pem_bundle(
                private,
                if preserve_cert_order == Some(true) {
                    &chain
                } else {
                    &leaf_first
                },
            )
        } else {
            zeroize::Zeroizing::new(STANDARD.encode(&*x509::pkcs12(private, &leaf_first).map_err(cert_error)?))
        };
        let mut secret = crate::secrets::sealed_version(&self.keys, &vault.name, name, &version, &value, now)?;
        secret.content_type = Some(issuance.content_type.clone());
        secret.managed = true;
        secret.enabled = enabled;
        secret.nbf = Some(info.not_before);
        secret.exp = Some(info.not_after);
        let ops = jwk::key_ops(None, issuance.key)?;
        let mut key_record = crate::vault_keys::sealed_version(&self.keys, &vault.name, name, &version, key, ops, now)?;
        key_record.managed = true;
        key_record.enabled = enabled;
        key_record.nbf = Some(info.not_before);
        key_record.exp = Some(info.not_after);
        let certificate = CertificateVersionRecord {
            vault: vault.name.clone(),
            name: name.to_owned(),
            version,
            cer: leaf,
            x5t: info.x5t,
            content_type: issuance.content_type.clone(),
            enabled,
            nbf: Some(info.not_before),
            exp: Some(info.not_after),
            tags,
            preserve_cert_order,
            created: now,
            updated: now,
            seq: 0,
        };
        let created = policy.attributes.as_ref().and_then(|a| a.created).unwrap_or(now);
        let new = NewCertificateVersion {
            certificate: certificate.clone(),
            key: key_record,
            secret,
            policy: CertificatePolicyRecord {
                vault: vault.name.clone(),
                name: name.to_owned(),
                policy: policy_json(policy)?,
                created,
                updated: now,
            },
            operation: operation
                .map(|op| -> Result<_, VaultError> {
                    Ok(CertificateOperationRecord {
                        vault: vault.name.clone(),
                        name: name.to_owned(),
                        operation: serde_json::to_value(op).map_err(internal)?,
                        private: None,
                        updated: now,
                    })
                })
                .transpose()?,
        };
        match self.store.put_certificate_version(&new).await {
            Ok(()) => Ok(certificate),
            Err(StoreError::Deleted) => Err(VaultError::CertificateDeletedButRecoverable { name: name.to_owned() }),
            Err(StoreError::Exists) => Err(VaultError::NameTaken { name: name.to_owned() }),
            Err(e) => Err(e.into()),
        }
    }

    async fn view(&self, vault: &VaultRecord, record: CertificateVersionRecord) -> Result<CertificateView, VaultError> {
        let policy = match self.stored_policy(vault, &record.name).await? {
            Some(p) => policy_of(&p)?,
            None => CertificatePolicy::default(),
        };
        Ok(CertificateView { record, policy })
    }

    async fn record(
        &self,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
    ) -> Result<CertificateVersionRecord, VaultError> {
        self.store
            .certificate_version(&vault.name, name, version)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// A version (the latest when `version` is `None`) with the certificate's policy.
    pub async fn get(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
    ) -> Result<CertificateView, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Get, Some(name))
            .await?;
        validate_certificate_name(name)?;
        let record = self.record(vault, name, version).await?;
        self.view(vault, record).await
    }

    pub async fn list(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<CertificateVersionRecord>, VaultError> {
        self.authz.certificate(caller, vault, CertificateOp::List, None).await?;
        let page = crate::secrets::page_request(max, cursor)?;
        let rows = self.store.list_certificates(&vault.name, &page).await?;
        Ok(crate::secrets::finish_page(rows, page.limit, |r| r.name.clone()))
    }

    pub async fn list_versions(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        max: Option<u32>,
        cursor: Option<Cursor>,
    ) -> Result<Listing<CertificateVersionRecord>, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::List, Some(name))
            .await?;
        validate_certificate_name(name)?;
        let page = crate::secrets::page_request(max, cursor)?;
        let rows = self.store.list_certificate_versions(&vault.name, name, &page).await?;
        Ok(crate::secrets::finish_page(rows, page.limit, |r| r.seq.to_string()))
    }

    /// Attributes (`enabled`; `nbf`/`exp` come from the X.509 certificate and cannot change), tags and,
    /// when given, the policy. The version's key and secret follow `enabled`.
    pub async fn update(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        version: Option<&str>,
        p: CertificateUpdateParameters,
    ) -> Result<CertificateView, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Update, Some(name))
            .await?;
        validate_certificate_name(name)?;
        validate_tags(p.tags.as_ref())?;
        let mut record = self.record(vault, name, version).await?;
        let new_policy = match p.policy {
            Some(patch) => Some(self.merged_policy(vault, name, patch).await?),
            None => None,
        };
        if let Some(tags) = p.tags {
            record.tags = Some(tags);
        }
        if let Some(enabled) = p.attributes.and_then(|a| a.enabled) {
            record.enabled = enabled;
        }
        record.updated = self.clock.now();
        match self.store.update_certificate_version(&record).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(not_found(name)),
            Err(e) => return Err(e.into()),
        }
        if let Some(policy) = new_policy {
            self.store.put_certificate_policy(&policy).await?;
        }
        self.view(vault, record).await
    }

    async fn merged_policy(
        &self,
        vault: &VaultRecord,
        name: &str,
        patch: CertificatePolicy,
    ) -> Result<CertificatePolicyRecord, VaultError> {
        let stored = self.stored_policy(vault, name).await?.ok_or_else(|| not_found(name))?;
        let now = self.clock.now();
        let (policy, _) = policy::normalize(policy::merge(policy_of(&stored)?, patch), now)?;
        Ok(CertificatePolicyRecord {
            vault: vault.name.clone(),
            name: stored.name,
            policy: policy_json(&policy)?,
            created: stored.created,
            updated: now,
        })
    }

    /// A certificate with a version, or one whose first request is still pending (its policy is
    /// already stored); else not found.
    async fn live_or_pending(&self, vault: &VaultRecord, name: &str) -> Result<(), VaultError> {
        if self.store.certificate_version(&vault.name, name, None).await?.is_some() {
            return Ok(());
        }
        if self.store.deleted_certificate(&vault.name, name).await?.is_none()
            && self.store.certificate_operation(&vault.name, name).await?.is_some()
        {
            return Ok(());
        }
        Err(not_found(name))
    }

    pub async fn policy(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<CertificatePolicy, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Get, Some(name))
            .await?;
        validate_certificate_name(name)?;
        self.live_or_pending(vault, name).await?;
        let stored = self.stored_policy(vault, name).await?.ok_or_else(|| not_found(name))?;
        policy_of(&stored)
    }

    /// `PATCH …/policy`: the named sections replace the stored ones; the next version uses it.
    pub async fn update_policy(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        patch: CertificatePolicy,
    ) -> Result<CertificatePolicy, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Update, Some(name))
            .await?;
        validate_certificate_name(name)?;
        self.live_or_pending(vault, name).await?;
        let record = self.merged_policy(vault, name, patch).await?;
        self.store.put_certificate_policy(&record).await?;
        policy_of(&record)
    }

    /// The pending (or last completed) create operation.
    pub async fn operation(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<CertificateOperation, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Get, Some(name))
            .await?;
        validate_certificate_name(name)?;
        let r = self
            .store
            .certificate_operation(&vault.name, name)
            .await?
            .ok_or_else(|| pending_not_found(name))?;
        operation_of(&r)
    }

    /// `PATCH …/pending {cancellation_requested}`: an operation still in progress is cancelled; a
    /// finished one only records the request.
    pub async fn cancel_operation(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        cancel: Option<bool>,
    ) -> Result<CertificateOperation, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Update, Some(name))
            .await?;
        validate_certificate_name(name)?;
        let cancel = cancel
            .ok_or_else(|| VaultError::BadParameter("The parameter 'cancellation_requested' is required.".into()))?;
        let r = self
            .store
            .certificate_operation(&vault.name, name)
            .await?
            .ok_or_else(|| pending_not_found(name))?;
        let mut op = operation_of(&r)?;
        if cancel && !op.cancellation_requested {
            op.cancellation_requested = true;
            if op.status == "inProgress" {
                op.status = "cancelled".into();
                op.status_details = "Certificate request was cancelled.".into();
            }
            // A cancelled request cannot be merged: its key goes.
            self.store
                .put_certificate_operation(
                    &CertificateOperationRecord {
                        operation: serde_json::to_value(&op).map_err(internal)?,
                        private: None,
                        updated: self.clock.now(),
                        ..r
                    },
                    None,
                )
                .await?;
        }
        Ok(op)
    }

    /// `DELETE …/pending`: forgets the operation (the certificate's versions stay).
    pub async fn delete_operation(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<CertificateOperation, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Delete, Some(name))
            .await?;
        validate_certificate_name(name)?;
        let r = self
            .store
            .certificate_operation(&vault.name, name)
            .await?
            .ok_or_else(|| pending_not_found(name))?;
        match self.store.delete_certificate_operation(&vault.name, name).await {
            Ok(()) => operation_of(&r),
            Err(StoreError::NotFound) => Err(pending_not_found(name)),
            Err(e) => Err(e.into()),
        }
    }
}

/// A certificate's secret in another format (`?outContentType=`): PKCS#12 (base64, no password) to
/// a PEM bundle, or the reverse. Other secrets are refused; the same format is returned unchanged.
pub fn secret_as(
    found: crate::secrets::SecretWithValue,
    out: &str,
) -> Result<crate::secrets::SecretWithValue, VaultError> {
    use secrecy::ExposeSecret;
    if out != policy::PKCS12 && out != policy::PEM {
        return Err(VaultError::BadParameter(format!(
            "Invalid outContentType '{out}': it must be 'application/x-pkcs12' or 'application/x-pem-file'."
        )));
    }
    let from = found.record.content_type.as_deref().unwrap_or_default();
    if from != policy::PKCS12 && from != policy::PEM {
        return Err(VaultError::BadParameter(
            "outContentType applies only to the secret of a certificate (content type application/x-pkcs12 or application/x-pem-file).".into(),
        ));
    }
    if from == out {
        return Ok(found);
    }
    let imported = x509::import(found.value.expose_secret(), None).map_err(|e| internal(e.to_string()))?;
    let converted = if out == policy::PEM {
        x509::pem_bundle(Some(&imported.key), &imported.chain)
    } else {
        zeroize::Zeroizing::new(
            STANDARD.encode(&*x509::pkcs12(Some(&imported.key), &imported.chain).map_err(cert_error)?),
        )
    };
    let mut record = found.record;
    record.content_type = Some(out.to_owned());
    Ok(crate::secrets::SecretWithValue {
        record,
        value: secrecy::SecretString::from(converted.as_str().to_owned()),
    })
}
