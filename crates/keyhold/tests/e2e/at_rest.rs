//! What is on disk: ciphertext only, bound to its row.

use serde_json::json;

use crate::{json, with_vault};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["keyhold.db", "keyhold.db-wal"] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            all.extend(b);
        }
    }
    all
}

#[tokio::test]
async fn secret_values_and_client_secrets_are_not_in_the_database_files() {
    let (server, token) = with_vault("kv1").await;
    let value = "plaintext-canary-7d1f0c2b9e";
    let (status, _) = server
        .call(
            reqwest::Method::PUT,
            &format!("{}/secrets/canary?api-version=7.4", server.vault_url("kv1")),
            Some(&token),
            Some(json!({"value": value})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let bytes = database_bytes(&server.data_dir);
    assert!(bytes.len() > 4096, "database files were read");
    assert!(
        contains(&bytes, b"canary"),
        "the secret's name is stored (sanity check of the grep)"
    );
    assert!(
        !contains(&bytes, value.as_bytes()),
        "secret value found in plaintext on disk"
    );
    assert!(
        !contains(&bytes, server.admin.password.as_bytes()),
        "client secret found in plaintext on disk"
    );

    // The token-signing private key: a plaintext PKCS#8 copy would carry the key's modulus, which is
    // public (JWKS), so its absence from the files shows the private key is only stored sealed.
    let jwks: serde_json::Value = server.jwks().await.unwrap();
    use base64::Engine;
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["n"].as_str().unwrap())
        .unwrap();
    assert_eq!(n.len(), 256, "a 2048-bit modulus");
    assert!(
        !contains(&bytes, &n),
        "the signing key's private key (its modulus) found in plaintext on disk"
    );
}

#[tokio::test]
async fn swapped_ciphertexts_fail_with_an_integrity_error() {
    let (mut server, token) = with_vault("kv1").await;
    for (name, value) in [("alpha", "value-a"), ("beta", "value-b")] {
        let (status, _) = server
            .call(
                reqwest::Method::PUT,
                &format!("{}/secrets/{name}?api-version=7.4", server.vault_url("kv1")),
                Some(&token),
                Some(json!({"value": value})),
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
    }
    server.stop().unwrap();
    {
        let db = rusqlite::Connection::open(server.data_dir.join("keyhold.db")).unwrap();
        let a: Vec<u8> = db
            .query_row("SELECT value FROM secret_versions WHERE name = 'alpha'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let b: Vec<u8> = db
            .query_row("SELECT value FROM secret_versions WHERE name = 'beta'", [], |r| {
                r.get(0)
            })
            .unwrap();
        db.execute("UPDATE secret_versions SET value = ?1 WHERE name = 'alpha'", [&b])
            .unwrap();
        db.execute("UPDATE secret_versions SET value = ?1 WHERE name = 'beta'", [&a])
            .unwrap();
    }
    server.restart().unwrap();
    for name in ["alpha", "beta"] {
        let resp = server
            .http
            .get(format!("{}/secrets/{name}?api-version=7.4", server.vault_url("kv1")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (status, body) = json(resp).await;
        assert_eq!(status, 500, "{name}: a moved ciphertext must not open: {body}");
        assert_eq!(body["error"]["code"], "InternalError");
        assert!(!body.to_string().contains("value-"), "no value leaks: {body}");
    }
}
