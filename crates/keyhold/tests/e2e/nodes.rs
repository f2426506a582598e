//! Two `keyhold serve` on one PostgreSQL behave as one service: a write through one node reads through
//! the other at once, tokens of either node work on both (also after a signing-key or data-key rotation
//! on one of them), one node at a time leads the background jobs, and killing a node loses nothing.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use keyhold_testkit::{PostgresDatabase, Server};
use serde_json::{Value, json};

use crate::rotation::{Acked, assert_readable, put as set, wait_for_reseal};

fn bin() -> &'static std::path::Path {
    env!("CARGO_BIN_EXE_keyhold").as_ref()
}

async fn get(server: &Server, token: &str, name: &str) -> (u16, Value) {
    let url = format!("{}/secrets/{name}?api-version=7.4", server.vault_url("kv1"));
    server
        .call(reqwest::Method::GET, &url, Some(token), None)
        .await
        .unwrap()
}

async fn leading(server: &Server) -> Vec<String> {
    let (status, body) = server
        .call(
            reqwest::Method::GET,
            &format!("{}/keyhold/v1/sys/seal-status", server.base()),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body["leading"].clone()).unwrap()
}

/// Waits until `pred` holds of (leading on a, leading on b).
async fn wait_leading(a: &Server, b: &Server, what: &str, pred: impl Fn(&[String], &[String]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (la, lb) = (leading(a).await, leading(b).await);
        if pred(&la, &lb) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: a leads {la:?}, b leads {lb:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn write_until_failure(server: Arc<Server>, token: String, acked: Arc<Mutex<Vec<Acked>>>) {
    for i in 0.. {
        let url = format!("{}/secrets/kill-{i}?api-version=7.4", server.vault_url("kv1"));
        let value = format!("value-kill-{i}");
        let Ok(resp) = server
            .http
            .put(&url)
            .bearer_auth(&token)
            .json(&json!({"value": value}))
            .send()
            .await
        else {
            return;
        };
        if resp.status() != 200 {
            return;
        }
        let Ok(body) = resp.json::<Value>().await else { return };
        let version = body["id"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        acked.lock().unwrap().push((format!("kill-{i}"), version, value));
    }
}

/// Each node holds vault records for at most half a second (`keyhold_core::vaults::FRESH_FOR`): an
/// access policy removed through A stops working on B within a second, and B, which had just served
/// the secret, did so from its cached record until then at the latest.
async fn revocation_reaches_the_other_node_within_a_second(a: &Server, b: &Server, tb: &str) {
    let sub = a.subscription_id().await.unwrap();
    let vault = format!("/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv-revoke");
    let (status, body) = a
        .arm(
            reqwest::Method::PUT,
            &format!("/subscriptions/{sub}/resourceGroups/rg1"),
            Some(json!({"location": "westus"})),
        )
        .await
        .unwrap();
    assert!(status == 200 || status == 201, "{body}");
    let policy = json!([{"tenantId": a.state.tenant_id, "objectId": a.admin.object_id, "permissions": {"secrets": ["get", "set"]}}]);
    let create = json!({"location": "westus", "properties": {"tenantId": a.state.tenant_id,
        "sku": {"family": "A", "name": "standard"}, "accessPolicies": policy}});
    let (status, body) = a.arm(reqwest::Method::PUT, &vault, Some(create)).await.unwrap();
    assert_eq!(status, 201, "{body}");

    let remove = json!({"properties": {"accessPolicies": [{"tenantId": a.state.tenant_id, "objectId": a.admin.object_id, "permissions": {"secrets": ["get", "set"]}}]}});
    let revoke = (
        reqwest::Method::PUT,
        format!("{vault}/accessPolicies/remove"),
        Some(remove),
    );
    let body = refused_on_both_within_a_second(a, b, tb, "kv-revoke", revoke).await;
    assert_eq!(body["error"]["code"], "Forbidden", "{body}");
}

/// The same bound for RBAC: a role assignment removed through A stops working on B within a second.
async fn rbac_revocation_reaches_the_other_node_within_a_second(a: &Server, b: &Server, tb: &str) {
    let sub = a.subscription_id().await.unwrap();
    let vault = format!("/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv-rbac-revoke");
    let create = json!({"location": "westus", "properties": {"tenantId": a.state.tenant_id,
        "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}});
    let (status, body) = a.arm(reqwest::Method::PUT, &vault, Some(create)).await.unwrap();
    assert_eq!(status, 201, "{body}");
    let assignment =
        format!("{vault}/providers/Microsoft.Authorization/roleAssignments/3f2b1c6e-0c1d-4e8a-9b7a-5d2e8f1a4c90");
    // Key Vault Administrator, for the admin principal, at the vault.
    let grant = json!({"properties": {"roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/00482a5a-887f-4fb3-b363-3b7fe8e74483"), "principalId": a.admin.object_id}});
    let (status, body) = a.arm(reqwest::Method::PUT, &assignment, Some(grant)).await.unwrap();
    assert_eq!(status, 201, "{body}");
    // B may hold the admin's assignments as read before the grant, for half a second at most.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let revoke = (reqwest::Method::DELETE, assignment, None);
    let body = refused_on_both_within_a_second(a, b, tb, "kv-rbac-revoke", revoke).await;
    assert_eq!(body["error"]["innererror"]["code"], "ForbiddenByRbac", "{body}");
}

/// B writes and reads a secret of `vault`; `revoke` is then sent to A's management plane. A refuses
/// at once, B once a second has passed since the change, whatever it answered in between. Returns
/// B's refusal.
async fn refused_on_both_within_a_second(
    a: &Server,
    b: &Server,
    tb: &str,
    vault: &str,
    (method, path, body): (reqwest::Method, String, Option<serde_json::Value>),
) -> serde_json::Value {
    let on_b = format!("{}/secrets/held?api-version=7.4", b.vault_url(vault));
    let (status, got) = b
        .call(reqwest::Method::PUT, &on_b, Some(tb), Some(json!({"value": "v"})))
        .await
        .unwrap();
    assert_eq!(status, 200, "B honours the grant made through A: {got}");
    let (status, got) = b.call(reqwest::Method::GET, &on_b, Some(tb), None).await.unwrap();
    assert_eq!(status, 200, "B serves it while the grant stands: {got}");

    let (status, got) = a.arm(method, &path, body).await.unwrap();
    assert_eq!(status, 200, "{got}");
    let revoked = Instant::now();
    let on_a = format!("{}/secrets/held?api-version=7.4", a.vault_url(vault));
    let (status, got) = a.call(reqwest::Method::GET, &on_a, Some(tb), None).await.unwrap();
    assert_eq!(status, 403, "A, where the change was made, refuses at once: {got}");
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(revoked.elapsed())).await;
    let (status, got) = b.call(reqwest::Method::GET, &on_b, Some(tb), None).await.unwrap();
    assert_eq!(status, 403, "the revoked grant still worked on B a second later: {got}");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_postgres_are_one_service() {
    let Some(db) = PostgresDatabase::create().await.unwrap() else {
        return;
    };
    let a = Server::start(bin(), &["--database", &db.url]).unwrap();
    let b = Server::start_node(bin(), &["--database", &db.url, "--public-url", &a.state.url], &a).unwrap();
    assert_eq!(
        (&a.state.url, &a.state.vault_resource),
        (&b.state.url, &b.state.vault_resource),
        "one issuer and one vault audience"
    );
    assert_ne!(a.base(), b.base());
    a.create_vault("kv1").await.unwrap();
    // A token of either node works on both.
    let ta = a.token(&a.state.vault_resource).await.unwrap();
    let tb = b.token(&b.state.vault_resource).await.unwrap();

    // Set on A, read on B at once; a new version too (no stale cache).
    let mut acked = vec![set(&a, &tb, "shared", "one").await];
    let (status, body) = get(&b, &ta, "shared").await;
    assert_eq!((status, body["value"].as_str()), (200, Some("one")), "{body}");
    acked.push(set(&a, &ta, "shared", "two").await);
    assert_eq!(get(&b, &tb, "shared").await.1["value"], "two");
    // Delete on B, A answers 404 at once.
    let url = format!("{}/secrets/shared?api-version=7.4", b.vault_url("kv1"));
    let (status, _) = b.call(reqwest::Method::DELETE, &url, Some(&tb), None).await.unwrap();
    assert_eq!(status, 200);
    let (status, body) = get(&a, &ta, "shared").await;
    assert_eq!(status, 404, "{body}");
    acked.clear();

    revocation_reaches_the_other_node_within_a_second(&a, &b, &tb).await;
    rbac_revocation_reaches_the_other_node_within_a_second(&a, &b, &tb).await;

    // A signing-key rotation on A: A's new tokens verify on B.
    let admin = a.token(&a.state.url).await.unwrap();
    let (status, body) = a
        .call(
            reqwest::Method::POST,
            &format!("{}/keyhold/v1/signingKeys/rotate", a.base()),
            Some(&admin),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let ta = a.token(&a.state.vault_resource).await.unwrap();
    acked.push(set(&b, &ta, "after-signing-rotation", "s").await);

    // A data-key rotation on A: B opens what A seals under the new key at once, and everything after
    // the re-sealing.
    for i in 0..20 {
        acked.push(set(&b, &tb, &format!("old-key-{i}"), &format!("v{i}")).await);
    }
    let (status, body) = a
        .call(
            reqwest::Method::POST,
            &format!("{}/keyhold/v1/sys/rotate", a.base()),
            Some(&admin),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    acked.push(set(&a, &ta, "new-key", "sealed under the new key on A").await);
    assert_readable(&b, &tb, &acked).await;
    acked.push(set(&b, &tb, "new-key-b", "written on B after the rotation").await);
    let status = wait_for_reseal(&b).await;
    assert_eq!(status["keyId"], body["keyId"], "{status}");
    assert_readable(&b, &ta, &acked).await;
    assert_readable(&a, &tb, &acked).await;
    // The operator CLI in B's data dir talks to B (its node_url) with a token for the shared audience.
    let (ok, out, err) = b.cli(&["operator", "rotation-status"]).unwrap();
    assert!(ok, "keyhold operator rotation-status on b: {err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["remaining"], 0);

    // One node at a time leads each background job.
    let one_each = |la: &[String], lb: &[String]| {
        ["purge", "reseal"]
            .iter()
            .all(|job| la.iter().any(|j| j == job) != lb.iter().any(|j| j == job))
    };
    wait_leading(&a, &b, "each job led by exactly one node", one_each).await;
    // A started first, so it took both jobs; B only waits.
    let (la, lb) = (leading(&a).await, leading(&b).await);
    assert_eq!((la.len(), lb.len()), (2, 0), "a leads {la:?}, b leads {lb:?}");
    for _ in 0..5 {
        let (la, lb) = (leading(&a).await, leading(&b).await);
        assert!(one_each(&la, &lb), "a leads {la:?}, b leads {lb:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // SIGKILL A in the middle of writes through it: B keeps serving, and has every acknowledged write.
    let a = Arc::new(a);
    let during: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let writer = tokio::spawn(write_until_failure(a.clone(), ta.clone(), during.clone()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let pid = a.pid().unwrap();
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(30), writer).await;
    let during = during.lock().unwrap().clone();
    assert!(!during.is_empty(), "writes went through A before it died");
    acked.extend(during);
    assert_readable(&b, &tb, &acked).await;
    acked.push(set(&b, &tb, "after-a-died", "b still serves").await);
    assert_readable(&b, &ta, &acked).await;
    // B takes over every job A led.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lb = leading(&b).await;
        if ["purge", "reseal"].iter().all(|job| lb.iter().any(|j| j == job)) {
            break;
        }
        assert!(Instant::now() < deadline, "b did not take the jobs over: {lb:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(b);
    drop(a);
    db.drop().await.unwrap();
}
