//! Soft delete, recover, purge, erase, restore.

use super::*;

pub(crate) async fn soft_delete_hides_every_version(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    put(&s, &ring, VAULT, "keep", "k1").await;
    assert!(matches!(
        s.delete_secret(&deletion(VAULT, "nope", 2_000_000_000)).await,
        Err(StoreError::NotFound)
    ));
    let d = deletion(VAULT, "db", 2_000_000_000);
    s.delete_secret(&d).await.unwrap();

    assert!(s.secret_version(VAULT, "db", None).await.unwrap().is_none());
    assert!(s.secret_version(VAULT, "db", Some("v1")).await.unwrap().is_none());
    assert!(s.list_secret_versions(VAULT, "db", &all()).await.unwrap().is_empty());
    assert!(s.all_secret_versions(VAULT, "db").await.unwrap().is_empty());
    assert_eq!(names_of(&s.list_secrets(VAULT, &all()).await.unwrap()), ["keep"]);

    let (rec, latest) = s.deleted_secret(VAULT, "db").await.unwrap().unwrap();
    assert_eq!(rec, d);
    assert_eq!(latest.version, "v2");
    assert_opens(&ring, &latest);
    assert!(s.deleted_secret(VAULT, "keep").await.unwrap().is_none());
    assert!(s.deleted_secret(VAULT, "nope").await.unwrap().is_none());

    // Deleting again: there is no live secret of that name.
    assert!(matches!(
        s.delete_secret(&deletion(VAULT, "db", 2_000_000_001)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.deleted_secret(VAULT, "db").await.unwrap().unwrap().0, d);
}

pub(crate) async fn set_on_deleted_name_is_deleted(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    for name in ["db", "DB", "Db"] {
        assert!(matches!(
            s.put_secret_version(&version(&ring, VAULT, name, "v2")).await,
            Err(StoreError::Deleted)
        ));
    }
    // Nothing was written behind the deletion.
    s.recover_secret(VAULT, "db").await.unwrap();
    assert_eq!(versions_of(&s.all_secret_versions(VAULT, "db").await.unwrap()), ["v1"]);
    // The same name in another vault is unaffected.
    put(&s, &ring, "kv2", "db", "v1").await;
}

pub(crate) async fn list_deleted_pages_by_name(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    for name in ["echo", "Alpha", "charlie", "Delta", "bravo", "live"] {
        put(&s, &ring, VAULT, name, &format!("{name}-1")).await;
        put(&s, &ring, VAULT, name, &format!("{name}-2")).await;
    }
    put(&s, &ring, "kv-other", "aaa", "x").await;
    s.delete_secret(&deletion("kv-other", "aaa", 1)).await.unwrap();
    for (i, name) in ["echo", "Alpha", "charlie", "Delta", "bravo"].iter().enumerate() {
        s.delete_secret(&deletion(VAULT, name, 2_000_000_000 + i as i64))
            .await
            .unwrap();
    }

    let every = s.list_deleted_secrets(VAULT, &all()).await.unwrap();
    assert_eq!(deleted_names(&every), ["Alpha", "bravo", "charlie", "Delta", "echo"]);
    for (d, latest) in &every {
        assert_eq!(latest.version, format!("{}-2", d.name), "latest version");
        assert_eq!(d.vault, VAULT);
        assert_opens(&ring, latest);
    }
    let (echo, _) = &every[4];
    assert_eq!(echo.scheduled_purge_date, 2_000_000_000);

    let p1 = s.list_deleted_secrets(VAULT, &page(None, 2)).await.unwrap();
    assert_eq!(deleted_names(&p1), ["Alpha", "bravo"]);
    let p2 = s.list_deleted_secrets(VAULT, &page(Some("bravo"), 2)).await.unwrap();
    assert_eq!(deleted_names(&p2), ["charlie", "Delta"]);
    let p3 = s.list_deleted_secrets(VAULT, &page(Some("Delta"), 2)).await.unwrap();
    assert_eq!(deleted_names(&p3), ["echo"]);
    assert!(
        s.list_deleted_secrets(VAULT, &page(Some("echo"), 2))
            .await
            .unwrap()
            .is_empty()
    );
    let p = s.list_deleted_secrets(VAULT, &page(Some("ALPHA"), 1)).await.unwrap();
    assert_eq!(deleted_names(&p), ["bravo"]);
    assert!(s.list_deleted_secrets(VAULT, &page(None, 0)).await.unwrap().is_empty());
    assert!(s.list_deleted_secrets("kv-empty", &all()).await.unwrap().is_empty());
}

pub(crate) async fn recover_brings_versions_back(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    let before = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert!(matches!(s.recover_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    assert!(matches!(
        s.recover_secret(VAULT, "nope").await,
        Err(StoreError::NotFound)
    ));
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    s.recover_secret(VAULT, "DB").await.unwrap();

    let after = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert_same(a, b);
        assert_eq!(a.seq, b.seq);
    }
    assert!(s.deleted_secret(VAULT, "db").await.unwrap().is_none());
    assert!(matches!(s.recover_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    // Live again: new versions may be added, and it can be deleted again.
    put(&s, &ring, VAULT, "db", "v3").await;
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_100)).await.unwrap();
    let (d, latest) = s.deleted_secret(VAULT, "db").await.unwrap().unwrap();
    assert_eq!((d.scheduled_purge_date, latest.version.as_str()), (2_000_000_100, "v3"));
}

pub(crate) async fn purge_only_soft_deleted(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    put(&s, &ring, VAULT, "keep", "k1").await;
    assert!(matches!(s.purge_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    assert_eq!(s.all_secret_versions(VAULT, "db").await.unwrap().len(), 2);
    assert!(matches!(s.purge_secret(VAULT, "nope").await, Err(StoreError::NotFound)));

    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    s.purge_secret(VAULT, "Db").await.unwrap();
    assert!(s.deleted_secret(VAULT, "db").await.unwrap().is_none());
    assert!(s.list_deleted_secrets(VAULT, &all()).await.unwrap().is_empty());
    assert!(matches!(s.purge_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    assert!(matches!(s.recover_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    // The name is free: a new secret starts with no history.
    put(&s, &ring, VAULT, "db", "v1").await;
    assert_eq!(versions_of(&s.all_secret_versions(VAULT, "db").await.unwrap()), ["v1"]);
    assert_eq!(names_of(&s.list_secrets(VAULT, &all()).await.unwrap()), ["db", "keep"]);
}

pub(crate) async fn erase_only_live(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    put(&s, &ring, VAULT, "del", "d1").await;
    s.delete_secret(&deletion(VAULT, "del", 2_000_000_000)).await.unwrap();

    assert!(matches!(s.erase_secret(VAULT, "nope").await, Err(StoreError::NotFound)));
    // A soft-deleted secret is purged, not erased.
    assert!(matches!(s.erase_secret(VAULT, "del").await, Err(StoreError::NotFound)));
    assert!(s.deleted_secret(VAULT, "del").await.unwrap().is_some());

    s.erase_secret(VAULT, "DB").await.unwrap();
    assert!(s.secret_version(VAULT, "db", None).await.unwrap().is_none());
    assert!(s.all_secret_versions(VAULT, "db").await.unwrap().is_empty());
    assert!(s.deleted_secret(VAULT, "db").await.unwrap().is_none());
    assert!(matches!(s.erase_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    put(&s, &ring, VAULT, "db", "v3").await;
    assert_eq!(versions_of(&s.all_secret_versions(VAULT, "db").await.unwrap()), ["v3"]);
}

pub(crate) async fn restore_new_exists_deleted(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    assert!(matches!(s.restore_secret(&[]).await, Err(StoreError::NotFound)));
    let backup: Vec<_> = ["v1", "v2", "v3"]
        .iter()
        .map(|v| version(&ring, VAULT, "db", v))
        .collect();
    s.restore_secret(&backup).await.unwrap();
    let restored = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert_eq!(versions_of(&restored), ["v1", "v2", "v3"]);
    assert!(restored.windows(2).all(|w| w[0].seq < w[1].seq));
    for (r, b) in restored.iter().zip(&backup) {
        assert_same(r, b);
        assert_opens(&ring, r);
    }
    assert_eq!(
        s.secret_version(VAULT, "db", None).await.unwrap().unwrap().version,
        "v3"
    );

    // Taken by a live secret, under any spelling.
    let again: Vec<_> = ["w1"].iter().map(|v| version(&ring, VAULT, "DB", v)).collect();
    assert!(matches!(s.restore_secret(&again).await, Err(StoreError::Exists)));
    // Taken by a soft-deleted secret.
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    assert!(matches!(s.restore_secret(&backup).await, Err(StoreError::Deleted)));
    // Neither attempt wrote anything.
    s.recover_secret(VAULT, "db").await.unwrap();
    assert_eq!(
        versions_of(&s.all_secret_versions(VAULT, "db").await.unwrap()),
        ["v1", "v2", "v3"]
    );
    // Once purged, the backup restores again.
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    s.purge_secret(VAULT, "db").await.unwrap();
    s.restore_secret(&backup).await.unwrap();
    assert_eq!(s.all_secret_versions(VAULT, "db").await.unwrap().len(), 3);
}

pub(crate) async fn concurrent_restores_one_wins(s: Arc<dyn Store>) {
    let ring = Arc::new(Keyring::generate().unwrap());
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (s, ring) = (s.clone(), ring.clone());
            tokio::spawn(async move {
                let backup: Vec<_> = (0..3)
                    .map(|j| version(&ring, VAULT, "db", &format!("t{i}-v{j}")))
                    .collect();
                s.restore_secret(&backup).await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Exists) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one restore wins");
    let versions = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert_eq!(versions.len(), 3);
    let winner = versions[0].version.split('-').next().unwrap().to_owned();
    assert!(versions.iter().all(|v| v.version.starts_with(&winner)));
}

pub(crate) async fn purgeable_by_date(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    assert!(s.purgeable_secrets(i64::MAX).await.unwrap().is_empty());
    for (vault, name, at) in [
        ("kv1", "Early", 100),
        ("kv1", "exact", 200),
        ("kv2", "other-vault", 150),
        ("kv1", "late", 201),
    ] {
        put(&s, &ring, vault, name, "v1").await;
        s.delete_secret(&deletion(vault, name, at)).await.unwrap();
    }
    put(&s, &ring, "kv1", "live", "v1").await;

    let mut due = s.purgeable_secrets(200).await.unwrap();
    due.sort();
    let expected: Vec<(String, String)> = [("kv1", "Early"), ("kv1", "exact"), ("kv2", "other-vault")]
        .iter()
        .map(|(v, n)| (v.to_string(), n.to_string()))
        .collect();
    assert_eq!(due, expected);
    assert!(s.purgeable_secrets(99).await.unwrap().is_empty());
    assert_eq!(s.purgeable_secrets(201).await.unwrap().len(), 4);

    for (vault, name) in &due {
        s.purge_secret(vault, name).await.unwrap();
    }
    assert_eq!(
        s.purgeable_secrets(i64::MAX).await.unwrap(),
        [("kv1".to_owned(), "late".to_owned())]
    );
}

pub(crate) async fn names_are_case_insensitive(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    // Each version keeps the spelling it was written with (its ciphertext is bound to it).
    put(&s, &ring, "KV", "MySecret", "v1").await;
    put(&s, &ring, "kv", "MYSECRET", "v2").await;
    for (vault, name) in [("kv", "mysecret"), ("KV", "MySecret"), ("Kv", "MYSECRET")] {
        let latest = s.secret_version(vault, name, None).await.unwrap().unwrap();
        assert_eq!((latest.vault.as_str(), latest.name.as_str()), ("kv", "MYSECRET"));
        assert_opens(&ring, &latest);
        let v1 = s.secret_version(vault, name, Some("v1")).await.unwrap().unwrap();
        assert_eq!((v1.vault.as_str(), v1.name.as_str()), ("KV", "MySecret"));
        assert_opens(&ring, &v1);
        assert_eq!(
            versions_of(&s.list_secret_versions(vault, name, &all()).await.unwrap()),
            ["v1", "v2"]
        );
    }
    assert_eq!(
        s.list_secrets("kv", &all()).await.unwrap().len(),
        1,
        "one secret, two versions"
    );
    assert!(matches!(
        s.put_secret_version(&version(&ring, "kv", "mysecret", "v1")).await,
        Err(StoreError::Backend(_))
    ));

    s.delete_secret(&deletion("Kv", "mysecret", 2_000_000_000))
        .await
        .unwrap();
    assert!(s.secret_version("KV", "MySecret", None).await.unwrap().is_none());
    let (d, latest) = s.deleted_secret("kV", "mYsEcReT").await.unwrap().unwrap();
    assert_eq!((d.name.as_str(), latest.version.as_str()), ("MYSECRET", "v2"));
    assert_eq!(s.list_deleted_secrets("KV", &all()).await.unwrap().len(), 1);
    assert!(matches!(
        s.delete_secret(&deletion("KV", "MYSECRET", 1)).await,
        Err(StoreError::NotFound)
    ));
    s.recover_secret("KV", "MYSECRET").await.unwrap();
    assert_eq!(s.all_secret_versions("kv", "mysecret").await.unwrap().len(), 2);
}

pub(crate) async fn vaults_are_isolated(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, "kv-a", "db", "a1").await;
    put(&s, &ring, "kv-b", "db", "b1").await;
    s.delete_secret(&deletion("kv-a", "db", 100)).await.unwrap();
    // Deleting in kv-a leaves kv-b's secret live.
    let b = s.secret_version("kv-b", "db", None).await.unwrap().unwrap();
    assert_eq!(b.version, "b1");
    put(&s, &ring, "kv-b", "db", "b2").await;
    assert!(s.deleted_secret("kv-b", "db").await.unwrap().is_none());
    assert_eq!(
        deleted_names(&s.list_deleted_secrets("kv-a", &all()).await.unwrap()),
        ["db"]
    );
    assert!(s.list_deleted_secrets("kv-b", &all()).await.unwrap().is_empty());
    s.purge_secret("kv-a", "db").await.unwrap();
    assert_eq!(s.all_secret_versions("kv-b", "db").await.unwrap().len(), 2);
    s.erase_secret("kv-b", "db").await.unwrap();
    assert!(s.list_secrets("kv-a", &all()).await.unwrap().is_empty());
    assert!(s.list_secrets("kv-b", &all()).await.unwrap().is_empty());
}
