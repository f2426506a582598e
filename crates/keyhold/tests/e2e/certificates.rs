//! Certificates on the data plane through raw HTTPS: create as a long-running operation, the bundle's
//! fields, the certificate's key and secret at its version checked with `openssl` (an implementation
//! independent of the server's), versions, attributes, policy, soft deletion, Azure's errors for bad
//! input with nothing stored, and authorization refusals.

use std::process::Command;

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::with_vault;

const API: &str = "api-version=2025-07-01";

async fn call(
    server: &keyhold_testkit::Server,
    token: &str,
    method: Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    server.call(method, &url, Some(token), body).await.unwrap()
}

/// Runs openssl with `args`, feeding nothing; returns stdout, panicking with stderr on failure.
fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

fn cer_pem(cer: &Value) -> String {
    let der = STANDARD.decode(cer.as_str().unwrap()).unwrap();
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// Creates `name` with `body`, checks the 202 and the pending operation, returns the certificate.
async fn create(server: &keyhold_testkit::Server, token: &str, base: &str, name: &str, body: Value) -> Value {
    let resp = server
        .http
        .post(format!("{base}/certificates/{name}/create?{API}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let log = || std::fs::read_to_string(server.data_dir.parent().unwrap().join("server.log")).unwrap_or_default();
    assert_eq!(resp.status().as_u16(), 202, "{}", log());
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{base}/certificates/{name}/pending")),
        "{location}"
    );
    assert!(resp.headers().contains_key("retry-after"));
    let op: Value = resp.json().await.unwrap();
    assert_eq!(op["status"], "inProgress", "{op}");
    assert_eq!(op["cancellation_requested"], false);
    assert!(op["request_id"].is_string() && op["status_details"].is_string(), "{op}");
    assert_eq!(op["id"], format!("{base}/certificates/{name}/pending"));
    STANDARD.decode(op["csr"].as_str().unwrap()).unwrap();

    let (status, done) = call(server, token, Method::GET, location, None).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["target"], format!("{base}/certificates/{name}"));
    let (status, cert) = call(
        server,
        token,
        Method::GET,
        format!("{base}/certificates/{name}?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{cert}");
    cert
}

fn version_of(id: &Value) -> String {
    id.as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn self_signed_certificates_with_their_key_and_secret() {
    let (server, token) = with_vault("kv-certs").await;
    let base = server.vault_url("kv-certs");
    let dir = tempfile::tempdir().unwrap();

    // The default policy: RSA 2048, PKCS#12, CN=DefaultPolicy.
    let cert = create(&server, &token, &base, "web", json!({})).await;
    let version = version_of(&cert["id"]);
    assert_eq!(cert["id"], format!("{base}/certificates/web/{version}"));
    assert_eq!(cert["kid"], format!("{base}/keys/web/{version}"));
    assert_eq!(cert["sid"], format!("{base}/secrets/web/{version}"));
    assert_eq!(cert["contentType"], "application/x-pkcs12");
    assert_eq!(cert["policy"]["id"], format!("{base}/certificates/web/policy"));
    assert_eq!(cert["policy"]["issuer"]["name"], "Self");
    assert_eq!(cert["policy"]["x509_props"]["subject"], "CN=DefaultPolicy");
    assert_eq!(cert["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    let der = STANDARD.decode(cert["cer"].as_str().unwrap()).unwrap();
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    assert_eq!(cert["x5t"], URL_SAFE_NO_PAD.encode(sha1.as_ref()));
    let pem = write(dir.path(), "web.pem", cer_pem(&cert["cer"]).as_bytes());
    assert!(openssl(&["verify", "-CAfile", &pem, &pem]).contains("OK"));
    let text = openssl(&["x509", "-in", &pem, "-noout", "-subject", "-enddate", "-modulus"]);
    assert!(text.contains("CN = DefaultPolicy"), "{text}");
    let exp = cert["attributes"]["exp"].as_i64().unwrap();
    let nbf = cert["attributes"]["nbf"].as_i64().unwrap();
    assert!((365 * 86_400..=366 * 86_400).contains(&(exp - nbf)), "12 months");

    // The key answers the keys API at the same version; its modulus is the certificate's.
    let (status, key) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/keys/web/{version}?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{key}");
    let n = URL_SAFE_NO_PAD.decode(key["key"]["n"].as_str().unwrap()).unwrap();
    assert!(text.contains(&format!("Modulus={}", hex::encode_upper(&n))), "{text}");
    // The secret is a password-less PFX with that key and certificate.
    let (status, secret) = call(&server, &token, Method::GET, format!("{base}/secrets/web?{API}"), None).await;
    assert_eq!(status, 200, "{secret}");
    assert_eq!(secret["id"], format!("{base}/secrets/web/{version}"));
    assert_eq!(secret["contentType"], "application/x-pkcs12");
    let pfx = write(
        dir.path(),
        "web.pfx",
        &STANDARD.decode(secret["value"].as_str().unwrap()).unwrap(),
    );
    let opened = openssl(&["pkcs12", "-in", &pfx, "-passin", "pass:", "-nodes"]);
    assert!(opened.contains("BEGIN PRIVATE KEY") && opened.contains("BEGIN CERTIFICATE"));
    let from_pfx = write(dir.path(), "from-pfx.pem", opened.as_bytes());
    assert_eq!(
        openssl(&["rsa", "-in", &from_pfx, "-noout", "-modulus"]),
        format!("Modulus={}\n", hex::encode_upper(&n))
    );

    // A custom policy: EC P-256 in PEM, with subject alternative names and a short validity.
    let policy = json!({
        "key_props": {"kty": "EC", "crv": "P-256", "exportable": true, "reuse_key": false},
        "secret_props": {"contentType": "application/x-pem-file"},
        "x509_props": {
            "subject": "CN=api.internal, O=Platform", "validity_months": 3,
            "sans": {"dns_names": ["api.internal", "api2.internal"], "emails": ["ops@example.test"], "ipAddresses": ["10.1.2.3"]},
            "ekus": ["1.3.6.1.5.5.7.3.1"], "key_usage": ["digitalSignature"]
        },
        "lifetime_actions": [{"trigger": {"days_before_expiry": 30}, "action": {"action_type": "AutoRenew"}}],
        "issuer": {"name": "Self"}
    });
    let ec = create(
        &server,
        &token,
        &base,
        "api",
        json!({"policy": policy, "tags": {"team": "platform"}}),
    )
    .await;
    assert_eq!(ec["contentType"], "application/x-pem-file");
    assert_eq!(ec["tags"]["team"], "platform");
    assert_eq!(ec["policy"]["key_props"]["crv"], "P-256");
    assert_eq!(ec["policy"]["lifetime_actions"][0]["trigger"]["days_before_expiry"], 30);
    let pem = write(dir.path(), "api.pem", cer_pem(&ec["cer"]).as_bytes());
    assert!(openssl(&["verify", "-CAfile", &pem, &pem]).contains("OK"));
    let text = openssl(&["x509", "-in", &pem, "-noout", "-text"]);
    for needle in [
        "DNS:api.internal",
        "DNS:api2.internal",
        "email:ops@example.test",
        "IP Address:10.1.2.3",
        "TLS Web Server Authentication",
        "prime256v1",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let (_, secret) = call(&server, &token, Method::GET, format!("{base}/secrets/api?{API}"), None).await;
    let bundle = secret["value"].as_str().unwrap();
    assert!(bundle.starts_with("-----BEGIN PRIVATE KEY-----"), "{bundle}");
    let bundle_file = write(dir.path(), "api-bundle.pem", bundle.as_bytes());
    assert_eq!(
        openssl(&["pkey", "-in", &bundle_file, "-pubout"]),
        openssl(&["x509", "-in", &pem, "-noout", "-pubkey"]),
        "the secret's key is the certificate's"
    );

    // Versions, list, get by version.
    let second = create(&server, &token, &base, "web", json!({})).await;
    assert_ne!(second["id"], cert["id"]);
    assert_ne!(second["x5t"], cert["x5t"]);
    let (_, versions) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/web/versions?{API}"),
        None,
    )
    .await;
    let ids: Vec<&str> = versions["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [cert["id"].as_str().unwrap(), second["id"].as_str().unwrap()]);
    let (_, list) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates?{API}&maxresults=1"),
        None,
    )
    .await;
    assert_eq!(list["value"][0]["id"], format!("{base}/certificates/api"));
    assert!(list["value"][0]["x5t"].is_string());
    let (_, page2) = call(
        &server,
        &token,
        Method::GET,
        list["nextLink"].as_str().unwrap().to_owned(),
        None,
    )
    .await;
    assert_eq!(page2["value"][0]["id"], format!("{base}/certificates/web"));
    let (status, old) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/web/{version}?{API}"),
        None,
    )
    .await;
    assert_eq!((status, &old["x5t"]), (200, &cert["x5t"]));

    // Update: disabling the version disables its secret too; tags change.
    let (status, upd) = call(
        &server,
        &token,
        Method::PATCH,
        format!("{base}/certificates/web/{version}?{API}"),
        Some(json!({"attributes": {"enabled": false}, "tags": {"a": "b"}})),
    )
    .await;
    assert_eq!(status, 200, "{upd}");
    assert_eq!(
        (upd["attributes"]["enabled"].clone(), upd["tags"]["a"].clone()),
        (json!(false), json!("b"))
    );
    let (status, _) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/secrets/web/{version}?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 403, "a disabled certificate's secret is not served");

    // Policy: get, patch one section; the next version follows it.
    let (status, p) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/web/policy?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["id"], format!("{base}/certificates/web/policy"));
    let (status, p) = call(
        &server,
        &token,
        Method::PATCH,
        format!("{base}/certificates/web/policy?{API}"),
        Some(json!({"secret_props": {"contentType": "application/x-pem-file"}})),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["secret_props"]["contentType"], "application/x-pem-file");
    assert_eq!(p["x509_props"]["subject"], "CN=DefaultPolicy", "other sections stay");
    let third = create(&server, &token, &base, "web", json!({})).await;
    assert_eq!(third["contentType"], "application/x-pem-file");
}

#[tokio::test]
async fn delete_recover_purge_and_bad_input() {
    let (server, token) = with_vault("kv-certdel").await;
    let base = server.vault_url("kv-certdel");
    let cert = create(&server, &token, &base, "c1", json!({})).await;

    let (status, deleted) = call(
        &server,
        &token,
        Method::DELETE,
        format!("{base}/certificates/c1?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["recoveryId"], format!("{base}/deletedcertificates/c1"));
    assert_eq!(deleted["id"], cert["id"]);
    assert!(deleted["scheduledPurgeDate"].as_i64().unwrap() > deleted["deletedDate"].as_i64().unwrap());
    for path in ["certificates/c1", "keys/c1", "secrets/c1"] {
        let (status, _) = call(&server, &token, Method::GET, format!("{base}/{path}?{API}"), None).await;
        assert_eq!(status, 404, "{path} is deleted with the certificate");
    }
    let (_, list) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/deletedcertificates?{API}"),
        None,
    )
    .await;
    assert_eq!(list["value"][0]["recoveryId"], deleted["recoveryId"]);
    let (status, again) = call(
        &server,
        &token,
        Method::POST,
        format!("{base}/certificates/c1/create?{API}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("Conflict")),
        "{again}"
    );

    let (status, back) = call(
        &server,
        &token,
        Method::POST,
        format!("{base}/deletedcertificates/c1/recover?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["id"], cert["id"]);
    for path in ["certificates/c1", "keys/c1", "secrets/c1"] {
        let (status, _) = call(&server, &token, Method::GET, format!("{base}/{path}?{API}"), None).await;
        assert_eq!(status, 200, "{path} is back");
    }

    call(
        &server,
        &token,
        Method::DELETE,
        format!("{base}/certificates/c1?{API}"),
        None,
    )
    .await;
    let resp = server
        .http
        .delete(format!("{base}/deletedcertificates/c1?{API}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    for path in ["deletedcertificates/c1", "deletedkeys/c1", "deletedsecrets/c1"] {
        let (status, _) = call(&server, &token, Method::GET, format!("{base}/{path}?{API}"), None).await;
        assert_eq!(status, 404, "{path} is purged");
    }
    create(&server, &token, &base, "c1", json!({})).await;

    // Bad input: Azure's status and code, and nothing stored.
    let bad = [
        json!({"policy": {"secret_props": {"contentType": "text/plain"}, "x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"}}}),
        json!({"policy": {"key_props": {"kty": "oct"}, "x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"}}}),
        json!({"policy": {"key_props": {"kty": "RSA", "key_size": 1024}, "x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"}}}),
        json!({"policy": {"x509_props": {"validity_months": 12}, "issuer": {"name": "Self"}}}),
        json!({"policy": {"x509_props": {"subject": "not a name"}, "issuer": {"name": "Self"}}}),
        json!({"policy": {"x509_props": {"subject": "CN=a", "key_usage": ["everything"]}, "issuer": {"name": "Self"}}}),
        json!({"policy": {"x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"},
            "lifetime_actions": [{"trigger": {"lifetime_percentage": 100}, "action": {"action_type": "AutoRenew"}}]}}),
        json!({"policy": "nope"}),
    ];
    for body in bad {
        let (status, err) = call(
            &server,
            &token,
            Method::POST,
            format!("{base}/certificates/bad/create?{API}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("BadParameter")),
            "{body}: {err}"
        );
    }
    for path in [
        "certificates/bad",
        "certificates/bad/pending",
        "keys/bad",
        "secrets/bad",
    ] {
        let (status, err) = call(&server, &token, Method::GET, format!("{base}/{path}?{API}"), None).await;
        assert_eq!(status, 404, "{path}: {err}");
    }
    let (status, err) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/bad/pending?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("PendingCertificateNotFound"))
    );
    let (status, err) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/nope?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("CertificateNotFound"))
    );
    let (status, _) = call(
        &server,
        &token,
        Method::POST,
        format!("{base}/certificates/bad_name/create?{API}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400);
}

/// A principal with every secret and key permission but no certificate permission, and another
/// vault's certificate officer, are refused with Azure's 403; the rightful holder succeeds.
#[tokio::test]
async fn certificate_permissions_are_their_own() {
    let (server, token) = with_vault("kv-ca").await;
    server.create_vault("kv-cb").await.unwrap();
    let (a, _b) = (server.vault_url("kv-ca"), server.vault_url("kv-cb"));
    create(&server, &token, &a, "cert", json!({})).await;
    let sub = server.subscription_id().await.unwrap();
    let grant = |vault: &str, oid: &Value, perms: Value| {
        let path = format!(
            "/subscriptions/{sub}/resourceGroups/keyhold/providers/Microsoft.KeyVault/vaults/{vault}/accessPolicies/add"
        );
        let body = json!({"properties": {"accessPolicies": [{
            "tenantId": server.state.tenant_id, "objectId": oid, "permissions": perms
        }]}});
        (path, body)
    };
    let mut tokens = Vec::new();
    for (who, vault, perms) in [
        (
            "keys-and-secrets",
            "kv-ca",
            json!({"keys": ["all"], "secrets": ["all"]}),
        ),
        ("other-vault", "kv-cb", json!({"certificates": ["all"]})),
        ("reader", "kv-ca", json!({"certificates": ["get", "list"]})),
    ] {
        let sp = server.create_service_principal(who).await.unwrap();
        let (path, body) = grant(vault, &sp["objectId"], perms);
        let (status, resp) = server.arm(Method::PUT, &path, Some(body)).await.unwrap();
        assert!(status == 200 || status == 201, "{resp}");
        let t = server
            .token_for(
                sp["appId"].as_str().unwrap(),
                sp["password"].as_str().unwrap(),
                &server.state.vault_resource,
            )
            .await
            .unwrap();
        tokens.push((t, sp["objectId"].as_str().unwrap().to_owned()));
    }
    let attempts: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "certificates/cert", None),
        (Method::GET, "certificates", None),
        (Method::GET, "certificates/cert/policy", None),
        (Method::GET, "certificates/cert/pending", None),
        (Method::POST, "certificates/cert/create", Some(json!({}))),
        (
            Method::PATCH,
            "certificates/cert",
            Some(json!({"attributes": {"enabled": false}})),
        ),
        (
            Method::PATCH,
            "certificates/cert/policy",
            Some(json!({"x509_props": {"subject": "CN=evil"}})),
        ),
        (Method::DELETE, "certificates/cert", None),
    ];
    for (t, oid) in &tokens[..2] {
        for (method, route, body) in &attempts {
            let (status, err) = call(&server, t, method.clone(), format!("{a}/{route}?{API}"), body.clone()).await;
            assert_eq!(status, 403, "{method} {route}: {err}");
            assert_eq!(err["error"]["code"], "Forbidden");
            assert_eq!(err["error"]["innererror"]["code"], "AccessDenied");
            let msg = err["error"]["message"].as_str().unwrap();
            assert!(msg.contains(oid) && msg.contains("does not have certificates"), "{msg}");
        }
    }
    // The reader reads, and may not write.
    let (reader, _) = &tokens[2];
    let (status, got) = call(
        &server,
        reader,
        Method::GET,
        format!("{a}/certificates/cert?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    let (status, err) = call(
        &server,
        reader,
        Method::DELETE,
        format!("{a}/certificates/cert?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 403, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("certificates delete permission")
    );
    // Nothing changed: one version, enabled, the same policy subject.
    let (_, still) = call(
        &server,
        &token,
        Method::GET,
        format!("{a}/certificates/cert?{API}"),
        None,
    )
    .await;
    assert_eq!(still["attributes"]["enabled"], true);
    assert_eq!(still["policy"]["x509_props"]["subject"], "CN=DefaultPolicy");
    let (_, versions) = call(
        &server,
        &token,
        Method::GET,
        format!("{a}/certificates/cert/versions?{API}"),
        None,
    )
    .await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 1);
}

/// RBAC: Certificates Officer manages certificates but reads no secret; Certificate User reads the
/// certificate and its secret; Key Vault Reader reads metadata only.
#[tokio::test]
async fn rbac_certificate_roles() {
    let server = crate::start(&[]);
    let sub = server.subscription_id().await.unwrap();
    let rg = server.resource_group("rg-certs").await.unwrap();
    let vault_path = format!("{rg}/providers/Microsoft.KeyVault/vaults/kv-rbac-certs");
    let body = json!({"location": "westus", "properties": {
        "tenantId": server.state.tenant_id, "sku": {"family": "A", "name": "standard"},
        "enableRbacAuthorization": true, "accessPolicies": [],
    }});
    let (status, v) = server.arm(Method::PUT, &vault_path, Some(body)).await.unwrap();
    assert_eq!(status, 201, "{v}");
    let base = server.vault_url("kv-rbac-certs");
    let mut principals = Vec::new();
    for (who, role) in [
        ("officer", "a4417e6f-fecd-4de8-b567-7b0420556985"),
        ("user", "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"),
        ("reader", "21090545-7ca7-4776-b22c-e363652d74d2"),
    ] {
        let sp = server.create_service_principal(who).await.unwrap();
        let body = json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": sp["objectId"]}});
        let name = uuid::Uuid::new_v4().to_string();
        let (status, a) = server
            .arm(
                Method::PUT,
                &format!("{vault_path}/providers/Microsoft.Authorization/roleAssignments/{name}"),
                Some(body),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{a}");
        let t = server
            .token_for(
                sp["appId"].as_str().unwrap(),
                sp["password"].as_str().unwrap(),
                &server.state.vault_resource,
            )
            .await
            .unwrap();
        principals.push(t);
    }
    let (officer, user, reader) = (&principals[0], &principals[1], &principals[2]);
    let cert = create(&server, officer, &base, "rc", json!({})).await;
    assert!(cert["x5t"].is_string());
    let (status, err) = call(&server, officer, Method::GET, format!("{base}/secrets/rc?{API}"), None).await;
    assert_eq!(status, 403, "the officer does not read the private key: {err}");
    assert_eq!(err["error"]["innererror"]["code"], "ForbiddenByRbac");
    let (status, secret) = call(&server, user, Method::GET, format!("{base}/secrets/rc?{API}"), None).await;
    assert_eq!(status, 200, "{secret}");
    let (status, err) = call(
        &server,
        user,
        Method::POST,
        format!("{base}/certificates/x/create?{API}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("certificates/create/action")
    );
    let (status, _) = call(
        &server,
        reader,
        Method::GET,
        format!("{base}/certificates/rc?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&server, reader, Method::GET, format!("{base}/secrets/rc?{API}"), None).await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &server,
        reader,
        Method::DELETE,
        format!("{base}/certificates/rc?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 403);
}

/// Runs openssl in `dir`.
fn openssl_in(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn import_pfx_and_pem_with_azures_errors() {
    let (server, token) = with_vault("kv-import").await;
    let base = server.vault_url("kv-import");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_in(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
            "-days",
            "30",
            "-subj",
            "/CN=imported/O=Elsewhere",
            "-addext",
            "subjectAltName=DNS:imp.test",
        ],
    );
    openssl_in(
        d,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "k.pem",
            "-in",
            "c.pem",
            "-passout",
            "pass:s3cret",
            "-out",
            "c.pfx",
        ],
    );
    openssl_in(d, &["rsa", "-in", "k.pem", "-traditional", "-out", "k1.pem"]);
    openssl_in(
        d,
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.pem"],
    );
    openssl_in(
        d,
        &[
            "req",
            "-x509",
            "-key",
            "ec.pem",
            "-out",
            "ecc.pem",
            "-days",
            "10",
            "-subj",
            "/CN=ec-imported",
        ],
    );
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    let text = |f: &str| String::from_utf8(read(f)).unwrap();
    let cert_der = {
        let pem = text("c.pem");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(b64).unwrap()
    };
    let import = |name: &str, body: Value| {
        let (server, token, base) = (&server, &token, &base);
        let name = name.to_owned();
        async move {
            call(
                server,
                token,
                Method::POST,
                format!("{base}/certificates/{name}/import?{API}"),
                Some(body),
            )
            .await
        }
    };

    // PFX with its password.
    let pfx = STANDARD.encode(read("c.pfx"));
    let (status, cert) = import("pfx", json!({"value": pfx, "pwd": "s3cret", "tags": {"from": "pfx"}})).await;
    assert_eq!(status, 200, "{cert}");
    assert_eq!(STANDARD.decode(cert["cer"].as_str().unwrap()).unwrap(), cert_der);
    assert_eq!(cert["policy"]["issuer"]["name"], "Unknown");
    assert_eq!(cert["policy"]["x509_props"]["subject"], "CN=imported, O=Elsewhere");
    assert_eq!(cert["policy"]["x509_props"]["sans"]["dns_names"], json!(["imp.test"]));
    assert_eq!(cert["policy"]["key_props"]["key_size"], 2048);
    assert_eq!(cert["contentType"], "application/x-pkcs12");
    assert_eq!(cert["tags"]["from"], "pfx");
    let version = version_of(&cert["id"]);
    let (_, secret) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/secrets/pfx/{version}?{API}"),
        None,
    )
    .await;
    let out = write(
        d,
        "out.pfx",
        &STANDARD.decode(secret["value"].as_str().unwrap()).unwrap(),
    );
    let opened = openssl(&["pkcs12", "-in", &out, "-passin", "pass:", "-nodes"]);
    let reopened = write(d, "reopened.pem", opened.as_bytes());
    let key_path = d.join("k.pem").to_string_lossy().into_owned();
    assert_eq!(
        openssl(&["rsa", "-in", &reopened, "-noout", "-modulus"]),
        openssl(&["rsa", "-in", &key_path, "-noout", "-modulus"]),
        "the secret holds the imported key"
    );
    let (status, key) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/keys/pfx/{version}?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{key}");

    // PEM: raw text (the JS SDK), base64 of it (the Python SDK), PKCS#1 and SEC1 keys.
    let pem = format!("{}{}", text("k.pem"), text("c.pem"));
    let (status, c) = import("pem-raw", json!({"value": pem})).await;
    assert_eq!(
        (status, c["contentType"].as_str()),
        (200, Some("application/x-pem-file")),
        "{c}"
    );
    let (status, c) = import(
        "pem-b64",
        json!({"value": STANDARD.encode(&pem), "policy": {"secret_props": {"contentType": "application/x-pkcs12"}}}),
    )
    .await;
    assert_eq!(
        (status, c["contentType"].as_str()),
        (200, Some("application/x-pkcs12")),
        "{c}"
    );
    let (status, c) = import(
        "pem-pkcs1",
        json!({"value": format!("{}{}", text("c.pem"), text("k1.pem"))}),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    let (status, c) = import(
        "pem-ec",
        json!({"value": format!("{}{}", text("ec.pem"), text("ecc.pem"))}),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["policy"]["key_props"]["crv"], "P-256");
    let (_, s) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/secrets/pem-ec?{API}"),
        None,
    )
    .await;
    let bundle = write(d, "ec-bundle.pem", s["value"].as_str().unwrap().as_bytes());
    let ecc = d.join("ecc.pem").to_string_lossy().into_owned();
    assert_eq!(
        openssl(&["pkey", "-in", &bundle, "-pubout"]),
        openssl(&["x509", "-in", &ecc, "-noout", "-pubkey"])
    );

    // Azure's errors, and nothing stored.
    let bad = [
        ("wrong password", json!({"value": pfx, "pwd": "wrong"}), "PKCS#12"),
        ("no password", json!({"value": pfx}), "PKCS#12"),
        (
            "not a certificate",
            json!({"value": STANDARD.encode(b"garbage")}),
            "PKCS#12",
        ),
        (
            "PEM without key",
            json!({"value": text("c.pem")}),
            "Private key is not specified",
        ),
        (
            "key of another certificate",
            json!({"value": format!("{}{}", text("ec.pem"), text("c.pem"))}),
            "does not match",
        ),
        ("no value", json!({"pwd": "x"}), "'value'"),
        (
            "policy for another key type",
            json!({"value": pem, "policy": {"key_props": {"kty": "EC"}}}),
            "does not match",
        ),
    ];
    for (what, body, needle) in bad {
        let (status, err) = import("bad", body).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("BadParameter")),
            "{what}: {err}"
        );
        assert!(
            err["error"]["message"].as_str().unwrap().contains(needle),
            "{what}: {err}"
        );
    }
    for path in ["certificates/bad", "keys/bad", "secrets/bad"] {
        let (status, _) = call(&server, &token, Method::GET, format!("{base}/{path}?{API}"), None).await;
        assert_eq!(status, 404, "{path}");
    }
}

fn der_of_pem(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(b64).unwrap()
}

#[tokio::test]
async fn unknown_issuer_pending_merge_and_refusals() {
    let (server, token) = with_vault("kv-merge").await;
    let base = server.vault_url("kv-merge");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_in(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Outside CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    let policy = json!({"issuer": {"name": "Unknown"}, "x509_props": {"subject": "CN=merged.internal",
        "sans": {"dns_names": ["merged.internal"]}}, "key_props": {"kty": "RSA", "key_size": 2048}});
    let start = |name: &'static str| {
        let (server, token, base, policy) = (&server, &token, &base, policy.clone());
        async move {
            let resp = server
                .http
                .post(format!("{base}/certificates/{name}/create?{API}"))
                .bearer_auth(token)
                .json(&json!({"policy": policy}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 202);
            let op: Value = resp.json().await.unwrap();
            assert_eq!(
                (op["status"].as_str(), op["issuer"]["name"].as_str()),
                (Some("inProgress"), Some("Unknown"))
            );
            op
        }
    };
    let op = start("ext").await;
    let (status, pending) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/ext/pending?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (status, pending["status"].as_str()),
        (200, Some("inProgress")),
        "{pending}"
    );
    assert_eq!(pending["csr"], op["csr"]);
    let (status, _) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/ext?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "no certificate before the merge");

    // Sign the CSR with the outside CA.
    let csr_der = STANDARD.decode(op["csr"].as_str().unwrap()).unwrap();
    write(d, "req.der", &csr_der);
    openssl_in(d, &["req", "-in", "req.der", "-inform", "DER", "-verify", "-noout"]);
    let sign = |csr: &str, out: &str| {
        openssl_in(
            d,
            &[
                "x509",
                "-req",
                "-in",
                csr,
                "-inform",
                "DER",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "20",
                "-out",
                out,
                "-copy_extensions",
                "copy",
            ],
        )
    };
    sign("req.der", "leaf.pem");
    let leaf = der_of_pem(&std::fs::read_to_string(d.join("leaf.pem")).unwrap());
    let ca = der_of_pem(&std::fs::read_to_string(d.join("ca.pem")).unwrap());

    // A certificate for another key is refused, and nothing changes.
    start("other").await;
    let (_, other) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/other/pending?{API}"),
        None,
    )
    .await;
    write(
        d,
        "other.der",
        &STANDARD.decode(other["csr"].as_str().unwrap()).unwrap(),
    );
    sign("other.der", "other.pem");
    let wrong = der_of_pem(&std::fs::read_to_string(d.join("other.pem")).unwrap());
    let merge = |name: &str, x5c: Vec<String>| {
        let (server, token, base) = (&server, &token, &base);
        let url = format!("{base}/certificates/{name}/pending/merge?{API}");
        async move { call(server, token, Method::POST, url, Some(json!({"x5c": x5c}))).await }
    };
    let (status, err) = merge("ext", vec![STANDARD.encode(&wrong)]).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("BadParameter")),
        "{err}"
    );
    let (_, pending) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/ext/pending?{API}"),
        None,
    )
    .await;
    assert_eq!(pending["status"], "inProgress");
    for path in ["certificates/ext", "keys/ext", "secrets/ext"] {
        let (status, _) = call(&server, &token, Method::GET, format!("{base}/{path}?{API}"), None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = merge("ext", vec!["not base64!".into()]).await;
    assert_eq!(status, 400);

    // The right one: 201, the chain in the secret, verifiable with openssl.
    let (status, cert) = merge("ext", vec![STANDARD.encode(&leaf), STANDARD.encode(&ca)]).await;
    assert_eq!(status, 201, "{cert}");
    assert_eq!(STANDARD.decode(cert["cer"].as_str().unwrap()).unwrap(), leaf);
    assert_eq!(cert["policy"]["issuer"]["name"], "Unknown");
    let (_, done) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/ext/pending?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (done["status"].as_str(), done["target"].as_str()),
        (Some("completed"), Some(format!("{base}/certificates/ext").as_str()))
    );
    let (_, secret) = call(&server, &token, Method::GET, format!("{base}/secrets/ext?{API}"), None).await;
    let pfx = write(
        d,
        "ext.pfx",
        &STANDARD.decode(secret["value"].as_str().unwrap()).unwrap(),
    );
    let opened = openssl(&["pkcs12", "-in", &pfx, "-passin", "pass:", "-nodes"]);
    assert_eq!(opened.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA");
    assert!(opened.contains("BEGIN PRIVATE KEY"));
    let leaf_pem = d.join("leaf.pem").to_string_lossy().into_owned();
    let ca_pem = d.join("ca.pem").to_string_lossy().into_owned();
    assert!(openssl(&["verify", "-CAfile", &ca_pem, &leaf_pem]).contains("OK"));
    let (status, _) = merge("ext", vec![STANDARD.encode(&leaf)]).await;
    assert_eq!(status, 404, "nothing pending any more");

    // Cancel: the request is cancelled and can no longer be merged; delete forgets it.
    let (status, c) = call(
        &server,
        &token,
        Method::PATCH,
        format!("{base}/certificates/other/pending?{API}"),
        Some(json!({"cancellation_requested": true})),
    )
    .await;
    assert_eq!(
        (status, c["status"].as_str(), c["cancellation_requested"].as_bool()),
        (200, Some("cancelled"), Some(true)),
        "{c}"
    );
    let (status, err) = merge("other", vec![STANDARD.encode(&wrong)]).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("PendingCertificateNotFound")),
        "{err}"
    );
    let (status, _) = call(
        &server,
        &token,
        Method::DELETE,
        format!("{base}/certificates/other/pending?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/other/pending?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn contacts_and_issuers_with_their_permissions() {
    let (server, token) = with_vault("kv-iss").await;
    let base = server.vault_url("kv-iss");
    let (status, err) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/contacts?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("ContactsNotFound")),
        "{err}"
    );
    for bad in [
        json!({"contacts": []}),
        json!({"contacts": [{"name": "no email"}]}),
        json!({"contacts": "x"}),
    ] {
        let (status, err) = call(
            &server,
            &token,
            Method::PUT,
            format!("{base}/certificates/contacts?{API}"),
            Some(bad),
        )
        .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("BadParameter")),
            "{err}"
        );
    }
    let (status, _) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/contacts?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "nothing stored");
    let (status, c) = call(
        &server,
        &token,
        Method::PUT,
        format!("{base}/certificates/contacts?{API}"),
        Some(json!({"contacts": [{"email": "ops@example.test", "name": "Ops"}]})),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["id"], format!("{base}/certificates/contacts"));
    assert_eq!(c["contacts"][0]["email"], "ops@example.test");

    let (status, err) = call(
        &server,
        &token,
        Method::PUT,
        format!("{base}/certificates/issuers/ca1?{API}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("BadParameter")),
        "{err}"
    );
    let (status, err) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/issuers/ca1?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("CertificateIssuerNotFound"))
    );
    let (status, i) = call(
        &server,
        &token,
        Method::PUT,
        format!("{base}/certificates/issuers/ca1?{API}"),
        Some(json!({"provider": "KeyholdCA", "credentials": {"account_id": "a", "pwd": "p"}})),
    )
    .await;
    assert_eq!(status, 200, "{i}");
    assert!(
        i["credentials"]["pwd"].is_null() && i["credentials"]["account_id"] == "a",
        "{i}"
    );
    assert_eq!(i["id"], format!("{base}/certificates/issuers/ca1"));

    // Permissions: certificate get/list/create without managecontacts or issuer rights.
    let sub = server.subscription_id().await.unwrap();
    let mut toks = Vec::new();
    for (who, perms) in [
        ("plain", json!(["get", "list", "create"])),
        ("getter", json!(["getissuers"])),
        ("manager", json!(["manageissuers", "managecontacts"])),
    ] {
        let sp = server.create_service_principal(who).await.unwrap();
        let path = format!(
            "/subscriptions/{sub}/resourceGroups/keyhold/providers/Microsoft.KeyVault/vaults/kv-iss/accessPolicies/add"
        );
        let body = json!({"properties": {"accessPolicies": [{
            "tenantId": server.state.tenant_id, "objectId": sp["objectId"], "permissions": {"certificates": perms}}]}});
        let (status, r) = server.arm(Method::PUT, &path, Some(body)).await.unwrap();
        assert!(status == 200 || status == 201, "{r}");
        toks.push(
            server
                .token_for(
                    sp["appId"].as_str().unwrap(),
                    sp["password"].as_str().unwrap(),
                    &server.state.vault_resource,
                )
                .await
                .unwrap(),
        );
    }
    let (plain, getter, manager) = (&toks[0], &toks[1], &toks[2]);
    for (t, method, path, want, needle) in [
        (plain, Method::GET, "certificates/contacts", 403, "managecontacts"),
        (plain, Method::GET, "certificates/issuers/ca1", 403, "getissuers"),
        (plain, Method::GET, "certificates/issuers", 403, "listissuers"),
        (getter, Method::GET, "certificates/issuers/ca1", 200, ""),
        (getter, Method::DELETE, "certificates/issuers/ca1", 403, "deleteissuers"),
        (manager, Method::GET, "certificates/contacts", 200, ""),
        (manager, Method::GET, "certificates/issuers", 200, ""),
    ] {
        let (status, body) = call(&server, t, method.clone(), format!("{base}/{path}?{API}"), None).await;
        assert_eq!(status, want, "{method} {path}: {body}");
        if want == 403 {
            assert!(body["error"]["message"].as_str().unwrap().contains(needle), "{body}");
        }
    }
    let (status, _) = call(
        &server,
        manager,
        Method::PATCH,
        format!("{base}/certificates/issuers/ca1?{API}"),
        Some(json!({"attributes": {"enabled": false}})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, i) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/issuers/ca1?{API}"),
        None,
    )
    .await;
    assert_eq!(
        (
            i["attributes"]["enabled"].as_bool(),
            i["credentials"]["account_id"].as_str()
        ),
        (Some(false), Some("a"))
    );
    let (status, _) = call(
        &server,
        manager,
        Method::DELETE,
        format!("{base}/certificates/issuers/ca1?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &server,
        manager,
        Method::DELETE,
        format!("{base}/certificates/contacts?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

/// Splits a PEM bundle (openssl's pkcs12 output) into its certificates, in order.
fn certificates_in(pem: &str) -> Vec<String> {
    pem.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|rest| {
            let body = rest.split("-----END CERTIFICATE-----").next().unwrap();
            format!("-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----\n")
        })
        .collect()
}

#[tokio::test]
async fn keyhold_ca_issues_chains_that_openssl_verifies() {
    let (server, token) = with_vault("kv-ca-issue").await;
    let base = server.vault_url("kv-ca-issue");
    let dir = tempfile::tempdir().unwrap();
    let put_issuer = |name: &str, body: Value| {
        let (server, token) = (&server, &token);
        let url = format!("{base}/certificates/issuers/{name}?{API}");
        async move { call(server, token, Method::PUT, url, Some(body)).await }
    };
    assert_eq!(put_issuer("internal", json!({"provider": "KeyholdCA"})).await.0, 200);
    assert_eq!(put_issuer("digicert", json!({"provider": "DigiCert"})).await.0, 200);
    assert_eq!(
        put_issuer(
            "off",
            json!({"provider": "KeyholdCA", "attributes": {"enabled": false}})
        )
        .await
        .0,
        200
    );
    let policy = |issuer: &str| {
        json!({"policy": {"issuer": {"name": issuer}, "x509_props": {"subject": "CN=svc.internal",
            "sans": {"dns_names": ["svc.internal"]}, "ekus": ["1.3.6.1.5.5.7.3.1"]}}})
    };
    let mut cas = Vec::new();
    for name in ["tls1", "tls2"] {
        let cert = create(&server, &token, &base, name, policy("internal")).await;
        assert_eq!(cert["policy"]["issuer"]["name"], "internal");
        let (_, secret) = call(
            &server,
            &token,
            Method::GET,
            format!("{base}/secrets/{name}?{API}"),
            None,
        )
        .await;
        let pfx = write(
            dir.path(),
            &format!("{name}.pfx"),
            &STANDARD.decode(secret["value"].as_str().unwrap()).unwrap(),
        );
        let opened = openssl(&["pkcs12", "-in", &pfx, "-passin", "pass:", "-nodes"]);
        let chain = certificates_in(&opened);
        assert_eq!(chain.len(), 2, "leaf and CA: {opened}");
        let ca = write(dir.path(), &format!("{name}-ca.pem"), chain[1].as_bytes());
        let leaf = write(dir.path(), &format!("{name}.pem"), cer_pem(&cert["cer"]).as_bytes());
        assert!(openssl(&["verify", "-purpose", "sslserver", "-CAfile", &ca, &leaf]).contains("OK"));
        let ca_text = openssl(&["x509", "-in", &ca, "-noout", "-text"]);
        assert!(
            ca_text.contains("CA:TRUE") && ca_text.contains("keyhold issuing CA"),
            "{ca_text}"
        );
        // The leaf does not verify against itself: it really is CA-signed.
        let self_check = Command::new("openssl")
            .args(["verify", "-CAfile", &leaf, &leaf])
            .output()
            .unwrap();
        assert!(!self_check.status.success());
        cas.push(chain[1].clone());
    }
    assert_eq!(cas[0], cas[1], "one issuing CA per tenant");

    for (issuer, needle) in [
        ("digicert", "DigiCert"),
        ("off", "disabled"),
        ("missing", "does not exist"),
    ] {
        let (status, err) = call(
            &server,
            &token,
            Method::POST,
            format!("{base}/certificates/bad-{issuer}/create?{API}"),
            Some(policy(issuer)),
        )
        .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("BadParameter")),
            "{issuer}: {err}"
        );
        assert!(err["error"]["message"].as_str().unwrap().contains(needle), "{err}");
        let (status, _) = call(
            &server,
            &token,
            Method::GET,
            format!("{base}/certificates/bad-{issuer}?{API}"),
            None,
        )
        .await;
        assert_eq!(status, 404);
    }
}

