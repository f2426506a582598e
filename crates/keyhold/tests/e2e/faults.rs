//! Audit integrity under faults: clients that give up mid-PUT, a full audit disk (a small tmpfs this
//! test mounts and unmounts itself; needs root), a torn last line, a shared audit path. After each, the
//! chain verifies and `keyhold audit verify --reconcile` finds no stored-but-unaudited write and no lost
//! acknowledged one, on SQLite and on PostgreSQL.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use keyhold_testkit::{PostgresDatabase, Server};
use serde_json::json;

use crate::start;

/// Runs `keyhold audit verify --reconcile` with the server stopped; panics with its output unless clean.
pub fn assert_reconciled(server: &Server, extra: &[&str]) -> String {
    let mut args = vec!["audit", "verify", "--reconcile"];
    args.extend_from_slice(extra);
    let (ok, out, err) = server.cli(&args).unwrap();
    assert!(ok, "reconcile failed:\n{out}\n{err}");
    assert!(
        out.contains("chain intact") && out.contains("0 lost, 0 unaudited"),
        "{out}"
    );
    out
}

fn database_args(db: &Option<PostgresDatabase>) -> Vec<String> {
    db.as_ref()
        .map(|d| vec!["--database".to_owned(), d.url.clone()])
        .unwrap_or_default()
}

