//! ARM resources with identities and secrets of their own: virtual machines with system- and
//! user-assigned identities, and storage-account keys guarded by the key-operator role.

use reqwest::Method;
use serde_json::{Value, json};

use crate::start;

async fn app_principal(s: &keyhold_testkit::Server) -> (Value, String) {
    let sp = s.create_service_principal("ops").await.unwrap();
    let token = s
        .token_for(
            sp["appId"].as_str().unwrap(),
            sp["password"].as_str().unwrap(),
            &s.state.url,
        )
        .await
        .unwrap();
    (sp, token)
}

#[tokio::test]
async fn storage_keys_need_the_key_operator_role() {
    let s = start(&[]);
    let rg = s.resource_group("myRG").await.unwrap();
    let account = format!("{rg}/providers/Microsoft.Storage/storageAccounts/mystorage");
    let (status, a) = s
        .arm(
            Method::PUT,
            &account,
            Some(json!({"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})),
        )
        .await
        .unwrap();
    assert_eq!(
        status, 200,
        "storage's create answers 200 (its SDK's poller refuses a 201): {a}"
    );
    assert!(
        !a.to_string().contains("key1"),
        "keys are never part of the resource: {a}"
    );
    let (status, bad) = s
        .arm(
            Method::PUT,
            &format!("{rg}/providers/Microsoft.Storage/storageAccounts/Bad_Name"),
            Some(json!({"location": "westus"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("AccountNameInvalid"))
    );

    let (sp, token) = app_principal(&s).await;
    let list_keys = format!("{account}/listKeys");
    let (status, err) = s.arm_as(&token, Method::POST, &list_keys, None).await.unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("AuthorizationFailed")),
        "{err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.Storage/storageAccounts/listkeys/action")
    );

    let assignment =
        format!("{account}/providers/Microsoft.Authorization/roleAssignments/7b1e4d2c-0000-4000-8000-000000000001");
    let body = json!({"properties": {"roleDefinitionId": "81a9662b-bebf-436f-a333-f67b29880f12", "principalId": sp["objectId"]}});
    let (status, _) = s.arm(Method::PUT, &assignment, Some(body)).await.unwrap();
    assert_eq!(status, 201);
    let (status, keys) = s.arm_as(&token, Method::POST, &list_keys, None).await.unwrap();
    assert_eq!(status, 200, "{keys}");
    let names: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["keyName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["key1", "key2"]);
    let (key1, key2) = (
        keys["keys"][0]["value"].as_str().unwrap().to_owned(),
        keys["keys"][1]["value"].as_str().unwrap().to_owned(),
    );
    assert_eq!(key1.len(), 88);
    assert_ne!(key1, key2);

    let (status, renewed) = s
        .arm_as(
            &token,
            Method::POST,
            &format!("{account}/regenerateKey"),
            Some(json!({"keyName": "key1"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(
        renewed["keys"][0]["value"].as_str(),
        Some(key1.as_str()),
        "key1 changed"
    );
    assert_eq!(
        renewed["keys"][1]["value"].as_str(),
        Some(key2.as_str()),
        "key2 did not"
    );
    let (status, _) = s
        .arm_as(
            &token,
            Method::POST,
            &format!("{account}/regenerateKey"),
            Some(json!({"keyName": "key3"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);

    let mut db = std::fs::read(s.data_dir.join("keyhold.db")).unwrap();
    db.extend(std::fs::read(s.data_dir.join("keyhold.db-wal")).unwrap_or_default());
    assert!(
        !db.windows(key2.len()).any(|w| w == key2.as_bytes()),
        "storage keys are sealed at rest"
    );

    // Without the role again: refused on the next request.
    let (status, _) = s.arm(Method::DELETE, &assignment, None).await.unwrap();
    assert_eq!(status, 200);
    let (status, _) = s.arm_as(&token, Method::POST, &list_keys, None).await.unwrap();
    assert_eq!(status, 403);
}

#[tokio::test]
async fn virtual_machines_carry_system_and_user_assigned_identities() {
    let s = start(&[]);
    let sub = s.subscription_id().await.unwrap();
    let rg = s.resource_group("myRG").await.unwrap();
    let vm = format!("{rg}/providers/Microsoft.Compute/virtualMachines/myVM");
    let (status, v) = s
        .arm(Method::PUT, &vm, Some(json!({"location": "westus", "properties": {"storageProfile": {"imageReference": {"offer": "UbuntuLTS"}}}})))
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    assert!(v.get("identity").is_none(), "no identity until one is assigned");

    // az vm identity assign: a system-assigned identity is a real principal.
    let (status, v) = s
        .arm(
            Method::PATCH,
            &vm,
            Some(json!({"identity": {"type": "SystemAssigned"}})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    let system = v["identity"]["principalId"].as_str().unwrap().to_owned();
    assert_eq!(v["identity"]["tenantId"], s.state.tenant_id);
    assert_eq!(
        v["properties"]["storageProfile"]["imageReference"]["offer"], "UbuntuLTS",
        "PATCH kept the properties"
    );
    let grant = |principal: &str| json!({"properties": {"roleDefinitionId": "4633458b-17de-408a-b874-0445c86b69e6", "principalId": principal}});
    let (status, body) = s
        .arm(
            Method::PUT,
            &format!("{rg}/providers/Microsoft.Authorization/roleAssignments/7b1e4d2c-0000-4000-8000-000000000011"),
            Some(grant(&system)),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "the VM's identity can be granted roles: {body}");

    // A user-assigned identity, attached beside it.
    let uai = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/myIdentity");
    let (status, u) = s
        .arm(Method::PUT, &uai, Some(json!({"location": "westus"})))
        .await
        .unwrap();
    assert_eq!(status, 201, "{u}");
    let (uai_principal, uai_client) = (
        u["properties"]["principalId"].as_str().unwrap().to_owned(),
        u["properties"]["clientId"].as_str().unwrap().to_owned(),
    );
    let (status, v) = s
        .arm(Method::PATCH, &vm, Some(json!({"identity": {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {uai.clone(): {}}}})))
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["identity"]["type"], "SystemAssigned, UserAssigned");
    assert_eq!(
        v["identity"]["principalId"],
        system.as_str(),
        "the system identity is kept"
    );
    assert_eq!(
        v["identity"]["userAssignedIdentities"][&uai]["clientId"],
        uai_client.as_str()
    );
    let (status, err) = s
        .arm(Method::PATCH, &vm, Some(json!({"identity": {"type": "UserAssigned", "userAssignedIdentities": {format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ghost"): {}}}})))
        .await
        .unwrap();
    assert_eq!(status, 400, "an unknown user-assigned identity is refused: {err}");

    // az resource list -n myVM --query [*].identity.principalId
    let (status, found) = s
        .arm(
            Method::GET,
            &format!("/subscriptions/{sub}/resources?$filter=name eq 'myVM'"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let principals: Vec<&str> = found["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["identity"]["principalId"].as_str())
        .collect();
    assert_eq!(principals, [system.as_str()]);
    let (_, typed) = s
        .arm(
            Method::GET,
            &format!("{rg}/resources?$filter=resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities'"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(typed["value"].as_array().map(Vec::len), Some(1));

    // Removing the system identity deletes its principal; deleting the UAI deletes its own.
    let (status, v) = s
        .arm(
            Method::PATCH,
            &vm,
            Some(json!({"identity": {"type": "UserAssigned", "userAssignedIdentities": {uai.clone(): {}}}})),
        )
        .await
        .unwrap();
    assert_eq!((status, v["identity"].get("principalId")), (200, None), "{v}");
    let (status, err) = s
        .arm(
            Method::PUT,
            &format!("{rg}/providers/Microsoft.Authorization/roleAssignments/7b1e4d2c-0000-4000-8000-000000000012"),
            Some(grant(&system)),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("PrincipalNotFound")),
        "the system identity died with it"
    );
    s.arm(Method::DELETE, &uai, None).await.unwrap();
    let (status, _) = s
        .arm(
            Method::PUT,
            &format!("{rg}/providers/Microsoft.Authorization/roleAssignments/7b1e4d2c-0000-4000-8000-000000000013"),
            Some(grant(&uai_principal)),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);

    // Deleting the group removes the VM.
    s.arm(Method::DELETE, &rg, None).await.unwrap();
    let (status, found) = s
        .arm(
            Method::GET,
            &format!("/subscriptions/{sub}/resources?$filter=name eq 'myVM'"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, found["value"].as_array().map(Vec::len)),
        (200, Some(0)),
        "the VM went with its group"
    );
}
