//! SQLite only: the store serves a secret version it has read until its next write (`row_cache`).
//! A change made to the file behind the store's back shows what is served from memory; a write
//! through the store must make the next read go to the file again.

use keyhold_crypto::Keyring;
use keyhold_store::{MetaStore, SecretStore, SqliteStore};

use crate::{VAULT, version};

async fn latest(store: &SqliteStore, name: &str) -> keyhold_store::SecretVersionRecord {
    store.secret_version(VAULT, name, None).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_version_read_is_served_from_memory_until_the_store_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyhold.db");
    let store = SqliteStore::open(&db).unwrap();
    let ring = Keyring::generate().unwrap();
    store
        .put_secret_version(&version(&ring, VAULT, "a", "v1"))
        .await
        .unwrap();

    assert!(latest(&store, "a").await.enabled);
    // As another process would: through a connection of its own.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE secret_versions SET enabled = 0 WHERE name = 'a'", [])
        .unwrap();
    assert!(
        latest(&store, "a").await.enabled,
        "the second read should have come from memory, not the file"
    );

    // Any write through the store ends what was read before it.
    store.put_meta("unrelated", b"x").await.unwrap();
    assert!(
        !latest(&store, "a").await.enabled,
        "a read after a write must go to the file"
    );
}

#[tokio::test]
async fn a_write_through_the_store_is_read_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("keyhold.db")).unwrap();
    let ring = Keyring::generate().unwrap();
    store
        .put_secret_version(&version(&ring, VAULT, "a", "v1"))
        .await
        .unwrap();
    assert!(store.secret_version(VAULT, "a", Some("v2")).await.unwrap().is_none());
    assert_eq!(latest(&store, "a").await.version, "v1");

    store
        .put_secret_version(&version(&ring, VAULT, "a", "v2"))
        .await
        .unwrap();
    assert_eq!(
        latest(&store, "a").await.version,
        "v2",
        "the latest version must not be the one remembered from before the write"
    );
    assert!(
        store.secret_version(VAULT, "a", Some("v2")).await.unwrap().is_some(),
        "a remembered absence must not outlive the write that ended it"
    );

    let mut disabled = version(&ring, VAULT, "a", "v2");
    disabled.enabled = false;
    store.update_secret_version(&disabled).await.unwrap();
    assert!(!latest(&store, "a").await.enabled);
}
