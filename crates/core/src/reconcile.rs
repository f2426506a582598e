//! `keyhold audit verify --reconcile`: compares the secret writes the audit log records with the secret
//! versions the store holds, in both directions.
//!
//! - An acknowledged write (a `SecretSet` outcome with a 2xx status and its version) that the store
//!   lacks is lost, unless a later record explains its absence (the secret or its vault was deleted or
//!   purged, its resource group deleted). This is what a damaged database (a WAL cut at a bad checksum)
//!   looks like.
//! - A stored version must be named by a `SecretSet` outcome, or else be accounted for by a `SecretSet`
//!   request record for that name whose outcome is unknown (the process died between commit and
//!   outcome; one such request accounts for at most one version), or by a restore into that vault (a
//!   restore's record does not name the secret). Anything else is a change the log lacks.
//!
//! A certificate create, import or merge writes a secret version and counts as its `SecretSet`; a
//! certificate restore, delete or purge counts as the secret's.
//!
//! It reads versions through the store's rotation scan, which sees every version, live or deleted.

use std::collections::{HashMap, HashSet};

use keyhold_store::Store;

use crate::audit::{PHASE_REQUEST, Record};

/// What reconciling found.
#[derive(Debug, Default)]
pub struct Report {
    /// Acknowledged writes the store lacks: (vault, name, version, audit line).
    pub lost: Vec<(String, String, String, u64)>,
    /// Stored versions no record accounts for: (vault, name, version).
    pub unaudited: Vec<(String, String, String)>,
    /// Stored versions accounted for only by a request whose outcome is unknown.
    pub unknown_outcome: usize,
    /// Stored versions accounted for only by a restore into their vault.
    pub restored: usize,
    /// Secret versions in the store.
    pub stored: usize,
}

impl Report {
    pub fn clean(&self) -> bool {
        self.lost.is_empty() && self.unaudited.is_empty()
    }
}

type Key = (String, String);

pub async fn reconcile(records: &[Record], store: &dyn Store) -> Result<Report, keyhold_store::StoreError> {
    let mut report = Report::default();
    let with_outcome: HashSet<&str> = records
        .iter()
        .filter(|r| r.entry.phase.is_none())
        .map(|r| r.entry.request_id.as_str())
        .collect();
    let ok = |r: &Record| (200..300).contains(&r.entry.result);
    let mut acked: HashMap<(String, String, String), u64> = HashMap::new();
    let mut unknown: HashMap<Key, usize> = HashMap::new();
    let mut restores: HashSet<String> = HashSet::new();
    // Last line at which a name, a vault or a resource group was removed.
    let mut name_removed: HashMap<Key, u64> = HashMap::new();
    let mut vault_removed: HashMap<String, u64> = HashMap::new();
    let mut group_removed: HashMap<String, u64> = HashMap::new();
    let mut vault_group: HashMap<String, String> = HashMap::new();
    for r in records {
        let e = &r.entry;
        let vault = e.vault.clone().unwrap_or_default();
        let pending = e.phase.as_deref() == Some(PHASE_REQUEST) && !with_outcome.contains(e.request_id.as_str());
        match e.operation.as_str() {
            // A certificate version writes the secret version of the same name and version.
            "SecretSet" | "CertificateCreate" | "CertificateImport" | "CertificatePendingMerge" if pending => {
                *unknown
                    .entry((vault, e.object.clone().unwrap_or_default()))
                    .or_default() += 1;
            }
            "SecretSet" | "CertificateCreate" | "CertificateImport" | "CertificatePendingMerge"
                if e.phase.is_none() && ok(r) =>
            {
                if let (Some(name), Some(version)) = (&e.object, &e.version) {
                    acked.insert((vault, name.clone(), version.clone()), r.seq);
                }
            }
            "SecretRestore" | "CertificateRestore" if pending || (e.phase.is_none() && ok(r)) => {
                restores.insert(vault);
            }
            "SecretDelete" | "SecretPurge" | "CertificateDelete" | "CertificatePurge" if e.phase.is_none() && ok(r) => {
                name_removed.insert((vault, e.object.clone().unwrap_or_default()), r.seq);
            }
            op if e.phase.is_none() && ok(r) => {
                let object = e.object.clone().unwrap_or_default();
                let last = object.rsplit('/').next().unwrap_or_default().to_owned();
                if op == "Microsoft.KeyVault/vaults/write" {
                    if let Some(group) = group_of(&object) {
                        vault_group.insert(last, group);
                    }
                } else if op == "VaultWrite" {
                    vault_group.insert(vault, "keyhold".into());
                } else if op == "Microsoft.KeyVault/vaults/delete"
                    || op == "Microsoft.KeyVault/locations/deletedVaults/purge/action"
                {
                    vault_removed.insert(last.to_ascii_lowercase(), r.seq);
                } else if op == "Microsoft.Resources/subscriptions/resourceGroups/delete" {
                    group_removed.insert(last.to_ascii_lowercase(), r.seq);
                }
            }
            _ => {}
        }
    }

    let mut stored = HashSet::new();
    let mut after = 0;
    loop {
        let page = store.secret_versions_not_under(u32::MAX, after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for v in page {
            stored.insert((v.vault, v.name, v.version));
        }
    }
    report.stored = stored.len();

    let mut sorted: Vec<_> = stored.iter().collect();
    sorted.sort();
    for (vault, name, version) in sorted {
        if acked.contains_key(&(vault.clone(), name.clone(), version.clone())) {
            continue;
        }
        if let Some(n) = unknown.get_mut(&(vault.clone(), name.clone()))
            && *n > 0
        {
            *n -= 1;
            report.unknown_outcome += 1;
            continue;
        }
        if restores.contains(vault) {
            report.restored += 1;
            continue;
        }
        report.unaudited.push((vault.clone(), name.clone(), version.clone()));
    }

    let mut lost: Vec<_> = acked
        .into_iter()
        .filter(|(key, _)| !stored.contains(key))
        .filter(|((vault, name, _), seq)| {
            let later = |at: Option<&u64>| at.is_some_and(|at| at > seq);
            let group = vault_group.get(vault).map(|g| g.to_ascii_lowercase());
            !(later(name_removed.get(&(vault.clone(), name.clone())))
                || later(vault_removed.get(&vault.to_ascii_lowercase()))
                || later(group.as_ref().and_then(|g| group_removed.get(g))))
        })
        .map(|((vault, name, version), seq)| (vault, name, version, seq))
        .collect();
    lost.sort_by_key(|l| l.3);
    report.lost = lost;
    Ok(report)
}

/// The resource group named in an ARM id.
fn group_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().map(str::to_owned);
        }
    }
    None
}
