//! Meta, principals, credentials, signing keys, vaults.

use super::*;

pub(crate) async fn meta_put_and_if_absent(s: Arc<dyn Store>) {
    assert_eq!(s.meta("root").await.unwrap(), None);
    s.put_meta("root", b"one").await.unwrap();
    assert_eq!(s.meta("root").await.unwrap().as_deref(), Some(&b"one"[..]));
    s.put_meta("root", b"two").await.unwrap();
    assert_eq!(s.meta("root").await.unwrap().as_deref(), Some(&b"two"[..]));

    // Present: the stored value wins and is returned.
    assert_eq!(s.put_meta_if_absent("root", b"three").await.unwrap(), b"two");
    assert_eq!(s.meta("root").await.unwrap().as_deref(), Some(&b"two"[..]));
    // Absent: stored and returned.
    assert_eq!(s.put_meta_if_absent("tenant", b"t-1").await.unwrap(), b"t-1");
    assert_eq!(s.meta("tenant").await.unwrap().as_deref(), Some(&b"t-1"[..]));
    // Keys are exact; values are bytes, including empty and non-UTF-8.
    assert_eq!(s.meta("Root").await.unwrap(), None);
    s.put_meta("bin", &[0, 255, 1]).await.unwrap();
    assert_eq!(s.meta("bin").await.unwrap(), Some(vec![0, 255, 1]));
    assert_eq!(s.put_meta_if_absent("empty", b"").await.unwrap(), b"");
}

pub(crate) async fn meta_if_absent_agrees_under_concurrency(s: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.put_meta_if_absent("root-key", format!("candidate-{i}").as_bytes())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        winners.push(t.await.unwrap());
    }
    let stored = s.meta("root-key").await.unwrap().unwrap();
    assert!(stored.starts_with(b"candidate-"));
    assert!(
        winners.iter().all(|w| *w == stored),
        "every starter must see the one stored value"
    );
}

fn principal(oid: &str, app_id: Option<&str>, kind: PrincipalKind) -> PrincipalRecord {
    PrincipalRecord {
        object_id: oid.into(),
        app_id: app_id.map(str::to_owned),
        display_name: format!("name of {oid}"),
        kind,
        tenant_id: "tenant-1".into(),
        created: 1_700_000_000,
    }
}

pub(crate) async fn principals_by_object_and_app_id(s: Arc<dyn Store>) {
    let sp = principal("oid-sp", Some("app-sp"), PrincipalKind::ServicePrincipal);
    let mi = principal("oid-mi", None, PrincipalKind::ManagedIdentity);
    let mi2 = principal("oid-mi2", None, PrincipalKind::ManagedIdentity);
    s.put_principal(&sp).await.unwrap();
    s.put_principal(&mi).await.unwrap();
    // Several principals without an app id may coexist.
    s.put_principal(&mi2).await.unwrap();

    assert_eq!(s.principal("oid-sp").await.unwrap(), Some(sp.clone()));
    assert_eq!(s.principal("oid-mi").await.unwrap(), Some(mi));
    assert_eq!(s.principal_by_app_id("app-sp").await.unwrap(), Some(sp));
    assert_eq!(s.principal("nope").await.unwrap(), None);
    assert_eq!(s.principal_by_app_id("nope").await.unwrap(), None);

    // Object ids and app ids are unique; a duplicate is a backend error, not a silent overwrite.
    let dup_oid = principal("oid-sp", Some("app-other"), PrincipalKind::ServicePrincipal);
    assert!(matches!(s.put_principal(&dup_oid).await, Err(StoreError::Backend(_))));
    let dup_app = principal("oid-other", Some("app-sp"), PrincipalKind::ServicePrincipal);
    assert!(matches!(s.put_principal(&dup_app).await, Err(StoreError::Backend(_))));
    assert_eq!(
        s.principal("oid-sp").await.unwrap().unwrap().app_id.as_deref(),
        Some("app-sp")
    );
}

