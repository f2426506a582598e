//! PostgreSQL only: two store objects on one database are two nodes, each serving secret and key
//! versions from its own memory (`postgres/coherence.rs`). A write acknowledged by one must be what
//! the other reads next, even when the other's listening connection is gone.

use std::time::Duration;

use super::*;

/// Two nodes on a fresh database, and a plain connection to it for changes behind their backs.
struct Pair {
    a: PostgresStore,
    b: PostgresStore,
    raw: tokio_postgres::Client,
    db: FreshDatabase,
}

async fn pair() -> Option<Pair> {
    let admin_url = postgres_url()?;
    let db = FreshDatabase::create(&admin_url).await;
    let a = PostgresStore::connect(&db.url).await.unwrap();
    let b = PostgresStore::connect(&db.url).await.unwrap();
    let (raw, conn) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
    tokio::spawn(conn);
    // Until a node has heard its own first heartbeat it reads through; give both the chance.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Some(Pair { a, b, raw, db })
}

impl Pair {
    /// Whether `node` serves secret `name` from memory: a change no node wrote (as an operator's SQL
    /// would be) goes unseen by it while it holds the row. Each node also forgets everything once a
    /// second, so a read may miss the cache by chance: a few tries, each flipping `enabled`.
    async fn holds_in_memory(&self, node: &PostgresStore, name: &str) -> bool {
        for _ in 0..5 {
            let before = latest_secret(node, name).await.unwrap().enabled;
            self.raw
                .execute(
                    "UPDATE secret_versions SET enabled = $1 WHERE name = $2",
                    &[&!before, &name],
                )
                .await
                .unwrap();
            if latest_secret(node, name).await.unwrap().enabled == before {
                return true;
            }
        }
        false
    }

