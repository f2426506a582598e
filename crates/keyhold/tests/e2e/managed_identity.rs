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
    let (status, body) = server
        .call(reqwest::Method::GET, &url, Some(&tokens[0]), None)
        .await
        .unwrap();
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
    let (status, body) = server
        .call(reqwest::Method::GET, &url, Some(&tokens[0]), None)
        .await
        .unwrap();
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

/// (status, body) of an IMDS token request with extra query parameters.
async fn imds(server: &keyhold_testkit::Server, extra: &str) -> (u16, Value) {
    let url = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}{extra}",
        server.mi_url(),
        server.state.vault_resource
    );
    json(server.http.get(url).header("Metadata", "true").send().await.unwrap()).await
}

fn token_claims(token: &str) -> Value {
    use base64::Engine;
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

#[tokio::test]
async fn user_assigned_identities_are_selected_by_every_parameter() {
    let (server, _) = with_vault("kv1").await;
    let mi = mi_file(&server);
    let host_vm = mi["resource_id"].as_str().unwrap().to_owned();
    let sub = server.subscription_id().await.unwrap();
    let rg = format!("/subscriptions/{sub}/resourceGroups/keyhold");
    let mut uais = Vec::new();
    for name in ["attached", "stranger"] {
        let id = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}");
        let (status, u) = server
            .arm(
                reqwest::Method::PUT,
                &id,
                Some(serde_json::json!({"location": "local"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{u}");
        uais.push((
            id,
            u["properties"]["principalId"].as_str().unwrap().to_owned(),
            u["properties"]["clientId"].as_str().unwrap().to_owned(),
        ));
    }
    let (uai_id, uai_oid, uai_client) = uais[0].clone();
    let (stranger_id, stranger_oid, stranger_client) = uais[1].clone();
    let attach = serde_json::json!({"identity": {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {uai_id.clone(): {}}}});
    let (status, vm) = server
        .arm(reqwest::Method::PATCH, &host_vm, Some(attach))
        .await
        .unwrap();
    assert_eq!(status, 200, "{vm}");

    // No selector: the system-assigned identity.
    let (status, body) = imds(&server, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        token_claims(body["access_token"].as_str().unwrap())["oid"],
        mi["object_id"]
    );
    // Each way of naming the user-assigned identity gets its token.
    for extra in [
        format!("&client_id={uai_client}"),
        format!("&object_id={uai_oid}"),
        format!("&msi_res_id={uai_id}"),
        format!("&mi_res_id={uai_id}"),
    ] {
        let (status, body) = imds(&server, &extra).await;
        assert_eq!(status, 200, "{extra}: {body}");
        let claims = token_claims(body["access_token"].as_str().unwrap());
        assert_eq!(
            (claims["oid"].as_str(), claims["xms_mirid"].as_str()),
            (Some(uai_oid.as_str()), Some(uai_id.as_str())),
            "{extra}"
        );
        assert_eq!(body["client_id"], uai_client.as_str());
    }
    let header = mi["identity_header"].as_str().unwrap();
    let endpoint = mi["identity_endpoint"].as_str().unwrap();
    let resource = &server.state.vault_resource;
    let app_service = server
        .http
        .get(format!(
            "{endpoint}?api-version=2019-08-01&resource={resource}&mi_res_id={uai_id}"
        ))
        .header("X-IDENTITY-HEADER", header);
    let v2017 = server
        .http
        .get(format!(
            "{endpoint}?api-version=2017-09-01&resource={resource}&clientid={uai_client}"
        ))
        .header("secret", header);
    for (what, req) in [("app service mi_res_id", app_service), ("2017 clientid", v2017)] {
        let (status, body) = json(req.send().await.unwrap()).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(
            token_claims(body["access_token"].as_str().unwrap())["oid"],
            uai_oid.as_str(),
            "{what}"
        );
    }
    // An identity that exists but is not attached to this host: 400 invalid_request, never 404.
    for extra in [
        format!("&client_id={stranger_client}"),
        format!("&object_id={stranger_oid}"),
        format!("&msi_res_id={stranger_id}"),
    ] {
        let (status, body) = imds(&server, &extra).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{extra}: {body}"
        );
    }
    // Detaching takes effect at once, cached token or not.
    let detach = serde_json::json!({"identity": {"type": "SystemAssigned"}});
    server.arm(reqwest::Method::PUT, &host_vm, Some(detach)).await.unwrap();
    let (status, _) = imds(&server, &format!("&client_id={uai_client}")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn host_resource_picks_whose_identity_is_served() {
    let (mut server, _) = with_vault("kv1").await;
    let rg = server.resource_group("myRG").await.unwrap();
    let vm = format!("{rg}/providers/Microsoft.Compute/virtualMachines/myVM");
    let (status, v) = server
        .arm(
            reqwest::Method::PUT,
            &vm,
            Some(serde_json::json!({"location": "westus", "identity": {"type": "SystemAssigned"}})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    let vm_oid = v["identity"]["principalId"].as_str().unwrap().to_owned();
    let host_oid = mi_file(&server)["object_id"].as_str().unwrap().to_owned();
    assert_ne!(vm_oid, host_oid);

    server.restart_with(&["--host-resource".into(), vm.clone()]).unwrap();
    let (status, body) = imds(&server, "").await;
    assert_eq!(status, 200, "{body}");
    let claims = token_claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["oid"].as_str(), claims["xms_mirid"].as_str()),
        (Some(vm_oid.as_str()), Some(vm.as_str()))
    );

    // Deleting the resource stops new tokens at once, even with a token in the cache.
    server.arm(reqwest::Method::DELETE, &vm, None).await.unwrap();
    let (status, body) = imds(&server, "").await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Identity not found")),
        "{body}"
    );
}

/// An Azure Machine Learning compute cluster (a child of its workspace) carries a system-assigned
/// identity like a VM: the training job on it gets tokens as the cluster and reads the vault's secrets
/// once the cluster is granted access (Azure's "use Key Vault from a training job" flow).
#[tokio::test]
async fn compute_cluster_identity_reads_secrets_and_dies_with_its_workspace() {
    use reqwest::Method;
    use serde_json::json;
    let (mut server, admin_token) = with_vault("kv1").await;
    let rg = format!(
        "/subscriptions/{}/resourceGroups/keyhold",
        server.subscription_id().await.unwrap()
    );
    let workspace = format!("{rg}/providers/Microsoft.MachineLearningServices/workspaces/ws1");
    let cluster = format!("{workspace}/computes/cpu-cluster");
    let system = json!({"location": "westus", "identity": {"type": "SystemAssigned"}, "properties": {"computeType": "AmlCompute"}});

    // A compute needs its workspace; a bad name is refused; neither stores anything.
    let (status, body) = server.arm(Method::PUT, &cluster, Some(system.clone())).await.unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("ResourceNotFound")),
        "{body}"
    );
    let (status, _) = server
        .arm(Method::PUT, &workspace, Some(json!({"location": "westus"})))
        .await
        .unwrap();
    assert_eq!(status, 201);
    let (status, body) = server
        .arm(
            Method::PUT,
            &format!("{workspace}/computes/bad!name"),
            Some(system.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidResourceName")),
        "{body}"
    );

    let (status, c) = server.arm(Method::PUT, &cluster, Some(system)).await.unwrap();
    assert_eq!(status, 201, "{c}");
    assert_eq!(
        (c["id"].as_str(), c["name"].as_str(), c["type"].as_str()),
        (
            Some(cluster.as_str()),
            Some("cpu-cluster"),
            Some("Microsoft.MachineLearningServices/workspaces/computes")
        )
    );
    assert_eq!(c["properties"]["computeType"], "AmlCompute");
    let cluster_oid = c["identity"]["principalId"].as_str().unwrap().to_owned();
    let (status, got) = server
        .arm(
            Method::GET,
            &cluster
                .replace("/workspaces/", "/WORKSPACES/")
                .replace("/computes/", "/Computes/"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, got["identity"]["principalId"].as_str()),
        (200, Some(cluster_oid.as_str())),
        "{got}"
    );

    let (status, list) = server
        .arm(Method::GET, &format!("{workspace}/computes"), None)
        .await
        .unwrap();
    assert_eq!(
        (status, list["value"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{list}"
    );
    assert_eq!(list["value"][0]["id"].as_str(), Some(cluster.as_str()));
    let (status, _) = server
        .arm(
            Method::GET,
            &format!("{rg}/providers/Microsoft.MachineLearningServices/workspaces/nows/computes"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "the computes of a missing workspace");

    // Tokens as the cluster; denied until granted, then the secret reads.
    server
        .restart_with(&["--host-resource".into(), cluster.clone()])
        .unwrap();
    let (status, body) = imds(&server, "").await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let claims = token_claims(&token);
    assert_eq!(
        (claims["oid"].as_str(), claims["xms_mirid"].as_str()),
        (Some(cluster_oid.as_str()), Some(cluster.as_str()))
    );
    let url = format!("{}/secrets/training-secret?api-version=7.4", server.vault_url("kv1"));
    let (status, _) = server
        .call(
            reqwest::Method::PUT,
            &url,
            Some(&admin_token),
            Some(json!({"value": "for the job"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = server
        .call(reqwest::Method::GET, &url, Some(&token), None)
        .await
        .unwrap();
    assert_eq!(status, 403, "no access before the grant");
    server.grant_secrets("kv1", &cluster_oid, &["get"]).await.unwrap();
    let (status, got) = server
        .call(reqwest::Method::GET, &url, Some(&token), None)
        .await
        .unwrap();
    assert_eq!((status, got["value"].as_str()), (200, Some("for the job")), "{got}");

    // Deleting the workspace deletes its compute and the compute's identity.
    let (status, _) = server.arm(Method::DELETE, &workspace, None).await.unwrap();
    assert_eq!(status, 200);
    let (status, _) = server.arm(Method::GET, &cluster, None).await.unwrap();
    assert_eq!(status, 404);
    let (status, body) = imds(&server, "").await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Identity not found")),
        "{body}"
    );
}