async fn abandoned_put_storm(extra: &[String]) {
    let extra_ref: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut server = start(&extra_ref);
    server.create_vault("kv1").await.unwrap();
    let token = server.token(&server.state.vault_resource).await.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let (http, base, token) = (server.http.clone(), server.vault_url("kv1"), token.clone());
            tokio::spawn(async move {
                for i in 0..40u64 {
                    // A client that gives up after a few ms, mid-request.
                    let _ = http
                        .put(format!("{base}/secrets/storm-{t}-{i}?api-version=7.4"))
                        .bearer_auth(&token)
                        .json(&json!({"value": "v"}))
                        .timeout(Duration::from_millis(1 + (i * 7 + t) % 6))
                        .send()
                        .await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.stop().unwrap();
    let db: Vec<&str> = extra_ref.clone();
    let out = assert_reconciled(&server, &db);
    eprintln!("abandoned-PUT storm: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abandoned_puts_are_all_audited_sqlite() {
    abandoned_put_storm(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abandoned_puts_are_all_audited_postgres() {
    let db = PostgresDatabase::create().await.unwrap();
    if db.is_none() {
        return;
    }
    abandoned_put_storm(&database_args(&db)).await;
    if let Some(db) = db {
        db.drop().await.unwrap();
    }
}

/// A tmpfs of `size` under a temp dir, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // CI runs as root, so there a missing mount is a failure, never a quiet pass.
            assert!(std::env::var_os("CI").is_none(), "cannot mount a tmpfs under CI");
            eprintln!("skipping: cannot mount a tmpfs (not root?)");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the file system is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 512];
        while f.write_all(&block).is_ok() {}
        let _ = f.write_all(&[0u8; 7]);
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

async fn put(server: &Server, token: &str, name: &str) -> reqwest::Response {
    server
        .http
        .put(format!("{}/secrets/{name}?api-version=7.4", server.vault_url("kv1")))
        .bearer_auth(token)
        .json(&json!({"value": "v"}))
        .send()
        .await
        .unwrap()
}

async fn ready(server: &Server) -> u16 {
    server
        .http
        .get(format!("{}/readyz", server.base()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn full_audit_disk(db: Option<PostgresDatabase>) {
    let Some(fs) = Tmpfs::mount("256k") else { return };
    let log = fs.path().join("audit.log");
    let mut extra = vec!["--audit-log".to_owned(), log.display().to_string()];
    extra.extend(database_args(&db));
    let extra_ref: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut server = start(&extra_ref);
    server.create_vault("kv1").await.unwrap();
    let token = server.token(&server.state.vault_resource).await.unwrap();
    assert_eq!(put(&server, &token, "before").await.status().as_u16(), 200);
    assert_eq!(ready(&server).await, 200);

    let filler = fs.fill();
    let mut refused = 0;
    for i in 0..30 {
        let resp = put(&server, &token, &format!("full-{i}")).await;
        let status = resp.status().as_u16();
        assert_ne!(
            status, 200,
            "a write was acknowledged while its audit record could not be written"
        );
        if status == 503 {
            assert!(resp.headers().contains_key("retry-after"), "503 carries Retry-After");
            refused += 1;
        }
    }
    assert!(refused > 0, "a full audit disk answers 503");
    assert_eq!(
        ready(&server).await,
        503,
        "not ready while the audit log cannot be written"
    );

    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        ready(&server).await,
        200,
        "ready again once space returns, before any request"
    );
    assert_eq!(
        put(&server, &token, "after").await.status().as_u16(),
        200,
        "recovers by itself when space returns"
    );
    server.stop().unwrap();
    let db_args = database_args(&db);
    let mut args: Vec<&str> = vec!["--file", log.to_str().unwrap()];
    args.extend(db_args.iter().map(String::as_str));
    assert_reconciled(&server, &args);
    // And it starts again on the same log.
    server.restart().unwrap();
    server.stop().unwrap();
    drop(fs);
    if let Some(db) = db {
        db.drop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_audit_disk_refuses_writes_and_recovers_sqlite() {
    full_audit_disk(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_audit_disk_refuses_writes_and_recovers_postgres() {
    let Some(db) = PostgresDatabase::create().await.unwrap() else {
        return;
    };
    full_audit_disk(Some(db)).await;
}

#[tokio::test]
async fn a_torn_last_line_is_repaired_at_start_and_recorded() {
    let mut server = start(&[]);
    server.create_vault("kv1").await.unwrap();
    server.stop().unwrap();
    let path = server.data_dir.join("audit.log");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"seq\":99,\"prev\":\"ab");
    std::fs::write(&path, &text).unwrap();
    server.restart().unwrap();
    server.stop().unwrap();
    let (ok, out, err) = server.cli(&["audit", "verify"]).unwrap();
    assert!(ok && out.contains("chain intact"), "{out}{err}");
    let log = std::fs::read_to_string(&path).unwrap();
    assert!(log.contains("AuditLogRepaired"), "the repair is recorded");
}

#[tokio::test]
async fn a_broken_log_is_refused_until_repaired() {
    let mut server = start(&[]);
    server.create_vault("kv1").await.unwrap();
    server.stop().unwrap();
    let path = server.data_dir.join("audit.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let edited = format!("{}\nnot json\n{}\n", lines[..2].join("\n"), lines[2..].join("\n"));
    std::fs::write(&path, edited).unwrap();
    let err = server.restart().unwrap_err().to_string();
    let log = std::fs::read_to_string(server.data_dir.parent().unwrap().join("server.log")).unwrap_or_default();
    assert!(
        log.contains("keyhold audit repair") || err.contains("keyhold audit repair"),
        "the refusal names the repair command: {err}"
    );
    let (ok, out, err) = server.cli(&["audit", "repair"]).unwrap();
    assert!(ok && out.contains("cut at line 3"), "{out}{err}");
    server.restart().unwrap();
    server.stop().unwrap();
    let (ok, out, _) = server.cli(&["audit", "verify"]).unwrap();
    assert!(ok && out.contains("chain intact"), "{out}");
}

#[tokio::test]
async fn repair_refuses_to_cut_the_log_of_a_running_server() {
    let server = start(&[]);
    server.create_vault("kv1").await.unwrap();
    let path = server.data_dir.join("audit.log");
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut file, b"not json\n").unwrap();
    let before = std::fs::read(&path).unwrap();
    let (ok, out, err) = server.cli(&["audit", "repair"]).unwrap();
    assert!(!ok, "repair must refuse while the server holds the log: {out}{err}");
    assert!(err.contains("in use") || err.contains("lock"), "{err}");
    let after = std::fs::read(&path).unwrap();
    assert!(after.starts_with(&before), "the log was cut under the running server");
    let aside = std::fs::read_dir(&server.data_dir)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains(".broken-"));
    assert!(!aside, "nothing is set aside either");
}

#[tokio::test]
async fn a_shared_audit_log_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let log = log.to_str().unwrap();
    let _first = start(&["--audit-log", log]);
    let second = Server::start(env!("CARGO_BIN_EXE_keyhold").as_ref(), &["--audit-log", log]);
    assert!(second.is_err(), "a second server on the same audit log must not start");
}

/// The damaged-database case: an acknowledged write the store lost, and a version that appeared in the
/// store with no record, are each named by `--reconcile`.
#[tokio::test]
async fn reconcile_names_lost_and_unaudited_versions() {
    let mut server = start(&[]);
    server.create_vault("kv1").await.unwrap();
    let token = server.token(&server.state.vault_resource).await.unwrap();
    for name in ["kept", "lost"] {
        assert_eq!(put(&server, &token, name).await.status().as_u16(), 200);
    }
    server.stop().unwrap();
    assert_reconciled(&server, &[]);
    {
        let db = rusqlite::Connection::open(server.data_dir.join("keyhold.db")).unwrap();
        db.execute("DELETE FROM secret_versions WHERE name = 'lost'", [])
            .unwrap();
        db.execute(
            "INSERT INTO secret_versions (vault, name, version, value, content_type, tags, enabled, nbf, exp, created, updated)
             SELECT vault, name, 'ffffffffffffffffffffffffffffffff', value, content_type, tags, enabled, nbf, exp, created, updated
             FROM secret_versions WHERE name = 'kept'",
            [],
        )
        .unwrap();
    }
    let (ok, out, _) = server.cli(&["audit", "verify", "--reconcile"]).unwrap();
    assert!(!ok, "a disagreement fails: {out}");
    assert!(out.contains("LOST: kv1/lost/"), "{out}");
    assert!(
        out.contains("UNAUDITED: kv1/kept/ffffffffffffffffffffffffffffffff"),
        "{out}"
    );
}

/// Truncating the log (or emptying it) keeps a valid chain, but not the head the store recorded.
#[tokio::test]
async fn a_truncated_or_emptied_log_fails_verification() {
    let mut server = start(&[]);
    server.create_vault("kv1").await.unwrap();
    server.stop().unwrap();
    assert!(assert_reconciled(&server, &[]).contains("is where the store says it is"));
    let path = server.data_dir.join("audit.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let head: Vec<&str> = text.lines().take(2).collect();
    for cut in [format!("{}\n", head.join("\n")), String::new()] {
        std::fs::write(&path, cut).unwrap();
        let (ok, out, _) = server.cli(&["audit", "verify", "--unkeyed"]).unwrap();
        assert!(ok, "the chain alone cannot tell: {out}");
        for args in [&["audit", "verify"][..], &["audit", "verify", "--reconcile"]] {
            let (ok, out, _) = server.cli(args).unwrap();
            assert!(!ok && out.contains("TRUNCATED OR REWRITTEN"), "{args:?}: {out}");
        }
    }
    // A server started on the cut log does not paper over it with a new anchor: it records the cut.
    server.restart().unwrap();
    server.create_vault("kv2").await.unwrap();
    server.stop().unwrap();
    let (ok, out, _) = server.cli(&["audit", "verify"]).unwrap();
    assert!(
        !ok && out.contains("DISCONTINUITY at record") && out.contains("cut or rewritten"),
        "{out}"
    );
}
