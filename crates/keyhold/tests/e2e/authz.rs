//! Data-plane and control-plane authorization with two principals: access policies, RBAC at vault and
//! secret scope, revocation on the next request, and deny by default.

use reqwest::Method;
use serde_json::{Value, json};

use crate::start;

struct Setup {
    server: keyhold_testkit::Server,
    sub: String,
    app: Value,
    app_vault_token: String,
    app_mgmt_token: String,
    admin_vault_token: String,
}

async fn setup() -> Setup {
    let server = start(&[]);
    let sub = server.subscription_id().await.unwrap();
    let (status, _) = server
        .arm(
            Method::PUT,
            &format!("/subscriptions/{sub}/resourceGroups/rg1"),
            Some(json!({"location": "West US"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    let app = server.create_service_principal("app").await.unwrap();
    let (id, secret) = (app["appId"].as_str().unwrap(), app["password"].as_str().unwrap());
    let app_vault_token = server
        .token_for(id, secret, &server.state.vault_resource)
        .await
        .unwrap();
    let app_mgmt_token = server.token_for(id, secret, &server.state.url).await.unwrap();
    let admin_vault_token = server.token(&server.state.vault_resource).await.unwrap();
    Setup {
        server,
        sub,
        app,
        app_vault_token,
        app_mgmt_token,
        admin_vault_token,
    }
}

impl Setup {
    fn vault_path(&self, vault: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/{vault}",
            self.sub
        )
    }

    async fn create_vault(&self, vault: &str, rbac: bool, policies: Value) {
        let body = json!({"location": "westus", "properties": {
            "tenantId": self.server.state.tenant_id, "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": rbac, "accessPolicies": policies,
        }});
        let (status, v) = self
            .server
            .arm(Method::PUT, &self.vault_path(vault), Some(body))
            .await
            .unwrap();
        assert_eq!(status, 201, "{v}");
        // The admin may use the vault's data plane in both modes.
        if rbac {
            self.assign(
                &self.vault_path(vault),
                "00482a5a-887f-4fb3-b363-3b7fe8e74483",
                &self.server.admin.object_id,
            )
            .await;
        } else {
            let grant = json!({"properties": {"accessPolicies": [{"tenantId": self.server.state.tenant_id, "objectId": self.server.admin.object_id, "permissions": {"secrets": ["all"]}}]}});
            let (status, _) = self
                .server
                .arm(
                    Method::PUT,
                    &format!("{}/accessPolicies/add", self.vault_path(vault)),
                    Some(grant),
                )
                .await
                .unwrap();
            assert_eq!(status, 200);
        }
    }

    async fn assign(&self, scope: &str, role: &str, principal: &str) -> String {
        let name = uuid_like();
        let body = json!({"properties": {"roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", self.sub), "principalId": principal}});
        let (status, a) = self
            .server
            .arm(
                Method::PUT,
                &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
                Some(body),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{a}");
        name
    }

    /// (status, body) of a data-plane call by `token`.
    async fn call(&self, token: &str, method: Method, vault: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}?api-version=7.4", self.server.vault_url(vault));
        self.server.call(method, &url, Some(token), body).await.unwrap()
    }

    async fn seed(&self, vault: &str, names: &[&str]) {
        for n in names {
            let (status, body) = self
                .call(
                    &self.admin_vault_token,
                    Method::PUT,
                    vault,
                    &format!("/secrets/{n}"),
                    Some(json!({"value": format!("v-{n}")})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }

    fn app_oid(&self) -> &str {
        self.app["objectId"].as_str().unwrap()
    }
}

fn uuid_like() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let h = format!("{:032x}", n ^ 0x5a5a_5a5a_5a5a_5a5a_5a5a_5a5a_5a5a_5a5a);
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn assert_forbidden(resp: &(u16, Value), inner: &str, oid: &str, what: &str) {
    assert_eq!(resp.0, 403, "{what}: {}", resp.1);
    assert_eq!(resp.1["error"]["code"], "Forbidden", "{what}");
    assert_eq!(resp.1["error"]["innererror"]["code"], inner, "{what}");
    assert!(
        resp.1["error"]["message"].as_str().unwrap().contains(oid),
        "{what}: the denial names the caller"
    );
}

#[tokio::test]
async fn access_policy_get_and_set_but_not_list() {
    let t = setup().await;
    let policy = json!([{"tenantId": t.server.state.tenant_id, "objectId": t.app_oid(), "permissions": {"secrets": ["get", "set"]}}]);
    t.create_vault("kv-policy", false, policy).await;
    let tok = &t.app_vault_token;
    let (status, _) = t
        .call(tok, Method::PUT, "kv-policy", "/secrets/a", Some(json!({"value": "x"})))
        .await;
    assert_eq!(status, 200, "set is granted");
    let (status, body) = t.call(tok, Method::GET, "kv-policy", "/secrets/a", None).await;
    assert_eq!((status, body["value"].as_str()), (200, Some("x")), "get is granted");
    let list = t.call(tok, Method::GET, "kv-policy", "/secrets", None).await;
    assert_forbidden(&list, "AccessDenied", t.app_oid(), "list is not granted");
    assert!(
        list.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("secrets list permission")
    );
    let delete = t.call(tok, Method::DELETE, "kv-policy", "/secrets/a", None).await;
    assert_forbidden(&delete, "AccessDenied", t.app_oid(), "delete is not granted");
    let (status, _) = t.call(tok, Method::GET, "kv-policy", "/secrets/a", None).await;
    assert_eq!(status, 200, "the refused delete changed nothing");

    // Removing the permission takes effect on the next request.
    let remove = json!({"properties": {"accessPolicies": [{"tenantId": t.server.state.tenant_id, "objectId": t.app_oid(), "permissions": {"secrets": ["get"]}}]}});
    let (status, body) = t
        .server
        .arm(
            Method::PUT,
            &format!("{}/accessPolicies/remove", t.vault_path("kv-policy")),
            Some(remove),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_forbidden(
        &t.call(tok, Method::GET, "kv-policy", "/secrets/a", None).await,
        "AccessDenied",
        t.app_oid(),
        "get removed",
    );
    let (status, _) = t
        .call(tok, Method::PUT, "kv-policy", "/secrets/a", Some(json!({"value": "y"})))
        .await;
    assert_eq!(status, 200, "set is still granted");
}

#[tokio::test]
async fn rbac_secrets_user_at_vault_and_secret_scope() {
    let t = setup().await;
    t.create_vault("kv-rbac", true, json!([])).await;
    t.seed("kv-rbac", &["one", "two"]).await;
    let tok = &t.app_vault_token;
    assert_forbidden(
        &t.call(tok, Method::GET, "kv-rbac", "/secrets/one", None).await,
        "ForbiddenByRbac",
        t.app_oid(),
        "no role yet",
    );

    // Key Vault Secrets User at the vault: get works everywhere in it, set does not.
    let vault_scope = t.vault_path("kv-rbac");
    let name = t
        .assign(&vault_scope, "4633458b-17de-408a-b874-0445c86b69e6", t.app_oid())
        .await;
    for s in ["one", "two"] {
        let (status, body) = t
            .call(tok, Method::GET, "kv-rbac", &format!("/secrets/{s}"), None)
            .await;
        assert_eq!((status, body["value"].as_str()), (200, Some(format!("v-{s}").as_str())));
    }
    let set = t
        .call(
            tok,
            Method::PUT,
            "kv-rbac",
            "/secrets/one",
            Some(json!({"value": "hacked"})),
        )
        .await;
    assert_forbidden(&set, "ForbiddenByRbac", t.app_oid(), "Secrets User cannot set");
    assert!(
        set.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.KeyVault/vaults/secrets/setSecret/action")
    );

    // Removing the assignment takes effect on the next request.
    let (status, _) = t
        .server
        .arm(
            Method::DELETE,
            &format!("{vault_scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_forbidden(
        &t.call(tok, Method::GET, "kv-rbac", "/secrets/one", None).await,
        "ForbiddenByRbac",
        t.app_oid(),
        "after removal",
    );

    // The same role at one secret's scope: that secret only, and no listing.
    t.assign(
        &format!("{vault_scope}/secrets/one"),
        "4633458b-17de-408a-b874-0445c86b69e6",
        t.app_oid(),
    )
    .await;
    let (status, _) = t.call(tok, Method::GET, "kv-rbac", "/secrets/one", None).await;
    assert_eq!(status, 200);
    assert_forbidden(
        &t.call(tok, Method::GET, "kv-rbac", "/secrets/two", None).await,
        "ForbiddenByRbac",
        t.app_oid(),
        "other secret",
    );
    assert_forbidden(
        &t.call(tok, Method::GET, "kv-rbac", "/secrets", None).await,
        "ForbiddenByRbac",
        t.app_oid(),
        "list at vault",
    );

    // Access policies do not count in RBAC mode.
    let grant = json!({"properties": {"accessPolicies": [{"tenantId": t.server.state.tenant_id, "objectId": t.app_oid(), "permissions": {"secrets": ["all"]}}]}});
    t.server
        .arm(Method::PUT, &format!("{vault_scope}/accessPolicies/add"), Some(grant))
        .await
        .unwrap();
    assert_forbidden(
        &t.call(tok, Method::GET, "kv-rbac", "/secrets/two", None).await,
        "ForbiddenByRbac",
        t.app_oid(),
        "policy ignored under RBAC",
    );
}

#[tokio::test]
async fn no_rights_means_403_everywhere() {
    let t = setup().await;
    t.create_vault("kv-none", false, json!([])).await;
    t.seed("kv-none", &["s"]).await;
    let tok = &t.app_vault_token;
    let calls: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/secrets/s", None),
        (Method::GET, "/secrets", None),
        (Method::GET, "/secrets/s/versions", None),
        (Method::PUT, "/secrets/s", Some(json!({"value": "x"}))),
        (Method::PATCH, "/secrets/s", Some(json!({"contentType": "x"}))),
        (Method::DELETE, "/secrets/s", None),
        (Method::POST, "/secrets/s/backup", None),
        (Method::POST, "/secrets/restore", Some(json!({"value": "AAAA"}))),
        (Method::GET, "/deletedsecrets", None),
        (Method::GET, "/deletedsecrets/s", None),
        (Method::POST, "/deletedsecrets/s/recover", None),
        (Method::DELETE, "/deletedsecrets/s", None),
    ];
    for (method, path, body) in calls {
        let what = format!("{method} {path}");
        assert_forbidden(
            &t.call(tok, method, "kv-none", path, body).await,
            "AccessDenied",
            t.app_oid(),
            &what,
        );
    }
    let (status, body) = t
        .call(&t.admin_vault_token, Method::GET, "kv-none", "/secrets/s", None)
        .await;
    assert_eq!((status, body["value"].as_str()), (200, Some("v-s")), "nothing changed");

    // Management without a role: 403 AuthorizationFailed naming the caller and the action.
    let m = &t.app_mgmt_token;
    for (method, path, body) in [
        (Method::GET, t.vault_path("kv-none"), None),
        (
            Method::PUT,
            t.vault_path("kv-new"),
            Some(json!({"location": "westus", "properties": {}})),
        ),
        (
            Method::PUT,
            format!("/subscriptions/{}/resourceGroups/rg2", t.sub),
            Some(json!({"location": "westus"})),
        ),
        (
            Method::PUT,
            format!("{}/accessPolicies/add", t.vault_path("kv-none")),
            Some(json!({"properties": {"accessPolicies": []}})),
        ),
    ] {
        let (status, err) = t.server.arm_as(m, method.clone(), &path, body).await.unwrap();
        assert_eq!(status, 403, "{method} {path}: {err}");
        assert_eq!(err["error"]["code"], "AuthorizationFailed");
        assert!(err["error"]["message"].as_str().unwrap().contains(t.app_oid()));
    }
    let (status, _) = t
        .server
        .arm(
            Method::GET,
            &format!("/subscriptions/{}/resourceGroups/rg2", t.sub),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "the refused group was not created");

    // A Key Vault Contributor on the group may manage vaults there, but still has no data access.
    t.assign(
        &format!("/subscriptions/{}/resourceGroups/rg1", t.sub),
        "f25e0fa2-a7c8-4377-a976-54943a77a395",
        t.app_oid(),
    )
    .await;
    let (status, v) = t
        .server
        .arm_as(m, Method::GET, &t.vault_path("kv-none"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_forbidden(
        &t.call(tok, Method::GET, "kv-none", "/secrets/s", None).await,
        "AccessDenied",
        t.app_oid(),
        "contributor has no data access",
    );
}
