//! Tokens as the vault sees them: every forgery and misuse is a 401 with Key Vault's challenge.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use serde_json::{Value, json};

use crate::{json, start, with_vault};

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let h = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    let p = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    (h, p)
}

fn encode(v: &Value) -> String {
    B64.encode(serde_json::to_vec(v).unwrap())
}

async fn assert_challenged(server: &keyhold_testkit::Server, token: Option<&str>, why: &str) -> Value {
    let mut req = server
        .http
        .get(format!("{}/secrets/x?api-version=7.4", server.vault_url("kv1")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json(resp).await;
    assert_eq!(status, 401, "{why}: {body}");
    assert_eq!(body["error"]["code"], "Unauthorized", "{why}");
    let challenge = challenge.unwrap_or_else(|| panic!("{why}: no challenge"));
    let expected = format!(
        "Bearer authorization=\"{}/{}\", resource=\"{}\"",
        server.state.url, server.state.tenant_id, server.state.vault_resource
    );
    assert_eq!(challenge, expected, "{why}");
    body
}

#[tokio::test]
async fn token_verifies_against_published_jwks() {
    let server = start(&[]);
    let token = server.token(&server.state.vault_resource).await.unwrap();
    let doc: Value = server
        .http
        .get(format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            server.state.url, server.state.tenant_id
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["issuer"],
        format!("{}/{}/v2.0", server.state.url, server.state.tenant_id)
    );
    let jwks: Value = server
        .http
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (header, claims) = parts(&token);
    assert_eq!(header["alg"], "RS256");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid published");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "JWKS leaks {private}");
    }
    let n = B64.decode(key["n"].as_str().unwrap()).unwrap();
    let e = B64.decode(key["e"].as_str().unwrap()).unwrap();
    let (signed, sig) = token.rsplit_once('.').unwrap();
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &B64.decode(sig).unwrap(),
        )
        .expect("signature verifies with the published key");
    assert_eq!(claims["aud"], server.state.vault_resource);
    assert_eq!(claims["tid"], server.state.tenant_id);
    assert_eq!(claims["oid"], server.admin.object_id);
    assert_eq!(claims["appid"], server.admin.app_id);
    assert_eq!(claims["iss"], doc["issuer"]);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
}

#[tokio::test]
async fn forged_and_misused_tokens_get_the_challenge() {
    let (server, good) = with_vault("kv1").await;
    let (header, claims) = parts(&good);
    let sig = good.rsplit('.').next().unwrap();

    assert_challenged(&server, None, "no token").await;
    assert_challenged(&server, Some("not-a-jwt"), "garbage").await;

    let mut forged_claims = claims.clone();
    forged_claims["oid"] = json!("00000000-0000-0000-0000-000000000000");
    let forged = format!("{}.{}.{sig}", encode(&header), encode(&forged_claims));
    assert_challenged(&server, Some(&forged), "altered payload").await;

    let none = format!("{}.{}.", encode(&json!({"alg": "none", "typ": "JWT"})), encode(&claims));
    assert_challenged(&server, Some(&none), "alg none").await;

    // HS256 keyed with the public key: the classic algorithm-confusion attack.
    let jwks: Value = server.jwks().await.unwrap();
    let n = B64.decode(jwks["keys"][0]["n"].as_str().unwrap()).unwrap();
    let hs_header = json!({"alg": "HS256", "typ": "JWT", "kid": header["kid"]});
    let input = format!("{}.{}", encode(&hs_header), encode(&claims));
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &n),
        input.as_bytes(),
    );
    let hs = format!("{input}.{}", B64.encode(mac.as_ref()));
    assert_challenged(&server, Some(&hs), "HS256 with the public key").await;

    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = json!("unknown-key-id");
    let unknown = format!("{}.{}.{sig}", encode(&unknown_kid), encode(&claims));
    assert_challenged(&server, Some(&unknown), "unknown kid").await;

    let mgmt = server.token(&server.state.url).await.unwrap();
    let body = assert_challenged(&server, Some(&mgmt), "management audience").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("AKV10022"),
        "{body}"
    );

    // And the genuine token still works, so the rejections above are not a broken vault.
    let resp = server
        .http
        .get(format!("{}/secrets/x?api-version=7.4", server.vault_url("kv1")))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let server = start(&["--token-lifetime-secs", "2", "--clock-skew-secs", "0"]);
    // Every token, the admin's for creating the vault included, lives two seconds: on a loaded
    // machine the create can outlast its token, so it is retried with a fresh one.
    let mut created = server.create_vault("kv1").await;
    for _ in 0..5 {
        if created.is_ok() {
            break;
        }
        created = server.create_vault("kv1").await;
    }
    created.unwrap();
    let token = server.token(&server.state.vault_resource).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let body = assert_challenged(&server, Some(&token), "expired").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"), "{body}");
}

