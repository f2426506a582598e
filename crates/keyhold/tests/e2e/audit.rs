//! The audit log: every operation of a session once, never a value or a token, tamper-evident, and
//! fail-closed when it cannot be written.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::{start, with_vault};

fn audit_lines(server: &keyhold_testkit::Server) -> Vec<Value> {
    let text = std::fs::read_to_string(server.data_dir.join("audit.log")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn every_operation_is_recorded_once_without_values() {
    let (server, token) = with_vault("kv1").await;
    let base = server.vault_url("kv1");
    let value = "audit-canary-value-31337";
    let mut expected: Vec<(String, &str, u16)> = Vec::new();
    let calls: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "SecretSet",
            server
                .http
                .put(format!("{base}/secrets/a?api-version=7.4"))
                .json(&json!({"value": value})),
            200,
        ),
        (
            "SecretGet",
            server.http.get(format!("{base}/secrets/a?api-version=7.4")),
            200,
        ),
        (
            "SecretList",
            server.http.get(format!("{base}/secrets?api-version=7.4")),
            200,
        ),
        (
            "SecretGet",
            server.http.get(format!("{base}/secrets/missing?api-version=7.4")),
            404,
        ),
        (
            "SecretDelete",
            server.http.delete(format!("{base}/secrets/a?api-version=7.4")),
            200,
        ),
        (
            "SecretRecover",
            server
                .http
                .post(format!("{base}/deletedsecrets/a/recover?api-version=7.4")),
            200,
        ),
        (
            "KeyCreate",
            server
                .http
                .post(format!("{base}/keys/k/create?api-version=7.4"))
                .json(&json!({"kty": "EC", "crv": "P-256"})),
            200,
        ),
        ("KeyGet", server.http.get(format!("{base}/keys/k?api-version=7.4")), 200),
        (
            "KeySign",
            server
                .http
                .post(format!("{base}/keys/k/sign?api-version=7.4"))
                .json(&json!({"alg": "ES256", "value": "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"})),
            200,
        ),
    ];
    for (op, req, status) in calls {
        let resp = req.bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{op}");
        let id = resp.headers()["x-ms-request-id"].to_str().unwrap().to_owned();
        expected.push((id, op, status));
    }
    let mi: Value = serde_json::from_slice(&std::fs::read(server.data_dir.join("mi.json")).unwrap()).unwrap();
    let resp = server
        .http
        .get(format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
            server.mi_url(),
            server.state.vault_resource
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    expected.push((
        resp.headers()["x-ms-request-id"].to_str().unwrap().to_owned(),
        "ManagedIdentityToken",
        200,
    ));
    let mi_token: Value = resp.json().await.unwrap();

    let lines = audit_lines(&server);
    let by_id: HashMap<&str, Vec<&Value>> = lines.iter().fold(HashMap::new(), |mut m, l| {
        m.entry(l["request_id"].as_str().unwrap()).or_default().push(l);
        m
    });
    for (id, op, status) in &expected {
        let found = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{op} {id} not audited"));
        let (requests, outcomes): (Vec<&&Value>, Vec<&&Value>) = found.iter().partition(|l| l["phase"] == "request");
        assert_eq!(outcomes.len(), 1, "{op}'s outcome audited once");
        // A key's sign changes nothing, so it needs no record before it runs.
        let mutating = !matches!(
            *op,
            "SecretGet" | "SecretList" | "KeyGet" | "KeySign" | "ManagedIdentityToken"
        );
        assert_eq!(
            requests.len(),
            usize::from(mutating),
            "{op}: a request record before it ran"
        );
        if let Some(request) = requests.first() {
            assert!(
                request["seq"].as_u64() < outcomes[0]["seq"].as_u64(),
                "the request record comes first"
            );
            assert_eq!(request["operation"], *op);
        }
        let rec = *outcomes[0];
        assert_eq!(rec["operation"], *op);
        assert_eq!(rec["result"].as_u64(), Some(u64::from(*status)));
        assert!(rec["client_ip"].as_str().unwrap().starts_with("127."));
        if *op == "ManagedIdentityToken" {
            assert_eq!(rec["caller_oid"], mi["object_id"]);
        } else {
            assert_eq!(
                rec["caller_oid"].as_str(),
                Some(server.admin.object_id.as_str()),
                "{op}"
            );
            assert_eq!(rec["vault"], "kv1");
        }
    }
    let sign = &by_id[expected[8].0.as_str()];
    let outcome = sign.iter().find(|l| l["phase"].is_null()).unwrap();
    assert_eq!(
        outcome["object"],
        json!("k"),
        "a versionless operation's segment is not taken for the object"
    );
    assert_eq!(
        outcome["version"].as_str().map(str::len),
        Some(32),
        "the outcome names the version that signed"
    );
    let set = by_id[expected[0].0.as_str()]
        .iter()
        .find(|l| l["phase"].is_null())
        .unwrap();
    assert_eq!(set["object"], "a");
    assert_eq!(
        set["version"].as_str().map(str::len),
        Some(32),
        "the new version is named"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["operation"] == "TokenIssue" && l["caller_appid"] == server.admin.app_id.as_str())
    );
    assert!(
        lines
            .iter()
            .any(|l| l["operation"] == "VaultWrite" && l["vault"] == "kv1")
    );

    let raw = std::fs::read_to_string(server.data_dir.join("audit.log")).unwrap();
    assert!(!raw.contains(value), "a secret value reached the audit log");
    assert!(!raw.contains(&token), "a token reached the audit log");
    assert!(!raw.contains(mi_token["access_token"].as_str().unwrap()));
    assert!(
        !raw.contains(&server.admin.password),
        "a client secret reached the audit log"
    );
}

