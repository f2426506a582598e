//! The ARM management plane: vault lifecycle (create, update, soft delete, recover, purge), resource
//! group deletion, and bad input answered with ARM's error bodies and nothing changed.

use reqwest::Method;
use serde_json::{Value, json};

use crate::start;

fn vault_body(s: &keyhold_testkit::Server) -> Value {
    json!({"location": "westus", "properties": {"tenantId": s.state.tenant_id, "sku": {"family": "A", "name": "standard"}, "accessPolicies": []}})
}

#[tokio::test]
async fn vault_lifecycle_through_arm() {
    let s = start(&[]);
    let sub = s.subscription_id().await.unwrap();
    let rg = format!("/subscriptions/{sub}/resourceGroups/myRG");
    let (status, g) = s
        .arm(Method::PUT, &rg, Some(json!({"location": "West US"})))
        .await
        .unwrap();
    assert_eq!((status, g["location"].as_str()), (201, Some("westus")), "{g}");
    let vault = format!("{rg}/providers/Microsoft.KeyVault/vaults/myvault1");
    let mut create = vault_body(&s);
    create["properties"]["softDeleteRetentionInDays"] = json!(30);
    let (status, v) = s.arm(Method::PUT, &vault, Some(create)).await.unwrap();
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["id"], vault);
    assert_eq!(v["properties"]["vaultUri"], format!("{}/", s.vault_url("myvault1")));
    assert_eq!(v["properties"]["provisioningState"], "Succeeded");
    assert_eq!(v["properties"]["enableSoftDelete"], true);
    let update = json!({"location": "westus", "properties": {"enableRbacAuthorization": true}});
    let (status, v) = s.arm(Method::PUT, &vault, Some(update)).await.unwrap();
    let settings = (
        v["properties"]["enableRbacAuthorization"].as_bool(),
        v["properties"]["softDeleteRetentionInDays"].as_i64(),
    );
    assert_eq!(
        (status, settings),
        (200, (Some(true), Some(30))),
        "an update keeps what it does not name: {v}"
    );
    let change = json!({"location": "westus", "properties": {"softDeleteRetentionInDays": 60}});
    let (status, err) = s.arm(Method::PUT, &vault, Some(change)).await.unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("BadRequest")),
        "retention is fixed at creation: {err}"
    );
    let (status, list) = s
        .arm(Method::GET, &format!("{rg}/providers/Microsoft.KeyVault/vaults"), None)
        .await
        .unwrap();
    assert_eq!((status, list["value"].as_array().map(Vec::len)), (200, Some(1)));

    // Soft delete: gone from the data plane and the list, listed as deleted, name still taken.
    let (status, _) = s.arm(Method::DELETE, &vault, None).await.unwrap();
    assert_eq!(status, 200);
    let (status, _) = s.arm(Method::GET, &vault, None).await.unwrap();
    assert_eq!(status, 404);
    let token = s.token(&s.state.vault_resource).await.unwrap();
    let resp = s
        .http
        .get(format!("{}/secrets?api-version=7.4", s.vault_url("myvault1")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404, "a soft-deleted vault serves nothing");
    let (status, deleted) = s
        .arm(
            Method::GET,
            &format!("/subscriptions/{sub}/providers/Microsoft.KeyVault/deletedVaults"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, deleted["value"][0]["name"].as_str()),
        (200, Some("myvault1")),
        "{deleted}"
    );
    assert_eq!(deleted["value"][0]["properties"]["vaultId"], vault);
    let (status, err) = s.arm(Method::PUT, &vault, Some(vault_body(&s))).await.unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("ConflictError")),
        "{err}"
    );

    // Recover, then delete and purge.
    let mut recover = vault_body(&s);
    recover["properties"]["createMode"] = json!("recover");
    let (status, v) = s.arm(Method::PUT, &vault, Some(recover)).await.unwrap();
    assert_eq!(
        (status, v["properties"]["softDeleteRetentionInDays"].as_i64()),
        (200, Some(30)),
        "recovered with its settings: {v}"
    );
    s.arm(Method::DELETE, &vault, None).await.unwrap();
    let (status, _) = s
        .arm(
            Method::POST,
            &format!("/subscriptions/{sub}/providers/Microsoft.KeyVault/locations/westus/deletedVaults/myvault1/purge"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, v) = s.arm(Method::PUT, &vault, Some(vault_body(&s))).await.unwrap();
    assert_eq!(status, 201, "the name is free after purge: {v}");

    // Deleting the group deletes what is in it.
    let (status, _) = s.arm(Method::DELETE, &rg, None).await.unwrap();
    assert_eq!(status, 200);
    let (status, err) = s.arm(Method::GET, &vault, None).await.unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("ResourceGroupNotFound"))
    );
    let (_, deleted) = s
        .arm(
            Method::GET,
            &format!("/subscriptions/{sub}/providers/Microsoft.KeyVault/deletedVaults"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        deleted["value"][0]["name"], "myvault1",
        "the group's vault is soft-deleted with it"
    );
}

/// (what, method, path, body — `None` sends malformed JSON —, expected status, expected code)
type Case = (&'static str, Method, String, Option<Value>, u16, &'static str);

