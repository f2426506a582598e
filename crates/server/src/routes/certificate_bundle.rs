//! Certificate records to Key Vault bodies: `id`, `kid`, `sid` and the policy's `id` are built from
//! the origin the client used and share the version; `cer` is base64 DER, `x5t` base64url SHA-1.

use base64::{Engine, engine::general_purpose::STANDARD};
use keyhold_core::certificates::CertificateView;
use keyhold_proto::certificates::{
    CertificateAttributes, CertificateBundle, CertificateItem, CertificateOperation, CertificatePolicy,
};
use keyhold_store::{CertificateVersionRecord, DeletedCertificate, VaultRecord};

use super::bundle::recovery_level;

fn attributes(vault: &VaultRecord, r: &CertificateVersionRecord) -> CertificateAttributes {
    CertificateAttributes {
        enabled: Some(r.enabled),
        nbf: r.nbf,
        exp: r.exp,
        created: Some(r.created),
        updated: Some(r.updated),
        recovery_level: Some(recovery_level(vault).to_owned()),
        recoverable_days: Some(vault.retention_days),
    }
}

pub fn policy_body(origin: &str, name: &str, mut p: CertificatePolicy) -> CertificatePolicy {
    p.id = Some(format!("{origin}/certificates/{name}/policy"));
    p
}

pub fn certificate_bundle(origin: &str, vault: &VaultRecord, v: &CertificateView) -> CertificateBundle {
    let r = &v.record;
    CertificateBundle {
        id: format!("{origin}/certificates/{}/{}", r.name, r.version),
        kid: format!("{origin}/keys/{}/{}", r.name, r.version),
        sid: format!("{origin}/secrets/{}/{}", r.name, r.version),
        x5t: r.x5t.clone(),
        cer: STANDARD.encode(&r.cer),
        content_type: r.content_type.clone(),
        attributes: attributes(vault, r),
        policy: Some(policy_body(origin, &r.name, v.policy.clone())),
        tags: r.tags.clone(),
        preserve_cert_order: r.preserve_cert_order,
        recovery_id: None,
        deleted_date: None,
        scheduled_purge_date: None,
    }
}

pub fn deleted_certificate_bundle(
    origin: &str,
    vault: &VaultRecord,
    (d, r): &DeletedCertificate,
    policy: CertificatePolicy,
) -> CertificateBundle {
    let view = CertificateView {
        record: r.clone(),
        policy,
    };
    CertificateBundle {
        recovery_id: Some(format!("{origin}/deletedcertificates/{}", d.name)),
        deleted_date: Some(d.deleted_date),
        scheduled_purge_date: Some(d.scheduled_purge_date),
        ..certificate_bundle(origin, vault, &view)
    }
}

pub fn certificate_item(
    origin: &str,
    vault: &VaultRecord,
    r: &CertificateVersionRecord,
    versioned: bool,
) -> CertificateItem {
    CertificateItem {
        id: if versioned {
            format!("{origin}/certificates/{}/{}", r.name, r.version)
        } else {
            format!("{origin}/certificates/{}", r.name)
        },
        x5t: r.x5t.clone(),
        attributes: attributes(vault, r),
        tags: r.tags.clone(),
        recovery_id: None,
        deleted_date: None,
        scheduled_purge_date: None,
    }
}

pub fn deleted_certificate_item(origin: &str, vault: &VaultRecord, (d, r): &DeletedCertificate) -> CertificateItem {
    CertificateItem {
        recovery_id: Some(format!("{origin}/deletedcertificates/{}", d.name)),
        deleted_date: Some(d.deleted_date),
        scheduled_purge_date: Some(d.scheduled_purge_date),
        ..certificate_item(origin, vault, r, false)
    }
}

/// The operation with its ids: `…/pending` and, once it has one, the certificate it made.
pub fn operation_body(origin: &str, name: &str, mut op: CertificateOperation) -> CertificateOperation {
    op.id = Some(format!("{origin}/certificates/{name}/pending"));
    if op.status == "completed" {
        op.target = Some(format!("{origin}/certificates/{name}"));
    }
    op
}
