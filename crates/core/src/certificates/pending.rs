//! Issuer `Unknown`: the create operation stays `inProgress` with its CSR until the caller merges the
//! certificate an outside CA signed. The request's key waits in the operation record, sealed with
//! associated data `["certificate-pending", vault, name, request id]`; a merge of a certificate for
//! any other key is refused and stores nothing.

use base64::{Engine, engine::general_purpose::STANDARD};
use keyhold_crypto::{certificate as x509, vault_key::PrivateKey};
use keyhold_proto::certificates::{
    CertificateMergeParameters, CertificateOperation, CertificatePolicy, IssuerParameters,
};
use keyhold_store::{CertificateOperationRecord, CertificatePolicyRecord, VaultRecord};

use super::{
    CertificateView, Certificates, IN_PROGRESS_DETAILS, internal, operation_of, pending_not_found, policy, policy_json,
    policy_of, validate_certificate_name,
};
use crate::{
    VaultError,
    authz::{Caller, CertificateOp},
    secrets::validate_tags,
};

fn aad<'a>(vault: &'a str, name: &'a str, request_id: &'a str) -> [&'a str; 4] {
    ["certificate-pending", vault, name, request_id]
}

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::BadParameter(msg.into())
}

impl Certificates {
    /// Records the operation `inProgress` with its CSR and sealed key, and the policy it follows.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn start_pending(
        &self,
        vault: &VaultRecord,
        name: &str,
        key: &PrivateKey,
        csr: &[u8],
        stored: &CertificatePolicy,
        existing: Option<&CertificatePolicyRecord>,
        preserve_cert_order: Option<bool>,
        now: i64,
    ) -> Result<CertificateOperation, VaultError> {
        let request_id = keyhold_crypto::random::version_id();
        let op = CertificateOperation {
            id: None,
            issuer: Some(IssuerParameters {
                name: Some(policy::UNKNOWN_ISSUER.into()),
                ..stored.issuer.clone().unwrap_or_default()
            }),
            csr: Some(STANDARD.encode(csr)),
            cancellation_requested: false,
            status: "inProgress".into(),
            status_details: IN_PROGRESS_DETAILS.into(),
            error: None,
            target: None,
            request_id: Some(request_id.clone()),
            preserve_cert_order,
        };
        let record = CertificateOperationRecord {
            vault: vault.name.clone(),
            name: name.to_owned(),
            operation: serde_json::to_value(&op).map_err(internal)?,
            private: Some(self.keys.seal(&aad(&vault.name, name, &request_id), key.pkcs8())?),
            updated: now,
        };
        let policy = CertificatePolicyRecord {
            vault: vault.name.clone(),
            name: name.to_owned(),
            policy: policy_json(stored)?,
            created: existing.map_or(now, |e| e.created),
            updated: now,
        };
        match self.store.put_certificate_operation(&record, Some(&policy)).await {
            Ok(()) => Ok(op),
            Err(keyhold_store::StoreError::Deleted) => {
                Err(VaultError::CertificateDeletedButRecoverable { name: name.to_owned() })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `POST …/pending/merge`: completes an `Unknown`-issuer request with the signed chain.
    pub async fn merge(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        p: CertificateMergeParameters,
    ) -> Result<CertificateView, VaultError> {
        self.authz
            .certificate(caller, vault, CertificateOp::Create, Some(name))
            .await?;
        validate_certificate_name(name)?;
        validate_tags(p.tags.as_ref())?;
        let chain = p
            .x5c
            .filter(|c| !c.is_empty())
            .ok_or_else(|| bad("The parameter 'x5c' is required."))?
            .iter()
            .map(|c| {
                STANDARD
                    .decode(c.trim())
                    .map_err(|_| bad("The parameter 'x5c' must hold base64 DER certificates."))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let r = self
            .store
            .certificate_operation(&vault.name, name)
            .await?
            .ok_or_else(|| pending_not_found(name))?;
        let mut op = operation_of(&r)?;
        let (Some(sealed), "inProgress") = (r.private.as_ref(), op.status.as_str()) else {
            return Err(pending_not_found(name));
        };
        let request_id = op.request_id.clone().unwrap_or_default();
        let stored = self
            .store
            .certificate_policy(&vault.name, name)
            .await?
            .ok_or_else(|| pending_not_found(name))?;
        let (policy, issuance) = policy::normalize_imported(policy_of(&stored)?, self.clock.now())?;
        let pkcs8 = self.keys.open(&aad(&vault.name, name, &request_id), sealed).await?;
        let key = PrivateKey::from_pkcs8(issuance.key, pkcs8).map_err(internal)?;
        let leaf = chain.first().ok_or_else(|| bad("The parameter 'x5c' is required."))?;
        if !x509::belongs_to(leaf, &key).map_err(|e| bad(e.to_string()))? {
            return Err(bad(
                "Public key from x509 certificate and key of this instance doesn't match",
            ));
        }
        op.status = "completed".into();
        op.status_details = String::new();
        let enabled = p.attributes.as_ref().and_then(|a| a.enabled).unwrap_or(true);
        let now = self.clock.now();
        let record = self
            .issue(
                vault,
                name,
                &key,
                chain,
                &issuance,
                &policy,
                enabled,
                p.tags,
                op.preserve_cert_order,
                Some(&op),
                now,
            )
            .await?;
        Ok(CertificateView { record, policy })
    }
}