/// The leader's job renews a certificate whose lifetime action is due (time moved by editing the
/// version's validity in the database while the server is stopped, as the keys' rotation test does).
#[tokio::test]
async fn auto_renew_makes_a_new_version_of_the_same_name() {
    let (mut server, token) = with_vault("kv-renew").await;
    let base = server.vault_url("kv-renew");
    let body = |pct: u32| {
        json!({"policy": {"issuer": {"name": "Self"}, "x509_props": {"subject": "CN=renew.internal", "validity_months": 1},
            "lifetime_actions": [{"trigger": {"lifetime_percentage": pct}, "action": {"action_type": "AutoRenew"}}]}})
    };
    let first = create(&server, &token, &base, "due", body(50)).await;
    let not_due = create(&server, &token, &base, "later", body(90)).await;
    server.stop().unwrap();
    {
        let db = rusqlite::Connection::open(server.data_dir.join("keyhold.db")).unwrap();
        let changed = db
            .execute(
                "UPDATE certificate_versions SET nbf = nbf - 20 * 86400, exp = exp - 20 * 86400",
                [],
            )
            .unwrap();
        assert_eq!(changed, 2);
    }
    server.restart().unwrap();
    let token = server.token(&server.state.vault_resource).await.unwrap();
    let mut versions = Vec::new();
    for _ in 0..100 {
        let (_, list) = call(
            &server,
            &token,
            Method::GET,
            format!("{base}/certificates/due/versions?{API}"),
            None,
        )
        .await;
        versions = list["value"].as_array().cloned().unwrap_or_default();
        if versions.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(versions.len(), 2, "renewed: {versions:?}");
    let (_, latest) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/due?{API}"),
        None,
    )
    .await;
    assert_ne!(latest["id"], first["id"]);
    assert!(
        latest["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/certificates/due/"))
    );
    assert_ne!(latest["x5t"], first["x5t"]);
    let (status, secret) = call(&server, &token, Method::GET, format!("{base}/secrets/due?{API}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        version_of(&secret["id"]),
        version_of(&latest["id"]),
        "the secret follows the new version"
    );
    let (_, later) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/later/versions?{API}"),
        None,
    )
    .await;
    assert_eq!(later["value"].as_array().unwrap().len(), 1, "90 % is not reached");
    assert_eq!(later["value"][0]["id"], not_due["id"]);
}

