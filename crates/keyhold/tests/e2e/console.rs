//! The web console over real HTTPS, as a browser drives it but without one (the Playwright suite in
//! tests/console does the clicking): the code-flow sign-in as the portal's client, the session
//! cookie's flags, the page's headers, the anti-forgery rule on every state change, the proxy acting
//! as the person (a person without rights is refused with Azure's message, and nothing changes), the
//! activity log, and sign-out.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    signin::{PASSWORD, create_user, hidden_fields, url_escape},
    start,
};

struct Browser {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
}

/// The value of `name` among a response's `Set-Cookie` headers, with the whole header.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..].split(';').next().unwrap().to_owned();
            (value, v.to_owned())
        })
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

fn absolute(base: &str, loc: &str) -> String {
    if loc.starts_with("https://") {
        loc.to_owned()
    } else {
        format!("{base}{loc}")
    }
}

fn meta(html: &str, name: &str) -> String {
    html.split(&format!("<meta name=\"keyhold-{name}\" content=\""))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

impl Browser {
    fn new(s: &keyhold_testkit::Server) -> Self {
        Self {
            http: keyhold_testkit::client_without_redirects(&s.data_dir).unwrap(),
            base: s.state.url.clone(),
            session: None,
        }
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.with_cookie(self.http.get(url), None)
    }

    fn with_cookie(&self, req: reqwest::RequestBuilder, extra: Option<&str>) -> reqwest::RequestBuilder {
        let mut cookies: Vec<String> = Vec::new();
        if let Some(s) = &self.session {
            cookies.push(format!("keyhold_session={s}"));
        }
        if let Some(e) = extra {
            cookies.push(e.to_owned());
        }
        if cookies.is_empty() {
            req
        } else {
            req.header(header::COOKIE, cookies.join("; "))
        }
    }

    /// `GET /` → the authorize page → the password → `/signin-oidc` → a session. Returns the
    /// session cookie's `Set-Cookie` header, or the failed step's response.
    async fn sign_in(&mut self, upn: &str, password: &str) -> Result<String, reqwest::Response> {
        let start = self.get(&format!("{}/", self.base)).send().await.unwrap();
        assert_eq!(start.status(), StatusCode::FOUND);
        let (state, _) = set_cookie(&start, "keyhold_signin").expect("the sign-in binds the browser");
        let page_url = absolute(&self.base, &location(&start));
        assert!(page_url.contains("/oauth2/v2.0/authorize?"), "{page_url}");
        assert!(page_url.contains("code_challenge_method=S256"), "{page_url}");
        let page = self.http.get(&page_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let mut fields = hidden_fields(&page.text().await.unwrap());
        fields.push(("username".into(), upn.into()));
        fields.push(("password".into(), password.into()));
        let posted = self
            .http
            .post(page_url.split('?').next().unwrap())
            .form(&fields)
            .send()
            .await
            .unwrap();
        if posted.status() != StatusCode::FOUND {
            return Err(posted);
        }
        let callback = absolute(&self.base, &location(&posted));
        assert!(callback.contains("/signin-oidc?"), "{callback}");
        let done = self
            .with_cookie(self.http.get(&callback), Some(&format!("keyhold_signin={state}")))
            .send()
            .await
            .unwrap();
        if done.status() != StatusCode::FOUND {
            return Err(done);
        }
        let (session, header) = set_cookie(&done, "keyhold_session").expect("a session cookie");
        self.session = Some(session);
        Ok(header)
    }

    /// The console page and its anti-forgery token.
    async fn page(&self) -> (header::HeaderMap, String) {
        let resp = self.get(&format!("{}/", self.base)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let headers = resp.headers().clone();
        let html = resp.text().await.unwrap();
        (headers, meta(&html, "csrf"))
    }

    /// `POST /signout` with `csrf` in the form, as the page's Sign out button sends it.
    async fn sign_out(&self, csrf: &str) -> reqwest::Response {
        self.with_cookie(self.http.post(format!("{}/signout", self.base)), None)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap()
    }

    async fn api(&self, method: Method, path: &str, csrf: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = self.with_cookie(
            self.http.request(method, format!("{}/console/api/{path}", self.base)),
            None,
        );
        if let Some(c) = csrf {
            req = req.header("X-Keyhold-Csrf", c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// The secret Alice writes through the console, as the console addresses it.
const SECRET: &str = "vault/consolekv/secrets/from-console?api-version=7.4";

const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

#[tokio::test]
async fn a_person_uses_the_console_as_themselves() {
    let s = start(&[]);
    let sub = s.subscription_id().await.unwrap();
    let rg = s.resource_group("mi-test").await.unwrap();
    let alice = create_user(&s, "alice@contoso.example").await;
    let mallory = create_user(&s, "mallory@contoso.example").await;
    let (status, body) = s
        .arm(
            Method::PUT,
            &format!("{rg}/providers/Microsoft.Authorization/roleAssignments/5f1c2b9e-0d3a-4c8e-9d61-2a7b3c4d5e6f"),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"),
                "principalId": alice, "principalType": "User"}})),
        )
        .await
        .unwrap();
    assert!(status == 200 || status == 201, "{status} {body}");

    // Wrong password: the sign-in page again, no session.
    let mut b = Browser::new(&s);
    let refused = b
        .sign_in("alice@contoso.example", "Not-The-Password-1")
        .await
        .unwrap_err();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(b.session.is_none());

    // The session cookie is HttpOnly, Secure and SameSite=Strict; the page is locked down.
    let cookie = b.sign_in("alice@contoso.example", PASSWORD).await.unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    let (page, csrf) = b.page().await;
    let csp = page["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline") && !csp.contains("http"), "{csp}");
    assert_eq!(page["x-frame-options"], "DENY");
    assert_eq!(page["cache-control"], "no-store");
    let script = b.get(&format!("{}/console/app.js", b.base)).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // A state change without the anti-forgery token, with another one, or from another origin is
    // refused, and nothing is created.
    let vault_id = format!("{rg}/providers/Microsoft.KeyVault/vaults/consolekv");
    let vault_path = format!("arm{vault_id}?api-version=2023-07-01");
    let vault_body = json!({"location": "eastus", "properties": {"tenantId": s.state.tenant_id,
        "sku": {"family": "A", "name": "standard"},
        "accessPolicies": [{"tenantId": s.state.tenant_id, "objectId": alice, "permissions": {"secrets": ["get", "list", "set", "delete"]}}]}});
    for bad in [None, Some("not-the-token")] {
        let (status, body) = b.api(Method::PUT, &vault_path, bad, Some(vault_body.clone())).await;
        assert_eq!(status, 403, "{body}");
    }
    let foreign = b
        .with_cookie(b.http.put(format!("{}/console/api/{vault_path}", b.base)), None)
        .header("X-Keyhold-Csrf", &csrf)
        .header(header::ORIGIN, "https://evil.example")
        .json(&vault_body)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let (status, _) = s.arm(Method::GET, &vault_id, None).await.unwrap();
    assert_eq!(status, 404, "no vault was created by a refused request");

    // With it, the person creates a vault and a secret in it, as themselves.
    let (status, body) = b
        .api(Method::PUT, &vault_path, Some(&csrf), Some(vault_body.clone()))
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let (status, body) = b
        .api(
            Method::PUT,
            SECRET,
            Some(&csrf),
            Some(json!({"value": "made in the console"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = b.api(Method::GET, SECRET, None, None).await;
    assert_eq!(
        (status, body["value"].as_str()),
        (200, Some("made in the console")),
        "{body}"
    );
    // The proxy serves only the management plane, not the admin or sys APIs on the same host.
    let (status, _) = b.api(Method::GET, "arm/keyhold/v1/principals", None, None).await;
    assert_eq!(status, 404);

    // The activity log shows the secret's write, by Alice.
    let filter = format!("resourceUri eq '{vault_id}'");
    let log_path = format!(
        "arm/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={}",
        url_escape(&filter)
    );
    let (status, log) = b.api(Method::GET, &log_path, None, None).await;
    assert_eq!(status, 200, "{log}");
    let events = log["value"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["operationName"]["value"] == "SecretSet"
            && e["caller"] == alice.as_str()
            && e["status"]["value"] == "Succeeded"),
        "{log}"
    );
    assert!(
        events.iter().any(|e| e["operationName"]["value"]
            .as_str()
            .unwrap()
            .starts_with("Microsoft.KeyVault/vaults/")),
        "{log}"
    );

    // Mallory, signed in, has no rights: Azure's message names the action, and nothing changes.
    let mut m = Browser::new(&s);
    m.sign_in("mallory@contoso.example", PASSWORD).await.unwrap();
    let (_, mcsrf) = m.page().await;
    let other = format!("arm{rg}/providers/Microsoft.KeyVault/vaults/mallorykv?api-version=2023-07-01");
    let (status, body) = m.api(Method::PUT, &other, Some(&mcsrf), Some(vault_body.clone())).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&mallory) && message.contains("Microsoft.KeyVault/vaults/write"),
        "{message}"
    );
    let (status, body) = m
        .api(Method::PUT, SECRET, Some(&mcsrf), Some(json!({"value": "overwritten"})))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("secrets set"),
        "{body}"
    );
    let (status, body) = m.api(Method::GET, &log_path, None, None).await;
    assert_eq!(status, 403, "{body}");
    let (_, body) = b.api(Method::GET, SECRET, None, None).await;
    assert_eq!(body["value"], "made in the console");
    let (status, _) = s
        .arm(
            Method::GET,
            &format!("{rg}/providers/Microsoft.KeyVault/vaults/mallorykv"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);

    // Sign-out needs the token too; then the session is over and its cookie worth nothing.
    let no_token = b.sign_out("wrong").await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    let (status, _) = b
        .api(Method::GET, "arm/subscriptions?api-version=2022-12-01", None, None)
        .await;
    assert_eq!(status, 200, "a refused sign-out leaves the session");
    let out = b.sign_out(&csrf).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert!(set_cookie(&out, "keyhold_session").unwrap().1.contains("Max-Age=0"));
    assert!(out.text().await.unwrap().contains("You signed out of your account"));
    let (status, _) = b
        .api(Method::GET, "arm/subscriptions?api-version=2022-12-01", None, None)
        .await;
    assert_eq!(status, 401);
    let again = b.get(&format!("{}/", b.base)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FOUND);
    assert!(location(&again).contains("/oauth2/v2.0/authorize?"));
}

#[tokio::test]
async fn the_console_sign_in_cannot_be_forged() {
    let s = start(&[]);
    create_user(&s, "alice@contoso.example").await;
    let http = keyhold_testkit::client_without_redirects(&s.data_dir).unwrap();

    // The portal client's only redirect URI is the console's own callback.
    let evil = format!(
        "{}/{}/oauth2/v2.0/authorize?client_id=c44b4083-3bb0-49c1-b47d-974e53cbdf3c&response_type=code&redirect_uri={}&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        s.state.url,
        s.state.tenant_id,
        url_escape("https://evil.example/signin-oidc")
    );
    let page = http.get(&evil).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("AADSTS50011"));

    // A callback that this browser did not start (no binding cookie) makes no session, even with a
    // code the victim's sign-in produced.
    let mut victim = Browser::new(&s);
    let start = victim.get(&format!("{}/", s.state.url)).send().await.unwrap();
    let page_url = absolute(&s.state.url, &location(&start));
    let form_page = http.get(&page_url).send().await.unwrap().text().await.unwrap();
    let mut fields = hidden_fields(&form_page);
    fields.push(("username".into(), "alice@contoso.example".into()));
    fields.push(("password".into(), PASSWORD.into()));
    let posted = http
        .post(page_url.split('?').next().unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    let callback = absolute(&s.state.url, &location(&posted));
    let forged = http.get(&callback).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&forged, "keyhold_session").is_none());
    // And the pending sign-in is spent: replaying the callback with the right cookie fails too.
    let (state, _) = set_cookie(&start, "keyhold_signin").unwrap();
    let replay = http
        .get(&callback)
        .header(header::COOKIE, format!("keyhold_signin={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&replay, "keyhold_session").is_none());

    // Without a session the API answers 401 and the page sends the browser to sign in.
    victim.session = Some("made-up".into());
    let (status, _) = victim
        .api(Method::GET, "arm/subscriptions?api-version=2022-12-01", None, None)
        .await;
    assert_eq!(status, 401);
}
