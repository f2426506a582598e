//! The Microsoft Graph subset and the ARM calls Microsoft's az makes (cloud metadata, name checks,
//! providers, tenants, Managed HSM lists): the admin's directory, and every other caller refused as
//! Entra refuses an application without Graph permissions. `tests/az/` drives the same with real az.

use reqwest::Method;
use serde_json::{Value, json};

use crate::start;

fn graph(s: &keyhold_testkit::Server) -> String {
    format!("{}/graph/", s.state.url)
}

async fn graph_token(s: &keyhold_testkit::Server) -> String {
    s.token(&graph(s)).await.unwrap()
}

async fn call(
    s: &keyhold_testkit::Server,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = if path.starts_with("https://") {
        path.to_owned()
    } else {
        format!("{}/graph/v1.0{path}", s.state.url)
    };
    s.call(method, &url, token, body).await.unwrap()
}

#[tokio::test]
async fn the_cloud_metadata_names_every_endpoint_without_a_token() {
    let s = start(&[]);
    for path in ["/metadata/endpoints", "//metadata/endpoints"] {
        let url = format!("{}{path}?api-version=2022-09-01", s.state.url);
        let (status, doc) = s.call(Method::GET, &url, None, None).await.unwrap();
        assert_eq!(status, 200, "{path}: {doc}");
        assert_eq!(doc["authentication"]["loginEndpoint"], s.state.url);
        assert_eq!(doc["authentication"]["audiences"][0], format!("{}/", s.state.url));
        assert_eq!(doc["resourceManager"], format!("{}/", s.state.url));
        assert_eq!(doc["microsoftGraphResourceId"], graph(&s));
        assert_eq!(
            doc["suffixes"]["keyVaultDns"],
            s.state.vault_resource.trim_start_matches("https://")
        );
    }
}

