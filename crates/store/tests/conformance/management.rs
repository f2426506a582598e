//! Management: vaults' soft-delete state, resource groups, role assignments, resources, agents.

use super::*;

fn vault_named(name: &str, deleted_at: Option<i64>) -> VaultRecord {
    VaultRecord {
        name: name.into(),
        tenant_id: "t".into(),
        retention_days: 7,
        purge_protection: false,
        created: 1,
        properties: serde_json::json!({"resourceGroup": "rg"}),
        deleted_at,
        purge_at: deleted_at.map(|d| d + 7 * 86_400),
    }
}

pub(crate) async fn soft_deleted_vaults_keep_their_name(s: Arc<dyn Store>) {
    s.put_vault(&vault_named("live", None)).await.unwrap();
    s.put_vault(&vault_named("gone", Some(50))).await.unwrap();
    assert!(
        s.vault("gone").await.unwrap().is_none(),
        "a soft-deleted vault is not served"
    );
    assert_eq!(s.vault_any("GONE").await.unwrap().map(|v| v.deleted_at), Some(Some(50)));
    let live: Vec<_> = s.list_vaults().await.unwrap().into_iter().map(|v| v.name).collect();
    let deleted: Vec<_> = s
        .list_deleted_vaults()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!((live, deleted), (vec!["live".to_owned()], vec!["gone".to_owned()]));
    // Recover: the same row comes back live.
    s.put_vault(&vault_named("gone", None)).await.unwrap();
    assert!(s.vault("gone").await.unwrap().is_some());
}

/// Vault, identity and role-assignment writes are counted per kind, after they finish — also when
/// the caller stops waiting at once (a client hanging up mid-request), so that a node's caches
/// never keep serving what its own committed write replaced.
pub(crate) async fn writes_are_counted_even_when_the_caller_stops_waiting(s: Arc<dyn Store>) {
    let before = (s.writes(WriteKind::Vaults), s.writes(WriteKind::RoleAssignments));
    s.put_vault(&vault_named("counted", None)).await.unwrap();
    assert_eq!(s.writes(WriteKind::Vaults), before.0 + 1);
    assert_eq!(s.writes(WriteKind::RoleAssignments), before.1, "one count per kind");

    // Polled once, then dropped: the write goes on and is counted once it is done.
    let abandoned = vault_named("abandoned", None);
    let mut write = s.put_vault(&abandoned);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx))).await;
    assert!(first.is_pending(), "the write answered at its first poll");
    drop(write);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.writes(WriteKind::Vaults) < before.0 + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "an abandoned write was never counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(s.vault("abandoned").await.unwrap().is_some(), "counted, so committed");
}

pub(crate) async fn purge_vault_takes_its_secrets(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    s.put_vault(&vault_named(VAULT, Some(10))).await.unwrap();
    s.put_vault(&vault_named(OTHER_VAULT, None)).await.unwrap();
    put(&s, &ring, VAULT, "a", "v1").await;
    put(&s, &ring, OTHER_VAULT, "a", "v1").await;
    s.purge_vault(VAULT).await.unwrap();
    assert!(s.vault_any(VAULT).await.unwrap().is_none());
    assert!(
        s.secret_version(VAULT, "a", None).await.unwrap().is_none(),
        "its secrets went with it"
    );
    assert!(
        s.secret_version(OTHER_VAULT, "a", None).await.unwrap().is_some(),
        "other vaults untouched"
    );
    assert!(matches!(s.purge_vault(VAULT).await, Err(StoreError::NotFound)));
}

pub(crate) async fn resource_groups_case_insensitive(s: Arc<dyn Store>) {
    let g = ResourceGroupRecord {
        name: "MyRG".into(),
        location: "westus".into(),
        tags: None,
        created: 5,
    };
    s.put_resource_group(&g).await.unwrap();
    assert_eq!(s.resource_group("myrg").await.unwrap(), Some(g.clone()));
    let tagged = ResourceGroupRecord {
        name: "MYRG".into(),
        tags: Some(BTreeMap::from([("a".into(), "b".into())])),
        ..g.clone()
    };
    s.put_resource_group(&tagged).await.unwrap();
    let got = s.resource_group("MyRg").await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.tags), ("MyRG", tagged.tags));
    assert_eq!(s.list_resource_groups().await.unwrap().len(), 1);
    s.delete_resource_group("myrg").await.unwrap();
    assert!(s.resource_group("MyRG").await.unwrap().is_none());
    assert!(matches!(
        s.delete_resource_group("myrg").await,
        Err(StoreError::NotFound)
    ));
}

