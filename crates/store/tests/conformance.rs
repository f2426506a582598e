//! One conformance suite for every `Store` backend: each `async fn` below takes an `Arc<dyn Store>` and
//! runs once against `SqliteStore` (a temp file) and once against `PostgresStore` (a fresh database in
//! the cluster named by `KEYHOLD_TEST_POSTGRES_URL`; see `tools/pg-test-cluster.sh`).
//!
//! Without `KEYHOLD_TEST_POSTGRES_URL` the PostgreSQL half fails when `CI` or `KEYHOLD_REQUIRE_POSTGRES`
//! is set, and otherwise prints `SKIPPED: postgres` to stderr and returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::BTreeMap, future::Future, io::Write, sync::Arc};

use keyhold_crypto::{Aad, Keyring};
use keyhold_store::*;
use tokio_postgres::NoTls;

/// Generates `sqlite::<name>` and `postgres::<name>` tests for each test function.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::on_sqlite(crate::$name).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::on_postgres(crate::$name).await
                }
            )*
        }
    };
}

conformance!(
    meta_put_and_if_absent,
    meta_if_absent_agrees_under_concurrency,
    principals_by_object_and_app_id,
    principals_listed_and_secrets_reset,
    client_secrets_and_certificates,
    signing_keys_retire_and_delete,
    vault_upsert_keeps_name_and_creation,
    secret_versions_latest_and_specific,
    duplicate_version_is_refused,
    update_replaces_metadata_only,
    list_secrets_pages_by_name,
    list_secret_versions_pages_by_seq,
    soft_delete_hides_every_version,
    set_on_deleted_name_is_deleted,
    list_deleted_pages_by_name,
    recover_brings_versions_back,
    purge_only_soft_deleted,
    erase_only_live,
    restore_new_exists_deleted,
    concurrent_restores_one_wins,
    purgeable_by_date,
    names_are_case_insensitive,
    vaults_are_isolated,
    soft_deleted_vaults_keep_their_name,
    purge_vault_takes_its_secrets,
    resource_groups_case_insensitive,
    role_assignments_by_name_and_principal,
    one_time_tokens_are_used_once,
    join_tokens_and_agents,
    resources_by_id_and_group,
    rotation_pages_values_not_under_a_key,
    rotation_swaps_only_an_unchanged_value,
    concurrent_value_swaps_one_wins,
    meta_and_signing_key_compare_and_swap,
    try_lead_is_true_for_a_lone_node,
);

// ---------------------------------------------------------------------------------------------------
// Backends.

async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("conformance.db")).unwrap();
    test(Arc::new(store)).await;
}

async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = FreshDatabase::create(&admin_url).await;
    let store = PostgresStore::connect(&db.url)
        .await
        .expect("connect to the fresh database");
    test(Arc::new(store)).await;
    db.drop().await;
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The maintenance URL, or `None` (after a loud line) when PostgreSQL tests may be skipped.
fn postgres_url() -> Option<String> {
    match std::env::var("KEYHOLD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if env_flag("CI") || env_flag("KEYHOLD_REQUIRE_POSTGRES") => panic!(
            "KEYHOLD_TEST_POSTGRES_URL is unset but CI / KEYHOLD_REQUIRE_POSTGRES requires the \
             PostgreSQL tests: export KEYHOLD_TEST_POSTGRES_URL=\"$(tools/pg-test-cluster.sh start)\""
        ),
        _ => {
            // Straight to the stderr stream, not `eprintln!`: the test harness would capture that and
            // show nothing for a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: postgres — KEYHOLD_TEST_POSTGRES_URL is unset, this test did NOT run against \
                 PostgreSQL (export KEYHOLD_TEST_POSTGRES_URL=\"$(tools/pg-test-cluster.sh start)\")"
            );
            None
        }
    }
}