/// Secrets s0, s1, s2 in kv1.
async fn put_three(server: &keyhold_testkit::Server, token: &str) {
    for i in 0..3 {
        let url = format!("{}/secrets/s{i}?api-version=7.4", server.vault_url("kv1"));
        let (status, _) = server
            .call(reqwest::Method::PUT, &url, Some(token), Some(json!({"value": "v"})))
            .await
            .unwrap();
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn verify_finds_the_edited_line() {
    let (mut server, token) = with_vault("kv1").await;
    put_three(&server, &token).await;
    server.stop().unwrap();
    let path = server.data_dir.join("audit.log");
    let (ok, out, err) = server.cli(&["audit", "verify"]).unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("chain intact"), "{out}");

    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let target = lines
        .iter()
        .position(|l| l.contains("\"object\":\"s1\"") && l.contains("\"result\":200"))
        .unwrap();
    lines[target] = lines[target].replace("\"result\":200", "\"result\":403");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (ok, _, err) = server.cli(&["audit", "verify"]).unwrap();
    assert!(!ok, "an edited log must fail verification");
    assert!(
        err.contains(&format!("line {}", target + 1)),
        "names the edited line {}: {err}",
        target + 1
    );

    // The edit kept every byte offset, so the start resumes at the anchor without re-reading the log
    // (a long log is not re-read at every start); its background check then finds the edit and
    // records it, and verify still names the line.
    server.restart().unwrap();
    let mut recorded = false;
    for _ in 0..50 {
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("AuditLogBroken") && text.contains(&format!("line {}", target + 1)) {
            recorded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The check runs once the server has written its first keyed record.
    if !recorded {
        server.create_vault("kv2").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let text = std::fs::read_to_string(&path).unwrap();
        recorded = text.contains("AuditLogBroken") && text.contains(&format!("line {}", target + 1));
    }
    assert!(recorded, "the background check records the break");
    server.stop().unwrap();
    let (ok, _, err) = server.cli(&["audit", "verify"]).unwrap();
    assert!(!ok && err.contains(&format!("line {}", target + 1)), "{err}");
}

/// Rewrites the log as someone with write access to the file but not the unseal key would: drops the
/// lines `keep` refuses and recomputes the SHA-256 chain, keeping the old MACs or stripping them.
fn rewrite_chain(path: &std::path::Path, keep: impl Fn(&Value) -> bool, keep_macs: bool) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    let mut seq = 0u64;
    for line in text.lines() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        if !keep(&value) {
            continue;
        }
        seq += 1;
        let map = value.as_object_mut().unwrap();
        map.remove("hash");
        let mac = map.remove("mac");
        map.insert("seq".into(), seq.into());
        map.insert("prev".into(), prev.clone().into());
        let canonical = format!("{prev}\n{value}");
        let hash = hex::encode(keyhold_crypto::sha256(canonical.as_bytes()));
        let map = value.as_object_mut().unwrap();
        if let (true, Some(mac)) = (keep_macs, mac) {
            map.insert("mac".into(), mac);
        }
        map.insert("hash".into(), hash.clone().into());
        out.push_str(&format!("{value}\n"));
        prev = hash;
    }
    std::fs::write(path, out).unwrap();
}

/// The attack the bare SHA-256 chain let through: delete the lines of one object (or principal) and
/// recompute the chain. The keyed check (MACs under a key derived from the root key) names the first rewritten line;
/// the bare chain, checked with `--unkeyed`, cannot tell.
#[tokio::test]
async fn deleting_lines_and_rechaining_is_found() {
    let (mut server, token) = with_vault("kv1").await;
    put_three(&server, &token).await;
    server.stop().unwrap();
    let (ok, out, err) = server.cli(&["audit", "verify"]).unwrap();
    assert!(ok, "{out}{err}");
    assert!(out.contains("chain intact") && out.contains("keyed"), "{out}");
    let lines = audit_lines(&server);
    let sealed_op = |l: &Value| ["SealStatus", "SealInit", "Unseal"].contains(&l["operation"].as_str().unwrap_or(""));
    assert!(
        lines.iter().filter(|l| !sealed_op(l)).all(|l| l["mac"].is_string()),
        "every line an unsealed server writes carries a MAC"
    );
    let first_keyed = lines.iter().position(|l| !sealed_op(l)).unwrap() + 1;
    let path = server.data_dir.join("audit.log");
    let original = std::fs::read(&path).unwrap();
    let first_gone = lines.iter().position(|l| l["object"] == "s1").unwrap() + 1;
    for keep_macs in [false, true] {
        std::fs::write(&path, &original).unwrap();
        // Request records carry no caller, so the rewrite drops everything about s1.
        rewrite_chain(&path, |l| l["object"] != "s1", keep_macs);
        let (ok, out, err) = server.cli(&["audit", "verify", "--unkeyed"]).unwrap();
        assert!(
            ok && out.contains("chain intact"),
            "the bare chain passes the rewrite: {out}{err}"
        );
        let (ok, _, err) = server.cli(&["audit", "verify"]).unwrap();
        assert!(!ok, "the rewrite must fail the keyed check");
        let expected = if keep_macs { first_gone } else { first_keyed };
        assert!(
            err.contains(&format!("line {expected}")) && err.contains("audit key"),
            "names line {expected} (keep_macs={keep_macs}): {err}"
        );
    }

    // An anchor put into the database by hand (say, to match a shortened log) carries no valid MAC.
    std::fs::write(&path, &original).unwrap();
    let db = rusqlite::Connection::open(server.data_dir.join("keyhold.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE meta SET value = CAST('{\"seq\":1,\"hash\":\"' || 'ab' || '\"}' AS BLOB) WHERE key LIKE 'audit-anchor:%'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1, "the server recorded one anchor");
    let (ok, out, _) = server.cli(&["audit", "verify"]).unwrap();
    assert!(!ok && out.contains("FORGED ANCHOR"), "{out}");
}

#[tokio::test]
async fn an_unwritable_audit_log_makes_requests_fail() {
    let server = start(&["--audit-log", "/dev/full"]);
    let health = server
        .http
        .get(format!("{}/healthz", server.state.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "the server itself is up");
    for _ in 0..2 {
        let err = server
            .token(&server.state.vault_resource)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("503") && err.contains("AuditFailure"),
            "no token without an audit record: {err}"
        );
    }
}

/// ARM operations are named as Azure's activity log names them, with the resource id; a role
/// assignment's record says who got which role where.
#[tokio::test]
async fn management_operations_name_their_operation_and_target() {
    let server = start(&[]);
    let rg = server.resource_group("rgAudit").await.unwrap();
    let path = format!("{rg}/providers/Microsoft.Authorization/roleAssignments/6a1e4d2c-0000-4000-8000-0000000000aa");
    let body = json!({"properties": {"roleDefinitionId": "4633458b-17de-408a-b874-0445c86b69e6", "principalId": server.admin.object_id}});
    let (status, _) = server.arm(reqwest::Method::PUT, &path, Some(body)).await.unwrap();
    assert!(status == 200 || status == 201, "{status}");
    let lines = audit_lines(&server);
    let outcome = |op: &str| {
        lines
            .iter()
            .find(|l| l["operation"] == op && l["phase"].is_null())
            .cloned()
            .unwrap_or_else(|| panic!("no {op} record"))
    };
    let group = outcome("Microsoft.Resources/subscriptions/resourceGroups/write");
    assert_eq!(group["object"].as_str(), Some(rg.as_str()));
    let assignment = outcome("Microsoft.Authorization/roleAssignments/write");
    assert!(
        assignment["object"]
            .as_str()
            .unwrap()
            .ends_with("roleAssignments/6a1e4d2c-0000-4000-8000-0000000000aa")
    );
    let detail = assignment["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&server.admin.object_id) && detail.contains("4633458b-17de-408a-b874-0445c86b69e6"),
        "principal and role recorded: {detail}"
    );
}
