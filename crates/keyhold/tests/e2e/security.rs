//! The attack review's findings, each against a real server: a Contributor of one resource group
//! (`gA`) tries to reach another group's (`gB`) vault and identities, strangers try to lock clients out
//! or exhaust the unseal endpoint, forged headers and claims try to bend the identity provider. Beside
//! each refusal, the rightful owner succeeds.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{json, start};

const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const MANAGED_IDENTITY_OPERATOR: &str = "f1a07417-d97a-45cb-824c-7a7467783830";
const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

/// A server with groups gA and gB, and a principal that is Contributor on gA only.
struct TwoTeams {
    server: keyhold_testkit::Server,
    sub: String,
    attacker: Value,
    attacker_arm: String,
    attacker_vault: String,
}

async fn two_teams() -> TwoTeams {
    let server = start(&[]);
    let sub = server.subscription_id().await.unwrap();
    let g_a = server.resource_group("gA").await.unwrap();
    server.resource_group("gB").await.unwrap();
    let attacker = server.create_service_principal("team-a").await.unwrap();
    let (id, secret) = (
        attacker["appId"].as_str().unwrap(),
        attacker["password"].as_str().unwrap(),
    );
    let attacker_arm = server.token_for(id, secret, &server.state.url).await.unwrap();
    let attacker_vault = server
        .token_for(id, secret, &server.state.vault_resource)
        .await
        .unwrap();
    let teams = TwoTeams {
        server,
        sub,
        attacker,
        attacker_arm,
        attacker_vault,
    };
    teams.assign(&g_a, CONTRIBUTOR, &teams.attacker_oid()).await;
    teams
}

impl TwoTeams {
    fn attacker_oid(&self) -> String {
        self.attacker["objectId"].as_str().unwrap().to_owned()
    }

    fn path(&self, group: &str, rest: &str) -> String {
        format!("/subscriptions/{}/resourceGroups/{group}/providers/{rest}", self.sub)
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.server.arm(method, path, body).await.unwrap()
    }

    async fn as_attacker(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.server
            .arm_as(&self.attacker_arm, method, path, body)
            .await
            .unwrap()
    }

    async fn assign(&self, scope: &str, role: &str, principal: &str) {
        let body = json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", self.sub),
            "principalId": principal,
        }});
        let path = format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
            uuid::Uuid::new_v4()
        );
        let (status, body) = self.admin(Method::PUT, &path, Some(body)).await;
        assert_eq!(status, 201, "{body}");
    }

    fn policy(&self, object_id: &str) -> Value {
        json!({"tenantId": self.server.state.tenant_id, "objectId": object_id, "permissions": {"secrets": ["all"]}})
    }

    fn vault_body(&self, rbac: bool, policies: Value) -> Value {
        json!({"location": "westus", "properties": {
            "tenantId": self.server.state.tenant_id, "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": rbac, "accessPolicies": policies,
        }})
    }

    async fn secret(&self, token: &str, vault: &str, name: &str, value: Option<&str>) -> (u16, Value) {
        let url = format!("{}/secrets/{name}?api-version=7.4", self.server.vault_url(vault));
        let req = match value {
            Some(v) => self.server.http.put(url).json(&json!({"value": v})),
            None => self.server.http.get(url),
        };
        json(req.bearer_auth(token).send().await.unwrap()).await
    }
}