#[tokio::test]
async fn only_the_directory_admin_reads_or_writes_graph() {
    let s = start(&[]);
    let sp = s.create_service_principal("not-an-admin").await.unwrap();
    let (app, pass) = (sp["appId"].as_str().unwrap(), sp["password"].as_str().unwrap());
    let other = s.token_for(app, pass, &graph(&s)).await.unwrap();
    let mi: Value = s
        .http
        .get(format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
            s.mi_url(),
            graph(&s)
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mi = mi["access_token"]
        .as_str()
        .expect("a managed identity gets a Graph token")
        .to_owned();
    let management = s.token(&s.state.url).await.unwrap();
    let vault = s.token(&s.state.vault_resource).await.unwrap();
    let admin = graph_token(&s).await;
    let (_, apps) = call(&s, Method::GET, "/applications", Some(&admin), None).await;
    let before = apps["value"].as_array().unwrap().len();

    let attempts: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/servicePrincipals", None),
        (Method::GET, "/applications", None),
        (Method::POST, "/applications", Some(json!({"displayName": "intruder"}))),
        (
            Method::POST,
            "/directoryObjects/getByIds",
            Some(json!({"ids": [s.admin.object_id]})),
        ),
        (Method::GET, "/organization", None),
    ];
    for (method, path, body) in &attempts {
        for (who, token) in [("another service principal", &other), ("a managed identity", &mi)] {
            let (status, err) = call(&s, method.clone(), path, Some(token), body.clone()).await;
            assert_eq!(status, 403, "{who}: {method} {path}: {err}");
            assert_eq!(err["error"]["code"], "Authorization_RequestDenied", "{err}");
            assert_eq!(
                err["error"]["message"],
                "Insufficient privileges to complete the operation."
            );
        }
        for (who, token) in [
            ("anonymous", None),
            ("a management token", Some(management.as_str())),
            ("a vault token", Some(vault.as_str())),
        ] {
            let (status, err) = call(&s, method.clone(), path, token, body.clone()).await;
            assert_eq!(status, 401, "{who}: {method} {path}: {err}");
            assert_eq!(err["error"]["code"], "InvalidAuthenticationToken", "{err}");
        }
    }
    // The admin's own application's password cannot be added by someone else either.
    let (_, mine) = call(
        &s,
        Method::POST,
        "/applications",
        Some(&admin),
        Some(json!({"displayName": "owned"})),
    )
    .await;
    let id = mine["id"].as_str().unwrap();
    let (status, _) = call(
        &s,
        Method::POST,
        &format!("/applications/{id}/addPassword"),
        Some(&other),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(&s, Method::DELETE, &format!("/applications/{id}"), Some(&other), None).await;
    assert_eq!(status, 403);
    let (_, apps) = call(&s, Method::GET, "/applications", Some(&admin), None).await;
    assert_eq!(
        apps["value"].as_array().unwrap().len(),
        before + 1,
        "nothing the refused callers tried was stored"
    );
    // A Graph token is no management token.
    let (status, _) = s
        .arm_as(
            &admin,
            Method::GET,
            &format!("/subscriptions/{}", s.subscription_id().await.unwrap()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn applications_their_passwords_and_service_principals() {
    let s = start(&[]);
    let admin = graph_token(&s).await;
    let (status, app) = call(
        &s,
        Method::POST,
        "/applications",
        Some(&admin),
        Some(json!({"displayName": "ci-deployer", "signInAudience": "AzureADMyOrg"})),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let (id, app_id) = (app["id"].as_str().unwrap(), app["appId"].as_str().unwrap());
    assert_ne!(id, app_id);
    assert_eq!(app["passwordCredentials"], json!([]));
    let (status, sp) = call(
        &s,
        Method::POST,
        "/servicePrincipals",
        Some(&admin),
        Some(json!({"appId": app_id})),
    )
    .await;
    assert_eq!(status, 201, "{sp}");
    let oid = sp["id"].as_str().unwrap();
    assert_eq!(sp["appId"], app_id);
    assert_eq!(sp["servicePrincipalNames"], json!([app_id]));
    let (status, err) = call(
        &s,
        Method::POST,
        "/servicePrincipals",
        Some(&admin),
        Some(json!({"appId": "00000000-0000-0000-0000-000000000000"})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not reference a valid application")
    );

    // addPassword: the secret works at the token endpoint until it is removed.
    let end = "2030-01-01T00:00:00Z";
    let (status, cred) = call(
        &s,
        Method::POST,
        &format!("/applications/{id}/addPassword"),
        Some(&admin),
        Some(json!({"passwordCredential": {"displayName": "rbac", "endDateTime": end}})),
    )
    .await;
    assert_eq!(status, 200, "{cred}");
    assert_eq!(cred["endDateTime"], end);
    assert_eq!(cred["displayName"], "rbac");
    let secret = cred["secretText"].as_str().unwrap();
    assert_eq!(cred["hint"].as_str().unwrap(), &secret[..3]);
    let vault_token = s.token_for(app_id, secret, &s.state.vault_resource).await;
    assert!(vault_token.is_ok(), "{vault_token:?}");
    let (_, shown) = call(&s, Method::GET, &format!("/applications/{id}"), Some(&admin), None).await;
    assert_eq!(shown["passwordCredentials"][0]["keyId"], cred["keyId"]);
    assert!(
        shown["passwordCredentials"][0]["secretText"].is_null(),
        "the secret is shown once: {shown}"
    );
    let (status, _) = call(
        &s,
        Method::POST,
        &format!("/applications/{id}/removePassword"),
        Some(&admin),
        Some(json!({"keyId": cred["keyId"]})),
    )
    .await;
    assert_eq!(status, 204);
    assert!(
        s.token_for(app_id, secret, &s.state.vault_resource).await.is_err(),
        "a removed password stops working"
    );
    let (status, _) = call(
        &s,
        Method::POST,
        &format!("/applications/{id}/removePassword"),
        Some(&admin),
        Some(json!({"keyId": cred["keyId"]})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, err) = call(
        &s,
        Method::POST,
        &format!("/applications/{id}/addPassword"),
        Some(&admin),
        Some(json!({"passwordCredential": {"endDateTime": "2001-01-01T00:00:00Z"}})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("Request_BadRequest")),
        "{err}"
    );

    // Rename, look up by filter, list the directory objects by id.
    let (status, _) = call(
        &s,
        Method::PATCH,
        &format!("/applications/{id}"),
        Some(&admin),
        Some(json!({"displayName": "ci-deployer-2"})),
    )
    .await;
    assert_eq!(status, 204);
    let filter = format!("/servicePrincipals?$filter=servicePrincipalNames/any(c:c%20eq%20'{app_id}')");
    let (_, found) = call(&s, Method::GET, &filter, Some(&admin), None).await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["value"][0]["displayName"], "ci-deployer-2");
    let (_, found) = call(
        &s,
        Method::GET,
        "/applications?$filter=startswith(displayName,'ci-dep')",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(found["value"][0]["id"], id);
    let (status, objects) = call(&s, Method::POST, "/directoryObjects/getByIds", Some(&admin), Some(json!({"ids": [oid, s.admin.object_id, "f00f00f0-0000-0000-0000-000000000000"], "types": ["user", "group", "servicePrincipal"]}))).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = objects["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["@odata.type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds, ["#microsoft.graph.servicePrincipal"; 2],
        "unknown ids are left out"
    );

    // Delete: the principal is gone and so is its sign-in.
    let (_, cred) = call(
        &s,
        Method::POST,
        &format!("/applications/{id}/addPassword"),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    let secret = cred["secretText"].as_str().unwrap().to_owned();
    let (status, _) = call(&s, Method::DELETE, &format!("/applications/{id}"), Some(&admin), None).await;
    assert_eq!(status, 204);
    let (status, err) = call(
        &s,
        Method::GET,
        &format!("/servicePrincipals/{oid}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    assert!(s.token_for(app_id, &secret, &s.state.vault_resource).await.is_err());

    // The admin cannot delete itself, and a managed identity goes with its resource only.
    let (status, _) = call(
        &s,
        Method::DELETE,
        &format!("/servicePrincipals/{}", s.admin.object_id),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (_, all) = call(&s, Method::GET, "/servicePrincipals", Some(&admin), None).await;
    let mi = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["servicePrincipalType"] == "ManagedIdentity")
        .expect("the host's managed identity is listed");
    let (status, _) = call(
        &s,
        Method::DELETE,
        &format!("/servicePrincipals/{}", mi["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn listings_page_filters_are_strict_and_bad_bodies_change_nothing() {
    let s = start(&[]);
    let admin = graph_token(&s).await;
    for n in 0..3 {
        let (status, _) = call(
            &s,
            Method::POST,
            "/applications",
            Some(&admin),
            Some(json!({"displayName": format!("paged-{n}")})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let mut names = Vec::new();
    let mut next = Some("/applications?$filter=startswith(displayName,'paged-')&$top=2".to_owned());
    let mut pages = 0;
    while let Some(link) = next {
        let (status, page) = call(&s, Method::GET, &link, Some(&admin), None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        names.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["displayName"].as_str().unwrap().to_owned()),
        );
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!((pages, names.len()), (2, 3), "{names:?}");

    let (_, all) = call(&s, Method::GET, "/applications", Some(&admin), None).await;
    let count = all["value"].as_array().unwrap().len();
    for bad in ["displayName ne 'x'", "tags/any(t:t eq 'x')", "appId eq 'unterminated"] {
        let (status, err) = call(
            &s,
            Method::GET,
            &format!("/servicePrincipals?$filter={bad}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("Request_UnsupportedQuery")),
            "{bad}: {err}"
        );
    }
    let (status, _) = call(&s, Method::GET, "/applications?$top=0", Some(&admin), None).await;
    assert_eq!(status, 400);
    let url = format!("{}/graph/v1.0/applications", s.state.url);
    let resp = s
        .http
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "Request_BadRequest");
    for body in [
        json!({}),
        json!({"displayName": ""}),
        json!({"displayName": "x".repeat(257)}),
    ] {
        let (status, err) = call(&s, Method::POST, "/applications", Some(&admin), Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {err}");
    }
    let (_, all) = call(&s, Method::GET, "/applications", Some(&admin), None).await;
    assert_eq!(
        all["value"].as_array().unwrap().len(),
        count,
        "refused creates stored nothing"
    );

    let (status, err) = call(&s, Method::GET, "/me", Some(&admin), None).await;
    assert_eq!(status, 400);
    assert_eq!(
        err["error"]["message"],
        "/me request is only valid with delegated authentication flow."
    );
    let (_, org) = call(&s, Method::GET, "/organization", Some(&admin), None).await;
    assert_eq!(org["value"][0]["id"], s.state.tenant_id);
    let (_, users) = call(
        &s,
        Method::GET,
        "/users?$filter=userPrincipalName%20eq%20'a@b.c'",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(users["value"], json!([]));
}

#[tokio::test]
async fn arm_answers_the_calls_az_makes_around_vaults_and_storage() {
    let s = start(&[]);
    let sub = format!("/subscriptions/{}", s.subscription_id().await.unwrap());
    let rg = s.resource_group("names").await.unwrap();
    let (status, _) = s
        .arm(
            Method::PUT,
            &format!("{rg}/providers/Microsoft.Storage/storageAccounts/takenname"),
            Some(json!({"location": "westus"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    s.create_vault("takenvault").await.unwrap();
    let check = |ns: &str| format!("{sub}/providers/{ns}/checkNameAvailability");
    let storage = check("Microsoft.Storage");
    for (name, available, reason) in [
        ("freename", true, None),
        ("takenname", false, Some("AlreadyExists")),
        ("Bad_Name", false, Some("AccountNameInvalid")),
    ] {
        let (status, a) = s
            .arm(
                Method::POST,
                &storage,
                Some(json!({"name": name, "type": "Microsoft.Storage/storageAccounts"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{a}");
        assert_eq!(
            (a["nameAvailable"].as_bool(), a["reason"].as_str()),
            (Some(available), reason),
            "{name}: {a}"
        );
    }
    let vaults = check("Microsoft.KeyVault");
    for (name, available) in [("freevault", true), ("takenvault", false), ("-bad", false)] {
        let (status, a) = s
            .arm(
                Method::POST,
                &vaults,
                Some(json!({"name": name, "type": "Microsoft.KeyVault/vaults"})),
            )
            .await
            .unwrap();
        assert_eq!(
            (status, a["nameAvailable"].as_bool()),
            (200, Some(available)),
            "{name}: {a}"
        );
    }
    // A principal with no role anywhere in the subscription is refused; one with a role in one group
    // may ask (so a team scoped to its group can create its storage account).
    let sp = s.create_service_principal("nobody").await.unwrap();
    let nobody = s
        .token_for(
            sp["appId"].as_str().unwrap(),
            sp["password"].as_str().unwrap(),
            &s.state.url,
        )
        .await
        .unwrap();
    let body = json!({"name": "freename", "type": "Microsoft.Storage/storageAccounts"});
    let (status, err) = s
        .arm_as(&nobody, Method::POST, &storage, Some(body.clone()))
        .await
        .unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("AuthorizationFailed")),
        "{err}"
    );
    let (status, _) = s
        .call(
            Method::POST,
            &format!("{}{storage}?api-version=2023-01-01", s.state.url),
            None,
            Some(body.clone()),
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
    let assignment =
        format!("{rg}/providers/Microsoft.Authorization/roleAssignments/6e4f2a1b-0000-4000-8000-000000000001");
    let reader = json!({"properties": {"roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7", "principalId": sp["objectId"]}});
    let (status, _) = s.arm(Method::PUT, &assignment, Some(reader)).await.unwrap();
    assert_eq!(status, 201);
    let (status, a) = s.arm_as(&nobody, Method::POST, &storage, Some(body)).await.unwrap();
    assert_eq!((status, a["nameAvailable"].as_bool()), (200, Some(true)), "{a}");
    let (status, _) = s.arm(Method::GET, &storage, None).await.unwrap();
    assert_eq!(status, 400, "checkNameAvailability is a POST");

    // Managed HSM pools: none, listed as empty where az lists them beside vaults.
    for path in [
        format!("{sub}/providers/Microsoft.KeyVault/managedHSMs"),
        format!("{rg}/providers/Microsoft.KeyVault/managedHSMs"),
        format!("{sub}/providers/Microsoft.KeyVault/deletedManagedHSMs"),
    ] {
        let (status, list) = s.arm(Method::GET, &path, None).await.unwrap();
        assert_eq!((status, &list["value"]), (200, &json!([])), "{path}: {list}");
    }
    // Providers (az resource create picks an api-version here) and tenants.
    let (status, p) = s
        .arm(Method::GET, &format!("{sub}/providers/Microsoft.Compute"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{p}");
    assert!(
        p["resourceTypes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["resourceType"] == "virtualMachines")
    );
    let (status, _) = s
        .arm(Method::GET, &format!("{sub}/providers/Microsoft.Nothing"), None)
        .await
        .unwrap();
    assert_eq!(status, 400);
    let (status, _) = s
        .arm_as(&nobody, Method::GET, &format!("{sub}/providers"), None)
        .await
        .unwrap();
    assert_eq!(status, 403, "providers are read at the subscription");
    let (status, t) = s.arm_as(&nobody, Method::GET, "/tenants", None).await.unwrap();
    assert_eq!(
        (status, &t["value"][0]["tenantId"]),
        (200, &json!(s.state.tenant_id)),
        "{t}"
    );
    let (status, _) = s
        .call(
            Method::GET,
            &format!("{}/tenants?api-version=2022-12-01", s.state.url),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn users_are_created_and_managed_by_the_admin_only_and_their_passwords_never_leave() {
    let s = start(&[]);
    let admin = graph_token(&s).await;
    let password = "Wonder-Land-2031!";
    let body = json!({
        "accountEnabled": true,
        "displayName": "Alice Liddell",
        "mailNickname": "alice",
        "userPrincipalName": "Alice@Contoso.example",
        "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": password},
    });

    // Refused callers store nothing.
    let sp = s.create_service_principal("helpdesk").await.unwrap();
    let other = s
        .token_for(
            sp["appId"].as_str().unwrap(),
            sp["password"].as_str().unwrap(),
            &graph(&s),
        )
        .await
        .unwrap();
    let (status, _) = call(&s, Method::POST, "/users", Some(&other), Some(body.clone())).await;
    assert_eq!(status, 403);
    let (status, _) = call(&s, Method::POST, "/users", None, Some(body.clone())).await;
    assert_eq!(status, 401);
    let (_, none) = call(&s, Method::GET, "/users", Some(&admin), None).await;
    assert_eq!(none["value"], json!([]));

    let (status, alice) = call(&s, Method::POST, "/users", Some(&admin), Some(body.clone())).await;
    assert_eq!(status, 201, "{alice}");
    assert!(
        !alice.to_string().contains(password),
        "the password is not echoed: {alice}"
    );
    let oid = alice["id"].as_str().unwrap().to_owned();
    assert_eq!(alice["userPrincipalName"], "Alice@Contoso.example");
    assert_eq!(alice["accountEnabled"], true);

    // Bad input: Graph's 400, nothing stored.
    let dup = json!({"displayName": "Twin", "userPrincipalName": "alice@contoso.EXAMPLE", "passwordProfile": {"password": password}});
    let (status, err) = call(&s, Method::POST, "/users", Some(&admin), Some(dup)).await;
    assert_eq!(status, 400, "names are unique case-insensitively: {err}");
    for (upn, pw) in [
        ("bob@contoso.example", "short1!"),
        ("bob@contoso.example", "alllowercaseletters"),
        ("not-a-name", password),
    ] {
        let b = json!({"displayName": "Bob", "userPrincipalName": upn, "passwordProfile": {"password": pw}});
        let (status, err) = call(&s, Method::POST, "/users", Some(&admin), Some(b)).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("Request_BadRequest")),
            "{upn}: {err}"
        );
    }
    let (_, all) = call(&s, Method::GET, "/users", Some(&admin), None).await;
    assert_eq!(all["value"].as_array().unwrap().len(), 1);

    // Found by name (as az resolves --upn and --assignee), by id and by filter; listed by getByIds.
    let (status, by_name) = call(&s, Method::GET, "/users/alice@contoso.example", Some(&admin), None).await;
    assert_eq!((status, by_name["id"].as_str()), (200, Some(oid.as_str())));
    let (_, filtered) = call(
        &s,
        Method::GET,
        "/users?$filter=userPrincipalName%20eq%20'alice@contoso.example'",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(filtered["value"][0]["id"], json!(oid));
    let (_, objects) = call(
        &s,
        Method::POST,
        "/directoryObjects/getByIds",
        Some(&admin),
        Some(json!({"ids": [oid]})),
    )
    .await;
    assert_eq!(objects["value"][0]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(objects["value"][0]["userPrincipalName"], "Alice@Contoso.example");
    let (_, sps) = call(&s, Method::GET, "/servicePrincipals", Some(&admin), None).await;
    assert!(
        sps["value"].as_array().unwrap().iter().all(|p| p["id"] != json!(oid)),
        "a user is not a service principal"
    );

    // A user can be granted like any principal.
    let rg = s.resource_group("people").await.unwrap();
    let assignment =
        format!("{rg}/providers/Microsoft.Authorization/roleAssignments/3c5e2f7a-0000-4000-8000-000000000001");
    let reader = json!({"properties": {"roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7", "principalId": oid, "principalType": "User"}});
    let (status, ra) = s.arm(Method::PUT, &assignment, Some(reader)).await.unwrap();
    assert_eq!(status, 201, "{ra}");

    // Updates: others are refused; the admin renames, disables, changes the password.
    let (status, _) = call(
        &s,
        Method::PATCH,
        &format!("/users/{oid}"),
        Some(&other),
        Some(json!({"accountEnabled": false})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(&s, Method::PATCH, &format!("/users/{oid}"), Some(&admin), Some(json!({"displayName": "Alice L.", "accountEnabled": false, "passwordProfile": {"password": "Looking-Glass-1871"}}))).await;
    assert_eq!(status, 204);
    let (_, shown) = call(&s, Method::GET, &format!("/users/{oid}"), Some(&admin), None).await;
    assert_eq!(
        (shown["displayName"].as_str(), shown["accountEnabled"].as_bool()),
        (Some("Alice L."), Some(false))
    );
    let (status, _) = call(
        &s,
        Method::PATCH,
        &format!("/users/{oid}"),
        Some(&admin),
        Some(json!({"passwordProfile": {"password": "weak"}})),
    )
    .await;
    assert_eq!(status, 400);

    // Neither password is anywhere in the data dir or the audit log.
    for entry in std::fs::read_dir(&s.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for pw in [password, "Looking-Glass-1871"] {
                assert!(
                    !bytes.windows(pw.len()).any(|w| w == pw.as_bytes()),
                    "{pw} found in {}",
                    path.display()
                );
            }
        }
    }

    let (status, _) = call(&s, Method::DELETE, &format!("/users/{oid}"), Some(&other), None).await;
    assert_eq!(status, 403);
    let (status, _) = call(&s, Method::DELETE, &format!("/users/{oid}"), Some(&admin), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&s, Method::GET, &format!("/users/{oid}"), Some(&admin), None).await;
    assert_eq!(status, 404);
}
