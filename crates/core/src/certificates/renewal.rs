//! Lifetime actions, run by the leader's background job: `AutoRenew` issues a new version of the
//! certificate (same name, same policy; the same key with `reuse_key`) once its latest version
//! reaches the trigger (a percentage of its lifetime or days before
//! expiry); `EmailContacts` is recorded once per version, for the events work to come. Certificates
//! of issuer `Unknown` are never renewed automatically (someone else signs them).

use keyhold_store::CertificateVersionRecord;

use super::{Certificates, policy, policy_of};
use crate::VaultError;

/// What a lifetime action asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalKind {
    AutoRenew,
    EmailContacts,
}

/// A due lifetime action of a certificate's latest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRenewal {
    pub vault: String,
    pub name: String,
    pub version: String,
    pub kind: RenewalKind,
}

/// When `trigger` fires for `v` (Unix seconds), if it can.
fn fires_at(v: &CertificateVersionRecord, percentage: Option<u32>, days_before: Option<u32>) -> Option<i64> {
    let (nbf, exp) = (v.nbf?, v.exp?);
    match (percentage, days_before) {
        (Some(p), _) => Some(nbf + (exp - nbf) * i64::from(p) / 100),
        (None, Some(d)) => Some(exp - i64::from(d) * 86_400),
        _ => None,
    }
}

fn notify_key(d: &DueRenewal) -> String {
    format!(
        "certificate-notify:{}:{}:{}",
        d.vault.to_ascii_lowercase(),
        d.name.to_ascii_lowercase(),
        d.version
    )
}

impl Certificates {
    /// The lifetime actions due now, over every vault (`EmailContacts` ones not yet recorded).
    pub async fn due_renewals(&self) -> Result<Vec<DueRenewal>, VaultError> {
        let now = self.clock.now();
        let mut due = Vec::new();
        for r in self.store.certificate_policies().await? {
            if self.store.vault(&r.vault).await?.is_none() {
                continue;
            }
            let Some(latest) = self.store.certificate_version(&r.vault, &r.name, None).await? else {
                continue;
            };
            let p = policy_of(&r)?;
            let issuer = p.issuer.as_ref().and_then(|i| i.name.clone()).unwrap_or_default();
            for a in p.lifetime_actions.iter().flatten() {
                let t = a.trigger.clone().unwrap_or_default();
                if fires_at(&latest, t.lifetime_percentage, t.days_before_expiry).is_none_or(|at| now < at) {
                    continue;
                }
                let kind = match a.action.as_ref().and_then(|x| x.action_type.as_deref()) {
                    Some("AutoRenew") if !issuer.eq_ignore_ascii_case(policy::UNKNOWN_ISSUER) => RenewalKind::AutoRenew,
                    Some("EmailContacts") => RenewalKind::EmailContacts,
                    _ => continue,
                };
                let d = DueRenewal {
                    vault: r.vault.clone(),
                    name: r.name.clone(),
                    version: latest.version.clone(),
                    kind,
                };
                if kind == RenewalKind::EmailContacts && self.store.meta(&notify_key(&d)).await?.is_some() {
                    continue;
                }
                due.push(d);
            }
        }
        Ok(due)
    }

    /// `AutoRenew`: a new version under the stored policy, with the latest version's tags. Returns
    /// the new version id.
    pub async fn renew(&self, due: &DueRenewal) -> Result<String, VaultError> {
        let vault = self
            .store
            .vault(&due.vault)
            .await?
            .ok_or_else(|| VaultError::VaultNotFound(due.vault.clone()))?;
        let latest = self.record(&vault, &due.name, None).await?;
        if latest.version != due.version {
            // Renewed meanwhile (another pass, or someone created a version).
            return Ok(latest.version);
        }
        let (_, version) = self
            .new_version(&vault, &due.name, None, true, latest.tags.clone(), None)
            .await?;
        match version {
            Some(v) => Ok(v),
            None => Ok(self.record(&vault, &due.name, None).await?.version),
        }
    }