pub(crate) async fn principals_listed_and_secrets_reset(s: Arc<dyn Store>) {
    assert!(s.list_principals().await.unwrap().is_empty());
    let mut older = principal("oid-b", Some("app-b"), PrincipalKind::ServicePrincipal);
    older.created -= 10;
    let newer = principal("oid-a", None, PrincipalKind::ManagedIdentity);
    s.put_principal(&newer).await.unwrap();
    s.put_principal(&older).await.unwrap();
    assert_eq!(
        s.list_principals().await.unwrap(),
        vec![older.clone(), newer.clone()],
        "oldest first"
    );

    for (key, oid) in [("k1", "oid-b"), ("k2", "oid-b"), ("k3", "oid-a")] {
        s.put_client_secret(&ClientSecretRecord {
            key_id: key.into(),
            object_id: oid.into(),
            hash: vec![1; 32],
            hint: "abc".into(),
            created: 1,
            expires: 2,
        })
        .await
        .unwrap();
    }
    assert!(
        !s.delete_client_secret("oid-a", "k1").await.unwrap(),
        "k1 is another principal's"
    );
    assert!(s.delete_client_secret("oid-b", "k1").await.unwrap());
    assert!(!s.delete_client_secret("oid-b", "k1").await.unwrap(), "gone already");
    let left: Vec<String> = s
        .client_secrets("oid-b")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.key_id)
        .collect();
    assert_eq!(left, ["k2"]);
    s.put_client_secret(&ClientSecretRecord {
        key_id: "k1".into(),
        object_id: "oid-b".into(),
        hash: vec![1; 32],
        hint: "abc".into(),
        created: 1,
        expires: 2,
    })
    .await
    .unwrap();
    assert_eq!(s.delete_client_secrets("oid-b").await.unwrap(), 2);
    assert!(s.client_secrets("oid-b").await.unwrap().is_empty());
    assert_eq!(s.client_secrets("oid-a").await.unwrap().len(), 1, "others keep theirs");
    assert_eq!(s.delete_client_secrets("nope").await.unwrap(), 0);

    s.rename_principal("oid-a", "renamed").await.unwrap();
    assert_eq!(s.principal("oid-a").await.unwrap().unwrap().display_name, "renamed");
    assert_eq!(
        s.principal("oid-b").await.unwrap().unwrap().display_name,
        older.display_name,
        "only the one renamed"
    );
    let newer = PrincipalRecord {
        display_name: "renamed".into(),
        ..newer
    };

    s.delete_principal("oid-b").await.unwrap();
    assert_eq!(s.list_principals().await.unwrap(), vec![newer]);
}

pub(crate) async fn client_secrets_and_certificates(s: Arc<dyn Store>) {
    for oid in ["oid-a", "oid-b"] {
        s.put_principal(&principal(
            oid,
            Some(&format!("app-{oid}")),
            PrincipalKind::ServicePrincipal,
        ))
        .await
        .unwrap();
    }
    let secret = |key_id: &str, oid: &str| ClientSecretRecord {
        key_id: key_id.into(),
        object_id: oid.into(),
        hash: vec![7; 32],
        hint: "abc".into(),
        created: 10,
        expires: 20,
    };
    let cert = |key_id: &str, oid: &str| ClientCertificateRecord {
        key_id: key_id.into(),
        object_id: oid.into(),
        x5t: format!("x5t-{key_id}"),
        x5t_s256: format!("x5t256-{key_id}"),
        der: vec![0x30, 0x82, 0, 1, 2],
        not_after: 99,
    };
    for (k, o) in [("s1", "oid-a"), ("s2", "oid-a"), ("s3", "oid-b")] {
        s.put_client_secret(&secret(k, o)).await.unwrap();
    }
    for (k, o) in [("c1", "oid-a"), ("c2", "oid-b"), ("c3", "oid-b")] {
        s.put_client_certificate(&cert(k, o)).await.unwrap();
    }

    let mut secrets = s.client_secrets("oid-a").await.unwrap();
    secrets.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    assert_eq!(secrets, vec![secret("s1", "oid-a"), secret("s2", "oid-a")]);
    assert_eq!(s.client_secrets("oid-b").await.unwrap(), vec![secret("s3", "oid-b")]);
    assert!(s.client_secrets("nope").await.unwrap().is_empty());

    assert_eq!(s.client_certificates("oid-a").await.unwrap(), vec![cert("c1", "oid-a")]);
    let mut certs = s.client_certificates("oid-b").await.unwrap();
    certs.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    assert_eq!(certs, vec![cert("c2", "oid-b"), cert("c3", "oid-b")]);
    assert!(s.client_certificates("nope").await.unwrap().is_empty());

    // Credentials belong to an existing principal; key ids are unique.
    assert!(s.put_client_secret(&secret("s9", "no-such")).await.is_err());
    assert!(s.put_client_certificate(&cert("c9", "no-such")).await.is_err());
    assert!(matches!(
        s.put_client_secret(&secret("s1", "oid-b")).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        s.put_client_certificate(&cert("c1", "oid-b")).await,
        Err(StoreError::Backend(_))
    ));
}

