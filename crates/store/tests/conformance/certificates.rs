//! Certificate versions written with their key and secret, policies, operations, and soft deletion
//! moving the key and secret with the certificate.

use super::*;

fn new_version(ring: &Keyring, vault: &str, name: &str, v: &str, seq_policy: &str) -> NewCertificateVersion {
    NewCertificateVersion {
        certificate: CertificateVersionRecord {
            vault: vault.into(),
            name: name.into(),
            version: v.into(),
            cer: format!("der of {v}").into_bytes(),
            x5t: format!("x5t-{v}"),
            content_type: "application/x-pkcs12".into(),
            enabled: true,
            nbf: Some(1),
            exp: Some(2),
            tags: None,
            preserve_cert_order: None,
            created: 1_700_000_000,
            updated: 1_700_000_000,
            seq: 0,
        },
        key: KeyVersionRecord {
            managed: true,
            ..key(ring, vault, name, v)
        },
        secret: SecretVersionRecord {
            managed: true,
            ..version(ring, vault, name, v)
        },
        policy: CertificatePolicyRecord {
            vault: vault.into(),
            name: name.into(),
            policy: serde_json::json!({"issuer": {"name": seq_policy}}),
            created: 1,
            updated: 1,
        },
        operation: Some(CertificateOperationRecord {
            vault: vault.into(),
            name: name.into(),
            operation: serde_json::json!({"status": "completed", "v": v}),
            private: None,
            updated: 1,
        }),
    }
}

