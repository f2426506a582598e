//! Data-key rotation (`keyhold operator rotate`) while a writer and a reader keep going: nothing fails,
//! and afterwards every record is under the new key (checked in the database itself) and reads back.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use keyhold_testkit::{PostgresDatabase, Server};
use serde_json::{Value, json};

use crate::start;

/// (name, version, value) of an acknowledged write.
pub(crate) type Acked = (String, String, String);

/// Sets a secret in `kv1` and returns what the server acknowledged.
pub(crate) async fn put(server: &Server, token: &str, name: &str, value: &str) -> Acked {
    let url = format!("{}/secrets/{name}?api-version=7.4", server.vault_url("kv1"));
    let (status, body) = server
        .call(reqwest::Method::PUT, &url, Some(token), Some(json!({"value": value})))
        .await
        .unwrap();
    assert_eq!(status, 200, "set {name} on {}: {body}", server.base());
    let version = body["id"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    (name.to_owned(), version, value.to_owned())
}

/// Every acknowledged write reads back, by version.
pub async fn assert_readable(server: &Server, token: &str, acked: &[Acked]) {
    for (name, version, value) in acked {
        let url = format!("{}/secrets/{name}/{version}?api-version=7.4", server.vault_url("kv1"));
        let (status, body) = server
            .call(reqwest::Method::GET, &url, Some(token), None)
            .await
            .unwrap();
        assert_eq!(
            (status, body["value"].as_str()),
            (200, Some(value.as_str())),
            "{name}/{version}: {body}"
        );
    }
}

/// `GET /keyhold/v1/sys/rotation-status` as the admin.
pub async fn rotation_status(server: &Server) -> Value {
    let token = server.token(&server.state.url).await.unwrap();
    let (status, body) = server
        .call(
            reqwest::Method::GET,
            &format!("{}/keyhold/v1/sys/rotation-status", server.base()),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until nothing is left under older keys; returns the final status.
pub async fn wait_for_reseal(server: &Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = rotation_status(server).await;
        if status["remaining"] == 0 {
            return status;
        }
        assert!(Instant::now() < deadline, "re-sealing did not finish: {status}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Writes (and reads back the previous write) until `stop`; every call must succeed.
async fn write_and_read(server: Arc<Server>, token: String, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<Acked>>>) {
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let write = put(&server, &token, &format!("during-{i}"), &format!("value-during-{i}")).await;
        assert_readable(&server, &token, std::slice::from_ref(&write)).await;
        let earlier = acked.lock().unwrap().get(i / 2).cloned();
        if let Some(earlier) = earlier {
            assert_readable(&server, &token, &[earlier]).await;
        }
        acked.lock().unwrap().push(write);
        i += 1;
    }
}

/// The scenario on a started server; returns the server, a vault token, every acknowledged write and
/// the (old, new) data-key ids, for the caller's database check.
async fn rotate_under_load(server: Server) -> (Arc<Server>, String, Vec<Acked>, u64, u64) {
    server.create_vault("kv1").await.unwrap();
    let token = server.token(&server.state.vault_resource).await.unwrap();
    let mut before = Vec::new();
    for i in 0..40 {
        before.push(
            put(
                &server,
                &token,
                &format!("before-{}", i % 25),
                &format!("value-before-{i}"),
            )
            .await,
        );
    }
    // A soft-deleted secret is re-sealed too (it can be recovered).
    let url = format!("{}/secrets/before-0?api-version=7.4", server.vault_url("kv1"));
    let (status, _) = server
        .call(reqwest::Method::DELETE, &url, Some(&token), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    before.retain(|(name, ..)| name != "before-0");
    let old_key = rotation_status(&server).await["keyId"].as_u64().unwrap();

    // Only the admin may rotate.
    let (status, _) = server
        .call(
            reqwest::Method::POST,
            &format!("{}/keyhold/v1/sys/rotate", server.base()),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 401);

    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let during: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let writer = tokio::spawn(write_and_read(
        server.clone(),
        token.clone(),
        stop.clone(),
        during.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let cli = server.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || cli.cli(&["operator", "rotate"]))
        .await
        .unwrap()
        .unwrap();
    assert!(ok, "keyhold operator rotate: {err}");
    let new_key = serde_json::from_str::<Value>(&out).unwrap()["keyId"].as_u64().unwrap();
    assert_eq!(new_key, old_key + 1);

    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    let final_status = wait_for_reseal(&server).await;
    assert_eq!(final_status["keyId"], new_key, "{final_status}");

    let mut all = before;
    all.extend(during.lock().unwrap().iter().cloned());
    assert!(all.len() > 40, "the writer got going");
    assert_readable(&server, &token, &all).await;
    // The soft-deleted secret recovers and opens.
    let (status, _) = server
        .call(
            reqwest::Method::POST,
            &format!(
                "{}/deletedsecrets/before-0/recover?api-version=7.4",
                server.vault_url("kv1")
            ),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let audit = std::fs::read_to_string(server.data_dir.join("audit.log")).unwrap();
    assert!(audit.contains("\"DataKeyRotate\""), "the rotation is audited");
    (server, token, all, old_key, new_key)
}

/// Data-key ids (bytes 1..5 of each sealed value) of rows.
fn key_ids(values: impl IntoIterator<Item = Vec<u8>>) -> Vec<u32> {
    values
        .into_iter()
        .map(|v| u32::from_be_bytes([v[1], v[2], v[3], v[4]]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_reseals_everything_while_serving_sqlite() {
    let (server, token, all, old_key, new_key) = rotate_under_load(start(&[])).await;
    let db = rusqlite::Connection::open(server.data_dir.join("keyhold.db")).unwrap();
    let read = |sql: &str| -> Vec<Vec<u8>> {
        let mut st = db.prepare(sql).unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let secrets = key_ids(read("SELECT value FROM secret_versions"));
    assert!(secrets.len() >= all.len());
    assert!(
        !secrets.contains(&(old_key as u32)),
        "a secret value is still under the old key"
    );
    assert!(secrets.iter().all(|k| *k == new_key as u32));
    let signing = key_ids(read("SELECT sealed FROM signing_keys"));
    assert!(!signing.is_empty() && signing.iter().all(|k| *k == new_key as u32));
    let header = key_ids(read("SELECT value FROM meta WHERE key = 'identity_header'"));
    assert_eq!(header, [new_key as u32]);
    // Still readable after a restart, from the stored keyring alone.
    drop(db);
    let mut server = Arc::into_inner(server).unwrap();
    server.restart().unwrap();
    assert_readable(&server, &token, &all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_reseals_everything_while_serving_postgres() {
    let Some(db) = PostgresDatabase::create().await.unwrap() else {
        return;
    };
    let (server, _token, all, old_key, new_key) = rotate_under_load(start(&["--database", &db.url])).await;
    let pg = db.connect().await.unwrap();
    let column =
        |rows: Vec<keyhold_testkit::tokio_postgres::Row>| -> Vec<Vec<u8>> { rows.iter().map(|r| r.get(0)).collect() };
    let secrets = key_ids(column(
        pg.query("SELECT value FROM secret_versions", &[]).await.unwrap(),
    ));
    assert!(secrets.len() >= all.len());
    assert!(
        !secrets.contains(&(old_key as u32)),
        "a secret value is still under the old key"
    );
    assert!(secrets.iter().all(|k| *k == new_key as u32));
    let signing = key_ids(column(pg.query("SELECT sealed FROM signing_keys", &[]).await.unwrap()));
    assert!(!signing.is_empty() && signing.iter().all(|k| *k == new_key as u32));
    drop(pg);
    drop(server);
    db.drop().await.unwrap();
}

#[tokio::test]
async fn storage_account_keys_are_resealed_too() {
    let server = start(&[]);
    let rg = server.resource_group("rg1").await.unwrap();
    let account = format!("{rg}/providers/Microsoft.Storage/storageAccounts/keysrotate");
    let (status, _) = server
        .arm(
            reqwest::Method::PUT,
            &account,
            Some(serde_json::json!({"location": "westus"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "storage's create answers 200");
    let (_, before) = server
        .arm(reqwest::Method::POST, &format!("{account}/listKeys"), None)
        .await
        .unwrap();

    let mgmt = server.token(&server.state.url).await.unwrap();
    let resp = server
        .http
        .post(format!("{}/keyhold/v1/sys/rotate", server.base()))
        .bearer_auth(&mgmt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let new_key = resp.json::<Value>().await.unwrap()["keyId"].as_u64().unwrap();
    let status = wait_for_reseal(&server).await;
    assert_eq!(status["resources"], 0, "{status}");

    let db = rusqlite::Connection::open(server.data_dir.join("keyhold.db")).unwrap();
    let sealed: Vec<u8> = db
        .query_row("SELECT sealed FROM resources WHERE name = 'keysrotate'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        key_ids([sealed]),
        [new_key as u32],
        "the storage keys are under the new data key"
    );
    let (_, after) = server
        .arm(reqwest::Method::POST, &format!("{account}/listKeys"), None)
        .await
        .unwrap();
    assert_eq!(before, after, "and still the same keys");
}

#[tokio::test]
async fn vault_keys_are_resealed_and_still_sign() {
    let (server, token) = crate::with_vault("kv-rekey").await;
    let base = server.vault_url("kv-rekey");
    let (status, key) = crate::json(
        server
            .http
            .post(format!("{base}/keys/k/create?api-version=7.4"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"kty": "EC", "crv": "P-256"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{key}");
    let mgmt = server.token(&server.state.url).await.unwrap();
    let resp = server
        .http
        .post(format!("{}/keyhold/v1/sys/rotate", server.base()))
        .bearer_auth(&mgmt)
        .send()
        .await
        .unwrap();
    let new_key = resp.json::<Value>().await.unwrap()["keyId"].as_u64().unwrap() as u32;
    let db = rusqlite::Connection::open(server.data_dir.join("keyhold.db")).unwrap();
    let mut ids = Vec::new();
    for _ in 0..200 {
        let private: Vec<u8> = db
            .query_row("SELECT private FROM key_versions WHERE name = 'k'", [], |r| r.get(0))
            .unwrap();
        ids = key_ids([private]);
        if ids == [new_key] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ids, [new_key], "the private key is under the new data key");
    let (status, sig) = crate::json(
        server
            .http
            .post(format!("{base}/keys/k/sign?api-version=7.4"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"alg": "ES256", "value": "LXEWQrcmsEQBYnyp-6wy9chTD7GQPMTbAiWHF5IaSIE"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "still signs: {sig}");
}