pub(crate) async fn signing_keys_retire_and_delete(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    let key = |kid: &str, created: i64| SigningKeyRecord {
        kid: kid.into(),
        created,
        retired_at: None,
        sealed: ring.seal(&Aad::new(&["signing-key", kid]), kid.as_bytes()).unwrap(),
    };
    assert!(s.signing_keys().await.unwrap().is_empty());
    // Inserted out of order; listed by creation.
    for (kid, created) in [("k2", 200), ("k1", 100), ("k3", 300)] {
        s.put_signing_key(&key(kid, created)).await.unwrap();
    }
    let keys = s.signing_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["k1", "k2", "k3"]
    );
    for k in &keys {
        let plain = ring.open(&Aad::new(&["signing-key", &k.kid]), &k.sealed).unwrap();
        assert_eq!(&plain[..], k.kid.as_bytes());
        assert_eq!(k.retired_at, None);
    }
    assert!(matches!(
        s.put_signing_key(&key("k1", 400)).await,
        Err(StoreError::Backend(_))
    ));

    s.retire_signing_key("k1", 150).await.unwrap();
    // Retiring twice keeps the first date.
    s.retire_signing_key("k1", 999).await.unwrap();
    // Unknown kids are no-ops.
    s.retire_signing_key("nope", 1).await.unwrap();
    let keys = s.signing_keys().await.unwrap();
    let retired: Vec<_> = keys.iter().map(|k| (k.kid.as_str(), k.retired_at)).collect();
    assert_eq!(retired, [("k1", Some(150)), ("k2", None), ("k3", None)]);

    s.delete_signing_key("k1").await.unwrap();
    s.delete_signing_key("nope").await.unwrap();
    let kids: Vec<_> = s.signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, ["k2", "k3"]);
}

pub(crate) async fn vault_upsert_keeps_name_and_creation(s: Arc<dyn Store>) {
    let v = VaultRecord {
        name: "MyVault".into(),
        tenant_id: "tenant-1".into(),
        retention_days: 90,
        purge_protection: false,
        created: 100,
        properties: serde_json::json!({"resourceGroup": "rg1", "accessPolicies": []}),
        deleted_at: None,
        purge_at: None,
    };
    assert_eq!(s.vault("MyVault").await.unwrap(), None);
    s.put_vault(&v).await.unwrap();
    assert_eq!(s.vault("MyVault").await.unwrap(), Some(v.clone()));
    assert_eq!(s.vault("myvault").await.unwrap(), Some(v.clone()));
    assert_eq!(s.vault("MYVAULT").await.unwrap(), Some(v.clone()));
    assert_eq!(s.vault("other").await.unwrap(), None);

    // Upsert under another spelling: settings change; name, tenant and creation stay.
    s.put_vault(&VaultRecord {
        name: "MYVAULT".into(),
        tenant_id: "tenant-2".into(),
        retention_days: 7,
        purge_protection: true,
        created: 999,
        properties: serde_json::json!({"resourceGroup": "rg2"}),
        deleted_at: None,
        purge_at: None,
    })
    .await
    .unwrap();
    assert_eq!(
        s.vault("myvault").await.unwrap(),
        Some(VaultRecord {
            retention_days: 7,
            purge_protection: true,
            properties: serde_json::json!({"resourceGroup": "rg2"}),
            ..v
        })
    );
}

fn user(oid: &str, upn: &str) -> UserRecord {
    UserRecord {
        principal: principal(oid, None, PrincipalKind::User),
        user_principal_name: upn.into(),
        password_hash: format!("$argon2id$hash-of-{oid}"),
        enabled: true,
        password_changed: 1_700_000_000,
    }
}

