//! The token endpoint's refusals, each in Entra's shape with the AADSTS code the Rust SDK requires.

use serde_json::Value;

use crate::{json, start};

async fn post(server: &keyhold_testkit::Server, path: &str, form: &[(&str, &str)]) -> (u16, Value, Option<String>) {
    let resp = server
        .http
        .post(format!("{}{path}", server.state.url))
        .form(form)
        .send()
        .await
        .unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json(resp).await;
    (status, body, retry)
}

fn assert_entra(body: &Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0].as_u64(), Some(code), "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}:")),
        "{body}"
    );
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }
}

#[tokio::test]
async fn refusals_have_entra_bodies() {
    let server = start(&[]);
    let tid = server.state.tenant_id.clone();
    let v2 = format!("/{tid}/oauth2/v2.0/token");
    let scope = format!("{}/.default", server.state.vault_resource);
    let app = server.admin.app_id.clone();
    let base = |secret: &'static str| vec![("grant_type", "client_credentials"), ("client_secret", secret)];

    let mut form = base("wrong-secret");
    form.extend([("client_id", app.as_str()), ("scope", scope.as_str())]);
    let (status, body, _) = post(&server, &v2, &form).await;
    assert_eq!(status, 401);
    assert_entra(&body, "invalid_client", 7000215);

    let mut form = base("x");
    form.extend([
        ("client_id", "11111111-1111-1111-1111-111111111111"),
        ("scope", scope.as_str()),
    ]);
    let (status, body, _) = post(&server, &v2, &form).await;
    assert_eq!(status, 400);
    assert_entra(&body, "unauthorized_client", 700016);

    let mut form = base(Box::leak(server.admin.password.clone().into_boxed_str()));
    form.extend([("client_id", app.as_str()), ("scope", scope.as_str())]);
    let (status, body, _) = post(
        &server,
        "/22222222-2222-2222-2222-222222222222/oauth2/v2.0/token",
        &form,
    )
    .await;
    assert_eq!(status, 400);
    assert_entra(&body, "invalid_request", 90002);

    let (status, body, _) = post(&server, &v2, &[("client_id", app.as_str())]).await;
    assert_eq!(status, 400);
    assert_entra(&body, "invalid_request", 900144);

    let (status, body, _) = post(&server, &v2, &[("grant_type", "password"), ("client_id", app.as_str())]).await;
    assert_eq!(status, 400);
    assert_entra(&body, "unsupported_grant_type", 70003);

    let mut form = base(Box::leak(server.admin.password.clone().into_boxed_str()));
    form.extend([
        ("client_id", app.as_str()),
        ("scope", "https://vault.azure.net/user_impersonation"),
    ]);
    let (status, body, _) = post(&server, &v2, &form).await;
    assert_eq!(status, 400);
    assert_entra(&body, "invalid_scope", 70011);

    let mut form = base(Box::leak(server.admin.password.clone().into_boxed_str()));
    form.extend([
        ("client_id", app.as_str()),
        ("scope", "https://storage.example.com/.default"),
    ]);
    let (status, body, _) = post(&server, &v2, &form).await;
    assert_eq!(status, 400);
    assert_entra(&body, "invalid_resource", 500011);

    // A JSON body is not a form: nothing parses, so the grant type is missing.
    let resp = server
        .http
        .post(format!("{}{v2}", server.state.url))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"client_credentials"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = json(resp).await;
    assert_eq!(status, 400);
    assert_entra(&body, "invalid_request", 900144);
}

#[tokio::test]
async fn v1_endpoint_and_adfs_alias_issue_tokens() {
    let server = start(&[]);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", server.admin.app_id.as_str()),
        ("client_secret", server.admin.password.as_str()),
        ("resource", "https://vault.azure.net"),
    ];
    for tenant in [server.state.tenant_id.as_str(), "adfs"] {
        let (status, body, _) = post(&server, &format!("/{tenant}/oauth2/token"), &form).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["resource"], "https://vault.azure.net");
        assert!(body["expires_in"].is_i64(), "expires_in must be a JSON number: {body}");
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled() {
    let server = start(&[]);
    let scope = format!("{}/.default", server.state.vault_resource);
    let v2 = format!("/{}/oauth2/v2.0/token", server.state.tenant_id);
    let bad = [
        ("grant_type", "client_credentials"),
        ("client_id", server.admin.app_id.as_str()),
        ("client_secret", "guess"),
        ("scope", scope.as_str()),
    ];
    for _ in 0..10 {
        let (status, _, _) = post(&server, &v2, &bad).await;
        assert_eq!(status, 401);
    }
    let (status, body, retry) = post(&server, &v2, &bad).await;
    assert_eq!(status, 429, "{body}");
    assert!(retry.unwrap().parse::<u64>().unwrap() > 0);
    // The right secret is never refused: client ids are not secret, so anyone could lock a client out.
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", server.admin.app_id.as_str()),
        ("client_secret", server.admin.password.as_str()),
        ("scope", scope.as_str()),
    ];
    let (status, body, _) = post(&server, &v2, &good).await;
    assert_eq!(status, 200, "{body}");
}