pub(crate) async fn role_assignments_by_name_and_principal(s: Arc<dyn Store>) {
    let a = RoleAssignmentRecord {
        name: "0f0f0f0f-0000-0000-0000-000000000001".into(),
        scope: "/subscriptions/s/resourceGroups/rg".into(),
        principal_id: "aaaaaaaa-0000-0000-0000-000000000001".into(),
        role_definition_id: "4633458b-17de-408a-b874-0445c86b69e6".into(),
        principal_type: Some("ServicePrincipal".into()),
        created: 10,
    };
    let b = RoleAssignmentRecord {
        name: "0f0f0f0f-0000-0000-0000-000000000002".into(),
        principal_id: "bbbbbbbb-0000-0000-0000-000000000002".into(),
        created: 11,
        ..a.clone()
    };
    s.put_role_assignment(&a).await.unwrap();
    s.put_role_assignment(&b).await.unwrap();
    assert!(
        matches!(s.put_role_assignment(&a).await, Err(StoreError::Exists)),
        "a name is taken once"
    );
    assert_eq!(
        s.role_assignment(&a.name.to_ascii_uppercase()).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        s.role_assignments_for("AAAAAAAA-0000-0000-0000-000000000001")
            .await
            .unwrap(),
        vec![a.clone()]
    );
    assert_eq!(s.role_assignments().await.unwrap(), vec![a.clone(), b.clone()]);
    s.delete_role_assignment(&a.name).await.unwrap();
    assert!(s.role_assignment(&a.name).await.unwrap().is_none());
    assert!(matches!(
        s.delete_role_assignment(&a.name).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.role_assignments().await.unwrap(), vec![b]);
}

pub(crate) async fn one_time_tokens_are_used_once(s: Arc<dyn Store>) {
    assert!(s.first_use("assertion:a:j1", 100, 10).await.unwrap());
    assert!(
        !s.first_use("assertion:a:j1", 100, 20).await.unwrap(),
        "a second use is refused"
    );
    assert!(
        s.first_use("assertion:a:j2", 100, 20).await.unwrap(),
        "another jti is fine"
    );
    // Past its expiry the entry is forgotten (the assertion itself is refused by its exp check).
    assert!(s.first_use("assertion:a:j1", 300, 200).await.unwrap());
}

pub(crate) async fn join_tokens_and_agents(s: Arc<dyn Store>) {
    s.put_join_token("h1", "/subscriptions/s/vm1", 100).await.unwrap();
    s.put_join_token("h2", "/subscriptions/s/vm2", 100).await.unwrap();
    assert_eq!(
        s.consume_join_token("h1", 50).await.unwrap().as_deref(),
        Some("/subscriptions/s/vm1")
    );
    assert_eq!(s.consume_join_token("h1", 51).await.unwrap(), None, "one use only");
    assert_eq!(
        s.consume_join_token("h2", 100).await.unwrap(),
        None,
        "expired at its expiry"
    );
    assert_eq!(s.consume_join_token("nope", 1).await.unwrap(), None);
    let a = AgentRecord {
        agent_id: "a1".into(),
        resource_id: "/subscriptions/s/vm1".into(),
        public_key: "BPUB".into(),
        created: 5,
        revoked_at: None,
    };
    s.put_agent(&a).await.unwrap();
    assert_eq!(s.agent("a1").await.unwrap(), Some(a.clone()));
    s.revoke_agent("a1", 9).await.unwrap();
    assert_eq!(s.agent("a1").await.unwrap().and_then(|x| x.revoked_at), Some(9));
    assert!(
        matches!(s.revoke_agent("a1", 10).await, Err(StoreError::NotFound)),
        "revoked once"
    );
    assert!(s.agent("a2").await.unwrap().is_none());
}

pub(crate) async fn resources_by_id_and_group(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    let vm = ResourceRecord {
        id: "/subscriptions/s/resourceGroups/RG1/providers/Microsoft.Compute/virtualMachines/vm1".into(),
        kind: "Microsoft.Compute/virtualMachines".into(),
        resource_group: "RG1".into(),
        name: "vm1".into(),
        location: "westus".into(),
        tags: Some(BTreeMap::from([("k".into(), "v".into())])),
        properties: serde_json::json!({"vmId": "x"}),
        identity: Some(serde_json::json!({"type": "SystemAssigned", "principalId": "p"})),
        sealed: None,
        created: 1,
    };
    let sa = ResourceRecord {
        id: "/subscriptions/s/resourceGroups/rg2/providers/Microsoft.Storage/storageAccounts/sa1".into(),
        kind: "Microsoft.Storage/storageAccounts".into(),
        resource_group: "rg2".into(),
        name: "sa1".into(),
        identity: None,
        sealed: Some(ring.seal(&Aad::new(&["storage-keys", "sa1"]), b"keys").unwrap()),
        ..vm.clone()
    };
    s.put_resource(&vm).await.unwrap();
    s.put_resource(&sa).await.unwrap();
    assert_eq!(
        s.resource(&vm.id.to_ascii_uppercase()).await.unwrap(),
        Some(vm.clone()),
        "ids are case-insensitive"
    );
    let got = s.resource(&sa.id).await.unwrap().unwrap();
    assert_eq!(
        &ring
            .open(&Aad::new(&["storage-keys", "sa1"]), got.sealed.as_ref().unwrap())
            .unwrap()[..],
        b"keys"
    );
    assert_eq!(
        s.list_resources(Some("rg1")).await.unwrap(),
        vec![vm.clone()],
        "groups are case-insensitive"
    );
    let old = got.sealed.clone().unwrap();
    let new = ring.seal(&Aad::new(&["storage-keys", "sa1"]), b"keys").unwrap();
    assert!(s.replace_resource_sealed(&sa.id, &old, &new).await.unwrap());
    assert!(
        !s.replace_resource_sealed(&sa.id, &old, &new).await.unwrap(),
        "a stale compare-and-swap loses"
    );
    assert_eq!(s.resource(&sa.id).await.unwrap().unwrap().sealed, Some(new));
    assert_eq!(s.list_resources(None).await.unwrap().len(), 2);
    let updated = ResourceRecord {
        identity: None,
        properties: serde_json::json!({"vmId": "x", "more": 1}),
        ..vm.clone()
    };
    s.put_resource(&updated).await.unwrap();
    assert_eq!(s.resource(&vm.id).await.unwrap(), Some(updated));
    s.delete_resource(&vm.id).await.unwrap();
    assert!(s.resource(&vm.id).await.unwrap().is_none());
    assert!(matches!(s.delete_resource(&vm.id).await, Err(StoreError::NotFound)));
}
