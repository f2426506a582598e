//! Key records to Key Vault bodies: `kid` is built from the origin the client used, and only the
//! public JWK members ever leave.

use keyhold_proto::keys::{JsonWebKey, KeyAttributes, KeyBundle, KeyItem};
use keyhold_store::{DeletedKey, KeyVersionRecord, VaultRecord};

use super::bundle::recovery_level;

fn member(r: &KeyVersionRecord, k: &str) -> Option<String> {
    r.public_jwk.get(k).and_then(|v| v.as_str()).map(str::to_owned)
}

pub fn kid(origin: &str, r: &KeyVersionRecord) -> String {
    format!("{origin}/keys/{}/{}", r.name, r.version)
}

fn attributes(vault: &VaultRecord, r: &KeyVersionRecord) -> KeyAttributes {
    KeyAttributes {
        enabled: Some(r.enabled),
        nbf: r.nbf,
        exp: r.exp,
        created: Some(r.created),
        updated: Some(r.updated),
        recovery_level: Some(recovery_level(vault).to_owned()),
        recoverable_days: Some(vault.retention_days),
        exportable: Some(r.exportable),
    }
}

pub fn key_bundle(origin: &str, vault: &VaultRecord, r: &KeyVersionRecord) -> KeyBundle {
    KeyBundle {
        key: JsonWebKey {
            kid: Some(kid(origin, r)),
            kty: Some(r.kty.clone()),
            key_ops: Some(r.key_ops.clone()),
            n: member(r, "n"),
            e: member(r, "e"),
            crv: member(r, "crv"),
            x: member(r, "x"),
            y: member(r, "y"),
            ..JsonWebKey::default()
        },
        attributes: attributes(vault, r),
        tags: r.tags.clone(),
        recovery_id: None,
        deleted_date: None,
        scheduled_purge_date: None,
        managed: r.managed.then_some(true),
    }
}

pub fn deleted_key_bundle(origin: &str, vault: &VaultRecord, (d, r): &DeletedKey) -> KeyBundle {
    KeyBundle {
        recovery_id: Some(format!("{origin}/deletedkeys/{}", d.name)),
        deleted_date: Some(d.deleted_date),
        scheduled_purge_date: Some(d.scheduled_purge_date),
        ..key_bundle(origin, vault, r)
    }
}

pub fn key_item(origin: &str, vault: &VaultRecord, r: &KeyVersionRecord, versioned: bool) -> KeyItem {
    KeyItem {
        kid: if versioned {
            kid(origin, r)
        } else {
            format!("{origin}/keys/{}", r.name)
        },
        attributes: attributes(vault, r),
        tags: r.tags.clone(),
        recovery_id: None,
        deleted_date: None,
        scheduled_purge_date: None,
        managed: r.managed.then_some(true),
    }
}

pub fn deleted_key_item(origin: &str, vault: &VaultRecord, (d, r): &DeletedKey) -> KeyItem {
    KeyItem {
        recovery_id: Some(format!("{origin}/deletedkeys/{}", d.name)),
        deleted_date: Some(d.deleted_date),
        scheduled_purge_date: Some(d.scheduled_purge_date),
        ..key_item(origin, vault, r, false)
    }
}
