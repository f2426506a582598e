//! Secret versions.

use super::*;

pub(crate) async fn secret_versions_latest_and_specific(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    assert!(s.secret_version(VAULT, "db", None).await.unwrap().is_none());
    let mut v1 = version(&ring, VAULT, "db", "v1");
    v1.content_type = Some("text/plain".into());
    v1.tags = Some(BTreeMap::from([
        ("env".to_owned(), "prod".to_owned()),
        ("empty".to_owned(), String::new()),
    ]));
    v1.enabled = false;
    v1.nbf = Some(1_600_000_000);
    v1.exp = Some(1_900_000_000);
    v1.updated = 1_700_000_005;
    s.put_secret_version(&v1).await.unwrap();
    put(&s, &ring, VAULT, "db", "v2").await;
    put(&s, &ring, VAULT, "other", "o1").await;
    put(&s, &ring, VAULT, "db", "v3").await;

    let latest = s.secret_version(VAULT, "db", None).await.unwrap().unwrap();
    assert_eq!(latest.version, "v3");
    assert_opens(&ring, &latest);
    let first = s.secret_version(VAULT, "db", Some("v1")).await.unwrap().unwrap();
    assert_same(&first, &v1);
    assert_opens(&ring, &first);
    let second = s.secret_version(VAULT, "db", Some("v2")).await.unwrap().unwrap();
    assert!(first.seq < second.seq && second.seq < latest.seq, "seq grows");

    assert!(s.secret_version(VAULT, "db", Some("v9")).await.unwrap().is_none());
    // A version of another name is not found under this one.
    assert!(s.secret_version(VAULT, "db", Some("o1")).await.unwrap().is_none());
    assert!(s.secret_version(VAULT, "nope", None).await.unwrap().is_none());
    assert!(s.secret_version("kv-other", "db", None).await.unwrap().is_none());
    // Version ids are exact, not case-insensitive.
    assert!(s.secret_version(VAULT, "db", Some("V1")).await.unwrap().is_none());

    let all = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert_eq!(versions_of(&all), ["v1", "v2", "v3"]);
    assert!(s.all_secret_versions(VAULT, "nope").await.unwrap().is_empty());
}

pub(crate) async fn duplicate_version_is_refused(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    assert!(matches!(
        s.put_secret_version(&version(&ring, VAULT, "db", "v1")).await,
        Err(StoreError::Backend(_))
    ));
    // The same version id under another name or vault is a different row.
    put(&s, &ring, VAULT, "db2", "v1").await;
    put(&s, &ring, "kv2", "db", "v1").await;
    assert_eq!(s.all_secret_versions(VAULT, "db").await.unwrap().len(), 1);
}