/// A database of its own for one test, so tests run in parallel; dropped when the test passes.
struct FreshDatabase {
    admin: tokio_postgres::Client,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(admin_url: &str) -> Self {
        let (admin, conn) = tokio_postgres::connect(admin_url, NoTls)
            .await
            .expect("connect to KEYHOLD_TEST_POSTGRES_URL");
        tokio::spawn(conn);
        let name = format!("keyhold_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let mut url = url::Url::parse(admin_url).expect("KEYHOLD_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Self {
            admin,
            name,
            url: url.into(),
        }
    }

    async fn drop(self) {
        self.admin
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await
            .expect("DROP DATABASE");
    }
}

/// PostgreSQL only: processes that start together on an empty database migrate it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_are_safe_when_started_together() {
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = FreshDatabase::create(&admin_url).await;
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PostgresStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap().expect("concurrent start"));
    }
    // And again on a migrated database.
    stores.push(PostgresStore::connect(&db.url).await.unwrap());
    stores[0].put_meta("k", b"v").await.unwrap();
    assert_eq!(stores[6].meta("k").await.unwrap(), Some(b"v".to_vec()));
    drop(stores);

    let (client, conn) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let applied: Vec<String> = client
        .query("SELECT name FROM schema_migrations ORDER BY name", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".sql")
                .to_owned()
        })
        .collect();
    on_disk.sort();
    assert_eq!(applied, on_disk, "every migration applied exactly once");
    drop(client);
    db.drop().await;
}