    /// Marks a due `EmailContacts` as recorded for this version; false when another pass has.
    pub async fn claim_notify(&self, due: &DueRenewal, claim: &str) -> Result<bool, VaultError> {
        Ok(self
            .store
            .put_meta_if_absent(&notify_key(due), claim.as_bytes())
            .await?
            == claim.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    };

    use keyhold_crypto::RootKey;
    use keyhold_proto::certificates::{
        Action, CertificateCreateParameters, CertificatePolicy, IssuerParameters, LifetimeAction, Trigger,
        X509CertificateProperties,
    };
    use keyhold_store::{SqliteStore, Store, VaultRecord};

    use super::*;
    use crate::{Keys, authz::Caller, clock::FakeClock};

    fn policy(action: &str, pct: u32) -> CertificatePolicy {
        CertificatePolicy {
            issuer: Some(IssuerParameters {
                name: Some("Self".into()),
                ..Default::default()
            }),
            x509_props: Some(X509CertificateProperties {
                subject: Some("CN=renew.test".into()),
                validity_months: Some(1),
                ..Default::default()
            }),
            lifetime_actions: Some(vec![LifetimeAction {
                trigger: Some(Trigger {
                    lifetime_percentage: Some(pct),
                    days_before_expiry: None,
                }),
                action: Some(Action {
                    action_type: Some(action.into()),
                }),
            }]),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn auto_renew_issues_a_new_version_when_the_clock_reaches_the_trigger()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile_dir("renew");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db"))?);
        let start = 1_767_225_600; // 2026-01-01: a 31-day month.
        let clock = Arc::new(FakeClock(AtomicI64::new(start)));
        let keys = Keys::load(store.clone(), RootKey::generate()?).await?;
        let authz = crate::authz::Authorizer::new(store.clone(), "sub".into());
        let certs = Certificates::new(store.clone(), keys, clock.clone(), authz, "t".into(), "i".into());
        let me = Caller {
            oid: "o".into(),
            appid: "a".into(),
            tenant: "t".into(),
        };
        let vault = VaultRecord {
            name: "kv1".into(),
            tenant_id: "t".into(),
            retention_days: 7,
            purge_protection: false,
            created: 0,
            properties: serde_json::json!({"resourceGroup": "rg", "accessPolicies": [
                {"tenantId": "t", "objectId": "o", "permissions": {"certificates": ["all"]}}
            ]}),
            deleted_at: None,
            purge_at: None,
        };
        store.put_vault(&vault).await?;
        for (name, action) in [("auto", "AutoRenew"), ("mail", "EmailContacts")] {
            let p = CertificateCreateParameters {
                policy: Some(policy(action, 50)),
                ..Default::default()
            };
            certs.create(&me, &vault, name, p).await?;
        }
        let first = certs.get(&me, &vault, "auto", None).await?.record;

        // 15 days in: before half of the 31-day lifetime.
        clock.0.store(start + 15 * 86_400, Ordering::SeqCst);
        assert!(certs.due_renewals().await?.is_empty());

        clock.0.store(start + 16 * 86_400, Ordering::SeqCst);
        let due = certs.due_renewals().await?;
        assert_eq!(
            due.iter().map(|d| (d.name.as_str(), d.kind)).collect::<Vec<_>>(),
            [("auto", RenewalKind::AutoRenew), ("mail", RenewalKind::EmailContacts)]
        );
        let renewed = certs.renew(&due[0]).await?;
        assert_ne!(renewed, first.version);
        let latest = certs.get(&me, &vault, "auto", None).await?.record;
        assert_eq!(latest.version, renewed);
        assert_eq!(latest.nbf, Some(start + 16 * 86_400), "the new version starts now");
        assert_ne!(latest.x5t, first.x5t);
        let versions = certs.list_versions(&me, &vault, "auto", None, None).await?;
        assert_eq!(versions.items.len(), 2);
        assert_eq!(
            certs.renew(&due[0]).await?,
            renewed,
            "a stale due action does not renew twice"
        );

        // With reuse_key the renewed version keeps the key.
        let mut reuse = policy("AutoRenew", 50);
        reuse.key_props = Some(keyhold_proto::certificates::KeyProperties {
            reuse_key: Some(true),
            ..Default::default()
        });
        let p = CertificateCreateParameters {
            policy: Some(reuse),
            ..Default::default()
        };
        certs.create(&me, &vault, "pinned", p).await?;
        let before = store.key_version("kv1", "pinned", None).await?.ok_or("no key")?;
        clock.0.fetch_add(16 * 86_400, Ordering::SeqCst);
        let due_pinned = certs
            .due_renewals()
            .await?
            .into_iter()
            .find(|d| d.name == "pinned")
            .ok_or("not due")?;
        certs.renew(&due_pinned).await?;
        let after = store.key_version("kv1", "pinned", None).await?.ok_or("no key")?;
        assert_ne!(after.version, before.version);
        assert_eq!(
            after.public_jwk, before.public_jwk,
            "the same key under the new version"
        );
        clock.0.store(start + 16 * 86_400, Ordering::SeqCst);

        assert!(certs.claim_notify(&due[1], "r1").await?);
        assert!(!certs.claim_notify(&due[1], "r2").await?);
        assert!(
            certs.due_renewals().await?.is_empty(),
            "renewed and recorded: nothing due"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    fn tempfile_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("keyhold-{tag}-{}-{}", std::process::id(), line!()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }
}
