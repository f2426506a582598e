//! Durability: concurrent writers, SIGKILL at a random moment, restart; every write that was answered
//! 200 must be there afterwards, on SQLite and on PostgreSQL. `KEYHOLD_CRASH_CYCLES` sets the number of
//! cycles (default 20).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use keyhold_testkit::{PostgresDatabase, Server};
use serde_json::{Value, json};

use crate::start;

const WRITERS: usize = 8;

/// One acknowledged write: name, version, value.
type Acked = (String, String, String);

fn cycles() -> usize {
    std::env::var("KEYHOLD_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// A small xorshift generator: the kill moments only need to vary, not to be cryptographic.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        Self(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
                | 1,
        )
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn write_until_failure(
    http: reqwest::Client,
    base: String,
    token: String,
    tag: String,
    acked: Arc<Mutex<Vec<Acked>>>,
) {
    for i in 0.. {
        let name = format!("{tag}-{i}");
        let value = format!("value-of-{name}");
        let sent = http
            .put(format!("{base}/secrets/{name}?api-version=7.4"))
            .bearer_auth(&token)
            .json(&json!({"value": value}))
            .send()
            .await;
        let Ok(resp) = sent else { return };
        if resp.status().as_u16() != 200 {
            return;
        }
        let Ok(body) = resp.json::<Value>().await else { return };
        let version = body["id"]
            .as_str()
            .and_then(|id| id.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        acked.lock().unwrap().push((name, version, value));
    }
}

async fn assert_present(server: &Server, token: &str, acked: &[Acked]) {
    let base = server.vault_url("kv1");
    for (name, version, value) in acked {
        let resp = server
            .http
            .get(format!("{base}/secrets/{name}/{version}?api-version=7.4"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status, body["value"].as_str()),
            (200, Some(value.as_str())),
            "acknowledged write {name}/{version} lost"
        );
    }
}

pub async fn crash_cycles(mut server: Server, database: Option<String>) {
    server.create_vault("kv1").await.unwrap();
    let mut rng = Rng::new();
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut checked = 0;
    for cycle in 0..cycles() {
        let token = server.token(&server.state.vault_resource).await.unwrap();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (http, base) = (server.http.clone(), server.vault_url("kv1"));
                tokio::spawn(write_until_failure(
                    http,
                    base,
                    token.clone(),
                    format!("c{cycle}w{w}"),
                    acked.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(30 + rng.below(250))).await;
        server.kill().unwrap();
        for w in writers {
            let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
        }
        server.restart().unwrap();
        let token = server.token(&server.state.vault_resource).await.unwrap();
        let snapshot = acked.lock().unwrap().clone();
        assert_present(&server, &token, &snapshot[checked..]).await;
        checked = snapshot.len();
    }
    let all = acked.lock().unwrap().clone();
    assert!(
        all.len() >= cycles() * WRITERS,
        "the writers got going: only {} writes acknowledged",
        all.len()
    );
    let token = server.token(&server.state.vault_resource).await.unwrap();
    assert_present(&server, &token, &all).await;
    // Every stored version accounted for in the audit log, every acknowledged one in the store.
    server.stop().unwrap();
    let extra = database
        .iter()
        .flat_map(|url| ["--database", url.as_str()])
        .collect::<Vec<_>>();
    crate::faults::assert_reconciled(&server, &extra);
    eprintln!(
        "crash test: {} cycles, {} acknowledged writes all present",
        cycles(),
        all.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_sqlite() {
    crash_cycles(start(&[]), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_postgres() {
    let Some(db) = PostgresDatabase::create().await.unwrap() else {
        return;
    };
    crash_cycles(start(&["--database", &db.url]), Some(db.url.clone())).await;
    db.drop().await.unwrap();
}