pub(crate) async fn update_replaces_metadata_only(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    let before = s.secret_version(VAULT, "db", Some("v1")).await.unwrap().unwrap();

    let mut change = version(&ring, VAULT, "db", "v1"); // a different ciphertext: must be ignored
    change.content_type = Some("application/json".into());
    change.tags = Some(BTreeMap::from([("a".to_owned(), "b".to_owned())]));
    change.enabled = false;
    change.nbf = Some(5);
    change.exp = Some(6);
    change.created = 42; // not metadata: must be ignored
    change.updated = 1_800_000_000;
    s.update_secret_version(&change).await.unwrap();

    let after = s.secret_version(VAULT, "db", Some("v1")).await.unwrap().unwrap();
    assert_eq!(after.value.as_bytes(), before.value.as_bytes());
    assert_eq!((after.created, after.seq), (before.created, before.seq));
    assert_eq!(
        (
            &after.content_type,
            &after.tags,
            after.enabled,
            after.nbf,
            after.exp,
            after.updated
        ),
        (
            &change.content_type,
            &change.tags,
            false,
            Some(5),
            Some(6),
            1_800_000_000
        )
    );
    assert_opens(&ring, &after);
    // Updating clears what is absent.
    let mut clear = change.clone();
    clear.content_type = None;
    clear.tags = None;
    clear.nbf = None;
    clear.exp = None;
    s.update_secret_version(&clear).await.unwrap();
    let cleared = s.secret_version(VAULT, "db", Some("v1")).await.unwrap().unwrap();
    assert_eq!(
        (&cleared.content_type, &cleared.tags, cleared.nbf, cleared.exp),
        (&None, &None, None, None)
    );
    // The other version and the latest are untouched.
    let v2 = s.secret_version(VAULT, "db", None).await.unwrap().unwrap();
    assert_eq!((v2.version.as_str(), v2.enabled), ("v2", true));

    assert!(matches!(
        s.update_secret_version(&version(&ring, VAULT, "db", "v9")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_secret_version(&version(&ring, VAULT, "nope", "v1")).await,
        Err(StoreError::NotFound)
    ));
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    assert!(matches!(
        s.update_secret_version(&change).await,
        Err(StoreError::NotFound)
    ));
}

pub(crate) async fn list_secrets_pages_by_name(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    // Case-insensitive byte order of names: alpha < alpha-2 < alpha1 < Bravo < charlie < delta < Echo.
    for (name, v) in [
        ("charlie", "c1"),
        ("alpha1", "a11"),
        ("Bravo", "b1"),
        ("alpha", "a1"),
        ("Echo", "e1"),
        ("alpha-2", "a21"),
        ("delta", "d1"),
        ("Bravo", "b2"),
        ("gone", "g1"),
        ("charlie", "c2"),
    ] {
        put(&s, &ring, VAULT, name, v).await;
    }
    put(&s, &ring, "kv-other", "aaa", "x1").await;
    s.delete_secret(&deletion(VAULT, "gone", 2_000_000_000)).await.unwrap();

    let every = s.list_secrets(VAULT, &all()).await.unwrap();
    assert_eq!(
        names_of(&every),
        ["alpha", "alpha-2", "alpha1", "Bravo", "charlie", "delta", "Echo"]
    );
    assert_eq!(
        versions_of(&every),
        ["a1", "a21", "a11", "b2", "c2", "d1", "e1"],
        "each secret's latest version"
    );
    for r in &every {
        assert_opens(&ring, r);
    }

    let p1 = s.list_secrets(VAULT, &page(None, 3)).await.unwrap();
    assert_eq!(names_of(&p1), ["alpha", "alpha-2", "alpha1"]);
    let p2 = s.list_secrets(VAULT, &page(Some("alpha1"), 3)).await.unwrap();
    assert_eq!(names_of(&p2), ["Bravo", "charlie", "delta"]);
    let p3 = s.list_secrets(VAULT, &page(Some("delta"), 3)).await.unwrap();
    assert_eq!(names_of(&p3), ["Echo"]);
    assert!(s.list_secrets(VAULT, &page(Some("Echo"), 3)).await.unwrap().is_empty());
    // `after` is exclusive and case-insensitive, and need not name an existing secret.
    let p = s.list_secrets(VAULT, &page(Some("BRAVO"), 2)).await.unwrap();
    assert_eq!(names_of(&p), ["charlie", "delta"]);
    let p = s.list_secrets(VAULT, &page(Some("b"), 1)).await.unwrap();
    assert_eq!(names_of(&p), ["Bravo"]);
    let p = s.list_secrets(VAULT, &page(Some("alpha-"), 1)).await.unwrap();
    assert_eq!(names_of(&p), ["alpha-2"]);
    let p = s.list_secrets(VAULT, &page(Some(""), 1)).await.unwrap();
    assert_eq!(names_of(&p), ["alpha"]);
    assert!(s.list_secrets(VAULT, &page(None, 0)).await.unwrap().is_empty());
    assert_eq!(s.list_secrets(VAULT, &page(None, 7)).await.unwrap().len(), 7);
    assert_eq!(s.list_secrets(VAULT, &page(None, 8)).await.unwrap().len(), 7);
    assert!(s.list_secrets("kv-empty", &all()).await.unwrap().is_empty());
}

pub(crate) async fn list_secret_versions_pages_by_seq(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    // Interleaved with another name, so this name's seqs are not contiguous.
    for i in 1..=5 {
        put(&s, &ring, VAULT, "db", &format!("v{i}")).await;
        put(&s, &ring, VAULT, "noise", &format!("n{i}")).await;
    }
    let every = s.list_secret_versions(VAULT, "db", &all()).await.unwrap();
    assert_eq!(versions_of(&every), ["v1", "v2", "v3", "v4", "v5"]);
    assert!(every.windows(2).all(|w| w[0].seq < w[1].seq));
    for r in &every {
        assert_opens(&ring, r);
    }

    let p1 = s.list_secret_versions(VAULT, "db", &page(None, 2)).await.unwrap();
    assert_eq!(versions_of(&p1), ["v1", "v2"]);
    let cursor = p1[1].seq.to_string();
    let p2 = s
        .list_secret_versions(VAULT, "db", &page(Some(&cursor), 2))
        .await
        .unwrap();
    assert_eq!(versions_of(&p2), ["v3", "v4"]);
    let cursor = p2[1].seq.to_string();
    let p3 = s
        .list_secret_versions(VAULT, "db", &page(Some(&cursor), 2))
        .await
        .unwrap();
    assert_eq!(versions_of(&p3), ["v5"]);
    let cursor = p3[0].seq.to_string();
    assert!(
        s.list_secret_versions(VAULT, "db", &page(Some(&cursor), 2))
            .await
            .unwrap()
            .is_empty()
    );
    // A cursor between two of this name's seqs (a `noise` seq) starts at the next one.
    let between = (every[2].seq - 1).to_string();
    let p = s
        .list_secret_versions(VAULT, "db", &page(Some(&between), 1))
        .await
        .unwrap();
    assert_eq!(versions_of(&p), ["v3"]);
    assert!(
        s.list_secret_versions(VAULT, "db", &page(None, 0))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        versions_of(&s.list_secret_versions(VAULT, "DB", &all()).await.unwrap()),
        ["v1", "v2", "v3", "v4", "v5"]
    );
    assert!(s.list_secret_versions(VAULT, "nope", &all()).await.unwrap().is_empty());
    assert!(
        s.list_secret_versions("kv-other", "db", &all())
            .await
            .unwrap()
            .is_empty()
    );
}
