//! People signing in with the device-code flow: the code, the sign-in page, the tokens a user gets
//! (Entra's user claims, an id token, a refresh token rotated on use and revoked by a password change),
//! and what is refused (wrong password, disabled user, a code redeemed twice, an unknown client).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use reqwest::Method;
use serde_json::{Value, json};

use crate::start;

/// Azure CLI's client id, which the SDKs' interactive credentials use by default.
const AZ: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const PASSWORD: &str = "Wonder-Land-2031!";

fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn form(s: &keyhold_testkit::Server, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let resp = s
        .http
        .post(format!("{}{path}", s.state.url))
        .form(fields)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn create_user(s: &keyhold_testkit::Server, upn: &str) -> String {
    let graph = s.token(&format!("{}/graph/", s.state.url)).await.unwrap();
    let body =
        json!({"displayName": "Alice Liddell", "userPrincipalName": upn, "passwordProfile": {"password": PASSWORD}});
    let (status, user) = s
        .call(
            Method::POST,
            &format!("{}/graph/v1.0/users", s.state.url),
            Some(&graph),
            Some(body),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{user}");
    user["id"].as_str().unwrap().to_owned()
}

async fn device_code(s: &keyhold_testkit::Server, scope: &str) -> Value {
    let (status, body) = form(
        s,
        &format!("/{}/oauth2/v2.0/devicecode", s.state.tenant_id),
        &[("client_id", AZ), ("scope", scope)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn token(s: &keyhold_testkit::Server, fields: &[(&str, &str)]) -> (u16, Value) {
    let (status, body) = form(s, &format!("/{}/oauth2/v2.0/token", s.state.tenant_id), fields).await;
    (status, serde_json::from_str(&body).unwrap())
}

async fn poll(s: &keyhold_testkit::Server, device_code: &str) -> (u16, Value) {
    token(
        s,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", AZ),
            ("device_code", device_code),
        ],
    )
    .await
}

#[tokio::test]
async fn a_person_signs_in_with_a_device_code_and_gets_a_users_tokens() {
    let s = start(&[]);
    s.create_vault("peoplevault").await.unwrap();
    s.create_vault("othervault").await.unwrap();
    let alice = create_user(&s, "alice@contoso.example").await;
    s.grant_secrets("peoplevault", &alice, &["get"]).await.unwrap();
    let admin_vault = s.token(&s.state.vault_resource).await.unwrap();
    let (status, _) = s
        .call(
            Method::PUT,
            &format!("{}/secrets/s1?api-version=7.4", s.vault_url("peoplevault")),
            Some(&admin_vault),
            Some(json!({"value": "for-alice"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);

    let scope = format!("{}/.default offline_access openid profile", s.state.vault_resource);
    let code = device_code(&s, &scope).await;
    assert_eq!(code["verification_uri"], format!("{}/devicelogin", s.state.url));
    assert_eq!(code["interval"], 5);
    let user_code = code["user_code"].as_str().unwrap();
    let device = code["device_code"].as_str().unwrap();
    assert!(code["message"].as_str().unwrap().contains(user_code));

    let (status, err) = poll(&s, device).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("authorization_pending")),
        "{err}"
    );

    // The page: no script, no framing, nothing cached.
    let page = s.http.get(format!("{}/devicelogin", s.state.url)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("<label for=\"code\">") && !html.contains("<script"));

    // A wrong password approves nothing; the right one does, once.
    let (status, html) = form(
        &s,
        "/devicelogin",
        &[
            ("code", user_code),
            ("username", "alice@contoso.example"),
            ("password", "Wrong-Password-1"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("invalid username or password"), "{html}");
    assert_eq!(poll(&s, device).await.1["error"], "authorization_pending");
    let (status, html) = form(
        &s,
        "/devicelogin",
        &[
            ("code", &user_code.to_lowercase()),
            ("username", "ALICE@contoso.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (status, again) = form(
        &s,
        "/devicelogin",
        &[
            ("code", user_code),
            ("username", "alice@contoso.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 400, "a code is approved once: {again}");

    let (status, tokens) = poll(&s, device).await;
    assert_eq!(status, 200, "{tokens}");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["idtyp"], "user");
    assert_eq!(access["oid"], json!(alice));
    assert_eq!(access["upn"], "alice@contoso.example");
    assert_eq!(access["name"], "Alice Liddell");
    assert_eq!(access["scp"], "user_impersonation");
    assert_eq!(access["appid"], AZ);
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (id["aud"].as_str(), id["preferred_username"].as_str()),
        (Some(AZ), Some("alice@contoso.example"))
    );
    let (status, err) = poll(&s, device).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "redeemed once: {err}"
    );

    // The user's token is a vault token: what the policy grants, and nothing more.
    let user_vault = tokens["access_token"].as_str().unwrap();
    let (status, secret) = s
        .call(
            Method::GET,
            &format!("{}/secrets/s1?api-version=7.4", s.vault_url("peoplevault")),
            Some(user_vault),
            None,
        )
        .await
        .unwrap();
    assert_eq!((status, secret["value"].as_str()), (200, Some("for-alice")));
    let (status, err) = s
        .call(
            Method::GET,
            &format!("{}/secrets/s1?api-version=7.4", s.vault_url("othervault")),
            Some(user_vault),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{err}");
    assert!(
        err["error"]["message"].as_str().unwrap().contains(&alice),
        "the refusal names the user: {err}"
    );

    // The refresh token: another resource, rotated on use.
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mgmt_scope = format!("{}/.default", s.state.url);
    let (status, fresh) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", AZ),
            ("refresh_token", &refresh),
            ("scope", &mgmt_scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(
        claims(fresh["access_token"].as_str().unwrap())["aud"],
        json!(s.state.url)
    );
    let (status, err) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", AZ),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "a refresh token is spent once: {err}"
    );
    let newer = fresh["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "1950a258-227b-4e31-a9cf-717495945fc2"),
            ("refresh_token", &newer),
        ],
    )
    .await;
    assert_eq!(status, 400, "another client cannot use it (and it is spent by trying)");

    // A password change revokes the refresh tokens issued before it.
    let (_, again) = {
        let code = device_code(&s, &scope).await;
        form(
            &s,
            "/devicelogin",
            &[
                ("code", code["user_code"].as_str().unwrap()),
                ("username", "alice@contoso.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
        poll(&s, code["device_code"].as_str().unwrap()).await
    };
    let before_change = again["refresh_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let graph = s.token(&format!("{}/graph/", s.state.url)).await.unwrap();
    let (status, _) = s
        .call(
            Method::PATCH,
            &format!("{}/graph/v1.0/users/{alice}", s.state.url),
            Some(&graph),
            Some(json!({"passwordProfile": {"password": "Looking-Glass-1871"}})),
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    let (status, err) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", AZ),
            ("refresh_token", &before_change),
        ],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")), "{err}");
}

#[tokio::test]
async fn sign_in_refusals_grant_nothing() {
    let s = start(&[]);
    let bob = create_user(&s, "bob@contoso.example").await;
    let scope = format!("{}/.default", s.state.vault_resource);

    // Unknown clients, unknown resources.
    let (status, body) = form(
        &s,
        &format!("/{}/oauth2/v2.0/devicecode", s.state.tenant_id),
        &[("client_id", "11111111-2222-3333-4444-555555555555"), ("scope", &scope)],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("unauthorized_client") && body.contains("AADSTS700016"),
        "{body}"
    );
    let (status, body) = form(
        &s,
        &format!("/{}/oauth2/v2.0/devicecode", s.state.tenant_id),
        &[("client_id", AZ), ("scope", "https://elsewhere.example/.default")],
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // A disabled user cannot approve a code.
    let graph = s.token(&format!("{}/graph/", s.state.url)).await.unwrap();
    let (status, _) = s
        .call(
            Method::PATCH,
            &format!("{}/graph/v1.0/users/{bob}", s.state.url),
            Some(&graph),
            Some(json!({"accountEnabled": false})),
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    let code = device_code(&s, &scope).await;
    let (status, html) = form(
        &s,
        "/devicelogin",
        &[
            ("code", code["user_code"].as_str().unwrap()),
            ("username", "bob@contoso.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("disabled"), "{html}");
    assert_eq!(
        poll(&s, code["device_code"].as_str().unwrap()).await.1["error"],
        "authorization_pending"
    );

    // Wrong passwords: an unknown name and a wrong password look alike; after five a source waits
    // (even with the right password), and the wait is bounded.
    let (_, unknown) = form(
        &s,
        "/devicelogin",
        &[
            ("code", code["user_code"].as_str().unwrap()),
            ("username", "nobody@contoso.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert!(unknown.contains("invalid username or password"));
    s.call(
        Method::PATCH,
        &format!("{}/graph/v1.0/users/{bob}", s.state.url),
        Some(&graph),
        Some(json!({"accountEnabled": true})),
    )
    .await
    .unwrap();
    for _ in 0..5 {
        let (status, _) = form(
            &s,
            "/devicelogin",
            &[
                ("code", code["user_code"].as_str().unwrap()),
                ("username", "bob@contoso.example"),
                ("password", "Wrong-Password-1"),
            ],
        )
        .await;
        assert_eq!(status, 400);
    }
    let (status, _) = form(
        &s,
        "/devicelogin",
        &[
            ("code", code["user_code"].as_str().unwrap()),
            ("username", "bob@contoso.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 429, "this source waits before its next attempt is checked");
    assert_eq!(
        poll(&s, code["device_code"].as_str().unwrap()).await.1["error"],
        "authorization_pending"
    );

    // Made-up device codes and refresh tokens.
    let (status, err) = poll(&s, "not-a-device-code").await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    let (status, err) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", AZ),
            ("refresh_token", "not-a-refresh-token"),
        ],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));

    // Deleting the user: nothing of it signs in.
    let (status, _) = s
        .call(
            Method::DELETE,
            &format!("{}/graph/v1.0/users/{bob}", s.state.url),
            Some(&graph),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
}
