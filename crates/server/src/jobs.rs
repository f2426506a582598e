//! Background jobs of an unsealed node. Purging expired deleted secrets and re-sealing records after a
//! data-key rotation run on one node of a service at a time: before each run the node asks the store
//! whether it leads the job (`Store::try_lead`; always yes on SQLite). Every node, leader or not,
//! re-reads the keyring and the signing keys now and then, so that it seals and signs with the newest
//! keys another node made.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use keyhold_store::Store;
use tokio::sync::watch;

use crate::AppState;

/// How often a node tries to take over a job another node leads, and picks up other nodes' keys.
const TICK: Duration = Duration::from_secs(5);
/// How often the leader purges.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// How often the leader looks for records under older data keys without being woken by a rotation.
const RESEAL_EVERY: Duration = Duration::from_secs(15);
/// How often every node reloads the token signing keys.
const SIGNING_RELOAD_EVERY: Duration = Duration::from_secs(60);

pub(crate) const PURGE: &str = "purge";
pub(crate) const RESEAL: &str = "reseal";

/// Which jobs this node currently leads, for `GET /keyhold/v1/sys/seal-status`.
#[derive(Debug, Default)]
pub(crate) struct Leading(Mutex<BTreeSet<&'static str>>);

impl Leading {
    pub(crate) fn jobs(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect()
    }

    fn set(&self, job: &'static str, leads: bool) {
        let mut jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let changed = if leads { jobs.insert(job) } else { jobs.remove(job) };
        if changed {
            tracing::info!(job, leads, "background job leadership changed");
        }
    }
}

/// What the job loops share.
#[derive(Clone)]
pub(crate) struct Jobs {
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub leading: Arc<Leading>,
}

/// Starts the job loops; they end when `stop` changes.
pub(crate) fn spawn(jobs: Jobs, stop: watch::Receiver<bool>) {
    tokio::spawn(purge_loop(jobs.clone(), stop.clone()));
    tokio::spawn(reseal_loop(jobs, stop));
}

/// Whether this node leads `job` now; a store failure counts as "no" (and is logged).
async fn lead(jobs: &Jobs, job: &'static str) -> bool {
    let leads = match jobs.store.try_lead(job).await {
        Ok(leads) => leads,
        Err(e) => {
            tracing::warn!(job, error = %e, "cannot tell whether this node leads the job");
            false
        }
    };
    jobs.leading.set(job, leads);
    leads
}

/// Removes soft-deleted secrets whose retention has ended.
async fn purge_loop(jobs: Jobs, mut stop: watch::Receiver<bool>) {
    let mut last_run: Option<tokio::time::Instant> = None;
    loop {
        let due = last_run.is_none_or(|t| t.elapsed() >= PURGE_EVERY);
        if due && lead(&jobs, PURGE).await {
            last_run = Some(tokio::time::Instant::now());
            match jobs.state.core.secrets.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged expired deleted secrets"),
                Err(e) => tracing::warn!(error = %e, "purge run failed"),
            }
            match jobs.state.core.vault_keys.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged expired deleted keys"),
                Err(e) => tracing::warn!(error = %e, "key purge run failed"),
            }
            match jobs.state.core.certificates.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged expired deleted certificates"),
                Err(e) => tracing::warn!(error = %e, "certificate purge run failed"),
            }
            run_key_policies(&jobs).await;
            run_certificate_renewals(&jobs).await;
            match jobs.state.core.management.purge_expired_vaults().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged expired deleted vaults"),
                Err(e) => tracing::warn!(error = %e, "vault purge run failed"),
            }
            match jobs.state.core.identity.rotate_signing_key_if_due().await {
                Ok(None) => {}
                Ok(Some(kid)) => tracing::info!(kid, "rotated the token-signing key (scheduled)"),
                Err(e) => tracing::warn!(error = %e, "signing-key rotation failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Re-seals records under older data keys (when woken by a rotation on this node, and regularly for
/// rotations made elsewhere); keeps this node's keyring and signing keys fresh.
async fn reseal_loop(jobs: Jobs, mut stop: watch::Receiver<bool>) {
    let core = &jobs.state.core;
    let rotation = &core.rotation;
    let mut last_pass: Option<tokio::time::Instant> = None;
    let mut last_signing_reload = tokio::time::Instant::now();
    let mut woken = false;
    loop {
        if let Err(e) = rotation.refresh().await {
            tracing::warn!(error = %e, "keyring reload failed");
        }
        if last_signing_reload.elapsed() >= SIGNING_RELOAD_EVERY {
            last_signing_reload = tokio::time::Instant::now();
            if let Err(e) = core.identity.reload_signing_keys().await {
                tracing::warn!(error = %e, "signing key reload failed");
            }
        }
        let due = woken || last_pass.is_none_or(|t| t.elapsed() >= RESEAL_EVERY);
        if due && lead(&jobs, RESEAL).await {
            last_pass = Some(tokio::time::Instant::now());
            match rotation.reseal().await {
                Ok(r) if r.resealed == 0 && r.failed == 0 => {}
                Ok(r) => tracing::info!(
                    resealed = r.resealed,
                    failed = r.failed,
                    "re-sealed under the newest data key"
                ),
                Err(e) => tracing::warn!(error = %e, "re-sealing pass failed"),
            }
        }
        woken = tokio::select! {
            _ = tokio::time::sleep(TICK) => false,
            _ = rotation.woken() => true,
            _ = stop.changed() => return,
        };
    }
}

/// Runs the due actions of key rotation policies, each under the audit invariant the request path
/// keeps: a `request` record before the change (the action is skipped if it cannot be written), the
/// outcome after. A due `Notify` is recorded once per key version (`KeyNearExpiry`, Event Grid's
/// name), for the events work to come.
/// Certificates' lifetime actions: `AutoRenew` is audited like any write (a request record before
/// it); a due `EmailContacts` is recorded once per version as `CertificateNearExpiry`.
async fn run_certificate_renewals(jobs: &Jobs) {
    use keyhold_core::{audit::PHASE_REQUEST, certificates::renewal::RenewalKind};
    let certs = &jobs.state.core.certificates;
    let due = match certs.due_renewals().await {
        Ok(due) => due,
        Err(e) => return tracing::warn!(error = %e, "certificate renewal run failed"),
    };
    for action in due {
        let request_id = keyhold_crypto::random::guid();
        let record = |phase: Option<&str>, result: u16, version: Option<String>, detail: &str| {
            let now = time::OffsetDateTime::now_utc();
            let entry = keyhold_core::audit::AuditEntry {
                time: keyhold_core::clock::rfc3339(now.unix_timestamp()),
                request_id: request_id.clone(),
                operation: match action.kind {
                    RenewalKind::AutoRenew => "CertificateCreate",
                    RenewalKind::EmailContacts => "CertificateNearExpiry",
                }
                .into(),
                vault: Some(action.vault.clone()),
                object: Some(action.name.clone()),
                version,
                result,
                phase: phase.map(str::to_owned),
                detail: Some(detail.to_owned()),
                ..Default::default()
            };
            jobs.state.audit.append(entry, now.unix_timestamp())
        };
        match action.kind {
            RenewalKind::AutoRenew => {
                let detail = "lifetime action AutoRenew (background job)";
                if let Err(e) = record(Some(PHASE_REQUEST), 0, None, detail) {
                    tracing::error!(error = %e, "audit log: certificate renewal not started");
                    return;
                }
                let (status, version) = match certs.renew(&action).await {
                    Ok(v) => {
                        tracing::info!(vault = action.vault, certificate = action.name, "renewed a certificate");
                        (200, Some(v))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, vault = action.vault, certificate = action.name, "certificate renewal failed");
                        (500, None)
                    }
                };
                if let Err(e) = record(None, status, version, detail) {
                    tracing::error!(error = %e, "audit log: certificate renewal outcome not recorded");
                }
            }
            RenewalKind::EmailContacts => match certs.claim_notify(&action, &request_id).await {
                Ok(true) => {
                    let detail = "lifetime action EmailContacts: the certificate nears its expiry";
                    if let Err(e) = record(None, 200, Some(action.version.clone()), detail) {
                        tracing::error!(error = %e, "audit log: certificate notice not recorded");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "certificate notice failed"),
            },
        }
    }
}

async fn run_key_policies(jobs: &Jobs) {
    use keyhold_core::{audit::PHASE_REQUEST, vault_keys::policy::DueKind};
    let keys = &jobs.state.core.vault_keys;
    let due = match keys.due_actions().await {
        Ok(due) => due,
        Err(e) => return tracing::warn!(error = %e, "key rotation run failed"),
    };
    for action in due {
        let request_id = keyhold_crypto::random::guid();
        let record = |phase: Option<&str>, result: u16, version: Option<String>, detail: &str| {
            let now = time::OffsetDateTime::now_utc();
            let entry = keyhold_core::audit::AuditEntry {
                time: keyhold_core::clock::rfc3339(now.unix_timestamp()),
                request_id: request_id.clone(),
                operation: match action.kind {
                    DueKind::Rotate => "KeyRotate",
                    DueKind::Notify => "KeyNearExpiry",
                }
                .into(),
                vault: Some(action.vault.clone()),
                object: Some(action.name.clone()),
                version,
                result,
                phase: phase.map(str::to_owned),
                detail: Some(detail.to_owned()),
                ..Default::default()
            };
            jobs.state.audit.append(entry, now.unix_timestamp())
        };
        match action.kind {
            DueKind::Rotate => {
                if let Err(e) = record(Some(PHASE_REQUEST), 0, None, "rotation policy (background job)") {
                    tracing::error!(error = %e, "audit log: key rotation not started");
                    return;
                }
                let (status, version) = match keys.rotate_by_policy(&action.vault, &action.name).await {
                    Ok(v) => {
                        tracing::info!(
                            vault = action.vault,
                            key = action.name,
                            "rotated a key (rotation policy)"
                        );
                        (200, Some(v.version))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, vault = action.vault, key = action.name, "key rotation failed");
                        (500, None)
                    }
                };
                if let Err(e) = record(None, status, version, "rotation policy (background job)") {
                    tracing::error!(error = %e, "audit log: key rotation outcome not recorded");
                }
            }
            DueKind::Notify => match keys.claim_notify(&action, &request_id).await {
                Ok(true) => {
                    let detail = "rotation policy Notify: the key nears its expiry";
                    if let Err(e) = record(None, 200, Some(action.version.clone()), detail) {
                        tracing::error!(error = %e, "audit log: key notify not recorded");
                    }
                    tracing::info!(
                        vault = action.vault,
                        key = action.name,
                        event = "KeyNearExpiry",
                        "key rotation policy: notify"
                    );
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "key notify failed"),
            },
        }
    }
}
