//! People's sign-in beyond the flows of `signin`: a device code that expires (the server started
//! with `--device-code-lifetime-secs`), Entra's tenant aliases `common` and `organizations`, the
//! logout page and its redirect rule, and revoking one refresh token.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    signin::{AZ, CHALLENGE, PASSWORD, VERIFIER, claims, create_user, form, hidden_fields, query_of, token},
    start,
};

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A device code from `/{tenant}/oauth2/v2.0/devicecode`.
async fn device_code_at(s: &keyhold_testkit::Server, tenant: &str) -> (u16, Value) {
    let scope = format!("{}/.default offline_access openid", s.state.vault_resource);
    let (status, body) = form(
        s,
        &format!("/{tenant}/oauth2/v2.0/devicecode"),
        &[("client_id", AZ), ("scope", &scope)],
    )
    .await;
    (status, serde_json::from_str(&body).unwrap())
}

async fn approve(s: &keyhold_testkit::Server, user_code: &str, upn: &str) -> (u16, String) {
    form(
        s,
        "/devicelogin",
        &[("code", user_code), ("username", upn), ("password", PASSWORD)],
    )
    .await
}

async fn poll_at(s: &keyhold_testkit::Server, tenant: &str, device_code: &str) -> (u16, Value) {
    let (status, body) = form(
        s,
        &format!("/{tenant}/oauth2/v2.0/token"),
        &[
            ("grant_type", DEVICE_CODE),
            ("client_id", AZ),
            ("device_code", device_code),
        ],
    )
    .await;
    (status, serde_json::from_str(&body).unwrap())
}

/// A user's refresh token, by the device-code flow.
async fn refresh_token_of(s: &keyhold_testkit::Server, upn: &str) -> String {
    let (_, code) = device_code_at(s, &s.state.tenant_id).await;
    assert_eq!(approve(s, code["user_code"].as_str().unwrap(), upn).await.0, 200);
    let (status, tokens) = poll_at(s, &s.state.tenant_id, code["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    tokens["refresh_token"].as_str().unwrap().to_owned()
}

async fn refresh(s: &keyhold_testkit::Server, refresh_token: &str) -> (u16, Value) {
    let scope = format!("{}/.default", s.state.vault_resource);
    token(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", AZ),
            ("refresh_token", refresh_token),
            ("scope", &scope),
        ],
    )
    .await
}

async fn revoke(s: &keyhold_testkit::Server, fields: &[(&str, &str)]) -> (u16, String) {
    form(s, &format!("/{}/oauth2/v2.0/revoke", s.state.tenant_id), fields).await
}

#[tokio::test]
async fn an_expired_device_code_answers_expired_token_and_grants_nothing() {
    let s = start(&["--device-code-lifetime-secs", "2"]);
    create_user(&s, "dora@contoso.example").await;
    let (status, never) = device_code_at(&s, &s.state.tenant_id).await;
    assert_eq!((status, never["expires_in"].as_i64()), (200, Some(2)), "{never}");
    let (status, late) = device_code_at(&s, &s.state.tenant_id).await;
    assert_eq!(status, 200);
    let (status, pending) = poll_at(&s, &s.state.tenant_id, never["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, pending["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Never approved: expired.
    let (status, err) = poll_at(&s, &s.state.tenant_id, never["device_code"].as_str().unwrap()).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("expired_token")), "{err}");
    assert_eq!(err["error_codes"], json!([70020]), "{err}");
    assert!(err.get("access_token").is_none() && err.get("refresh_token").is_none());
    // Approving it now is refused on the page, and the poll still grants nothing.
    let (status, page) = approve(&s, late["user_code"].as_str().unwrap(), "dora@contoso.example").await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("expired or is not valid"), "{page}");
    let (status, err) = poll_at(&s, &s.state.tenant_id, late["device_code"].as_str().unwrap()).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("expired_token")), "{err}");
    let (status, err) = poll_at(&s, &s.state.tenant_id, never["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("expired_token")),
        "still: {err}"
    );

    // The lifetime is a bounded setting: Entra's 15 minutes at most.
    let (ok, _, stderr) = s.cli(&["serve", "--device-code-lifetime-secs", "901"]).unwrap();
    assert!(!ok && stderr.contains("901"), "{stderr}");
}