#[tokio::test]
async fn a_bodiless_unauthenticated_put_gets_the_challenge_not_a_400() {
    let (server, _) = with_vault("kv1").await;
    for body in ["", "{not json"] {
        let resp = server
            .http
            .put(format!("{}/secrets/s?api-version=7.4", server.vault_url("kv1")))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "body {body:?}");
        assert!(resp.headers().contains_key("www-authenticate"));
    }
}

#[tokio::test]
async fn restart_keeps_tenant_principals_ca_and_keys() {
    let (mut server, token) = with_vault("kv1").await;
    let url = format!("{}/secrets/kept?api-version=7.4", server.vault_url("kv1"));
    let (status, _) = server
        .call(reqwest::Method::PUT, &url, Some(&token), Some(json!({"value": "v1"})))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let before = (
        server.state.tenant_id.clone(),
        std::fs::read(server.data_dir.join("ca.pem")).unwrap(),
    );
    let admin_before = std::fs::read(server.data_dir.join("admin.json")).unwrap();

    server.restart().unwrap();

    assert_eq!(before.0, server.state.tenant_id);
    assert_eq!(before.1, std::fs::read(server.data_dir.join("ca.pem")).unwrap());
    assert_eq!(admin_before, std::fs::read(server.data_dir.join("admin.json")).unwrap());
    let (status, body) = server
        .call(reqwest::Method::GET, &url, Some(&token), None)
        .await
        .unwrap();
    assert_eq!(
        (status, body["value"].as_str()),
        (200, Some("v1")),
        "a token from before the restart still works"
    );
    server
        .token(&server.state.vault_resource)
        .await
        .expect("admin secret still valid");
}

#[tokio::test]
async fn signing_key_rotation_keeps_old_tokens_valid() {
    let (server, old) = with_vault("kv1").await;
    let mgmt = server.token(&server.state.url).await.unwrap();
    let (status, rotated) = server
        .call(
            reqwest::Method::POST,
            &format!("{}/keyhold/v1/signingKeys/rotate", server.state.url),
            Some(&mgmt),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{rotated}");
    let jwks: Value = server.jwks().await.unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "old and new key both published"
    );
    let new = server.token(&server.state.vault_resource).await.unwrap();
    assert_eq!(parts(&new).0["kid"], rotated["kid"]);
    assert_ne!(parts(&old).0["kid"], rotated["kid"]);
    for token in [&old, &new] {
        let resp = server
            .http
            .get(format!("{}/secrets/x?api-version=7.4", server.vault_url("kv1")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);
    }
}

#[tokio::test]
async fn admin_api_refuses_other_principals_and_vault_tokens() {
    let server = start(&[]);
    let mgmt = server.token(&server.state.url).await.unwrap();
    let sp = server.create_service_principal("app").await.unwrap();
    let other = server
        .token_for(
            sp["appId"].as_str().unwrap(),
            sp["password"].as_str().unwrap(),
            &server.state.url,
        )
        .await
        .unwrap();
    let vault_token = server.token(&server.state.vault_resource).await.unwrap();
    let url = format!("{}/keyhold/v1/vaults/newvault", server.state.url);
    let (status, body) = server
        .call(reqwest::Method::PUT, &url, Some(&other), Some(json!({})))
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(sp["objectId"].as_str().unwrap())
    );
    let (status, _) = server
        .call(reqwest::Method::PUT, &url, Some(&vault_token), Some(json!({})))
        .await
        .unwrap();
    assert_eq!(status, 401, "a vault token is not a management token");
    let (status, _) = server
        .call(reqwest::Method::GET, &url, Some(&mgmt), None)
        .await
        .unwrap();
    assert_eq!(status, 404, "nothing was created");
}
