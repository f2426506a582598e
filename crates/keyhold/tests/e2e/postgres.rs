//! `keyhold serve --database postgres://…`: state lives in PostgreSQL and survives a restart.

use keyhold_testkit::PostgresDatabase;
use serde_json::json;

use crate::start;

#[tokio::test]
async fn secrets_are_kept_in_postgres_across_a_restart() {
    let Some(db) = PostgresDatabase::create().await.unwrap() else {
        return;
    };
    let mut server = start(&["--database", &db.url]);
    server.create_vault("kv1").await.unwrap();
    let token = server.token(&server.state.vault_resource).await.unwrap();
    let url = format!("{}/secrets/db-password?api-version=7.4", server.vault_url("kv1"));
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &url,
            Some(&token),
            Some(json!({"value": "hunter2", "contentType": "text/plain"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let version_id = body["id"].as_str().unwrap().to_owned();

    // The rows are in PostgreSQL, and no SQLite file was made.
    assert!(!server.data_dir.join("keyhold.db").exists());
    let pg = db.connect().await.unwrap();
    let rows = pg.query("SELECT vault, name FROM secret_versions", &[]).await.unwrap();
    let stored: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(stored, [("kv1".to_owned(), "db-password".to_owned())]);
    drop(pg);

    server.restart().unwrap();
    // The same root key, tenant and signing keys came back from the database: the old token still
    // verifies and the value opens.
    for token in [token.clone(), server.token(&server.state.vault_resource).await.unwrap()] {
        let (status, body) = server
            .call(reqwest::Method::GET, &url, Some(&token), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["value"], "hunter2");
        assert_eq!(body["contentType"], "text/plain");
        assert_eq!(body["id"], version_id);
    }

    let status = server.stop().unwrap();
    assert!(status.success(), "server exited with {status}");
    db.drop().await.unwrap();
}