/// PostgreSQL only: of two stores on one database one leads a job; when it goes, the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_leader_per_job_until_it_goes() {
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = FreshDatabase::create(&admin_url).await;
    let a = PostgresStore::connect(&db.url).await.unwrap();
    let b = PostgresStore::connect(&db.url).await.unwrap();
    assert!(a.try_lead("purge").await.unwrap());
    assert!(a.try_lead("purge").await.unwrap(), "a leader stays leader");
    assert!(!b.try_lead("purge").await.unwrap(), "one leader per job");
    assert!(b.try_lead("reseal").await.unwrap(), "jobs are led separately");
    assert!(!a.try_lead("reseal").await.unwrap());
    // The leader's process ends: its session, and its locks, go with it.
    drop(a);
    let mut took_over = false;
    for _ in 0..100 {
        if b.try_lead("purge").await.unwrap() {
            took_over = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(took_over, "the other node takes the job over");
    drop(b);
    db.drop().await;
}

// ---------------------------------------------------------------------------------------------------
// Records.

const VAULT: &str = "kv1";
const OTHER_VAULT: &str = "kv2";

fn version(ring: &Keyring, vault: &str, name: &str, version: &str) -> SecretVersionRecord {
    let value = ring
        .seal(
            &Aad::new(&["secret", vault, name, version]),
            format!("value of {vault}/{name}/{version}").as_bytes(),
        )
        .unwrap();
    SecretVersionRecord {
        vault: vault.into(),
        name: name.into(),
        version: version.into(),
        value,
        content_type: None,
        tags: None,
        enabled: true,
        nbf: None,
        exp: None,
        created: 1_700_000_000,
        updated: 1_700_000_000,
        seq: 0,
    }
}

fn deletion(vault: &str, name: &str, purge_at: i64) -> DeletedSecretRecord {
    DeletedSecretRecord {
        vault: vault.into(),
        name: name.into(),
        deleted_date: purge_at - 90 * 86_400,
        scheduled_purge_date: purge_at,
    }
}

fn page(after: Option<&str>, limit: u32) -> PageRequest {
    PageRequest {
        after: after.map(str::to_owned),
        limit,
    }
}

fn all() -> PageRequest {
    page(None, u32::MAX)
}

fn versions_of(rows: &[SecretVersionRecord]) -> Vec<&str> {
    rows.iter().map(|r| r.version.as_str()).collect()
}

fn names_of(rows: &[SecretVersionRecord]) -> Vec<&str> {
    rows.iter().map(|r| r.name.as_str()).collect()
}

fn deleted_names(rows: &[(DeletedSecretRecord, SecretVersionRecord)]) -> Vec<&str> {
    rows.iter().map(|(d, _)| d.name.as_str()).collect()
}

/// The stored ciphertext still opens under its own coordinates and holds what was sealed.
fn assert_opens(ring: &Keyring, r: &SecretVersionRecord) {
    let plain = ring
        .open(&Aad::new(&["secret", &r.vault, &r.name, &r.version]), &r.value)
        .unwrap();
    assert_eq!(
        &plain[..],
        format!("value of {}/{}/{}", r.vault, r.name, r.version).as_bytes()
    );
}

fn assert_same(a: &SecretVersionRecord, b: &SecretVersionRecord) {
    assert_eq!(
        (&a.vault, &a.name, &a.version, a.value.as_bytes()),
        (&b.vault, &b.name, &b.version, b.value.as_bytes())
    );
    assert_eq!(
        (&a.content_type, &a.tags, a.enabled, a.nbf, a.exp),
        (&b.content_type, &b.tags, b.enabled, b.nbf, b.exp)
    );
    assert_eq!((a.created, a.updated), (b.created, b.updated));
}

async fn put(s: &Arc<dyn Store>, ring: &Keyring, vault: &str, name: &str, v: &str) {
    s.put_secret_version(&version(ring, vault, name, v)).await.unwrap();
}

// ---------------------------------------------------------------------------------------------------
// Meta, principals, credentials, signing keys, vaults.

async fn meta_put_and_if_absent(s: Arc<dyn Store>) {
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

async fn meta_if_absent_agrees_under_concurrency(s: Arc<dyn Store>) {
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

async fn principals_by_object_and_app_id(s: Arc<dyn Store>) {
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

async fn principals_listed_and_secrets_reset(s: Arc<dyn Store>) {
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
    assert_eq!(s.delete_client_secrets("oid-b").await.unwrap(), 2);
    assert!(s.client_secrets("oid-b").await.unwrap().is_empty());
    assert_eq!(s.client_secrets("oid-a").await.unwrap().len(), 1, "others keep theirs");
    assert_eq!(s.delete_client_secrets("nope").await.unwrap(), 0);

    s.delete_principal("oid-b").await.unwrap();
    assert_eq!(s.list_principals().await.unwrap(), vec![newer]);
}

async fn client_secrets_and_certificates(s: Arc<dyn Store>) {
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

async fn signing_keys_retire_and_delete(s: Arc<dyn Store>) {
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

async fn vault_upsert_keeps_name_and_creation(s: Arc<dyn Store>) {
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

// ---------------------------------------------------------------------------------------------------
// Secret versions.

async fn secret_versions_latest_and_specific(s: Arc<dyn Store>) {
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

async fn duplicate_version_is_refused(s: Arc<dyn Store>) {
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

async fn update_replaces_metadata_only(s: Arc<dyn Store>) {
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

async fn list_secrets_pages_by_name(s: Arc<dyn Store>) {
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

async fn list_secret_versions_pages_by_seq(s: Arc<dyn Store>) {
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

// ---------------------------------------------------------------------------------------------------
// Soft delete, recover, purge, erase, restore.

async fn soft_delete_hides_every_version(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    put(&s, &ring, VAULT, "keep", "k1").await;
    assert!(matches!(
        s.delete_secret(&deletion(VAULT, "nope", 2_000_000_000)).await,
        Err(StoreError::NotFound)
    ));
    let d = deletion(VAULT, "db", 2_000_000_000);
    s.delete_secret(&d).await.unwrap();

    assert!(s.secret_version(VAULT, "db", None).await.unwrap().is_none());
    assert!(s.secret_version(VAULT, "db", Some("v1")).await.unwrap().is_none());
    assert!(s.list_secret_versions(VAULT, "db", &all()).await.unwrap().is_empty());
    assert!(s.all_secret_versions(VAULT, "db").await.unwrap().is_empty());
    assert_eq!(names_of(&s.list_secrets(VAULT, &all()).await.unwrap()), ["keep"]);

    let (rec, latest) = s.deleted_secret(VAULT, "db").await.unwrap().unwrap();
    assert_eq!(rec, d);
    assert_eq!(latest.version, "v2");
    assert_opens(&ring, &latest);
    assert!(s.deleted_secret(VAULT, "keep").await.unwrap().is_none());
    assert!(s.deleted_secret(VAULT, "nope").await.unwrap().is_none());

    // Deleting again: there is no live secret of that name.
    assert!(matches!(
        s.delete_secret(&deletion(VAULT, "db", 2_000_000_001)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.deleted_secret(VAULT, "db").await.unwrap().unwrap().0, d);
}

async fn set_on_deleted_name_is_deleted(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    for name in ["db", "DB", "Db"] {
        assert!(matches!(
            s.put_secret_version(&version(&ring, VAULT, name, "v2")).await,
            Err(StoreError::Deleted)
        ));
    }
    // Nothing was written behind the deletion.
    s.recover_secret(VAULT, "db").await.unwrap();
    assert_eq!(versions_of(&s.all_secret_versions(VAULT, "db").await.unwrap()), ["v1"]);
    // The same name in another vault is unaffected.
    put(&s, &ring, "kv2", "db", "v1").await;
}

async fn list_deleted_pages_by_name(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    for name in ["echo", "Alpha", "charlie", "Delta", "bravo", "live"] {
        put(&s, &ring, VAULT, name, &format!("{name}-1")).await;
        put(&s, &ring, VAULT, name, &format!("{name}-2")).await;
    }
    put(&s, &ring, "kv-other", "aaa", "x").await;
    s.delete_secret(&deletion("kv-other", "aaa", 1)).await.unwrap();
    for (i, name) in ["echo", "Alpha", "charlie", "Delta", "bravo"].iter().enumerate() {
        s.delete_secret(&deletion(VAULT, name, 2_000_000_000 + i as i64))
            .await
            .unwrap();
    }

    let every = s.list_deleted_secrets(VAULT, &all()).await.unwrap();
    assert_eq!(deleted_names(&every), ["Alpha", "bravo", "charlie", "Delta", "echo"]);
    for (d, latest) in &every {
        assert_eq!(latest.version, format!("{}-2", d.name), "latest version");
        assert_eq!(d.vault, VAULT);
        assert_opens(&ring, latest);
    }
    let (echo, _) = &every[4];
    assert_eq!(echo.scheduled_purge_date, 2_000_000_000);

    let p1 = s.list_deleted_secrets(VAULT, &page(None, 2)).await.unwrap();
    assert_eq!(deleted_names(&p1), ["Alpha", "bravo"]);
    let p2 = s.list_deleted_secrets(VAULT, &page(Some("bravo"), 2)).await.unwrap();
    assert_eq!(deleted_names(&p2), ["charlie", "Delta"]);
    let p3 = s.list_deleted_secrets(VAULT, &page(Some("Delta"), 2)).await.unwrap();
    assert_eq!(deleted_names(&p3), ["echo"]);
    assert!(
        s.list_deleted_secrets(VAULT, &page(Some("echo"), 2))
            .await
            .unwrap()
            .is_empty()
    );
    let p = s.list_deleted_secrets(VAULT, &page(Some("ALPHA"), 1)).await.unwrap();
    assert_eq!(deleted_names(&p), ["bravo"]);
    assert!(s.list_deleted_secrets(VAULT, &page(None, 0)).await.unwrap().is_empty());
    assert!(s.list_deleted_secrets("kv-empty", &all()).await.unwrap().is_empty());
}

async fn recover_brings_versions_back(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    let before = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert!(matches!(s.recover_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    assert!(matches!(
        s.recover_secret(VAULT, "nope").await,
        Err(StoreError::NotFound)
    ));
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    s.recover_secret(VAULT, "DB").await.unwrap();

    let after = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert_same(a, b);
        assert_eq!(a.seq, b.seq);
    }
    assert!(s.deleted_secret(VAULT, "db").await.unwrap().is_none());
    assert!(matches!(s.recover_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    // Live again: new versions may be added, and it can be deleted again.
    put(&s, &ring, VAULT, "db", "v3").await;
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_100)).await.unwrap();
    let (d, latest) = s.deleted_secret(VAULT, "db").await.unwrap().unwrap();
    assert_eq!((d.scheduled_purge_date, latest.version.as_str()), (2_000_000_100, "v3"));
}

async fn purge_only_soft_deleted(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    put(&s, &ring, VAULT, "keep", "k1").await;
    assert!(matches!(s.purge_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    assert_eq!(s.all_secret_versions(VAULT, "db").await.unwrap().len(), 2);
    assert!(matches!(s.purge_secret(VAULT, "nope").await, Err(StoreError::NotFound)));

    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    s.purge_secret(VAULT, "Db").await.unwrap();
    assert!(s.deleted_secret(VAULT, "db").await.unwrap().is_none());
    assert!(s.list_deleted_secrets(VAULT, &all()).await.unwrap().is_empty());
    assert!(matches!(s.purge_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    assert!(matches!(s.recover_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    // The name is free: a new secret starts with no history.
    put(&s, &ring, VAULT, "db", "v1").await;
    assert_eq!(versions_of(&s.all_secret_versions(VAULT, "db").await.unwrap()), ["v1"]);
    assert_eq!(names_of(&s.list_secrets(VAULT, &all()).await.unwrap()), ["db", "keep"]);
}

async fn erase_only_live(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, VAULT, "db", "v1").await;
    put(&s, &ring, VAULT, "db", "v2").await;
    put(&s, &ring, VAULT, "del", "d1").await;
    s.delete_secret(&deletion(VAULT, "del", 2_000_000_000)).await.unwrap();

    assert!(matches!(s.erase_secret(VAULT, "nope").await, Err(StoreError::NotFound)));
    // A soft-deleted secret is purged, not erased.
    assert!(matches!(s.erase_secret(VAULT, "del").await, Err(StoreError::NotFound)));
    assert!(s.deleted_secret(VAULT, "del").await.unwrap().is_some());

    s.erase_secret(VAULT, "DB").await.unwrap();
    assert!(s.secret_version(VAULT, "db", None).await.unwrap().is_none());
    assert!(s.all_secret_versions(VAULT, "db").await.unwrap().is_empty());
    assert!(s.deleted_secret(VAULT, "db").await.unwrap().is_none());
    assert!(matches!(s.erase_secret(VAULT, "db").await, Err(StoreError::NotFound)));
    put(&s, &ring, VAULT, "db", "v3").await;
    assert_eq!(versions_of(&s.all_secret_versions(VAULT, "db").await.unwrap()), ["v3"]);
}

async fn restore_new_exists_deleted(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    assert!(matches!(s.restore_secret(&[]).await, Err(StoreError::NotFound)));
    let backup: Vec<_> = ["v1", "v2", "v3"]
        .iter()
        .map(|v| version(&ring, VAULT, "db", v))
        .collect();
    s.restore_secret(&backup).await.unwrap();
    let restored = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert_eq!(versions_of(&restored), ["v1", "v2", "v3"]);
    assert!(restored.windows(2).all(|w| w[0].seq < w[1].seq));
    for (r, b) in restored.iter().zip(&backup) {
        assert_same(r, b);
        assert_opens(&ring, r);
    }
    assert_eq!(
        s.secret_version(VAULT, "db", None).await.unwrap().unwrap().version,
        "v3"
    );

    // Taken by a live secret, under any spelling.
    let again: Vec<_> = ["w1"].iter().map(|v| version(&ring, VAULT, "DB", v)).collect();
    assert!(matches!(s.restore_secret(&again).await, Err(StoreError::Exists)));
    // Taken by a soft-deleted secret.
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    assert!(matches!(s.restore_secret(&backup).await, Err(StoreError::Deleted)));
    // Neither attempt wrote anything.
    s.recover_secret(VAULT, "db").await.unwrap();
    assert_eq!(
        versions_of(&s.all_secret_versions(VAULT, "db").await.unwrap()),
        ["v1", "v2", "v3"]
    );
    // Once purged, the backup restores again.
    s.delete_secret(&deletion(VAULT, "db", 2_000_000_000)).await.unwrap();
    s.purge_secret(VAULT, "db").await.unwrap();
    s.restore_secret(&backup).await.unwrap();
    assert_eq!(s.all_secret_versions(VAULT, "db").await.unwrap().len(), 3);
}

async fn concurrent_restores_one_wins(s: Arc<dyn Store>) {
    let ring = Arc::new(Keyring::generate().unwrap());
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (s, ring) = (s.clone(), ring.clone());
            tokio::spawn(async move {
                let backup: Vec<_> = (0..3)
                    .map(|j| version(&ring, VAULT, "db", &format!("t{i}-v{j}")))
                    .collect();
                s.restore_secret(&backup).await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Exists) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one restore wins");
    let versions = s.all_secret_versions(VAULT, "db").await.unwrap();
    assert_eq!(versions.len(), 3);
    let winner = versions[0].version.split('-').next().unwrap().to_owned();
    assert!(versions.iter().all(|v| v.version.starts_with(&winner)));
}

async fn purgeable_by_date(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    assert!(s.purgeable_secrets(i64::MAX).await.unwrap().is_empty());
    for (vault, name, at) in [
        ("kv1", "Early", 100),
        ("kv1", "exact", 200),
        ("kv2", "other-vault", 150),
        ("kv1", "late", 201),
    ] {
        put(&s, &ring, vault, name, "v1").await;
        s.delete_secret(&deletion(vault, name, at)).await.unwrap();
    }
    put(&s, &ring, "kv1", "live", "v1").await;

    let mut due = s.purgeable_secrets(200).await.unwrap();
    due.sort();
    let expected: Vec<(String, String)> = [("kv1", "Early"), ("kv1", "exact"), ("kv2", "other-vault")]
        .iter()
        .map(|(v, n)| (v.to_string(), n.to_string()))
        .collect();
    assert_eq!(due, expected);
    assert!(s.purgeable_secrets(99).await.unwrap().is_empty());
    assert_eq!(s.purgeable_secrets(201).await.unwrap().len(), 4);

    for (vault, name) in &due {
        s.purge_secret(vault, name).await.unwrap();
    }
    assert_eq!(
        s.purgeable_secrets(i64::MAX).await.unwrap(),
        [("kv1".to_owned(), "late".to_owned())]
    );
}

async fn names_are_case_insensitive(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    // Each version keeps the spelling it was written with (its ciphertext is bound to it).
    put(&s, &ring, "KV", "MySecret", "v1").await;
    put(&s, &ring, "kv", "MYSECRET", "v2").await;
    for (vault, name) in [("kv", "mysecret"), ("KV", "MySecret"), ("Kv", "MYSECRET")] {
        let latest = s.secret_version(vault, name, None).await.unwrap().unwrap();
        assert_eq!((latest.vault.as_str(), latest.name.as_str()), ("kv", "MYSECRET"));
        assert_opens(&ring, &latest);
        let v1 = s.secret_version(vault, name, Some("v1")).await.unwrap().unwrap();
        assert_eq!((v1.vault.as_str(), v1.name.as_str()), ("KV", "MySecret"));
        assert_opens(&ring, &v1);
        assert_eq!(
            versions_of(&s.list_secret_versions(vault, name, &all()).await.unwrap()),
            ["v1", "v2"]
        );
    }
    assert_eq!(
        s.list_secrets("kv", &all()).await.unwrap().len(),
        1,
        "one secret, two versions"
    );
    assert!(matches!(
        s.put_secret_version(&version(&ring, "kv", "mysecret", "v1")).await,
        Err(StoreError::Backend(_))
    ));

    s.delete_secret(&deletion("Kv", "mysecret", 2_000_000_000))
        .await
        .unwrap();
    assert!(s.secret_version("KV", "MySecret", None).await.unwrap().is_none());
    let (d, latest) = s.deleted_secret("kV", "mYsEcReT").await.unwrap().unwrap();
    assert_eq!((d.name.as_str(), latest.version.as_str()), ("MYSECRET", "v2"));
    assert_eq!(s.list_deleted_secrets("KV", &all()).await.unwrap().len(), 1);
    assert!(matches!(
        s.delete_secret(&deletion("KV", "MYSECRET", 1)).await,
        Err(StoreError::NotFound)
    ));
    s.recover_secret("KV", "MYSECRET").await.unwrap();
    assert_eq!(s.all_secret_versions("kv", "mysecret").await.unwrap().len(), 2);
}

async fn vaults_are_isolated(s: Arc<dyn Store>) {
    let ring = Keyring::generate().unwrap();
    put(&s, &ring, "kv-a", "db", "a1").await;
    put(&s, &ring, "kv-b", "db", "b1").await;
    s.delete_secret(&deletion("kv-a", "db", 100)).await.unwrap();
    // Deleting in kv-a leaves kv-b's secret live.
    let b = s.secret_version("kv-b", "db", None).await.unwrap().unwrap();
    assert_eq!(b.version, "b1");
    put(&s, &ring, "kv-b", "db", "b2").await;
    assert!(s.deleted_secret("kv-b", "db").await.unwrap().is_none());
    assert_eq!(
        deleted_names(&s.list_deleted_secrets("kv-a", &all()).await.unwrap()),
        ["db"]
    );
    assert!(s.list_deleted_secrets("kv-b", &all()).await.unwrap().is_empty());
    s.purge_secret("kv-a", "db").await.unwrap();
    assert_eq!(s.all_secret_versions("kv-b", "db").await.unwrap().len(), 2);
    s.erase_secret("kv-b", "db").await.unwrap();
    assert!(s.list_secrets("kv-a", &all()).await.unwrap().is_empty());
    assert!(s.list_secrets("kv-b", &all()).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------------
// Management: vaults' soft-delete state, resource groups, role assignments.

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

async fn soft_deleted_vaults_keep_their_name(s: Arc<dyn Store>) {
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

async fn purge_vault_takes_its_secrets(s: Arc<dyn Store>) {
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

async fn resource_groups_case_insensitive(s: Arc<dyn Store>) {
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

async fn role_assignments_by_name_and_principal(s: Arc<dyn Store>) {
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

// ---------------------------------------------------------------------------------------------------
// Data-key rotation and job leadership.

fn key_id(r: &SecretVersionRecord) -> u32 {
    r.value.key_id().unwrap()
}

async fn rotation_pages_values_not_under_a_key(s: Arc<dyn Store>) {
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

async fn rotation_swaps_only_an_unchanged_value(s: Arc<dyn Store>) {
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

async fn concurrent_value_swaps_one_wins(s: Arc<dyn Store>) {
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

async fn meta_and_signing_key_compare_and_swap(s: Arc<dyn Store>) {
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

async fn try_lead_is_true_for_a_lone_node(s: Arc<dyn Store>) {
    assert!(s.try_lead("purge").await.unwrap());
    assert!(s.try_lead("purge").await.unwrap());
    assert!(s.try_lead("reseal").await.unwrap());
}

async fn one_time_tokens_are_used_once(s: Arc<dyn Store>) {
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

async fn join_tokens_and_agents(s: Arc<dyn Store>) {
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

async fn resources_by_id_and_group(s: Arc<dyn Store>) {
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
