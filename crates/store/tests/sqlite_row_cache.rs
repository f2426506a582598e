//! The SQLite store serves a secret or key version it has read until its next write (`row_cache`).
//! A change made to the file behind the store's back shows what is served from memory; a write
//! through the store must make the next read go to the file again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyhold_crypto::{Aad, Keyring};
use keyhold_store::{MetaStore, SecretStore, SecretVersionRecord, SqliteStore};

fn record(ring: &Keyring, version: &str) -> SecretVersionRecord {
    SecretVersionRecord {
        vault: "kv1".into(),
        name: "db-password".into(),
        version: version.into(),
        value: ring
            .seal(&Aad::new(&["secret", "kv1", "db-password", version]), b"hunter2")
            .unwrap(),
        content_type: None,
        tags: None,
        enabled: true,
        nbf: None,
        exp: None,
        created: 1_700_000_000,
        updated: 1_700_000_000,
        seq: 0,
        managed: false,
    }
}

/// Disables every version of the secret through a connection of its own, as another process would.
fn disable_behind_the_stores_back(db: &std::path::Path) {
    let outside = rusqlite::Connection::open(db).unwrap();
    outside
        .execute("UPDATE secret_versions SET enabled = 0 WHERE name = 'db-password'", [])
        .unwrap();
}

#[tokio::test]
async fn a_version_read_is_served_from_memory_until_the_store_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyhold.db");
    let store = SqliteStore::open(&db).unwrap();
    let ring = Keyring::generate().unwrap();
    store.put_secret_version(&record(&ring, "v1")).await.unwrap();

    let first = store.secret_version("kv1", "db-password", None).await.unwrap().unwrap();
    assert!(first.enabled);
    disable_behind_the_stores_back(&db);
    let again = store.secret_version("kv1", "db-password", None).await.unwrap().unwrap();
    assert!(
        again.enabled,
        "the second read should have come from memory, not the file"
    );

    // Any write through the store ends what was read before it.
    store.put_meta("unrelated", b"x").await.unwrap();
    let after = store.secret_version("kv1", "db-password", None).await.unwrap().unwrap();
    assert!(!after.enabled, "a read after a write must go to the file");
}

#[tokio::test]
async fn a_write_through_the_store_is_read_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("keyhold.db")).unwrap();
    let ring = Keyring::generate().unwrap();
    store.put_secret_version(&record(&ring, "v1")).await.unwrap();
    assert!(
        store
            .secret_version("kv1", "db-password", Some("v2"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .secret_version("kv1", "db-password", None)
            .await
            .unwrap()
            .unwrap()
            .version,
        "v1"
    );

    store.put_secret_version(&record(&ring, "v2")).await.unwrap();
    assert_eq!(
        store
            .secret_version("kv1", "db-password", None)
            .await
            .unwrap()
            .unwrap()
            .version,
        "v2",
        "the latest version must not be the one remembered from before the write"
    );
    assert!(
        store
            .secret_version("kv1", "db-password", Some("v2"))
            .await
            .unwrap()
            .is_some(),
        "a remembered absence must not outlive the write that ended it"
    );

    let mut disabled = record(&ring, "v2");
    disabled.enabled = false;
    store.update_secret_version(&disabled).await.unwrap();
    assert!(
        !store
            .secret_version("kv1", "db-password", None)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
}