pub(crate) async fn users_are_principals_with_unique_names(s: Arc<dyn Store>) {
    let alice = user("oid-alice", "Alice@Contoso.example");
    s.put_user(&alice).await.unwrap();
    assert_eq!(s.user("oid-alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(
        s.user_by_upn("alice@contoso.EXAMPLE").await.unwrap(),
        Some(alice.clone()),
        "names are case-insensitive"
    );
    assert_eq!(
        s.principal("oid-alice").await.unwrap().map(|p| p.kind),
        Some(PrincipalKind::User),
        "a user is a principal"
    );
    let twin = user("oid-twin", "ALICE@contoso.example");
    assert!(matches!(s.put_user(&twin).await, Err(StoreError::Exists)));
    assert_eq!(
        s.principal("oid-twin").await.unwrap(),
        None,
        "a refused user leaves no principal"
    );

    let bob = user("oid-bob", "bob@contoso.example");
    s.put_user(&bob).await.unwrap();
    let renamed = UserRecord {
        user_principal_name: "alice@contoso.example".into(),
        ..bob.clone()
    };
    assert!(
        matches!(s.update_user(&renamed).await, Err(StoreError::Exists)),
        "another's name"
    );
    let changed = UserRecord {
        principal: PrincipalRecord {
            display_name: "Robert".into(),
            ..bob.principal.clone()
        },
        user_principal_name: "robert@contoso.example".into(),
        password_hash: "$argon2id$new".into(),
        enabled: false,
        password_changed: 1_700_000_100,
    };
    s.update_user(&changed).await.unwrap();
    assert_eq!(s.user("oid-bob").await.unwrap(), Some(changed.clone()));
    assert_eq!(
        s.user_by_upn("bob@contoso.example").await.unwrap(),
        None,
        "the old name is free"
    );
    assert!(matches!(
        s.update_user(&user("oid-nobody", "x@y")).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.list_users()
            .await
            .unwrap()
            .iter()
            .map(|u| u.principal.object_id.as_str())
            .collect::<Vec<_>>(),
        ["oid-alice", "oid-bob"]
    );

    s.delete_principal("oid-alice").await.unwrap();
    assert_eq!(
        s.user("oid-alice").await.unwrap(),
        None,
        "deleting the principal deletes the user"
    );
    assert_eq!(s.user_by_upn("alice@contoso.example").await.unwrap(), None);
}

pub(crate) async fn device_codes_and_refresh_tokens_are_used_once(s: Arc<dyn Store>) {
    s.put_user(&user("oid-u", "u@contoso.example")).await.unwrap();
    let code = DeviceCodeRecord {
        hash: "h1".into(),
        user_code: "ABCD-EFGH".into(),
        client_id: "client".into(),
        scope: "https://vault/.default".into(),
        expires: 1_000,
        object_id: None,
        redeemed: false,
    };
    s.put_device_code(&code).await.unwrap();
    assert_eq!(s.redeem_device_code("h1", 10).await.unwrap(), None, "not approved yet");
    assert!(
        !s.approve_device_code("ABCD-EFGH", "oid-u", 1_000).await.unwrap(),
        "expired"
    );
    assert!(!s.approve_device_code("WRONG-CODE", "oid-u", 10).await.unwrap());
    assert!(s.approve_device_code("ABCD-EFGH", "oid-u", 10).await.unwrap());
    assert!(
        !s.approve_device_code("ABCD-EFGH", "oid-u", 10).await.unwrap(),
        "approved once"
    );
    let redeemed = s.redeem_device_code("h1", 10).await.unwrap().unwrap();
    assert_eq!(
        (redeemed.object_id.as_deref(), redeemed.redeemed),
        (Some("oid-u"), true)
    );
    assert_eq!(s.redeem_device_code("h1", 10).await.unwrap(), None, "redeemed once");
    assert!(s.device_code("h1").await.unwrap().unwrap().redeemed);

    let token = |hash: &str, expires: i64| RefreshTokenRecord {
        hash: hash.into(),
        object_id: "oid-u".into(),
        client_id: "client".into(),
        scope: "openid".into(),
        created: 5,
        expires,
    };
    for (h, e) in [("r1", 100), ("r2", 100), ("old", 50)] {
        s.put_refresh_token(&token(h, e)).await.unwrap();
    }
    assert_eq!(s.take_refresh_token("r1", 60).await.unwrap(), Some(token("r1", 100)));
    assert_eq!(s.take_refresh_token("r1", 60).await.unwrap(), None, "taken once");
    assert_eq!(s.take_refresh_token("old", 60).await.unwrap(), None, "expired");
    assert_eq!(
        s.delete_refresh_tokens("oid-u").await.unwrap(),
        1,
        "r2 is left to revoke"
    );
    assert_eq!(s.take_refresh_token("r2", 60).await.unwrap(), None);
    let code = |hash: &str, expires: i64| AuthCodeRecord {
        hash: hash.into(),
        object_id: "oid-u".into(),
        client_id: "client".into(),
        redirect_uri: "http://localhost:1234".into(),
        code_challenge: "challenge".into(),
        scope: "openid".into(),
        nonce: Some("n".into()),
        created: 5,
        expires,
    };
    s.put_auth_code(&code("c1", 100)).await.unwrap();
    s.put_auth_code(&code("c-old", 50)).await.unwrap();
    assert_eq!(s.take_auth_code("c1", 60).await.unwrap(), Some(code("c1", 100)));
    assert_eq!(s.take_auth_code("c1", 60).await.unwrap(), None, "a code works once");
    assert_eq!(s.take_auth_code("c-old", 60).await.unwrap(), None, "expired");
    s.put_auth_code(&code("c2", 100)).await.unwrap();
    s.put_refresh_token(&token("r3", 100)).await.unwrap();
    s.delete_principal("oid-u").await.unwrap();
    assert_eq!(
        s.take_auth_code("c2", 60).await.unwrap(),
        None,
        "deleting the user drops its codes"
    );
    assert_eq!(
        s.take_refresh_token("r3", 60).await.unwrap(),
        None,
        "deleting the user revokes its tokens"
    );
}
