//! Security issue #11: what a running server leaves on disk and on the wire.

use std::os::unix::fs::PermissionsExt;

/// Every file of a started server's data dir is 0600 and the dir 0700, SQLite's `-wal`/`-shm` too.
#[tokio::test]
async fn data_dir_files_are_private() {
    let (server, _token) = crate::with_vault("modes").await;
    let dir = &server.data_dir;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "data dir");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_file() {
            assert_eq!(mode(&entry.path()), 0o600, "{name}");
        }
        names.push(name);
    }
    for expected in [
        "keyhold.db",
        "keyhold.db-wal",
        "keyhold.db-shm",
        "state.json",
        "ca.pem",
        "audit.log",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}