#[tokio::test]
async fn secret_out_content_type_converts_where_the_api_version_has_it() {
    let (server, token) = with_vault("kv-convert").await;
    let base = server.vault_url("kv-convert");
    let dir = tempfile::tempdir().unwrap();
    let cert = create(&server, &token, &base, "conv", json!({})).await;
    let pem_ct = "application%2Fx-pem-file";
    let (status, s) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/secrets/conv?api-version=2025-07-01&outContentType={pem_ct}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["contentType"], "application/x-pem-file");
    let bundle = write(dir.path(), "conv.pem", s["value"].as_str().unwrap().as_bytes());
    let leaf = write(dir.path(), "leaf.pem", cer_pem(&cert["cer"]).as_bytes());
    assert_eq!(
        openssl(&["pkey", "-in", &bundle, "-pubout"]),
        openssl(&["x509", "-in", &leaf, "-noout", "-pubkey"]),
        "the PFX's key, as PEM"
    );
    let (_, old) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/secrets/conv?api-version=7.4&outContentType={pem_ct}"),
        None,
    )
    .await;
    assert_eq!(old["contentType"], "application/x-pkcs12", "7.4 has no outContentType");
    let (status, err) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/secrets/conv?api-version=2025-07-01&outContentType=text%2Fplain"),
        None,
    )
    .await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("BadParameter")));
    call(
        &server,
        &token,
        Method::PUT,
        format!("{base}/secrets/plain?{API}"),
        Some(json!({"value": "v"})),
    )
    .await;
    let (status, _) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/secrets/plain?api-version=2025-07-01&outContentType={pem_ct}"),
        None,
    )
    .await;
    assert_eq!(status, 400, "only a certificate's secret converts");
}

