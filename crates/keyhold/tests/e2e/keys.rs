//! Keys on the data plane through raw HTTPS: create, get, operations checked against the returned JWK
//! with aws-lc-rs (an implementation independent of the server's code path), Azure's errors for bad
//! input with nothing stored, authorization refusals, and the private key absent from the data dir.

use aws_lc_rs::{digest, signature};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use serde_json::{Value, json};

use crate::{json, with_vault};

async fn call(
    server: &keyhold_testkit::Server,
    token: &str,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = server.http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    json(req.send().await.unwrap()).await
}

fn b64(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn create_sign_verify_encrypt_and_errors() {
    let (server, token) = with_vault("kv-keys").await;
    let base = server.vault_url("kv-keys");
    let post = reqwest::Method::POST;

    // RSA: create, sign RS256 / PS256, verify locally against the returned n/e.
    let (status, rsa) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/rsa1/create?api-version=7.4"),
        Some(json!({"kty": "RSA", "key_size": 2048, "tags": {"t": "1"}})),
    )
    .await;
    assert_eq!(status, 200, "{rsa}");
    assert!(
        rsa["key"]["d"].is_null() && rsa["key"]["p"].is_null(),
        "never a private member"
    );
    let kid = rsa["key"]["kid"].as_str().unwrap().to_owned();
    assert!(kid.starts_with(&format!("{base}/keys/rsa1/")), "{kid}");
    let (n, e) = (b64(&rsa["key"]["n"]), b64(&rsa["key"]["e"]));
    assert_eq!(n.len(), 256);
    assert_eq!(e, [1, 0, 1]);
    let message = b"keyhold signs this";
    let d = digest::digest(&digest::SHA256, message);
    for (alg, params) in [
        ("RS256", &signature::RSA_PKCS1_2048_8192_SHA256),
        ("PS256", &signature::RSA_PSS_2048_8192_SHA256),
    ] {
        let (status, sig) = call(
            &server,
            &token,
            post.clone(),
            format!("{kid}/sign?api-version=7.4"),
            Some(json!({"alg": alg, "value": B64.encode(d.as_ref())})),
        )
        .await;
        assert_eq!(status, 200, "{sig}");
        assert_eq!(sig["kid"], kid);
        let pk = signature::RsaPublicKeyComponents { n: &n, e: &e };
        pk.verify(params, message, &b64(&sig["value"])).unwrap();
        let (_, ok) = call(
            &server,
            &token,
            post.clone(),
            format!("{base}/keys/rsa1/verify?api-version=7.4"),
            Some(json!({"alg": alg, "digest": B64.encode(d.as_ref()), "value": sig["value"]})),
        )
        .await;
        assert_eq!(ok["value"], true, "{ok}");
        let mut bad = b64(&sig["value"]);
        bad[0] ^= 1;
        let (status, ok) = call(
            &server,
            &token,
            post.clone(),
            format!("{kid}/verify?api-version=7.4"),
            Some(json!({"alg": alg, "digest": B64.encode(d.as_ref()), "value": B64.encode(bad)})),
        )
        .await;
        assert_eq!(
            (status, &ok["value"]),
            (200, &json!(false)),
            "a bad signature is false, not an error"
        );
    }
    // Encrypt on the server, decrypt on the server; and the versionless path.
    for alg in ["RSA1_5", "RSA-OAEP", "RSA-OAEP-256"] {
        let (status, ct) = call(
            &server,
            &token,
            post.clone(),
            format!("{base}/keys/rsa1/encrypt?api-version=2025-07-01"),
            Some(json!({"alg": alg, "value": B64.encode(b"plain")})),
        )
        .await;
        assert_eq!(status, 200, "{ct}");
        assert_eq!(b64(&ct["value"]).len(), 256);
        let (status, pt) = call(
            &server,
            &token,
            post.clone(),
            format!("{kid}/decrypt?api-version=2026-04-01"),
            Some(json!({"alg": alg, "value": ct["value"]})),
        )
        .await;
        assert_eq!(status, 200, "{pt}");
        assert_eq!(b64(&pt["value"]), b"plain");
    }

    // EC P-256: raw r||s, verified with aws-lc-rs's fixed-format ES256.
    let (status, ec) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/ec1/create?api-version=7.4"),
        Some(json!({"kty": "EC", "crv": "P-256"})),
    )
    .await;
    assert_eq!(status, 200, "{ec}");
    assert_eq!(ec["key"]["key_ops"], json!(["sign", "verify"]));
    let mut point = vec![4u8];
    point.extend(b64(&ec["key"]["x"]));
    point.extend(b64(&ec["key"]["y"]));
    let (status, sig) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/ec1/sign?api-version=7.4"),
        Some(json!({"alg": "ES256", "value": B64.encode(d.as_ref())})),
    )
    .await;
    assert_eq!(status, 200, "{sig}");
    assert_eq!(b64(&sig["value"]).len(), 64);
    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
        .verify(message, &b64(&sig["value"]))
        .unwrap();

    // Bad input: Azure's status and code, and nothing stored.
    for (body, what, says) in [
        (json!({"kty": "DSA"}), "unknown kty", "kty"),
        (json!({"kty": "RSA", "key_size": 1024}), "bad size", ""),
        (json!({"kty": "EC", "crv": "P-192"}), "bad curve", ""),
        // Azure's words on a Standard vault.
        (
            json!({"kty": "RSA-HSM"}),
            "HSM on a standard vault",
            "Hardware key operation not allowed on standard vault",
        ),
        (json!({"kty": "oct"}), "oct", "Invalid kty value: oct"),
    ] {
        let (status, err) = call(
            &server,
            &token,
            post.clone(),
            format!("{base}/keys/bad/create?api-version=7.4"),
            Some(body),
        )
        .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("BadParameter")),
            "{what}: {err}"
        );
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{what}: {err}"
        );
    }
    let (status, _) = call(
        &server,
        &token,
        reqwest::Method::GET,
        format!("{base}/keys/bad?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 404, "nothing was stored");
    let (status, err) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/ec1/sign?api-version=7.4"),
        Some(json!({"alg": "ES256", "value": B64.encode([0u8; 20])})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("BadParameter")),
        "digest length: {err}"
    );
    let (status, err) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/ec1/sign?api-version=7.4"),
        Some(json!({"alg": "ES256", "value": "!!not base64!!"})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("BadParameter")),
        "base64: {err}"
    );
    let (status, err) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/ec1/encrypt?api-version=7.4"),
        Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("Forbidden")),
        "not in key_ops: {err}"
    );

    // Expired: sign refused, verify still works.
    let (status, _) = call(
        &server,
        &token,
        reqwest::Method::PATCH,
        format!("{base}/keys/ec1?api-version=7.4"),
        Some(json!({"attributes": {"exp": 1_000_000_000}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, err) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/ec1/sign?api-version=7.4"),
        Some(json!({"alg": "ES256", "value": B64.encode(d.as_ref())})),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    let (status, ok) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/ec1/verify?api-version=7.4"),
        Some(json!({"alg": "ES256", "digest": B64.encode(d.as_ref()), "value": sig["value"]})),
    )
    .await;
    assert_eq!((status, &ok["value"]), (200, &json!(true)), "{ok}");

    // The Python SDK's empty-version release path; no release policy, so Azure's refusal.
    let (status, err) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/rsa1//release?api-version=7.4"),
        Some(json!({"target": "x"})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    // Random bytes.
    let (status, rnd) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/rng?api-version=7.4"),
        Some(json!({"count": 32})),
    )
    .await;
    assert_eq!((status, b64(&rnd["value"]).len()), (200, 32));
    let (status, _) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/rng?api-version=7.4"),
        Some(json!({"count": 129})),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn lifecycle_backup_restore_rotate_and_strangers() {
    let (server, token) = with_vault("kv-life").await;
    let base = server.vault_url("kv-life");
    let post = reqwest::Method::POST;
    let (_, k) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/k/create?api-version=7.4"),
        Some(json!({"kty": "EC", "crv": "P-384"})),
    )
    .await;
    let (status, rotated) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/k/rotate?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["key"]["kid"], k["key"]["kid"]);
    assert_eq!(rotated["key"]["crv"], "P-384");
    let (_, versions) = call(
        &server,
        &token,
        reqwest::Method::GET,
        format!("{base}/keys/k/versions?api-version=7.4&maxresults=1"),
        None,
    )
    .await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 1);
    assert!(versions["nextLink"].is_string(), "{versions}");

    let (status, policy) = call(
        &server,
        &token,
        reqwest::Method::PUT,
        format!("{base}/keys/k/rotationpolicy?api-version=7.4"),
        Some(json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P1D"}, "action": {"type": "Rotate"}}]})),
    )
    .await;
    assert_eq!(status, 400, "under Azure's 7-day minimum: {policy}");
    let (status, policy) = call(&server, &token, reqwest::Method::PUT, format!("{base}/keys/k/rotationpolicy?api-version=7.4"), Some(json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P30D"}, "action": {"type": "rotate"}}], "attributes": {"expiryTime": "P90D"}}))).await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(policy["lifetimeActions"][0]["action"]["type"], "Rotate");

    let (status, blob) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/k/backup?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, del) = call(
        &server,
        &token,
        reqwest::Method::DELETE,
        format!("{base}/keys/k?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        del["key"]["x"], rotated["key"]["x"],
        "a deleted key keeps its public JWK"
    );
    let (status, _) = call(
        &server,
        &token,
        reqwest::Method::GET,
        format!("{base}/deletedkeys/k?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &server,
        &token,
        reqwest::Method::DELETE,
        format!("{base}/deletedkeys/k?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, restored) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/restore?api-version=7.4"),
        Some(json!({"value": blob["value"]})),
    )
    .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["key"]["kid"], rotated["key"]["kid"]);

    // A principal without key permissions, and an anonymous client.
    let sp = server.create_service_principal("stranger").await.unwrap();
    let stranger = server
        .token_for(
            sp["appId"].as_str().unwrap(),
            sp["password"].as_str().unwrap(),
            &server.state.vault_resource,
        )
        .await
        .unwrap();
    server
        .grant_secrets("kv-life", sp["objectId"].as_str().unwrap(), &["get"])
        .await
        .unwrap();
    let (status, err) = call(
        &server,
        &stranger,
        post.clone(),
        format!("{base}/keys/k/sign?api-version=7.4"),
        Some(json!({"alg": "ES384", "value": B64.encode([0u8; 48])})),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("keys sign permission"),
        "{err}"
    );
    let (status, _) = call(
        &server,
        &stranger,
        reqwest::Method::GET,
        format!("{base}/keys/k?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let resp = server
        .http
        .get(format!("{base}/keys/k?api-version=7.4"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn imported_private_key_is_not_in_the_data_dir() {
    let (server, token) = with_vault("kv-rest").await;
    let base = server.vault_url("kv-rest");
    // An EC key made here, imported with its private scalar.
    let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let pair =
        signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    use aws_lc_rs::encoding::AsBigEndian;
    use signature::KeyPair;
    let scalar: aws_lc_rs::encoding::EcPrivateKeyBin = pair.private_key().as_be_bytes().unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "EC", "crv": "P-256", "d": B64.encode(scalar.as_ref()), "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..])});
    let (status, imported) = call(
        &server,
        &token,
        reqwest::Method::PUT,
        format!("{base}/keys/imp?api-version=7.4"),
        Some(json!({"key": jwk})),
    )
    .await;
    assert_eq!(status, 200, "{imported}");
    assert!(imported["key"]["d"].is_null());
    // A JWK whose private scalar does not match its point.
    let mut wrong = jwk.clone();
    wrong["d"] = json!(B64.encode([7u8; 32]));
    let (status, err) = call(
        &server,
        &token,
        reqwest::Method::PUT,
        format!("{base}/keys/imp2?api-version=7.4"),
        Some(json!({"key": wrong})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("BadParameter")),
        "{err}"
    );

    let needle = scalar.as_ref().to_vec();
    let mut found = Vec::new();
    for entry in walk(&server.data_dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
            found.push(entry);
        }
    }
    assert!(found.is_empty(), "private key bytes found in {found:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Another vault's principal, with every key permission on its own vault, reaches nothing of this one:
/// each key route it tries is refused and changes nothing; on its own vault the same calls succeed.
#[tokio::test]
async fn another_vaults_key_officer_reaches_nothing_here() {
    let (server, token) = with_vault("kv-a").await;
    server.create_vault("kv-b").await.unwrap();
    let (a, b) = (server.vault_url("kv-a"), server.vault_url("kv-b"));
    let post = reqwest::Method::POST;
    let (status, key) = call(
        &server,
        &token,
        post.clone(),
        format!("{a}/keys/k/create?api-version=7.4"),
        Some(json!({"kty": "RSA", "key_size": 2048})),
    )
    .await;
    assert_eq!(status, 200, "{key}");

    let sp = server.create_service_principal("team-b").await.unwrap();
    let path = format!(
        "/subscriptions/{}/resourceGroups/keyhold/providers/Microsoft.KeyVault/vaults/kv-b/accessPolicies/add",
        server.subscription_id().await.unwrap()
    );
    let all = [
        "get",
        "list",
        "update",
        "create",
        "import",
        "delete",
        "recover",
        "backup",
        "restore",
        "decrypt",
        "encrypt",
        "unwrapKey",
        "wrapKey",
        "verify",
        "sign",
        "purge",
        "rotate",
        "getrotationpolicy",
        "setrotationpolicy",
    ];
    let policy = json!({"properties": {"accessPolicies": [{
        "tenantId": server.state.tenant_id, "objectId": sp["objectId"], "permissions": {"keys": all}
    }]}});
    let (status, body) = server.arm(reqwest::Method::PUT, &path, Some(policy)).await.unwrap();
    assert!(status == 200 || status == 201, "{body}");
    let officer = server
        .token_for(
            sp["appId"].as_str().unwrap(),
            sp["password"].as_str().unwrap(),
            &server.state.vault_resource,
        )
        .await
        .unwrap();

    let digest = B64.encode([7u8; 32]);
    let attempts: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (reqwest::Method::GET, "keys/k".into(), None),
        (reqwest::Method::GET, "keys".into(), None),
        (
            post.clone(),
            "keys/k/sign".into(),
            Some(json!({"alg": "RS256", "value": digest})),
        ),
        (post.clone(), "keys/k/create".into(), Some(json!({"kty": "EC"}))),
        (post.clone(), "keys/k/rotate".into(), None),
        (post.clone(), "keys/k/backup".into(), None),
        (
            reqwest::Method::PATCH,
            "keys/k".into(),
            Some(json!({"attributes": {"enabled": false}})),
        ),
        (reqwest::Method::DELETE, "keys/k".into(), None),
    ];
    for (method, route, body) in &attempts {
        let (status, err) = call(
            &server,
            &officer,
            method.clone(),
            format!("{a}/{route}?api-version=7.4"),
            body.clone(),
        )
        .await;
        assert_eq!(status, 403, "{method} {route}: {err}");
    }
    // Nothing changed: the key is still there, enabled, with one version.
    let (status, still) = call(
        &server,
        &token,
        reqwest::Method::GET,
        format!("{a}/keys/k?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(still["key"]["kid"], key["key"]["kid"]);
    assert_eq!(still["attributes"]["enabled"], true);

    // The same principal on its own vault: every one of those calls works.
    let (status, own) = call(
        &server,
        &officer,
        post.clone(),
        format!("{b}/keys/k/create?api-version=7.4"),
        Some(json!({"kty": "RSA", "key_size": 2048})),
    )
    .await;
    assert_eq!(status, 200, "{own}");
    for (method, route, body) in attempts.iter().filter(|(_, r, _)| !r.ends_with("/create")) {
        let (status, out) = call(
            &server,
            &officer,
            method.clone(),
            format!("{b}/{route}?api-version=7.4"),
            body.clone(),
        )
        .await;
        assert_eq!(status, 200, "{method} {route} on its own vault: {out}");
    }
}

/// The leader's rotation job: a key whose `Rotate` trigger fell due (its creation backdated in the
/// database while the server was stopped) gets a new version at the next start, recorded in the audit
/// log before and after like any write; a due `Notify` is recorded once per key version, however
/// often the job runs; the keyed log still verifies.
#[tokio::test]
async fn rotation_policies_run_on_the_leader_and_are_audited() {
    let (mut server, token) = with_vault("kv-rot").await;
    let base = server.vault_url("kv-rot");
    let (post, put) = (reqwest::Method::POST, reqwest::Method::PUT);
    let soon = time::OffsetDateTime::now_utc().unix_timestamp() + 5 * 86_400;
    for (name, body) in [
        ("k", json!({"kty": "RSA", "key_size": 2048})),
        ("n", json!({"kty": "EC", "crv": "P-256", "attributes": {"exp": soon}})),
    ] {
        let (status, out) = call(
            &server,
            &token,
            post.clone(),
            format!("{base}/keys/{name}/create?api-version=7.4"),
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{out}");
    }
    for (name, policy) in [
        (
            "k",
            json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P30D"}, "action": {"type": "Rotate"}}], "attributes": {"expiryTime": "P90D"}}),
        ),
        (
            "n",
            json!({"lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}], "attributes": {"expiryTime": "P90D"}}),
        ),
    ] {
        let (status, out) = call(
            &server,
            &token,
            put.clone(),
            format!("{base}/keys/{name}/rotationpolicy?api-version=7.4"),
            Some(policy),
        )
        .await;
        assert_eq!(status, 200, "{out}");
    }
    server.stop().unwrap();
    {
        let db = rusqlite::Connection::open(server.data_dir.join("keyhold.db")).unwrap();
        let changed = db
            .execute(
                "UPDATE key_versions SET created = created - 31 * 86400 WHERE name = 'k'",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    server.restart().unwrap();
    let token = server.token(&server.state.vault_resource).await.unwrap();
    let mut versions = Vec::new();
    for _ in 0..100 {
        let (_, list) = call(
            &server,
            &token,
            reqwest::Method::GET,
            format!("{base}/keys/k/versions?api-version=7.4"),
            None,
        )
        .await;
        versions = list["value"].as_array().cloned().unwrap_or_default();
        if versions.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        versions.len(),
        2,
        "the due Rotate trigger made a second version: {versions:?}"
    );
    let (_, latest) = call(
        &server,
        &token,
        reqwest::Method::GET,
        format!("{base}/keys/k?api-version=7.4"),
        None,
    )
    .await;
    let new_version = latest["key"]["kid"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        latest["attributes"]["exp"].is_i64(),
        "the policy's expiryTime applies: {latest}"
    );
    // A second start runs the job again: nothing new is due.
    server.restart().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.stop().unwrap();

    let log = std::fs::read_to_string(server.data_dir.join("audit.log")).unwrap();
    let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let rotate: Vec<&Value> = lines.iter().filter(|l| l["operation"] == "KeyRotate").collect();
    assert_eq!(rotate.len(), 2, "one request record and one outcome: {rotate:?}");
    assert_eq!(rotate[0]["phase"], "request");
    assert_eq!(
        (rotate[1]["result"].as_u64(), rotate[1]["version"].as_str()),
        (Some(200), Some(new_version.as_str()))
    );
    assert_eq!(rotate[0]["request_id"], rotate[1]["request_id"]);
    let notify: Vec<&Value> = lines.iter().filter(|l| l["operation"] == "KeyNearExpiry").collect();
    assert_eq!(notify.len(), 1, "Notify is recorded once per version: {notify:?}");
    assert_eq!(notify[0]["object"], "n");
    let (ok, out, err) = server.cli(&["audit", "verify"]).unwrap();
    assert!(ok, "{out}{err}");
}

/// The server keeps parsed keys of recently used versions in memory: a key disabled, given other
/// `key_ops`, expired, rotated, deleted or purged right after a sign must be refused (or the new version
/// used) at the very next request, never served from that cache.
#[tokio::test]
async fn parsed_key_cache_follows_the_current_row() {
    let (server, token) = with_vault("kv-keycache").await;
    let base = server.vault_url("kv-keycache");
    let post = reqwest::Method::POST;
    let patch = reqwest::Method::PATCH;
    let d = digest::digest(&digest::SHA256, b"cached");
    let sign_body = json!({"alg": "RS256", "value": B64.encode(d.as_ref())});
    let (status, k) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/c/create?api-version=7.4"),
        Some(json!({"kty": "RSA", "key_size": 2048})),
    )
    .await;
    assert_eq!(status, 200, "{k}");
    let kid1 = k["key"]["kid"].as_str().unwrap().to_owned();
    let sign = |url: String| {
        let (server, token, body) = (&server, &token, sign_body.clone());
        async move { call(server, token, reqwest::Method::POST, url, Some(body)).await }
    };
    let latest = format!("{base}/keys/c/sign?api-version=7.4");
    let pinned = format!("{kid1}/sign?api-version=7.4");
    // Warm the cache twice (the second is a hit).
    for _ in 0..2 {
        let (status, sig) = sign(latest.clone()).await;
        assert_eq!(status, 200, "{sig}");
        assert_eq!(sig["kid"], kid1);
    }

    // Disabled: refused at once; enabled again: signs again.
    let set = |attrs: Value| {
        let (server, token, url) = (&server, &token, format!("{kid1}?api-version=7.4"));
        let patch = patch.clone();
        async move { call(server, token, patch, url, Some(attrs)).await }
    };
    let (status, body) = set(json!({"attributes": {"enabled": false}})).await;
    assert_eq!(status, 200, "{body}");
    for url in [&latest, &pinned] {
        let (status, body) = sign(url.clone()).await;
        assert_eq!(status, 403, "disabled key served: {body}");
    }
    let (status, body) = set(json!({"attributes": {"enabled": true}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sign(pinned.clone()).await.0, 200);

    // key_ops without sign, then an expired key: refused at once.
    let (status, body) = set(json!({"key_ops": ["verify"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sign(pinned.clone()).await.0, 403);
    let (status, body) = set(json!({"key_ops": ["sign", "verify"], "attributes": {"exp": 1}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sign(pinned.clone()).await.0, 403);
    let (status, body) = set(json!({"attributes": {"exp": 4_102_444_800_i64}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sign(pinned.clone()).await.0, 200, "usable again");

    // Rotated: the latest signs with the new version, checked against its public key.
    let (status, rotated) = call(
        &server,
        &token,
        post.clone(),
        format!("{base}/keys/c/rotate?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let (status, sig) = sign(latest.clone()).await;
    assert_eq!(status, 200, "{sig}");
    assert_eq!(sig["kid"], rotated["key"]["kid"]);
    let pk = signature::RsaPublicKeyComponents {
        n: b64(&rotated["key"]["n"]),
        e: b64(&rotated["key"]["e"]),
    };
    pk.verify(&signature::RSA_PKCS1_2048_8192_SHA256, b"cached", &b64(&sig["value"]))
        .unwrap();

    // Deleted: neither version signs.
    let (status, body) = call(
        &server,
        &token,
        reqwest::Method::DELETE,
        format!("{base}/keys/c?api-version=7.4"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for url in [&latest, &pinned] {
        let (status, body) = sign(url.clone()).await;
        assert_eq!(status, 404, "deleted key served: {body}");
    }
}