    /// The backends of the nodes' listening connections, oldest first.
    async fn listeners(&self) -> Vec<i32> {
        self.raw
            .query(
                "SELECT pid FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name LIKE 'keyhold-rows %'
                 ORDER BY backend_start",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    async fn end(self) {
        drop((self.a, self.b, self.raw));
        self.db.drop().await;
    }
}

async fn latest_secret(store: &PostgresStore, name: &str) -> Option<SecretVersionRecord> {
    store.secret_version(VAULT, name, None).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_node_serves_versions_from_memory() {
    let Some(p) = pair().await else { return };
    let ring = Keyring::generate().unwrap();
    p.a.put_secret_version(&version(&ring, VAULT, "s", "v1")).await.unwrap();

    assert!(
        p.holds_in_memory(&p.b, "s").await,
        "node B never served the row from memory"
    );

    p.a.put_secret_version(&version(&ring, VAULT, "other", "v1"))
        .await
        .unwrap();
    let now = latest_secret(&p.b, "s").await.unwrap().enabled;
    let stored: bool = p
        .raw
        .query_one("SELECT enabled FROM secret_versions WHERE name = 's'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(now, stored, "a write through node A must end what node B held");
    p.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_through_one_node_is_read_at_once_through_the_other() {
    let Some(p) = pair().await else { return };
    let ring = Keyring::generate().unwrap();
    p.a.put_secret_version(&version(&ring, VAULT, "s", "v0")).await.unwrap();
    p.a.put_key_version(&key(&ring, VAULT, "k", "v0")).await.unwrap();
    for i in 1..=25 {
        // B holds the latest versions...
        assert_eq!(latest_secret(&p.b, "s").await.unwrap().version, format!("v{}", i - 1));
        assert!(
            p.b.secret_version(VAULT, "s", Some(&format!("v{i}")))
                .await
                .unwrap()
                .is_none()
        );
        let k = p.b.key_version(VAULT, "k", None).await.unwrap().unwrap();
        assert_eq!(k.version, format!("v{}", i - 1));
        // ...and A writes new ones: the next read through B must see them.
        p.a.put_secret_version(&version(&ring, VAULT, "s", &format!("v{i}")))
            .await
            .unwrap();
        p.a.put_key_version(&key(&ring, VAULT, "k", &format!("v{i}")))
            .await
            .unwrap();
        assert_eq!(
            latest_secret(&p.b, "s").await.unwrap().version,
            format!("v{i}"),
            "round {i}: B served the latest secret version from before A's write"
        );
        assert!(
            p.b.secret_version(VAULT, "s", Some(&format!("v{i}")))
                .await
                .unwrap()
                .is_some(),
            "round {i}: B remembered an absence A's write ended"
        );
        assert_eq!(
            p.b.key_version(VAULT, "k", None).await.unwrap().unwrap().version,
            format!("v{i}")
        );
    }

    let mut disabled = version(&ring, VAULT, "s", "v25");
    disabled.enabled = false;
    p.a.update_secret_version(&disabled).await.unwrap();
    assert!(!latest_secret(&p.b, "s").await.unwrap().enabled);

    p.a.delete_secret(&deletion(VAULT, "s", i64::MAX)).await.unwrap();
    assert!(
        latest_secret(&p.b, "s").await.is_none(),
        "a deleted secret is still served by B"
    );
    p.a.recover_secret(VAULT, "s").await.unwrap();
    assert!(
        latest_secret(&p.b, "s").await.is_some(),
        "a recovered secret is still missing on B"
    );
    p.end().await;
}

/// Stops a PostgreSQL backend process (the cluster is this machine's: `tools/pg-test-cluster.sh`)
/// until dropped: its client hears nothing and is told nothing, as over a link that went silent.
struct Frozen(i32);

impl Frozen {
    fn new(pid: i32) -> Self {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            String::from_utf8_lossy(&cmdline).contains("postgres"),
            "backend {pid} is not a process on this machine: this test needs KEYHOLD_TEST_POSTGRES_URL to \
             name a local cluster (tools/pg-test-cluster.sh)"
        );
        signal(pid, "-STOP");
        Self(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

fn signal(pid: i32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_waits_for_a_silent_node_until_it_stops_serving() {
    let Some(p) = pair().await else { return };
    let ring = Keyring::generate().unwrap();
    p.a.put_secret_version(&version(&ring, VAULT, "s", "v1")).await.unwrap();
    assert_eq!(latest_secret(&p.b, "s").await.unwrap().version, "v1");

    // B's listening connection goes silent, without an error B could notice: B hears neither A's
    // fence nor its own heartbeats. B connected second, so its listener is the later one.
    let pid = *p.listeners().await.last().unwrap();
    assert!(
        p.holds_in_memory(&p.b, "s").await,
        "node B never served the row from memory"
    );
    let frozen = Frozen::new(pid);
    p.a.put_secret_version(&version(&ring, VAULT, "s", "v2")).await.unwrap();
    assert_eq!(
        latest_secret(&p.b, "s").await.unwrap().version,
        "v2",
        "A acknowledged a write while B could still serve the row from before it"
    );
    drop(frozen);
    p.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_node_that_starts_later_waits_for_a_silent_node_it_never_heard() {
    let Some(p) = pair().await else { return };
    let ring = Keyring::generate().unwrap();
    p.a.put_secret_version(&version(&ring, VAULT, "s", "v1")).await.unwrap();
    assert!(
        p.holds_in_memory(&p.a, "s").await,
        "node A never served the row from memory"
    );

    // A's listening connection goes silent; then node C starts, and has never heard A's heartbeats.
    let pid = *p.listeners().await.first().unwrap();
    let frozen = Frozen::new(pid);
    let c = PostgresStore::connect(&p.db.url).await.unwrap();
    c.put_secret_version(&version(&ring, VAULT, "s", "v2")).await.unwrap();
    assert_eq!(
        latest_secret(&p.a, "s").await.unwrap().version,
        "v2",
        "C acknowledged a write while A, listening before C did, could still serve the row from before it"
    );
    drop(frozen);
    drop(c);
    p.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_that_lose_their_listening_connections_read_through_and_reconnect() {
    let Some(p) = pair().await else { return };
    let ring = Keyring::generate().unwrap();
    p.a.put_secret_version(&version(&ring, VAULT, "s", "v1")).await.unwrap();
    assert_eq!(latest_secret(&p.b, "s").await.unwrap().version, "v1");

    // Every node's listening connection goes (as in a network fault or a restart of PostgreSQL's
    // backends): no node hears fences or heartbeats until it reconnects.
    let listeners = p.listeners().await;
    assert_eq!(listeners.len(), 2, "one listening connection per node");
    for pid in listeners {
        p.raw.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    }

    p.a.put_secret_version(&version(&ring, VAULT, "s", "v2")).await.unwrap();
    assert_eq!(
        latest_secret(&p.b, "s").await.unwrap().version,
        "v2",
        "B served a row from memory although it could not hear A's write"
    );

    // Both listen again, and serve from memory again.
    let mut back = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let listening = p.listeners().await.len();
        if listening == 2 {
            back = true;
            break;
        }
    }
    assert!(back, "the nodes did not reconnect");
    p.a.put_secret_version(&version(&ring, VAULT, "s", "v3")).await.unwrap();
    assert_eq!(latest_secret(&p.b, "s").await.unwrap().version, "v3");
    p.end().await;
}
