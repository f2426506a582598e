//! PostgreSQL over TLS (`tools/pg-test-cluster.sh` serves a certificate for `localhost` from a CA of its
//! own): each `sslmode` connects, or refuses, as libpq's does, and the connections really are TLS.

use std::path::PathBuf;

use keyhold_store::{MetaStore, PostgresStore};

use crate::{FreshDatabase, postgres_url};

/// The cluster's CA, beside the certificate it serves.
async fn cluster_ca(db: &FreshDatabase) -> PathBuf {
    let row = db.admin.query_one("SHOW ssl_cert_file", &[]).await.unwrap();
    let cert: String = row.get(0);
    PathBuf::from(cert).with_file_name("ca.crt")
}

/// Every connection to `name` uses TLS, and there is at least one.
async fn all_tls(db: &FreshDatabase) -> bool {
    let row = db
        .admin
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
            &[&db.name],
        )
        .await
        .unwrap();
    let (all, tls): (i64, i64) = (row.get(0), row.get(1));
    all > 0 && all == tls
}

fn with_host(url: &str, host: &str, query: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_host(Some(host)).unwrap();
    url.set_query(Some(query));
    url.into()
}

fn a_ca_that_signed_nothing(dir: &std::path::Path) -> PathBuf {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let path = dir.join("other-ca.crt");
    std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tls_modes_connect_or_refuse_as_libpq_does() {
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = FreshDatabase::create(&admin_url).await;
    let ca = cluster_ca(&db).await;
    let ca = ca.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other = a_ca_that_signed_nothing(dir.path());
    let other = other.to_str().unwrap();

    // The certificate names `localhost`: verify-full with the right CA connects, over TLS.
    let full = with_host(&db.url, "localhost", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let store = PostgresStore::connect(&full)
        .await
        .expect("verify-full with the cluster's CA");
    store.put_meta("tls-probe", b"1").await.unwrap();
    assert!(all_tls(&db).await, "verify-full connections use TLS");
    drop(store);

    for (query, host, why) in [
        (
            format!("sslmode=verify-full&sslrootcert={other}"),
            "localhost",
            "a CA that did not sign it",
        ),
        (
            format!("sslmode=verify-full&sslrootcert={ca}"),
            "127.0.0.1",
            "a name the certificate lacks",
        ),
        (
            format!("sslmode=verify-ca&sslrootcert={other}"),
            "localhost",
            "verify-ca with the wrong CA",
        ),
    ] {
        let url = with_host(&db.url, host, &query);
        let err = PostgresStore::connect(&url).await.expect_err(why).to_string();
        assert!(err.to_lowercase().contains("certificate"), "{why}: {err}");
    }

    // verify-ca checks the chain only, as libpq's does; require encrypts without checking.
    for query in [
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        "sslmode=require".to_owned(),
    ] {
        let url = with_host(&db.url, "127.0.0.1", &query);
        let store = PostgresStore::connect(&url).await.expect(&query);
        assert!(store.meta("tls-probe").await.unwrap().is_some(), "{query}");
    }
    db.drop().await;
}
