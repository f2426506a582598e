//! Data-plane rules the SDK suites do not reach: purge protection, retention, backups that must not
//! restore elsewhere, unknown vault hosts, paging bounds.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use serde_json::{Value, json};

use crate::{start, with_vault};

async fn vault_with(server: &keyhold_testkit::Server, name: &str, body: Value) -> (u16, Value) {
    let mgmt = server.token(&server.state.url).await.unwrap();
    server
        .call(
            reqwest::Method::PUT,
            &format!("{}/keyhold/v1/vaults/{name}", server.state.url),
            Some(&mgmt),
            Some(body.clone()),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn purge_protection_and_custom_retention() {
    let server = start(&[]);
    let (status, vault) = vault_with(
        &server,
        "kv-protected",
        json!({"softDeleteRetentionInDays": 7, "enablePurgeProtection": true}),
    )
    .await;
    assert_eq!(status, 200, "{vault}");
    let token = server.token(&server.state.vault_resource).await.unwrap();
    let base = server.vault_url("kv-protected");
    let (_, set) = server
        .call(
            reqwest::Method::PUT,
            &format!("{base}/secrets/s?api-version=7.4"),
            Some(&token),
            Some(json!({"value": "v"})),
        )
        .await
        .unwrap();
    assert_eq!(set["attributes"]["recoveryLevel"], "CustomizedRecoverable");
    assert_eq!(set["attributes"]["recoverableDays"], 7);
    let (status, deleted) = server
        .call(
            reqwest::Method::DELETE,
            &format!("{base}/secrets/s?api-version=7.4"),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let window = deleted["scheduledPurgeDate"].as_i64().unwrap() - deleted["deletedDate"].as_i64().unwrap();
    assert_eq!(window, 7 * 86_400);
    let (status, body) = server
        .call(
            reqwest::Method::DELETE,
            &format!("{base}/deletedsecrets/s?api-version=7.4"),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "Forbidden");
    let (status, _) = server
        .call(
            reqwest::Method::GET,
            &format!("{base}/deletedsecrets/s?api-version=7.4"),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "still recoverable after the refused purge");

    for bad in [
        json!({"softDeleteRetentionInDays": 6}),
        json!({"softDeleteRetentionInDays": 91}),
        json!({"bogus": 1}),
    ] {
        let (status, body) = vault_with(&server, "kv-other", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    for bad in ["ab", "1abc", "a--b", "abc-", "a_bc", "abcdefghijklmnopqrstuvwxy"] {
        let (status, body) = vault_with(&server, bad, json!({})).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "VaultNameNotValid");
    }
}

#[tokio::test]
async fn backups_refuse_tampering_and_other_instances() {
    let (server, token) = with_vault("kv1").await;
    let base = server.vault_url("kv1");
    server
        .http
        .put(format!("{base}/secrets/b?api-version=7.4"))
        .bearer_auth(&token)
        .json(&json!({"value": "v1"}))
        .send()
        .await
        .unwrap();
    let (_, backup) = server
        .call(
            reqwest::Method::POST,
            &format!("{base}/secrets/b/backup?api-version=7.4"),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    let blob = backup["value"].as_str().unwrap().to_owned();
    let mut bytes = B64.decode(&blob).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains("v1"),
        "the backup is encrypted"
    );
    let last = bytes.len() - 20;
    bytes[last] ^= 0x01;
    let tampered = B64.encode(&bytes);

    let other = start(&[]);
    other.create_vault("kv1").await.unwrap();
    let other_token = other.token(&other.state.vault_resource).await.unwrap();
    let (status, body) = other
        .call(
            reqwest::Method::POST,
            &format!("{}/secrets/restore?api-version=7.4", other.vault_url("kv1")),
            Some(&other_token),
            Some(json!({"value": blob})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "a backup does not restore into another keyhold: {body}");

    server
        .http
        .delete(format!("{base}/secrets/b?api-version=7.4"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    server
        .http
        .delete(format!("{base}/deletedsecrets/b?api-version=7.4"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            &format!("{base}/secrets/restore?api-version=7.4"),
            Some(&token),
            Some(json!({"value": tampered})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadParameter")),
        "{body}"
    );
    let (status, _) = server
        .call(
            reqwest::Method::GET,
            &format!("{base}/secrets/b?api-version=7.4"),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "nothing restored from a tampered blob");
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            &format!("{base}/secrets/restore?api-version=7.4"),
            Some(&token),
            Some(json!({"value": blob})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, got) = server
        .call(
            reqwest::Method::GET,
            &format!("{base}/secrets/b?api-version=7.4"),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(got["value"], "v1");
}

#[tokio::test]
async fn unknown_vaults_and_paging_bounds() {
    let (server, token) = with_vault("kv1").await;
    let (status, body) = server
        .call(
            reqwest::Method::GET,
            &format!("{}/secrets?api-version=7.4", server.vault_url("nosuchvault")),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("VaultNotFound")),
        "{body}"
    );
    let (status, _) = server
        .call(
            reqwest::Method::GET,
            &format!("{}/secrets?api-version=7.4", server.vault_url("nosuchvault")),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        status, 401,
        "no token: the challenge comes first, even for an unknown vault"
    );
    for bad in ["0", "26", "x"] {
        let (status, body) = server
            .call(
                reqwest::Method::GET,
                &format!("{}/secrets?api-version=7.4&maxresults={bad}", server.vault_url("kv1")),
                Some(&token),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("BadParameter")),
            "maxresults={bad}"
        );
    }
    // JS percent-encodes the parameter name itself.
    let (status, _) = server
        .call(
            reqwest::Method::GET,
            &format!("{}/secrets?api%2Dversion=2025-07-01", server.vault_url("kv1")),
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
}
