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

/// Reads until the server closes the connection; the time it took.
async fn closed_after<S: tokio::io::AsyncRead + Unpin>(mut tcp: S) -> std::time::Duration {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while tcp.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    started.elapsed()
}

/// A client that stalls mid-handshake or mid-headers, or idles, is disconnected after the timeout, on
/// both listeners.
#[tokio::test]
async fn stalled_and_idle_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let server = crate::start(&["--header-read-timeout-secs", "1"]);
    // HTTPS: TCP connected, no TLS handshake.
    let https = tokio::net::TcpStream::connect(&server.state.listen).await.unwrap();
    assert!(closed_after(https).await < std::time::Duration::from_secs(5));
    // MI (plain HTTP): half a request head.
    let mut mi = tokio::net::TcpStream::connect(&server.state.mi_listen).await.unwrap();
    mi.write_all(b"GET /metadata/identity/oauth2/token HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(closed_after(mi).await < std::time::Duration::from_secs(5));
    // MI: connected and silent.
    let idle = tokio::net::TcpStream::connect(&server.state.mi_listen).await.unwrap();
    assert!(closed_after(idle).await < std::time::Duration::from_secs(5));
}

/// A TLS session to the HTTPS listener, handshake done, trusting the server's CA.
async fn tls(server: &keyhold_testkit::Server) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(server.data_dir.join("ca.pem")).unwrap();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(&server.state.listen).await.unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// Over real TLS: a session that idles after the handshake, or stops mid-headers, is closed.
#[tokio::test]
async fn idle_and_partial_tls_sessions_are_closed() {
    use tokio::io::AsyncWriteExt;
    let server = crate::start(&["--header-read-timeout-secs", "1"]);
    let idle = tls(&server).await;
    assert!(closed_after(idle).await < std::time::Duration::from_secs(5));
    let mut partial = tls(&server).await;
    partial
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    assert!(closed_after(partial).await < std::time::Duration::from_secs(5));
}

/// Past `--max-connections` a new connection is closed at once, and the server says so in its log —
/// once a second at most, however many it closes.
#[tokio::test]
async fn connection_cap_closes_new_connections_and_logs() {
    let server = crate::start(&["--max-connections", "2", "--header-read-timeout-secs", "5"]);
    let _held: Vec<_> = hold(&server.state.mi_listen, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    for _ in 0..50 {
        let extra = tokio::net::TcpStream::connect(&server.state.mi_listen).await.unwrap();
        assert!(closed_after(extra).await < std::time::Duration::from_secs(2));
    }
    let seconds = started.elapsed().as_secs();
    let log = std::fs::read_to_string(server.data_dir.parent().unwrap().join("server.log")).unwrap();
    let lines = log.matches("connection limit reached").count() as u64;
    assert!(lines >= 1, "{log}");
    assert!(
        lines <= seconds + 1,
        "{lines} log lines for 50 refusals in {seconds} s: {log}"
    );
}

async fn hold(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    held
}
