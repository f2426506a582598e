//! Key versions, soft deletion, restore and rotation policies.

use super::*;

pub(crate) fn key(ring: &Keyring, vault: &str, name: &str, version: &str) -> KeyVersionRecord {
    let private = ring
        .seal(&Aad::new(&["key", vault, name, version]), b"pkcs8 bytes")
        .unwrap();
    KeyVersionRecord {
        vault: vault.into(),
        name: name.into(),
        version: version.into(),
        kty: "EC".into(),
        public_jwk: serde_json::json!({"kty": "EC", "crv": "P-256", "x": version, "y": "y"}),
        key_ops: vec!["sign".into(), "verify".into()],
        private,
        enabled: true,
        nbf: None,
        exp: None,
        exportable: false,
        tags: None,
        created: 1_700_000_000,
        updated: 1_700_000_000,
        seq: 0,
        managed: false,
    }
}

fn key_deletion(vault: &str, name: &str, purge_at: i64) -> DeletedKeyRecord {
    DeletedKeyRecord {
        vault: vault.into(),
        name: name.into(),
        deleted_date: purge_at - 90 * 86_400,
        scheduled_purge_date: purge_at,
    }
}

fn key_versions(rows: &[KeyVersionRecord]) -> Vec<&str> {
    rows.iter().map(|r| r.version.as_str()).collect()
}

pub(crate) async fn key_versions_latest_update_and_pages(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    for v in ["v1", "v2", "v3"] {
        s.put_key_version(&key(&ring, VAULT, "k", v)).await.unwrap();
    }
    s.put_key_version(&key(&ring, VAULT, "a", "a1")).await.unwrap();
    s.put_key_version(&key(&ring, OTHER_VAULT, "k", "o1")).await.unwrap();
    let latest = s.key_version(VAULT, "K", None).await.unwrap().unwrap();
    assert_eq!(latest.version, "v3");
    assert_eq!(latest.public_jwk["x"], "v3");
    let opened = ring
        .open(&Aad::new(&["key", VAULT, "k", "v3"]), &latest.private)
        .unwrap();
    assert_eq!(&opened[..], b"pkcs8 bytes");
    assert!(s.key_version(VAULT, "k", Some("o1")).await.unwrap().is_none());

    let mut v2 = s.key_version(VAULT, "k", Some("v2")).await.unwrap().unwrap();
    v2.enabled = false;
    v2.key_ops = vec!["verify".into()];
    v2.tags = Some([("t".to_owned(), "1".to_owned())].into());
    v2.exp = Some(5);
    s.update_key_version(&v2).await.unwrap();
    let back = s.key_version(VAULT, "k", Some("v2")).await.unwrap().unwrap();
    assert!(!back.enabled);
    assert_eq!(back.key_ops, ["verify"]);
    assert_eq!(back.exp, Some(5));
    assert_eq!(
        back.private.as_bytes(),
        v2.private.as_bytes(),
        "the key itself is unchanged"
    );

    let names: Vec<_> = s
        .list_keys(VAULT, &all())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a", "k"]);
    let first = s.list_key_versions(VAULT, "k", &page(None, 2)).await.unwrap();
    assert_eq!(key_versions(&first), ["v1", "v2"]);
    let cursor = first[1].seq.to_string();
    let rest = s.list_key_versions(VAULT, "k", &page(Some(&cursor), 2)).await.unwrap();
    assert_eq!(key_versions(&rest), ["v3"]);
}