#[tokio::test]
async fn bad_management_input_changes_nothing() {
    let s = start(&[]);
    let sub = s.subscription_id().await.unwrap();
    let rg = s.resource_group("rg1").await.unwrap();
    s.arm(
        Method::PUT,
        &format!("/subscriptions/{sub}/resourceGroups/rg2"),
        Some(json!({"location": "westus"})),
    )
    .await
    .unwrap();
    let vault =
        |g: &str, n: &str| format!("/subscriptions/{sub}/resourceGroups/{g}/providers/Microsoft.KeyVault/vaults/{n}");
    let (status, _) = s
        .arm(Method::PUT, &vault("rg1", "taken-name"), Some(vault_body(&s)))
        .await
        .unwrap();
    assert_eq!(status, 201);

    let mut bad_perm = vault_body(&s);
    bad_perm["properties"]["accessPolicies"] =
        json!([{"tenantId": s.state.tenant_id, "objectId": s.admin.object_id, "permissions": {"secrets": ["fly"]}}]);
    let mut bad_oid = vault_body(&s);
    bad_oid["properties"]["accessPolicies"] =
        json!([{"tenantId": s.state.tenant_id, "objectId": "nobody", "permissions": {"secrets": ["get"]}}]);
    let mut bad_tenant = vault_body(&s);
    bad_tenant["properties"]["tenantId"] = json!("11111111-1111-1111-1111-111111111111");
    let cases: Vec<Case> = vec![
        (
            "name too short",
            Method::PUT,
            vault("rg1", "ab"),
            Some(vault_body(&s)),
            400,
            "VaultNameNotValid",
        ),
        (
            "name with underscore",
            Method::PUT,
            vault("rg1", "bad_name"),
            Some(vault_body(&s)),
            400,
            "VaultNameNotValid",
        ),
        (
            "name taken in another group",
            Method::PUT,
            vault("rg2", "taken-name"),
            Some(vault_body(&s)),
            409,
            "VaultAlreadyExists",
        ),
        (
            "unknown group",
            Method::PUT,
            vault("nogroup", "kv-x"),
            Some(vault_body(&s)),
            404,
            "ResourceGroupNotFound",
        ),
        (
            "unknown permission",
            Method::PUT,
            vault("rg1", "kv-perm"),
            Some(bad_perm),
            400,
            "BadRequest",
        ),
        (
            "object id not a GUID",
            Method::PUT,
            vault("rg1", "kv-oid"),
            Some(bad_oid),
            400,
            "BadRequest",
        ),
        (
            "another tenant",
            Method::PUT,
            vault("rg1", "kv-tenant"),
            Some(bad_tenant),
            400,
            "BadRequest",
        ),
        (
            "malformed JSON",
            Method::PUT,
            vault("rg1", "kv-json"),
            None,
            400,
            "InvalidRequestContent",
        ),
        (
            "unknown role definition",
            Method::PUT,
            format!("{rg}/providers/Microsoft.Authorization/roleAssignments/6a1e4d2c-0000-4000-8000-000000000001"),
            Some(
                json!({"properties": {"roleDefinitionId": "00000000-0000-0000-0000-000000000000", "principalId": s.admin.object_id}}),
            ),
            400,
            "RoleDefinitionDoesNotExist",
        ),
        (
            "unknown principal",
            Method::PUT,
            format!("{rg}/providers/Microsoft.Authorization/roleAssignments/6a1e4d2c-0000-4000-8000-000000000002"),
            Some(
                json!({"properties": {"roleDefinitionId": "4633458b-17de-408a-b874-0445c86b69e6", "principalId": "6a1e4d2c-0000-4000-8000-00000000dead"}}),
            ),
            400,
            "PrincipalNotFound",
        ),
        (
            "unknown access policy operation",
            Method::PUT,
            format!("{}/accessPolicies/merge", vault("rg1", "taken-name")),
            Some(json!({"properties": {"accessPolicies": []}})),
            400,
            "BadRequest",
        ),
    ];
    for (what, method, path, body, status, code) in cases {
        let (got, err) = match body {
            Some(b) => s.arm(method, &path, Some(b)).await.unwrap(),
            None => {
                let token = s.token(&s.state.url).await.unwrap();
                let resp = s
                    .http
                    .put(format!("{}{path}?api-version=2023-07-01", s.state.url))
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body("{not json")
                    .send()
                    .await
                    .unwrap();
                (resp.status().as_u16(), resp.json().await.unwrap())
            }
        };
        assert_eq!(
            (got, err["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {err}"
        );
        assert!(
            err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    let token = s.token(&s.state.url).await.unwrap();
    for (what, query) in [("no api-version", ""), ("bad api-version", "?api-version=latest")] {
        let resp = s
            .http
            .get(format!("{}{}{query}", s.state.url, vault("rg1", "taken-name")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let err: Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "{what}: {err}");
        assert!(
            err["error"]["code"].as_str().unwrap().contains("ApiVersionParameter"),
            "{what}: {err}"
        );
    }
    // Nothing was created or changed by any of that.
    let (_, all) = s
        .arm(
            Method::GET,
            &format!("/subscriptions/{sub}/providers/Microsoft.KeyVault/vaults"),
            None,
        )
        .await
        .unwrap();
    let names: Vec<&str> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(names, ["taken-name"]);
    let (_, v) = s.arm(Method::GET, &vault("rg1", "taken-name"), None).await.unwrap();
    assert_eq!(v["properties"]["accessPolicies"], json!([]));
    let (_, assignments) = s
        .arm(
            Method::GET,
            &format!("{rg}/providers/Microsoft.Authorization/roleAssignments"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        assignments["value"].as_array().unwrap().len(),
        1,
        "only the admin's Owner assignment: {assignments}"
    );
}
