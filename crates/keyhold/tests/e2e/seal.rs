//! The seal: while sealed nothing but the sys API answers; Shamir needs K shares, a passphrase must be
//! the right one. Driven through the real `keyhold operator` CLI.

use keyhold_testkit::Server;
use serde_json::{Value, json};

use crate::json;

async fn assert_sealed(server: &Server) {
    let ready = server
        .http
        .get(format!("{}/readyz", server.state.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503, "not ready while sealed");
    let body: Value = ready.json().await.unwrap();
    assert!(body["reasons"].to_string().contains("sealed"), "{body}");
    for url in [
        format!("{}/healthz", server.state.url),
        format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            server.state.url, server.state.tenant_id
        ),
        format!("{}/secrets/x?api-version=7.4", server.vault_url("kv1")),
        format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
            server.mi_url()
        ),
    ] {
        let resp = server.http.get(&url).header("Metadata", "true").send().await.unwrap();
        assert_eq!(
            resp.headers().get("retry-after").map(|v| v.to_str().unwrap()),
            Some("5"),
            "{url}"
        );
        let (status, body) = json(resp).await;
        assert_eq!(status, 503, "{url}: {body}");
        assert_eq!(body["error"]["code"], "ServiceUnavailable", "{url}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("keyhold operator unseal")
        );
    }
}

fn operator(server: &Server, args: &[&str]) -> Value {
    let mut all = vec!["operator"];
    all.extend_from_slice(args);
    let (ok, out, err) = server.cli(&all).unwrap();
    assert!(ok, "keyhold {all:?} failed: {err}");
    serde_json::from_str(&out).unwrap()
}

async fn put_and_get(server: &Server, name: &str, value: Option<&str>) -> Value {
    let token = server.token(&server.state.vault_resource).await.unwrap();
    let url = format!("{}/secrets/{name}?api-version=7.4", server.vault_url("kv1"));
    if let Some(v) = value {
        let (status, body) = server
            .call(reqwest::Method::PUT, &url, Some(&token), Some(json!({"value": v})))
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = server
        .call(reqwest::Method::GET, &url, Some(&token), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn shamir_needs_threshold_shares_and_seals_again_on_restart() {
    let mut server = Server::start_sealed(env!("CARGO_BIN_EXE_keyhold").as_ref(), &["--seal", "shamir"]).unwrap();
    assert_sealed(&server).await;
    let status = operator(&server, &["seal-status"]);
    assert_eq!(
        (status["initialized"].as_bool(), status["sealed"].as_bool()),
        (Some(false), Some(true))
    );

    let init = operator(&server, &["init", "--shares", "5", "--threshold", "3"]);
    let shares: Vec<String> = init["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shares.len(), 5);
    assert!(
        !server.data_dir.join("admin.json").exists(),
        "nothing is unlocked before unseal"
    );

    for (i, share) in shares[..2].iter().enumerate() {
        let progress = operator(&server, &["unseal", share]);
        assert_eq!(
            (progress["sealed"].as_bool(), progress["progress"].as_u64()),
            (Some(true), Some(i as u64 + 1))
        );
    }
    assert_sealed(&server).await; // K-1 shares do not unseal
    let done = operator(&server, &["unseal", &shares[2]]);
    assert_eq!(done["sealed"], false);

    server.load_admin().unwrap();
    server.create_vault("kv1").await.unwrap();
    assert_eq!(put_and_get(&server, "kept", Some("v1")).await["value"], "v1");

    server.restart().unwrap();
    assert_sealed(&server).await;
    for share in [&shares[4], &shares[3], &shares[1]] {
        operator(&server, &["unseal", share]);
    }
    assert_eq!(
        put_and_get(&server, "kept", None).await["value"],
        "v1",
        "data survives, under other shares"
    );

    let (ok, _, err) = server
        .cli(&["operator", "init", "--shares", "3", "--threshold", "2"])
        .unwrap();
    assert!(!ok && err.contains("already"), "re-initialising is refused: {err}");
}

#[tokio::test]
async fn passphrase_unseals_only_with_the_right_passphrase() {
    let dir = tempfile_dir();
    let good = dir.join("good");
    let bad = dir.join("bad");
    std::fs::write(&good, "correct horse battery staple\n").unwrap();
    std::fs::write(&bad, "incorrect horse battery staple\n").unwrap();
    let good_arg = good.to_str().unwrap().to_owned();

    let mut server = Server::start(
        env!("CARGO_BIN_EXE_keyhold").as_ref(),
        &["--seal", "passphrase", "--seal-passphrase-file", &good_arg],
    )
    .unwrap();
    server.create_vault("kv1").await.unwrap();
    assert_eq!(put_and_get(&server, "kept", Some("v1")).await["value"], "v1");
    assert!(
        !server.data_dir.join("seal.key").exists(),
        "no key file next to a passphrase seal"
    );

    // Restart without the passphrase: sealed until an operator gives it.
    server.restart_with(&["--seal".into(), "passphrase".into()]).unwrap();
    assert_sealed(&server).await;
    let (ok, _, err) = server
        .cli(&["operator", "unseal", "--passphrase-file", bad.to_str().unwrap()])
        .unwrap();
    assert!(
        !ok && err.contains("does not unseal"),
        "a wrong passphrase is refused: {err}"
    );
    assert_sealed(&server).await;
    let status = operator(&server, &["unseal", "--passphrase-file", &good_arg]);
    assert_eq!(status["sealed"], false);
    assert_eq!(put_and_get(&server, "kept", None).await["value"], "v1");
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("keyhold-seal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
