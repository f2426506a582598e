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
        let mutating = !matches!(*op, "SecretGet" | "SecretList" | "ManagedIdentityToken");
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

#[tokio::test]
async fn verify_finds_the_edited_line() {
    let (mut server, token) = with_vault("kv1").await;
    for i in 0..3 {
        server
            .http
            .put(format!("{}/secrets/s{i}?api-version=7.4", server.vault_url("kv1")))
            .bearer_auth(&token)
            .json(&json!({"value": "v"}))
            .send()
            .await
            .unwrap();
    }
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

    // A server refuses to extend a broken chain.
    server.restart().unwrap_err();
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