#[tokio::test]
async fn a_deleted_vault_is_recovered_only_where_it_was_with_what_it_had() {
    let t = two_teams().await;
    let admin = t.server.admin.object_id.clone();
    let in_b = t.path("gB", "Microsoft.KeyVault/vaults/teambkv");
    let (status, body) = t
        .admin(Method::PUT, &in_b, Some(t.vault_body(false, json!([t.policy(&admin)]))))
        .await;
    assert_eq!(status, 201, "{body}");
    let admin_vault = t.server.token(&t.server.state.vault_resource).await.unwrap();
    assert_eq!(
        t.secret(&admin_vault, "teambkv", "db", Some("team-b-only")).await.0,
        200
    );
    assert_eq!(t.admin(Method::DELETE, &in_b, None).await.0, 200);

    // Team A's Contributor asks for it in its own group, with its own access policy.
    let mut recover = t.vault_body(false, json!([t.policy(&t.attacker_oid())]));
    recover["properties"]["createMode"] = json!("recover");
    let in_a = t.path("gA", "Microsoft.KeyVault/vaults/teambkv");
    let (status, body) = t.as_attacker(Method::PUT, &in_a, Some(recover.clone())).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    assert!(
        !body.to_string().contains("gB"),
        "the refusal does not name the original group: {body}"
    );
    let (status, deleted) = t
        .admin(
            Method::GET,
            &format!("/subscriptions/{}/providers/Microsoft.KeyVault/deletedVaults", t.sub),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let entry = deleted["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "teambkv")
        .expect("still deleted");
    assert!(
        entry["properties"]["vaultId"]
            .as_str()
            .unwrap()
            .contains("/resourceGroups/gB/")
    );
    assert_eq!(t.secret(&t.attacker_vault, "teambkv", "db", None).await.0, 404);

    // Even the Owner cannot move it: recovery is in place.
    let (status, body) = t.admin(Method::PUT, &in_a, Some(recover.clone())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadRequest")),
        "{body}"
    );

    // The owner recovers it in place; the request's access policy is not applied, the original is.
    let (status, body) = t.admin(Method::PUT, &in_b, Some(recover)).await;
    assert_eq!(status, 200, "{body}");
    let policies = body["properties"]["accessPolicies"].as_array().unwrap();
    assert_eq!(policies.len(), 1, "{body}");
    assert_eq!(policies[0]["objectId"], admin.as_str());
    assert_eq!(
        t.secret(&admin_vault, "teambkv", "db", None).await.1["value"],
        "team-b-only"
    );
    assert_eq!(t.secret(&t.attacker_vault, "teambkv", "db", None).await.0, 403);
}

#[tokio::test]
async fn attaching_another_teams_identity_needs_the_assign_action_on_it() {
    let t = two_teams().await;
    let uai_b = t.path("gB", "Microsoft.ManagedIdentity/userAssignedIdentities/teamb-id");
    let (status, uai) = t.admin(Method::PUT, &uai_b, Some(json!({"location": "westus"}))).await;
    assert_eq!(status, 201, "{uai}");
    let client_id = uai["properties"]["clientId"].as_str().unwrap().to_owned();
    let principal_id = uai["properties"]["principalId"].as_str().unwrap().to_owned();
    let uai_id = uai["id"].as_str().unwrap().to_owned();
    let with_uai = |id: &str| json!({"location": "westus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {id: {}}}});

    // PUT of a new VM, and PATCH of an existing one, naming team B's identity: refused, revealing nothing.
    let vm = t.path("gA", "Microsoft.Compute/virtualMachines/vm-a");
    let (status, body) = t.as_attacker(Method::PUT, &vm, Some(with_uai(&uai_id))).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "LinkedAuthorizationFailed");
    let text = body.to_string();
    assert!(!text.contains(&client_id) && !text.contains(&principal_id), "{body}");
    assert_eq!(
        t.as_attacker(Method::GET, &vm, None).await.0,
        404,
        "nothing was created"
    );

    let (status, _) = t
        .as_attacker(Method::PUT, &vm, Some(json!({"location": "westus"})))
        .await;
    assert_eq!(status, 201);
    let (status, body) = t.as_attacker(Method::PATCH, &vm, Some(with_uai(&uai_id))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("LinkedAuthorizationFailed"))
    );
    let (_, after) = t.as_attacker(Method::GET, &vm, None).await;
    assert!(after["identity"].is_null(), "no identity attached: {after}");

    // A web app is no way around it either.
    let site = t.path("gA", "Microsoft.Web/sites/app-a");
    assert_eq!(t.as_attacker(Method::PUT, &site, Some(with_uai(&uai_id))).await.0, 403);

    // Its own group's identity it may attach (Contributor there).
    let uai_a = t.path("gA", "Microsoft.ManagedIdentity/userAssignedIdentities/teama-id");
    let (_, own) = t
        .as_attacker(Method::PUT, &uai_a, Some(json!({"location": "westus"})))
        .await;
    let own_id = own["id"].as_str().unwrap();
    let (status, body) = t.as_attacker(Method::PATCH, &vm, Some(with_uai(own_id))).await;
    assert_eq!(status, 200, "{body}");

    // Given Managed Identity Operator on team B's identity, it may attach that one too.
    t.assign(&uai_id, MANAGED_IDENTITY_OPERATOR, &t.attacker_oid()).await;
    let (status, body) = t.as_attacker(Method::PATCH, &vm, Some(with_uai(&uai_id))).await;
    assert_eq!(status, 200, "{body}");
    let attached = &body["identity"]["userAssignedIdentities"];
    assert_eq!(attached[uai_id.as_str()]["clientId"], client_id.as_str(), "{body}");
    assert!(attached[own_id].is_object(), "a PATCH keeps what was attached: {body}");

    // What `az vm identity remove` sends for the last user-assigned identity: the map as null.
    let remove = json!({"identity": {"type": "SystemAssigned", "userAssignedIdentities": null}});
    let (status, body) = t.as_attacker(Method::PATCH, &vm, Some(remove)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identity"]["type"], "SystemAssigned");
    assert!(body["identity"]["userAssignedIdentities"].is_null(), "{body}");
}

#[tokio::test]
async fn switching_the_permission_model_needs_role_assignment_write() {
    let t = two_teams().await;
    let kv = t.path("gA", "Microsoft.KeyVault/vaults/rbackv");
    let (status, body) = t.admin(Method::PUT, &kv, Some(t.vault_body(true, json!([])))).await;
    assert_eq!(status, 201, "{body}");
    t.assign(&kv, SECRETS_OFFICER, &t.server.admin.object_id).await;
    let admin_vault = t.server.token(&t.server.state.vault_resource).await.unwrap();
    assert_eq!(t.secret(&admin_vault, "rbackv", "s", Some("v")).await.0, 200);

    let switch =
        json!({"properties": {"enableRbacAuthorization": false, "accessPolicies": [t.policy(&t.attacker_oid())]}});
    let (status, body) = t.as_attacker(Method::PATCH, &kv, Some(switch.clone())).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.Authorization/roleAssignments/write")
    );
    let (_, now) = t.admin(Method::GET, &kv, None).await;
    assert_eq!(now["properties"]["enableRbacAuthorization"], true);
    assert_eq!(t.secret(&t.attacker_vault, "rbackv", "s", None).await.0, 403);

    // Other settings the Contributor may still change.
    let (status, body) = t
        .as_attacker(Method::PATCH, &kv, Some(json!({"tags": {"team": "a"}})))
        .await;
    assert_eq!(status, 200, "{body}");

    // The Owner may switch.
    let (status, body) = t.admin(Method::PATCH, &kv, Some(switch)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["properties"]["enableRbacAuthorization"], false);
}

#[tokio::test]
async fn wrong_secrets_from_anyone_never_lock_the_real_client_out() {
    let server = start(&[]);
    let app = server.create_service_principal("victim").await.unwrap();
    let app_id = app["appId"].as_str().unwrap();
    let scope = format!("{}/.default", server.state.vault_resource);
    let url = format!("{}/{}/oauth2/v2.0/token", server.state.url, server.state.tenant_id);
    let from_b = keyhold_testkit::client_from(&server.data_dir, Some([127, 0, 0, 2].into())).unwrap();
    let form = |secret: &str| {
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", app_id.to_owned()),
            ("client_secret", secret.to_owned()),
            ("scope", scope.clone()),
        ]
    };
    let mut throttled = 0;
    for i in 0..500 {
        let status = from_b
            .post(&url)
            .form(&form(&format!("guess-{i}")))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!(status == 401 || status == 429, "wrong secret answered {status}");
        throttled += usize::from(status == 429);
    }
    assert!(throttled > 400, "the guessing source is throttled ({throttled} of 500)");
    // The right secret works, from the guessing address and from any other.
    let right = form(app["password"].as_str().unwrap());
    for http in [&from_b, &server.http] {
        let (status, body) = json(http.post(&url).form(&right).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
    }
    // Another address's wrong secret is an ordinary 401, not a 429.
    let (status, _) = json(server.http.post(&url).form(&form("typo")).send().await.unwrap()).await;
    assert_eq!(status, 401);
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn unseal_attempts_cannot_exhaust_memory_and_wrong_ones_slow_down() {
    let dir = std::env::temp_dir().join(format!("keyhold-security-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good");
    std::fs::write(&good, "correct horse battery staple\n").unwrap();
    let good_arg = good.to_str().unwrap().to_owned();
    let mut server = start(&["--seal", "passphrase", "--seal-passphrase-file", &good_arg]);
    server.restart_with(&["--seal".into(), "passphrase".into()]).unwrap();
    let url = format!("{}/keyhold/v1/sys/unseal", server.state.url);

    // Sixteen concurrent wrong attempts: one key derivation at a time.
    let attempts = (0..16).map(|i| {
        let (http, url) = (server.http.clone(), url.clone());
        tokio::spawn(async move {
            let resp = http
                .post(url)
                .json(&json!({"passphrase": format!("wrong passphrase {i}")}))
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        })
    });
    let mut statuses = Vec::new();
    for a in attempts {
        statuses.push(a.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 400 || *s == 429), "{statuses:?}");
    let peak = peak_rss_kib(server.pid().unwrap());
    assert!(peak < 300 * 1024, "peak RSS {peak} KiB: derivations ran side by side");

    // The source of the wrong attempts is made to wait within a few more tries (how many of the
    // concurrent ones counted depends on how fast Argon2id runs here).
    let mut waited = None;
    for _ in 0..6 {
        let resp = server
            .http
            .post(&url)
            .json(&json!({"passphrase": "another wrong one"}))
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            waited = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            break;
        }
        assert_eq!(resp.status(), 400);
    }
    assert!(
        waited.is_some_and(|r| r.parse::<u64>().unwrap() > 0),
        "wrong attempts are throttled"
    );

    // The operator, from another address, unseals.
    let operator = keyhold_testkit::client_from(&server.data_dir, Some([127, 0, 0, 3].into())).unwrap();
    let (status, body) = json(
        operator
            .post(&url)
            .json(&json!({"passphrase": "correct horse battery staple"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["sealed"].as_bool()), (200, Some(false)), "{body}");
}

#[tokio::test]
async fn a_bad_share_costs_only_itself() {
    let server =
        keyhold_testkit::Server::start_sealed(env!("CARGO_BIN_EXE_keyhold").as_ref(), &["--seal", "shamir"]).unwrap();
    let base = &server.state.url;
    let (status, init) = server
        .call(
            reqwest::Method::POST,
            &format!("{base}/keyhold/v1/sys/init"),
            None,
            Some(json!({"type": "shamir", "shares": 5, "threshold": 3})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{init}");
    let shares: Vec<String> = init["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let unseal = |key: String| {
        let http = server.http.clone();
        let url = format!("{base}/keyhold/v1/sys/unseal");
        async move { json(http.post(url).json(&json!({ "key": key })).send().await.unwrap()).await }
    };
    for share in &shares[..2] {
        assert_eq!(unseal(share.clone()).await.0, 200);
    }
    // Garbage is refused alone; the two good shares stay.
    let (status, body) = unseal("bm90IGEgc2hhcmU=".into()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadShare")),
        "{body}"
    );
    // A well-formed share that is wrong (one byte of share 4 changed) completes a set that fails…
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forged = b64.decode(&shares[3]).unwrap();
    forged[5] ^= 0x5a;
    let (status, body) = unseal(b64.encode(&forged)).await;
    assert_eq!(status, 400, "{body}");
    let (_, progress) = server
        .call(
            reqwest::Method::GET,
            &format!("{base}/keyhold/v1/sys/seal-status"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (progress["sealed"].as_bool(), progress["progress"].as_u64()),
        (Some(true), Some(3))
    );
    // …and one more right share unseals: nobody had to start over.
    let (status, body) = unseal(shares[4].clone()).await;
    assert_eq!((status, body["sealed"].as_bool()), (200, Some(false)), "{body}");
}

/// IMDS on the server's managed-identity listener.
async fn imds(server: &keyhold_testkit::Server, query: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = server
        .http
        .get(format!("{}/metadata/identity/oauth2/token?{query}", server.mi_url()))
        .header("Metadata", "true");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    json(req.send().await.unwrap()).await
}

#[tokio::test]
async fn managed_identity_tokens_have_one_spelling_per_audience_and_imds_is_strict() {
    let server = start(&[]);
    let (status, first) = imds(&server, "api-version=2018-02-01&resource=https://vault.azure.net/", &[]).await;
    assert_eq!(status, 200, "{first}");
    for variant in [
        "https://vault.azure.net////",
        "HTTPS://VAULT.AZURE.NET//",
        "https://Vault.Azure.Net/",
    ] {
        let (status, again) = imds(&server, &format!("api-version=2018-02-01&resource={variant}"), &[]).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            again["access_token"], first["access_token"],
            "{variant} is the same audience: one cached token, one signature"
        );
    }
    // An audience keyhold does not serve: Entra's AADSTS500011, in IMDS's and App Service's shapes.
    let (status, body) = imds(&server, "api-version=2018-02-01&resource=https://evil.example/", &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_resource")),
        "{body}"
    );
    assert!(body["error_description"].as_str().unwrap().contains("AADSTS500011"));

    // Proxied requests and undocumented versions are refused.
    let (status, body) = imds(
        &server,
        "api-version=2018-02-01&resource=https://vault.azure.net",
        &[("X-Forwarded-For", "10.0.0.9")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    for version in ["zzzz", "2999-01-01", "2018-02-01x", "2017-09-01"] {
        let (status, body) = imds(
            &server,
            &format!("api-version={version}&resource=https://vault.azure.net"),
            &[],
        )
        .await;
        assert_eq!(status, 400, "api-version={version}: {body}");
    }
    let (status, _) = imds(&server, "api-version=2019-08-01&resource=https://vault.azure.net", &[]).await;
    assert_eq!(status, 200, "a documented version works");
}

#[tokio::test]
async fn a_forged_host_does_not_move_the_identity_provider() {
    let server = start(&[]);
    let tenant = &server.state.tenant_id;
    let url = format!("{}/{tenant}/v2.0/.well-known/openid-configuration", server.state.url);
    let (status, doc) = json(server.http.get(&url).header("Host", "evil.com").send().await.unwrap()).await;
    assert_eq!(status, 200, "{doc}");
    for field in ["issuer", "token_endpoint", "jwks_uri"] {
        let value = doc[field].as_str().unwrap();
        assert!(value.starts_with(&server.state.url), "{field} = {value}");
    }
    // The normal document still follows the client's own (our) origin.
    let (_, normal) = server.call(reqwest::Method::GET, &url, None, None).await.unwrap();
    assert_eq!(normal["issuer"], format!("{}/{tenant}/v2.0", server.state.url));
}

#[tokio::test]
async fn arm_objects_have_azures_limits() {
    let t = two_teams().await;
    let rg = format!("/subscriptions/{}/resourceGroups/limits", t.sub);
    let tags: serde_json::Map<String, Value> = (0..51).map(|i| (format!("t{i}"), json!("v"))).collect();
    let (status, body) = t
        .admin(Method::PUT, &rg, Some(json!({"location": "westus", "tags": tags})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidTag")),
        "{body}"
    );
    assert_eq!(t.admin(Method::GET, &rg, None).await.0, 404, "nothing stored");

    let vm = t.path("gA", "Microsoft.Compute/virtualMachines/big");
    let long_name = "n".repeat(513);
    let long_value = "v".repeat(257);
    for tags in [json!({long_name: "v"}), json!({"name": long_value})] {
        let (status, body) = t
            .admin(Method::PUT, &vm, Some(json!({"location": "westus", "tags": tags})))
            .await;
        assert_eq!(status, 400, "{body}");
    }
    let kv = t.path("gA", "Microsoft.KeyVault/vaults/limitkv");
    let mut body = t.vault_body(false, json!([]));
    body["tags"] = json!(tags);
    assert_eq!(t.admin(Method::PUT, &kv, Some(body)).await.0, 400);

    let huge = json!({"location": "westus", "properties": {"blob": "x".repeat(900 * 1024)}});
    let (status, body) = t.admin(Method::PUT, &vm, Some(huge)).await;
    assert_eq!(status, 400, "{body}");
    // Growing past the limit PATCH by PATCH is refused too.
    let part = |k: &str| json!({"properties": {k: "x".repeat(40 * 1024)}});
    assert_eq!(t.admin(Method::PUT, &vm, Some(part("a"))).await.0, 201);
    assert_eq!(t.admin(Method::PATCH, &vm, Some(part("b"))).await.0, 400);

    // Within the limits all is well.
    let fifty: serde_json::Map<String, Value> = (0..50).map(|i| (format!("t{i}"), json!("v".repeat(256)))).collect();
    let (status, body) = t.admin(Method::PATCH, &vm, Some(json!({"tags": fifty}))).await;
    assert_eq!(status, 200, "{body}");
}