#[tokio::test]
async fn common_and_organizations_sign_people_in_to_the_one_tenant() {
    let s = start(&[]);
    let oid = create_user(&s, "erin@contoso.example").await;
    let tid = s.state.tenant_id.clone();
    let issuer = format!("{}/{tid}/v2.0", s.state.url);

    // The device code at either alias, polled at the other.
    let (status, code) = device_code_at(&s, "common").await;
    assert_eq!(status, 200, "{code}");
    assert_eq!(
        approve(&s, code["user_code"].as_str().unwrap(), "erin@contoso.example")
            .await
            .0,
        200
    );
    let (status, tokens) = poll_at(&s, "organizations", code["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        (access["tid"].as_str(), access["oid"].as_str()),
        (Some(tid.as_str()), Some(oid.as_str()))
    );
    assert_eq!(access["iss"], json!(issuer));
    let (status, code) = device_code_at(&s, "organizations").await;
    assert_eq!(status, 200, "{code}");
    // A vault accepts the alias-issued token as any other.
    let (status, _) = s
        .call(
            reqwest::Method::GET,
            &format!("{}/secrets?api-version=7.4", s.vault_url("novault")),
            Some(tokens["access_token"].as_str().unwrap()),
            None,
        )
        .await
        .unwrap();
    assert_ne!(status, 401, "the token is a valid vault token");

    // The browser sign-in at `common`: the page, its form, the code redeemed at `common`.
    let scope = format!("{}/.default openid offline_access", s.state.vault_resource);
    let redirect = "http://127.0.0.1:50505/";
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", AZ),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", &scope),
            ("state", "st-common"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let page = s
        .http
        .get(format!("{}/common/oauth2/v2.0/authorize?{query}", s.state.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/common/oauth2/v2.0/authorize\""), "{html}");
    let mut fields = hidden_fields(&html);
    fields.push(("username".into(), "erin@contoso.example".into()));
    fields.push(("password".into(), PASSWORD.into()));
    let no_redirects = keyhold_testkit::client_without_redirects(&s.data_dir).unwrap();
    let resp = no_redirects
        .post(format!("{}/common/oauth2/v2.0/authorize", s.state.url))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let answer = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(answer["state"], "st-common");
    let (status, body) = form(
        &s,
        "/common/oauth2/v2.0/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", AZ),
            ("code", &answer["code"]),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let tokens: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(claims(tokens["access_token"].as_str().unwrap())["tid"], json!(tid));

    // Neither alias is anyone's tenant for a client's own credentials; other names are unknown.
    let (status, body) = form(
        &s,
        "/common/oauth2/v2.0/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &s.admin.app_id),
            ("client_secret", &s.admin.password),
            ("scope", &format!("{}/.default", s.state.url)),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(!body.contains("access_token"), "{body}");
    for tenant in ["consumers", "contoso.example", "00000000-0000-0000-0000-000000000000"] {
        let (status, err) = device_code_at(&s, tenant).await;
        assert_eq!(
            (status, err["error_codes"].clone()),
            (400, json!([90002])),
            "{tenant}: {err}"
        );
        let page = s
            .http
            .get(format!("{}/{tenant}/oauth2/v2.0/authorize?{query}", s.state.url))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 400, "{tenant}");
    }
}

#[tokio::test]
async fn logout_goes_back_only_to_a_sign_in_redirect_uri() {
    let s = start(&[]);
    let http = keyhold_testkit::client_without_redirects(&s.data_dir).unwrap();
    let base = format!("{}/{}/oauth2/v2.0/logout", s.state.url, s.state.tenant_id);

    let resp = http.get(&base).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(resp.text().await.unwrap().contains("You signed out of your account"));

    for (tenant, method) in [
        ("common", "GET"),
        ("organizations", "POST"),
        (s.state.tenant_id.as_str(), "POST"),
    ] {
        let url = format!("{}/{tenant}/oauth2/v2.0/logout", s.state.url);
        let fields = [
            ("post_logout_redirect_uri", "http://localhost:8400/signed-out"),
            ("state", "bye"),
        ];
        let resp = if method == "GET" {
            http.get(&url).query(&fields).send().await.unwrap()
        } else {
            http.post(&url).form(&fields).send().await.unwrap()
        };
        assert_eq!(resp.status().as_u16(), 302, "{tenant} {method}");
        assert_eq!(
            resp.headers()["location"],
            "http://localhost:8400/signed-out?state=bye",
            "{tenant} {method}"
        );
    }

    // A URI the sign-in would not answer to is ignored: the page, no redirect.
    for evil in [
        "https://evil.example/",
        "http://localhost.evil.example/",
        "https://localhost:8400/",
        "javascript:alert(1)",
    ] {
        let resp = http
            .get(&base)
            .query(&[("post_logout_redirect_uri", evil)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{evil}");
        assert!(resp.headers().get("location").is_none(), "{evil}");
        assert!(!resp.text().await.unwrap().contains("evil"), "{evil}");
    }
    let resp = http
        .get(format!("{}/consumers/oauth2/v2.0/logout", s.state.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    let (status, doc) = s
        .call(
            reqwest::Method::GET,
            &format!("{}/common/v2.0/.well-known/openid-configuration", s.state.url),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        doc["end_session_endpoint"],
        json!(format!("{}/common/oauth2/v2.0/logout", s.state.url))
    );
}

#[tokio::test]
async fn a_client_revokes_one_refresh_token() {
    let s = start(&[]);
    create_user(&s, "fred@contoso.example").await;
    let first = refresh_token_of(&s, "fred@contoso.example").await;
    let second = refresh_token_of(&s, "fred@contoso.example").await;

    // Refused requests revoke nothing.
    let (status, body) = revoke(&s, &[("client_id", AZ)]).await;
    assert_eq!(status, 400, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (err["error"].as_str(), err["error_codes"].clone()),
        (Some("invalid_request"), json!([900144]))
    );
    let (status, body) = revoke(
        &s,
        &[("client_id", "11111111-2222-3333-4444-555555555555"), ("token", &first)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unauthorized_client"), "{body}");
    let (status, body) = revoke(
        &s,
        &[
            ("client_id", AZ),
            ("token", &first),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Only refresh tokens"), "{body}");
    let (status, body) = form(
        &s,
        "/contoso.example/oauth2/v2.0/revoke",
        &[("client_id", AZ), ("token", &first)],
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = revoke(
        &s,
        &[
            ("client_id", AZ),
            ("token", &first),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, err) = refresh(&s, &first).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "revoked: {err}"
    );
    assert!(err.get("access_token").is_none());
    // Revoking again, or a token that never was, answers the same and reveals nothing.
    assert_eq!(revoke(&s, &[("client_id", AZ), ("token", &first)]).await.0, 200);
    assert_eq!(revoke(&s, &[("client_id", AZ), ("token", "not-a-token")]).await.0, 200);

    // Only that token: the user's other sign-in still works.
    let (status, tokens) = refresh(&s, &second).await;
    assert_eq!(status, 200, "{tokens}");

    let audit = std::fs::read_to_string(s.data_dir.join("audit.log")).unwrap();
    assert!(audit.contains("RefreshTokenRevoke"), "recorded");
    assert!(
        !audit.contains(&first) && !audit.contains(&second),
        "no token in the audit log"
    );
}
