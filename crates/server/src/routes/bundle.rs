//! Records to Key Vault bodies. Ids are built from the origin the client used, never stored.

use keyhold_core::secrets::{Cursor, DeletedSecret};
use keyhold_proto::keyvault::{SecretAttributes, SecretBundle, SecretItem};
use keyhold_store::{SecretVersionRecord, VaultRecord};

use crate::extract::ApiVersion;

pub fn recovery_level(vault: &VaultRecord) -> &'static str {
    match (vault.retention_days == 90, vault.purge_protection) {
        (true, false) => "Recoverable+Purgeable",
        (true, true) => "Recoverable",
        (false, false) => "CustomizedRecoverable+Purgeable",
        (false, true) => "CustomizedRecoverable",
    }
}

fn attributes(vault: &VaultRecord, r: &SecretVersionRecord) -> SecretAttributes {
    SecretAttributes {
        enabled: Some(r.enabled),
        nbf: r.nbf,
        exp: r.exp,
        created: Some(r.created),
        updated: Some(r.updated),
        recovery_level: Some(recovery_level(vault).to_owned()),
        recoverable_days: Some(vault.retention_days),
    }
}

pub fn bundle(origin: &str, vault: &VaultRecord, r: &SecretVersionRecord, value: Option<String>) -> SecretBundle {
    SecretBundle {
        value,
        id: format!("{origin}/secrets/{}/{}", r.name, r.version),
        content_type: r.content_type.clone(),
        attributes: attributes(vault, r),
        tags: r.tags.clone(),
        recovery_id: None,
        deleted_date: None,
        scheduled_purge_date: None,
        managed: r.managed.then_some(true),
        kid: r.managed.then(|| format!("{origin}/keys/{}/{}", r.name, r.version)),
    }
}

pub fn deleted_bundle(origin: &str, vault: &VaultRecord, (d, r): &DeletedSecret) -> SecretBundle {
    SecretBundle {
        recovery_id: Some(format!("{origin}/deletedsecrets/{}", d.name)),
        deleted_date: Some(d.deleted_date),
        scheduled_purge_date: Some(d.scheduled_purge_date),
        ..bundle(origin, vault, r, None)
    }
}

/// A list entry: the unversioned id for secret lists, the versioned one for version lists.
pub fn item(origin: &str, vault: &VaultRecord, r: &SecretVersionRecord, versioned: bool) -> SecretItem {
    let id = if versioned {
        format!("{origin}/secrets/{}/{}", r.name, r.version)
    } else {
        format!("{origin}/secrets/{}", r.name)
    };
    SecretItem {
        id,
        attributes: attributes(vault, r),
        tags: r.tags.clone(),
        content_type: r.content_type.clone(),
        recovery_id: None,
        deleted_date: None,
        scheduled_purge_date: None,
        managed: r.managed.then_some(true),
    }
}

pub fn deleted_item(origin: &str, vault: &VaultRecord, (d, r): &DeletedSecret) -> SecretItem {
    SecretItem {
        recovery_id: Some(format!("{origin}/deletedsecrets/{}", d.name)),
        deleted_date: Some(d.deleted_date),
        scheduled_purge_date: Some(d.scheduled_purge_date),
        ..item(origin, vault, r, false)
    }
}

/// Absolute `nextLink` on the vault's own host, as Azure sends it.
pub fn next_link(origin: &str, path: &str, api: &ApiVersion, max: Option<u32>, next: Option<Cursor>) -> Option<String> {
    next.map(|c| {
        let mut link = format!("{origin}{path}?api-version={}&$skiptoken={}", api.0, c.encode());
        if let Some(m) = max {
            link.push_str(&format!("&maxresults={m}"));
        }
        link
    })
}