/// A certificate's key and secret are managed: readable through their APIs, marked `managed`, and
/// changed only through the certificate; a name taken by a plain key or secret is refused.
#[tokio::test]
async fn the_certificates_key_and_secret_are_managed() {
    let (server, token) = with_vault("kv-managed").await;
    let base = server.vault_url("kv-managed");
    let cert = create(&server, &token, &base, "m", json!({})).await;
    let version = version_of(&cert["id"]);
    let (_, key) = call(&server, &token, Method::GET, format!("{base}/keys/m?{API}"), None).await;
    assert_eq!(key["managed"], true, "{key}");
    let (_, secret) = call(&server, &token, Method::GET, format!("{base}/secrets/m?{API}"), None).await;
    assert_eq!(
        (secret["managed"].clone(), secret["kid"].clone()),
        (json!(true), cert["kid"].clone())
    );
    for (method, path, body) in [
        (Method::PUT, "secrets/m", Some(json!({"value": "overwrite"}))),
        (Method::PATCH, "secrets/m", Some(json!({"contentType": "text/plain"}))),
        (Method::DELETE, "secrets/m", None),
        (Method::POST, "keys/m/create", Some(json!({"kty": "EC"}))),
        (Method::PATCH, "keys/m", Some(json!({"attributes": {"enabled": false}}))),
        (Method::POST, "keys/m/rotate", None),
        (Method::DELETE, "keys/m", None),
    ] {
        let (status, err) = call(&server, &token, method.clone(), format!("{base}/{path}?{API}"), body).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (403, Some("Forbidden")),
            "{method} {path}: {err}"
        );
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("managed by the certificate"),
            "{err}"
        );
    }
    // Nothing changed.
    let (_, secret) = call(&server, &token, Method::GET, format!("{base}/secrets/m?{API}"), None).await;
    assert_eq!(version_of(&secret["id"]), version);
    let (_, key) = call(&server, &token, Method::GET, format!("{base}/keys/m?{API}"), None).await;
    assert_eq!(
        (key["attributes"]["enabled"].as_bool(), version_of(&key["key"]["kid"])),
        (Some(true), version.clone())
    );
    // Deleted with the certificate, a managed key or secret is not recovered or purged on its own.
    call(
        &server,
        &token,
        Method::DELETE,
        format!("{base}/certificates/m?{API}"),
        None,
    )
    .await;
    for (method, path) in [
        (Method::POST, "deletedsecrets/m/recover"),
        (Method::DELETE, "deletedkeys/m"),
    ] {
        let (status, err) = call(&server, &token, method.clone(), format!("{base}/{path}?{API}"), None).await;
        assert_eq!(status, 403, "{method} {path}: {err}");
    }

    // A plain secret's name cannot become a certificate's.
    call(
        &server,
        &token,
        Method::PUT,
        format!("{base}/secrets/plain?{API}"),
        Some(json!({"value": "v"})),
    )
    .await;
    let (status, err) = call(
        &server,
        &token,
        Method::POST,
        format!("{base}/certificates/plain/create?{API}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("Conflict")),
        "{err}"
    );
    let (status, _) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/certificates/plain?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, plain) = call(
        &server,
        &token,
        Method::GET,
        format!("{base}/secrets/plain?{API}"),
        None,
    )
    .await;
    assert_eq!(plain["value"], "v");
    assert!(plain["managed"].is_null());
}