pub(crate) async fn keys_soft_delete_recover_purge_restore(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    s.put_key_version(&key(&ring, VAULT, "k", "v1")).await.unwrap();
    s.put_key_version(&key(&ring, VAULT, "k", "v2")).await.unwrap();
    assert!(matches!(
        s.delete_key(&key_deletion(VAULT, "nope", 2_000_000_000)).await,
        Err(StoreError::NotFound)
    ));
    let d = key_deletion(VAULT, "k", 2_000_000_000);
    s.delete_key(&d).await.unwrap();
    assert!(s.key_version(VAULT, "k", None).await.unwrap().is_none());
    assert!(s.list_keys(VAULT, &all()).await.unwrap().is_empty());
    let (rec, latest) = s.deleted_key(VAULT, "K").await.unwrap().unwrap();
    assert_eq!(rec, d);
    assert_eq!(latest.version, "v2");
    assert_eq!(latest.public_jwk["kty"], "EC", "a deleted key keeps its public JWK");
    assert_eq!(s.list_deleted_keys(VAULT, &all()).await.unwrap().len(), 1);
    assert!(matches!(
        s.put_key_version(&key(&ring, VAULT, "k", "v3")).await,
        Err(StoreError::Deleted)
    ));
    assert!(matches!(
        s.restore_key(&[key(&ring, VAULT, "k", "r1")]).await,
        Err(StoreError::Deleted)
    ));
    assert_eq!(s.purgeable_keys(1_999_999_999).await.unwrap().len(), 0);
    assert_eq!(s.purgeable_keys(2_000_000_000).await.unwrap().len(), 1);

    s.recover_key(VAULT, "k").await.unwrap();
    assert!(matches!(s.recover_key(VAULT, "k").await, Err(StoreError::NotFound)));
    assert_eq!(s.key_version(VAULT, "k", None).await.unwrap().unwrap().version, "v2");
    assert!(
        matches!(s.purge_key(VAULT, "k").await, Err(StoreError::NotFound)),
        "only deleted keys purge"
    );
    assert!(matches!(
        s.restore_key(&[key(&ring, VAULT, "k", "r1")]).await,
        Err(StoreError::Exists)
    ));

    s.put_key_policy(&KeyPolicyRecord {
        vault: VAULT.into(),
        name: "k".into(),
        policy: serde_json::json!({"lifetimeActions": []}),
        created: 1,
        updated: 1,
    })
    .await
    .unwrap();
    s.delete_key(&d).await.unwrap();
    assert!(
        s.key_policies().await.unwrap().is_empty(),
        "a deleted key's policy is not scheduled"
    );
    s.purge_key(VAULT, "k").await.unwrap();
    assert!(s.deleted_key(VAULT, "k").await.unwrap().is_none());
    assert!(s.key_policy(VAULT, "k").await.unwrap().is_none());
    s.restore_key(&[key(&ring, VAULT, "k", "r1"), key(&ring, VAULT, "k", "r2")])
        .await
        .unwrap();
    assert_eq!(s.key_version(VAULT, "k", None).await.unwrap().unwrap().version, "r2");
}

pub(crate) async fn key_policies_upsert(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    s.put_key_version(&key(&ring, VAULT, "k", "v1")).await.unwrap();
    let mut p = KeyPolicyRecord {
        vault: VAULT.into(),
        name: "k".into(),
        policy: serde_json::json!({"a": 1}),
        created: 10,
        updated: 10,
    };
    s.put_key_policy(&p).await.unwrap();
    p.policy = serde_json::json!({"a": 2});
    p.updated = 20;
    s.put_key_policy(&p).await.unwrap();
    let back = s.key_policy(VAULT, "K").await.unwrap().unwrap();
    assert_eq!(back.policy, serde_json::json!({"a": 2}));
    assert_eq!((back.created, back.updated), (10, 20));
    assert_eq!(s.key_policies().await.unwrap().len(), 1);
    s.put_vault(&VaultRecord {
        name: VAULT.into(),
        tenant_id: "t".into(),
        retention_days: 7,
        purge_protection: false,
        created: 0,
        properties: serde_json::json!({}),
        deleted_at: None,
        purge_at: None,
    })
    .await
    .unwrap();
    s.purge_vault(VAULT).await.unwrap();
    assert!(
        s.key_version(VAULT, "k", None).await.unwrap().is_none(),
        "purging a vault takes its keys"
    );
    assert!(s.key_policies().await.unwrap().is_empty());
}

pub(crate) async fn key_private_keys_reseal_by_compare_and_swap(s: Arc<dyn Store>) {
    let old_ring = Keyring::generate().unwrap();
    s.put_key_version(&key(&old_ring, VAULT, "k", "v1")).await.unwrap();
    s.put_key_version(&key(&old_ring, VAULT, "k", "v2")).await.unwrap();
    s.delete_key(&key_deletion(VAULT, "k", 2_000_000_000)).await.unwrap();
    let stale = s.key_versions_not_under(u32::MAX, 0, 10).await.unwrap();
    assert_eq!(key_versions(&stale), ["v1", "v2"], "deleted versions are re-sealed too");
    let first = &stale[0];
    let other = key(&old_ring, VAULT, "k", "v1").private;
    assert!(
        !s.replace_key_private(first.seq, &other, &other).await.unwrap(),
        "a changed value is not overwritten"
    );
    let new = key(&old_ring, VAULT, "k", "v1").private;
    assert!(s.replace_key_private(first.seq, &first.private, &new).await.unwrap());
    let key_id = first.private.key_id().unwrap();
    assert_eq!(s.key_versions_not_under(key_id, 0, 10).await.unwrap().len(), 0);
    assert_eq!(
        s.key_versions_not_under(key_id.wrapping_add(1), first.seq, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