pub(crate) async fn certificate_versions_carry_key_and_secret(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    s.put_certificate_version(&new_version(&ring, VAULT, "c", "v1", "Self"))
        .await
        .unwrap();
    s.put_certificate_version(&new_version(&ring, VAULT, "c", "v2", "Unknown"))
        .await
        .unwrap();
    s.put_certificate_version(&new_version(&ring, VAULT, "b", "b1", "Self"))
        .await
        .unwrap();
    let latest = s.certificate_version(VAULT, "C", None).await.unwrap().unwrap();
    assert_eq!(
        (latest.version.as_str(), latest.cer.as_slice()),
        ("v2", b"der of v2".as_slice())
    );
    assert_eq!(s.key_version(VAULT, "c", None).await.unwrap().unwrap().version, "v2");
    assert_eq!(s.secret_version(VAULT, "c", None).await.unwrap().unwrap().version, "v2");
    assert_eq!(
        s.certificate_policy(VAULT, "c").await.unwrap().unwrap().policy["issuer"]["name"],
        "Unknown"
    );
    assert_eq!(
        s.certificate_operation(VAULT, "c").await.unwrap().unwrap().operation["v"],
        "v2"
    );
    let names: Vec<String> = s
        .list_certificates(VAULT, &page(None, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["b", "c"]);
    let versions = s.list_certificate_versions(VAULT, "c", &page(None, 1)).await.unwrap();
    assert_eq!(versions[0].version, "v1");
    let rest = s
        .list_certificate_versions(VAULT, "c", &page(Some(&versions[0].seq.to_string()), 5))
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert!(s.certificate_version(OTHER_VAULT, "c", None).await.unwrap().is_none());

    assert!(s.key_version(VAULT, "c", None).await.unwrap().unwrap().managed);
    // The key and secret of a certificate take no plain versions, and a plain name no certificate.
    assert!(matches!(
        s.put_key_version(&key(&ring, VAULT, "c", "plain")).await,
        Err(StoreError::Managed)
    ));
    assert!(matches!(
        s.put_secret_version(&version(&ring, VAULT, "c", "plain")).await,
        Err(StoreError::Managed)
    ));
    s.put_secret_version(&version(&ring, VAULT, "s", "s1")).await.unwrap();
    assert!(matches!(
        s.put_certificate_version(&new_version(&ring, VAULT, "s", "s2", "Self"))
            .await,
        Err(StoreError::Exists)
    ));
    assert!(s.certificate_version(VAULT, "s", None).await.unwrap().is_none());
    // Disabling a version disables its key and secret version.
    let mut v1 = s.certificate_version(VAULT, "c", Some("v1")).await.unwrap().unwrap();
    v1.enabled = false;
    s.update_certificate_version(&v1).await.unwrap();
    assert!(!s.key_version(VAULT, "c", Some("v1")).await.unwrap().unwrap().enabled);
    assert!(!s.secret_version(VAULT, "c", Some("v1")).await.unwrap().unwrap().enabled);
    assert!(s.key_version(VAULT, "c", Some("v2")).await.unwrap().unwrap().enabled);

    // A duplicate version id writes nothing at all.
    let dup = new_version(&ring, VAULT, "c", "v2", "Dup");
    assert!(s.put_certificate_version(&dup).await.is_err());
    assert_eq!(
        s.certificate_policy(VAULT, "c").await.unwrap().unwrap().policy["issuer"]["name"],
        "Unknown"
    );
    // A pending operation keeps its sealed key, written with the policy it follows.
    let sealed = ring
        .seal(&Aad::new(&["certificate-pending", VAULT, "p", "r1"]), b"pkcs8")
        .unwrap();
    let op = CertificateOperationRecord {
        vault: VAULT.into(),
        name: "p".into(),
        operation: serde_json::json!({"status": "inProgress"}),
        private: Some(sealed.clone()),
        updated: 5,
    };
    let policy = CertificatePolicyRecord {
        vault: VAULT.into(),
        name: "p".into(),
        policy: serde_json::json!({"issuer": {"name": "Unknown"}}),
        created: 5,
        updated: 5,
    };
    s.put_certificate_operation(&op, Some(&policy)).await.unwrap();
    let got = s.certificate_operation(VAULT, "P").await.unwrap().unwrap();
    assert_eq!(
        got.private.map(|p| p.as_bytes().to_vec()),
        Some(sealed.as_bytes().to_vec())
    );
    assert_eq!(
        s.certificate_policy(VAULT, "p").await.unwrap().unwrap().policy,
        policy.policy
    );
    s.delete_certificate_operation(VAULT, "c").await.unwrap();
    assert!(matches!(
        s.delete_certificate_operation(VAULT, "c").await,
        Err(StoreError::NotFound)
    ));
}

pub(crate) async fn certificate_deletion_moves_key_and_secret(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    s.put_certificate_version(&new_version(&ring, VAULT, "c", "v1", "Self"))
        .await
        .unwrap();
    let d = DeletedCertificateRecord {
        vault: VAULT.into(),
        name: "c".into(),
        deleted_date: 10,
        scheduled_purge_date: 100,
    };
    s.delete_certificate(&d).await.unwrap();
    assert!(matches!(s.delete_certificate(&d).await, Err(StoreError::NotFound)));
    assert!(s.certificate_version(VAULT, "c", None).await.unwrap().is_none());
    assert!(s.key_version(VAULT, "c", None).await.unwrap().is_none());
    assert!(s.secret_version(VAULT, "c", None).await.unwrap().is_none());
    assert_eq!(s.deleted_certificate(VAULT, "c").await.unwrap().unwrap().0, d);
    assert!(s.deleted_key(VAULT, "c").await.unwrap().is_some());
    assert!(matches!(
        s.put_certificate_version(&new_version(&ring, VAULT, "c", "v2", "Self"))
            .await,
        Err(StoreError::Deleted)
    ));
    assert_eq!(s.purgeable_certificates(99).await.unwrap().len(), 0);
    assert_eq!(s.purgeable_certificates(100).await.unwrap().len(), 1);
    assert!(
        s.certificate_policies().await.unwrap().is_empty(),
        "not for deleted ones"
    );
    s.recover_certificate(VAULT, "c").await.unwrap();
    assert_eq!(s.certificate_policies().await.unwrap().len(), 1);
    assert!(s.key_version(VAULT, "c", None).await.unwrap().is_some());
    assert!(s.secret_version(VAULT, "c", None).await.unwrap().is_some());
    assert!(
        s.list_deleted_certificates(VAULT, &page(None, 5))
            .await
            .unwrap()
            .is_empty()
    );

    assert!(matches!(
        s.purge_certificate(VAULT, "c").await,
        Err(StoreError::NotFound)
    ));
    s.delete_certificate(&d).await.unwrap();
    s.purge_certificate(VAULT, "c").await.unwrap();
    assert!(s.deleted_certificate(VAULT, "c").await.unwrap().is_none());
    assert!(s.deleted_key(VAULT, "c").await.unwrap().is_none());
    assert!(s.deleted_secret(VAULT, "c").await.unwrap().is_none());
    assert!(s.certificate_policy(VAULT, "c").await.unwrap().is_none());
    s.put_certificate_version(&new_version(&ring, VAULT, "c", "v3", "Self"))
        .await
        .unwrap();

    // Restore: a new name only; the certificate, its key and its secret all come back.
    let backup = [
        new_version(&ring, VAULT, "r", "r1", "Self"),
        new_version(&ring, VAULT, "r", "r2", "Self"),
    ];
    s.restore_certificate(&backup).await.unwrap();
    assert_eq!(
        s.certificate_version(VAULT, "r", None).await.unwrap().unwrap().version,
        "r2"
    );
    assert_eq!(
        s.secret_version(VAULT, "r", Some("r1")).await.unwrap().unwrap().version,
        "r1"
    );
    assert!(matches!(s.restore_certificate(&backup).await, Err(StoreError::Exists)));
    s.put_key_version(&key(&ring, VAULT, "taken", "k1")).await.unwrap();
    let taken = [new_version(&ring, VAULT, "taken", "t1", "Self")];
    assert!(matches!(s.restore_certificate(&taken).await, Err(StoreError::Exists)));
    assert!(s.certificate_version(VAULT, "taken", None).await.unwrap().is_none());
}

pub(crate) async fn certificate_contacts_and_issuers(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    assert!(s.certificate_contacts(VAULT).await.unwrap().is_none());
    s.put_certificate_contacts(VAULT, &serde_json::json!([{"email": "a@x"}]), 1)
        .await
        .unwrap();
    s.put_certificate_contacts(VAULT, &serde_json::json!([{"email": "b@x"}]), 2)
        .await
        .unwrap();
    assert_eq!(
        s.certificate_contacts("KV1").await.unwrap(),
        Some(serde_json::json!([{"email": "b@x"}]))
    );
    assert!(s.certificate_contacts(OTHER_VAULT).await.unwrap().is_none());
    s.delete_certificate_contacts(VAULT).await.unwrap();
    assert!(matches!(
        s.delete_certificate_contacts(VAULT).await,
        Err(StoreError::NotFound)
    ));

    let sealed = ring
        .seal(&Aad::new(&["certificate-issuer", VAULT, "ca"]), b"pwd")
        .unwrap();
    for (name, provider) in [("ca", "KeyholdCA"), ("b", "Other")] {
        s.put_certificate_issuer(&CertificateIssuerRecord {
            vault: VAULT.into(),
            name: name.into(),
            issuer: serde_json::json!({"provider": provider}),
            credentials: (name == "ca").then(|| sealed.clone()),
            created: 1,
            updated: 1,
        })
        .await
        .unwrap();
    }
    let got = s.certificate_issuer(VAULT, "CA").await.unwrap().unwrap();
    assert_eq!(got.issuer["provider"], "KeyholdCA");
    assert_eq!(got.credentials.unwrap().as_bytes(), sealed.as_bytes());
    let names: Vec<String> = s
        .list_certificate_issuers(VAULT, &page(None, 1))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["b"]);
    let rest = s.list_certificate_issuers(VAULT, &page(Some("b"), 5)).await.unwrap();
    assert_eq!(rest.len(), 1);
    s.delete_certificate_issuer(VAULT, "ca").await.unwrap();
    assert!(s.certificate_issuer(VAULT, "ca").await.unwrap().is_none());
    assert!(matches!(
        s.delete_certificate_issuer(VAULT, "ca").await,
        Err(StoreError::NotFound)
    ));
}
