//! The host's managed-identity endpoints, each protocol as the SDKs speak it (wire-protocol §4).

use std::collections::HashMap;

use serde_json::Value;

use crate::{json, with_vault};

fn mi_file(server: &keyhold_testkit::Server) -> Value {
    serde_json::from_slice(&std::fs::read(server.data_dir.join("mi.json")).unwrap()).unwrap()
}

/// IMDS sends every field as a string; the Rust SDK insists on a string `expires_on`.
fn assert_imds_shape(body: &Value, resource: &str) {
    for field in [
        "access_token",
        "client_id",
        "expires_in",
        "expires_on",
        "ext_expires_in",
        "not_before",
        "resource",
        "token_type",
    ] {
        assert!(body[field].is_string(), "{field} must be a string: {body}");
    }
    assert_eq!(body["resource"], resource);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_str().unwrap().parse::<i64>().unwrap() >= 3000);
}

#[tokio::test]
async fn every_protocol_issues_a_token_the_vault_accepts() {
    let (server, admin_token) = with_vault("kv1").await;
    let resource = server.state.vault_resource.clone();
    let mi = mi_file(&server);
    let header = mi["identity_header"].as_str().unwrap();
    let http = server.http.clone();
    let base = server.mi_url();

    let imds = http
        .get(format!(
            "{base}/Metadata/Identity/OAuth2/Token/?api-version=2018-02-01&resource={resource}"
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    let app_service = http
        .get(format!(
            "{}?api-version=2019-08-01&resource={resource}",
            mi["identity_endpoint"].as_str().unwrap()
        ))
        .header("X-IDENTITY-HEADER", header)
        .send()
        .await
        .unwrap();
    let v2017 = http
        .get(format!(
            "{}?api-version=2017-09-01&resource={resource}",
            mi["identity_endpoint"].as_str().unwrap()
        ))
        .header("secret", header)
        .send()
        .await
        .unwrap();
    let legacy = http
        .post(format!("{base}/oauth2/token"))
        .header("Metadata", "true")
        .form(&HashMap::from([("resource", resource.as_str())]))
        .send()
        .await
        .unwrap();

    let mut tokens = Vec::new();
    for (name, resp) in [
        ("imds", imds),
        ("app service", app_service),
        ("2017", v2017),
        ("legacy", legacy),
    ] {
        let (status, body) = json(resp).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_imds_shape(&body, &resource);
        assert_eq!(body["client_id"], mi["client_id"]);
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "tokens come from the per-(identity, resource) cache"
    );

    // The token is the host's identity, accepted by the vault; and it is not the admin.
    let url = format!("{}/secrets/mi-check?api-version=7.4", server.vault_url("kv1"));
    let (status, _) = json(
        server
            .http
            .put(&url)
            .bearer_auth(&admin_token)
            .json(&serde_json::json!({"value": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    // Deny by default: the host identity has no access policy on the vault yet.
    let (status, body) = json(server.http.get(&url).bearer_auth(&tokens[0]).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["innererror"]["code"].as_str()),
        (403, Some("AccessDenied")),
        "{body}"
    );
    let sub = server.subscription_id().await.unwrap();
    let policy = serde_json::json!({"properties": {"accessPolicies": [{
        "tenantId": server.state.tenant_id, "objectId": mi["object_id"], "permissions": {"secrets": ["get"]}
    }]}});
    let path = format!(
        "/subscriptions/{sub}/resourceGroups/keyhold/providers/Microsoft.KeyVault/vaults/kv1/accessPolicies/add"
    );
    let (status, body) = server.arm(reqwest::Method::PUT, &path, Some(policy)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = json(server.http.get(&url).bearer_auth(&tokens[0]).send().await.unwrap()).await;
    assert_eq!((status, body["value"].as_str()), (200, Some("x")), "{body}");
    let claims: Value = {
        use base64::Engine;
        let p = tokens[0].split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    };
    assert_eq!(claims["oid"], mi["object_id"]);
    assert_eq!(claims["xms_mirid"], mi["resource_id"]);
    assert_ne!(claims["oid"].as_str(), Some(server.admin.object_id.as_str()));
}

#[tokio::test]
async fn bad_managed_identity_requests_get_imds_errors() {
    let (server, _) = with_vault("kv1").await;
    let resource = server.state.vault_resource.clone();
    let mi = mi_file(&server);
    let http = server.http.clone();
    let base = server.mi_url();
    let endpoint = mi["identity_endpoint"].as_str().unwrap().to_owned();

    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("no Metadata (the DefaultAzureCredential probe)", http.get(format!("{base}/metadata/identity/oauth2/token")), 400, "Required metadata header not specified"),
        (
            "unknown client_id",
            http.get(format!("{base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}&client_id=00000000-0000-0000-0000-000000000001")).header("Metadata", "true"),
            400,
            "Identity not found",
        ),
        (
            "unknown msi_res_id",
            http.get(format!("{base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}&msi_res_id=/subscriptions/x")).header("Metadata", "true"),
            400,
            "Identity not found",
        ),
        (
            "no resource",
            http.get(format!("{base}/metadata/identity/oauth2/token?api-version=2018-02-01")).header("Metadata", "true"),
            400,
            "Required audience parameter not specified",
        ),
        (
            "wrong X-IDENTITY-HEADER",
            http.get(format!("{endpoint}?api-version=2019-08-01&resource={resource}")).header("X-IDENTITY-HEADER", "wrong"),
            401,
            "invalid",
        ),
        (
            "legacy POST without Metadata",
            http.post(format!("{base}/oauth2/token")).form(&HashMap::from([("resource", resource.as_str())])),
            400,
            "Required metadata header not specified",
        ),
    ];
    for (name, req, status, text) in cases {
        let (got, body) = json(req.send().await.unwrap()).await;
        assert_eq!(got, status, "{name}: {body}");
        assert_eq!(body["error"], "invalid_request", "{name}: {body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(text),
            "{name}: {body}"
        );
    }
}