/// Every secret version a certificate writes (create, import, merge, renewal, restore) is accounted
/// for by the audit log: `audit verify --reconcile` stays clean.
#[tokio::test]
async fn certificate_writes_reconcile_with_the_audit_log() {
    let (mut server, token) = with_vault("kv-recon").await;
    let base = server.vault_url("kv-recon");
    create(&server, &token, &base, "a", json!({})).await;
    create(&server, &token, &base, "a", json!({})).await;
    let (_, s) = call(&server, &token, Method::GET, format!("{base}/secrets/a?{API}"), None).await;
    let pfx = s["value"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &server,
        &token,
        Method::POST,
        format!("{base}/certificates/b/import?{API}"),
        Some(json!({"value": pfx})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, blob) = call(
        &server,
        &token,
        Method::POST,
        format!("{base}/certificates/b/backup?{API}"),
        None,
    )
    .await;
    call(
        &server,
        &token,
        Method::DELETE,
        format!("{base}/certificates/b?{API}"),
        None,
    )
    .await;
    call(
        &server,
        &token,
        Method::DELETE,
        format!("{base}/deletedcertificates/b?{API}"),
        None,
    )
    .await;
    let (status, _) = call(
        &server,
        &token,
        Method::POST,
        format!("{base}/certificates/restore?{API}"),
        Some(json!({"value": blob["value"]})),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().unwrap();
    let out = crate::faults::assert_reconciled(&server, &[]);
    assert!(out.contains("0 unaudited"), "{out}");
}

#[tokio::test]
async fn preserve_cert_order_keeps_an_imported_chain_as_given() {
    let (server, token) = with_vault("kv-order").await;
    let base = server.vault_url("kv-order");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_in(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "5",
            "-subj",
            "/CN=Order CA",
        ],
    );
    openssl_in(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=ordered",
        ],
    );
    openssl_in(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3",
            "-out",
            "leaf.pem",
        ],
    );
    let text = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    // The CA first, then the leaf and its key.
    let pem = format!("{}{}{}", text("ca.pem"), text("leaf.pem"), text("leaf.key"));
    let leaf_der = der_of_pem(&text("leaf.pem"));
    for (name, preserve, first) in [("kept", true, "Order CA"), ("sorted", false, "ordered")] {
        let (status, cert) = call(
            &server,
            &token,
            Method::POST,
            format!("{base}/certificates/{name}/import?{API}"),
            Some(json!({"value": pem, "preserveCertOrder": preserve})),
        )
        .await;
        assert_eq!(status, 200, "{cert}");
        assert_eq!(cert["preserveCertOrder"], preserve);
        assert_eq!(
            STANDARD.decode(cert["cer"].as_str().unwrap()).unwrap(),
            leaf_der,
            "cer is the key's certificate"
        );
        let (_, s) = call(
            &server,
            &token,
            Method::GET,
            format!("{base}/secrets/{name}?{API}"),
            None,
        )
        .await;
        let chain = certificates_in(s["value"].as_str().unwrap());
        assert_eq!(chain.len(), 2);
        let head = write(d, &format!("{name}-0.pem"), chain[0].as_bytes());
        let subject = openssl(&["x509", "-in", &head, "-noout", "-subject"]);
        assert!(subject.contains(first), "{name}: {subject}");
    }
}
