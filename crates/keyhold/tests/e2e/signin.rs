//! People signing in with the device-code flow: the code, the sign-in page, the tokens a user gets
//! (Entra's user claims, an id token, a refresh token rotated on use and revoked by a password change),
//! and what is refused (wrong password, disabled user, a code redeemed twice, an unknown client).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use reqwest::Method;
use serde_json::{Value, json};

use crate::start;

/// Azure CLI's client id, which the SDKs' interactive credentials use by default.
pub(crate) const AZ: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
pub(crate) const PASSWORD: &str = "Wonder-Land-2031!";

pub(crate) fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

pub(crate) async fn form(s: &keyhold_testkit::Server, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let resp = s
        .http
        .post(format!("{}{path}", s.state.url))
        .form(fields)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub(crate) async fn create_user(s: &keyhold_testkit::Server, upn: &str) -> String {
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

pub(crate) async fn token(s: &keyhold_testkit::Server, fields: &[(&str, &str)]) -> (u16, Value) {
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

/// RFC 7636's example verifier and its S256 challenge.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://localhost:51234/";

fn authorize_query(s: &keyhold_testkit::Server, redirect: &str, challenge: &str) -> String {
    let scope = format!("{}/.default openid offline_access", s.state.vault_resource);
    let q: String = form_urlencoded_pairs(&[
        ("client_id", AZ),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", &scope),
        ("state", "st-42"),
        ("nonce", "n-7"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    format!("{}/{}/oauth2/v2.0/authorize?{q}", s.state.url, s.state.tenant_id)
}

fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", url_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn url_escape(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The hidden fields of the sign-in form, as a browser would post them back.
pub(crate) fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|chunk| {
            let name = chunk
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned();
            let value = chunk.split("value=\"").nth(1).unwrap().split('"').next().unwrap();
            let value = value
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">");
            (name, value)
        })
        .collect()
}

async fn sign_in(s: &keyhold_testkit::Server, page_url: &str, password: &str) -> reqwest::Response {
    let page = s.http.get(page_url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    // A browser checks form-action on the redirect after the post too: the client's origin is in it.
    let redirect = page_url
        .split("redirect_uri=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let origin = url::Url::parse(&percent_decode(redirect))
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(csp.contains(&format!("form-action 'self' {origin};")), "{csp}");
    let mut fields = hidden_fields(&page.text().await.unwrap());
    fields.push(("username".into(), "carol@contoso.example".into()));
    fields.push(("password".into(), password.into()));
    let no_redirects = keyhold_testkit::client_without_redirects(&s.data_dir).unwrap();
    no_redirects
        .post(format!("{}/{}/oauth2/v2.0/authorize", s.state.url, s.state.tenant_id))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

pub(crate) fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let q = location.split_once('?').unwrap().1;
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), percent_decode(v))
        })
        .collect()
}

pub(crate) fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn the_browser_sign_in_is_the_code_flow_with_pkce() {
    let s = start(&[]);
    let carol = create_user(&s, "carol@contoso.example").await;
    let page = authorize_query(&s, REDIRECT, CHALLENGE);

    // A wrong password stays on the page; the right one goes back to the client with a code.
    let wrong = sign_in(&s, &page, "Not-The-Password-1").await;
    assert_eq!(wrong.status().as_u16(), 400);
    assert!(wrong.text().await.unwrap().contains("invalid username or password"));
    let resp = sign_in(&s, &page, PASSWORD).await;
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let answer = query_of(&location);
    assert_eq!(answer["state"], "st-42");
    let code = answer["code"].clone();

    let exchange = |code: String, redirect: &'static str, verifier: &'static str| {
        let s = &s;
        async move {
            token(
                s,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", AZ),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    // A wrong verifier spends the code (as a stolen code must not be retried).
    let (status, err) = exchange(code.clone(), REDIRECT, "wrong-verifier-wrong-verifier-wrong-verifier").await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")), "{err}");
    let (status, _) = exchange(code, REDIRECT, VERIFIER).await;
    assert_eq!(status, 400, "spent");

    let code = query_of(
        sign_in(&s, &page, PASSWORD).await.headers()["location"]
            .to_str()
            .unwrap(),
    )["code"]
        .clone();
    let (status, err) = exchange(code, "http://localhost:9999/", VERIFIER).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "another redirect URI: {err}"
    );

    let code = query_of(
        sign_in(&s, &page, PASSWORD).await.headers()["location"]
            .to_str()
            .unwrap(),
    )["code"]
        .clone();
    let (status, tokens) = exchange(code.clone(), REDIRECT, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        (access["idtyp"].as_str(), access["oid"].as_str()),
        (Some("user"), Some(carol.as_str()))
    );
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["nonce"], "n-7");
    assert!(tokens["refresh_token"].as_str().is_some());
    let (status, err) = exchange(code, REDIRECT, VERIFIER).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "a code works once: {err}"
    );

    // response_mode=form_post (what az asks for): a page that posts the code to the redirect URI,
    // its one script allowed by hash and its form allowed to go only there.
    let resp = sign_in(&s, &format!("{page}&response_mode=form_post"), PASSWORD).await;
    assert_eq!(resp.status().as_u16(), 200);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("form-action http://localhost:51234") && csp.contains("script-src 'sha256-"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")), "{html}");
    let posted: std::collections::HashMap<String, String> = hidden_fields(&html).into_iter().collect();
    assert_eq!(posted["state"], "st-42");
    let (status, _) = exchange(posted["code"].clone(), REDIRECT, VERIFIER).await;
    assert_eq!(status, 200, "the posted code redeems like a redirected one");

    // A redirect URI the client is not registered with is never redirected to.
    let evil = s
        .http
        .get(authorize_query(&s, "https://evil.example/cb", CHALLENGE))
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status().as_u16(), 400);
    assert!(evil.text().await.unwrap().contains("AADSTS50011"));
    // No PKCE, or an unknown client: refused (the first through the redirect, as OAuth says).
    let no_pkce = format!(
        "{}/{}/oauth2/v2.0/authorize?client_id={AZ}&response_type=code&redirect_uri={}&scope=openid%20{}/.default",
        s.state.url,
        s.state.tenant_id,
        url_escape(REDIRECT),
        url_escape(&s.state.vault_resource)
    );
    let no_redirects = keyhold_testkit::client_without_redirects(&s.data_dir).unwrap();
    let resp = no_redirects.get(no_pkce).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(
        query_of(resp.headers()["location"].to_str().unwrap())["error"],
        "invalid_request"
    );
    let unknown = page.replace(AZ, "11111111-2222-3333-4444-555555555555");
    let resp = s.http.get(unknown).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.text().await.unwrap().contains("AADSTS700016"));
}
