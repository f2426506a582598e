//! Data-key rotation and job leadership.

use super::*;

fn key_id(r: &SecretVersionRecord) -> u32 {
    r.value.key_id().unwrap()
}

pub(crate) async fn rotation_pages_values_not_under_a_key(s: Arc<dyn Store>) {
    let mut ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "a", "1").await;
    put(&s, &ring, VAULT, "a", "2").await;
    put(&s, &ring, OTHER_VAULT, "b", "1").await;
    // Soft-deleted secrets are re-sealed too: they can be recovered.
    s.delete_secret(&deletion(OTHER_VAULT, "b", 2_000_000_000))
        .await
        .unwrap();
    let new = ring.rotate().unwrap();
    put(&s, &ring, VAULT, "c", "1").await;

    assert_eq!(s.count_secret_versions_not_under(new).await.unwrap(), 3);
    assert_eq!(s.count_secret_versions_not_under(new - 1).await.unwrap(), 1);
    let first = s.secret_versions_not_under(new, 0, 2).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|r| (r.name.as_str(), r.version.as_str()))
            .collect::<Vec<_>>(),
        [("a", "1"), ("a", "2")]
    );
    assert!(first.iter().all(|r| key_id(r) == new - 1));
    let rest = s.secret_versions_not_under(new, first[1].seq, 10).await.unwrap();
    assert_eq!(names_of(&rest), ["b"]);
    assert!(first[0].seq < first[1].seq && first[1].seq < rest[0].seq);
    for r in first.iter().chain(&rest) {
        assert_opens(&ring, r);
    }
    assert!(
        s.secret_versions_not_under(new, rest[0].seq, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let under_old = s.secret_versions_not_under(new - 1, 0, 10).await.unwrap();
    assert_eq!(names_of(&under_old), ["c"]);
}

pub(crate) async fn rotation_swaps_only_an_unchanged_value(s: Arc<dyn Store>) {
    let mut ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "a", "1").await;
    let new = ring.rotate().unwrap();
    let old = s.secret_versions_not_under(new, 0, 10).await.unwrap().remove(0);
    let aad = Aad::new(&["secret", VAULT, "a", "1"]);
    let resealed = ring.seal(&aad, &ring.open(&aad, &old.value).unwrap()).unwrap();
    assert_eq!(resealed.key_id(), Some(new));

    assert!(s.replace_secret_value(old.seq, &old.value, &resealed).await.unwrap());
    // The value is no longer `old`: a second swap from it changes nothing.
    let other = ring.seal(&aad, b"other").unwrap();
    assert!(!s.replace_secret_value(old.seq, &old.value, &other).await.unwrap());
    assert!(!s.replace_secret_value(old.seq + 1000, &resealed, &other).await.unwrap());
    let stored = s.secret_version(VAULT, "a", Some("1")).await.unwrap().unwrap();
    assert_eq!(stored.value.as_bytes(), resealed.as_bytes());
    assert_opens(&ring, &stored);
    assert_eq!(s.count_secret_versions_not_under(new).await.unwrap(), 0);
    // A purged version cannot be swapped back in.
    s.delete_secret(&deletion(VAULT, "a", 1)).await.unwrap();
    s.purge_secret(VAULT, "a").await.unwrap();
    assert!(!s.replace_secret_value(old.seq, &resealed, &other).await.unwrap());
}

pub(crate) async fn concurrent_value_swaps_one_wins(s: Arc<dyn Store>) {
    let mut ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "a", "1").await;
    ring.rotate().unwrap();
    let old = s.secret_version(VAULT, "a", None).await.unwrap().unwrap();
    let aad = Aad::new(&["secret", VAULT, "a", "1"]);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (s, old) = (s.clone(), old.clone());
            let new = ring.seal(&aad, format!("v{i}").as_bytes()).unwrap();
            tokio::spawn(async move { s.replace_secret_value(old.seq, &old.value, &new).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

pub(crate) async fn meta_and_signing_key_compare_and_swap(s: Arc<dyn Store>) {
    assert!(!s.replace_meta("keyring", b"a", b"b").await.unwrap(), "absent key");
    assert_eq!(s.meta("keyring").await.unwrap(), None);
    s.put_meta("keyring", b"a").await.unwrap();
    assert!(!s.replace_meta("keyring", b"x", b"b").await.unwrap());
    assert!(s.replace_meta("keyring", b"a", b"b").await.unwrap());
    assert!(!s.replace_meta("keyring", b"a", b"c").await.unwrap());
    assert_eq!(s.meta("keyring").await.unwrap().as_deref(), Some(&b"b"[..]));

    let ring = Keyring::generate().unwrap();
    let aad = Aad::new(&["signing-key", "k1"]);
    let sealed = ring.seal(&aad, b"pkcs8").unwrap();
    let record = SigningKeyRecord {
        kid: "k1".into(),
        created: 1,
        retired_at: None,
        sealed: sealed.clone(),
    };
    s.put_signing_key(&record).await.unwrap();
    let new = ring.seal(&aad, b"pkcs8").unwrap();
    assert!(!s.replace_signing_key_sealed("k1", &new, &new).await.unwrap());
    assert!(!s.replace_signing_key_sealed("nope", &sealed, &new).await.unwrap());
    assert!(s.replace_signing_key_sealed("k1", &sealed, &new).await.unwrap());
    let stored = s.signing_keys().await.unwrap();
    assert_eq!(stored[0].sealed.as_bytes(), new.as_bytes());
    assert_eq!(&ring.open(&aad, &stored[0].sealed).unwrap()[..], b"pkcs8");
}

pub(crate) async fn try_lead_is_true_for_a_lone_node(s: Arc<dyn Store>) {
    assert!(s.try_lead("purge").await.unwrap());
    assert!(s.try_lead("purge").await.unwrap());
    assert!(s.try_lead("reseal").await.unwrap());
}
