//! A person's sign-in, as az makes it, with the Azure CLI's client id: the browser (the
//! authorization-code flow with PKCE S256 and a `state`, the answer read on a loopback listener on
//! 127.0.0.1 in query mode) or a device code, then new access tokens from the refresh token (which
//! the server rotates on every use), and its revocation at logout. Only the token, authorize,
//! devicecode and revoke endpoints are used; nothing here stores anything (`session` does).

use std::time::Duration;

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::rest::HttpError;

/// The Azure CLI's (public) client id: keyhold's CLI signs people in as az does.
pub const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// A person's refresh token: good for new tokens for 90 days, so never printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// The one way to the token itself: to send it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// What a person's grant answered.
pub struct Grant {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: RefreshToken,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .finish()
    }
}

impl Grant {
    /// The access token's claims (it came straight from the server over TLS: read, not verified).
    pub fn claims(&self) -> anyhow::Result<Value> {
        jwt_claims(&self.access_token).context("the access token is not a JWT")
    }
}

/// The payload of a JWT, unverified.
pub fn jwt_claims(jwt: &str) -> Option<Value> {
    let payload = URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1)?).ok()?;
    serde_json::from_slice(&payload).ok()
}

/// The delegated scopes az asks for: the resource's, and a refresh token.
fn scope_for(resource: &str) -> String {
    format!("{resource}/.default offline_access openid profile")
}

/// The browser sign-in: opens `$BROWSER` (or the system's opener) at the authorize URL and waits
/// for the answer on the loopback redirect.
pub async fn browser(http: &reqwest::Client, url: &str, tenant: &str, resource: &str) -> anyhow::Result<Grant> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1 for the sign-in's answer")?;
    let redirect_uri = format!("http://127.0.0.1:{}/", listener.local_addr()?.port());
    let verifier = keyhold_crypto::random::token(32)?;
    let challenge = URL_SAFE_NO_PAD.encode(keyhold_crypto::sha256(verifier.as_bytes()));
    let state = keyhold_crypto::random::token(16)?;
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", AZURE_CLI)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &scope_for(resource))
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("response_mode", "query")
        .finish();
    let authorize = format!("{url}/{tenant}/oauth2/v2.0/authorize?{query}");
    if open_browser(&authorize).await {
        eprintln!(
            "A web browser has been opened at {authorize}. Please continue the login in the web browser. If no web browser is available or if the web browser fails to open, use device code flow with `keyhold login --use-device-code`."
        );
    } else {
        eprintln!(
            "No web browser could be opened. Open this URL in a browser to sign in, or use `keyhold login --use-device-code`: {authorize}"
        );
    }
    let code = wait_for_code(&listener, &state).await?;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", AZURE_CLI),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
        ("scope", &scope_for(resource)),
    ];
    token_request(http, url, tenant, &form)
        .await?
        .map_err(anyhow::Error::from)
}

/// The device-code sign-in: Entra's message on stderr, then a poll at the server's interval until
/// the person approves, declines or the code expires.
pub async fn device_code(http: &reqwest::Client, url: &str, tenant: &str, resource: &str) -> anyhow::Result<Grant> {
    let scope = scope_for(resource);
    let (status, body) = post_form(
        http,
        &format!("{url}/{tenant}/oauth2/v2.0/devicecode"),
        &[("client_id", AZURE_CLI), ("scope", &scope)],
    )
    .await?;
    if status != 200 {
        bail!(oauth_error(status, &body));
    }
    let message = body["message"]
        .as_str()
        .context("no message in the device-code answer")?;
    let device_code = body["device_code"].as_str().context("no device_code in the answer")?;
    let mut interval = body["interval"].as_u64().unwrap_or(5).max(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(body["expires_in"].as_u64().unwrap_or(900));
    eprintln!("{message}");
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", AZURE_CLI),
        ("device_code", device_code),
    ];
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        match token_request(http, url, tenant, &form).await? {
            Ok(grant) => return Ok(grant),
            Err(e) => match e.code.as_deref() {
                Some("authorization_pending") if std::time::Instant::now() < deadline => {}
                Some("authorization_pending") => bail!("the device code expired before the sign-in was completed"),
                Some("slow_down") => interval += 5,
                _ => bail!(e),
            },
        }
    }
}

/// New tokens for `resource` from a refresh token; the answer carries its successor.
pub async fn refresh(
    http: &reqwest::Client,
    url: &str,
    tenant: &str,
    token: &RefreshToken,
    resource: &str,
) -> anyhow::Result<Grant> {
    let scope = scope_for(resource);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", AZURE_CLI),
        ("refresh_token", token.expose()),
        ("scope", scope.as_str()),
    ];
    token_request(http, url, tenant, &form)
        .await?
        .map_err(anyhow::Error::from)
}

/// Revokes a refresh token at keyhold's revocation endpoint.
pub async fn revoke(http: &reqwest::Client, url: &str, tenant: &str, token: &RefreshToken) -> anyhow::Result<()> {
    let (status, body) = post_form(
        http,
        &format!("{url}/{tenant}/oauth2/v2.0/revoke"),
        &[
            ("client_id", AZURE_CLI),
            ("token", token.expose()),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await?;
    if status != 200 {
        bail!(oauth_error(status, &body));
    }
    Ok(())
}

/// One token request: the grant, or the endpoint's OAuth error (the device poll reads its code).
async fn token_request(
    http: &reqwest::Client,
    url: &str,
    tenant: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Result<Grant, HttpError>> {
    let (status, body) = post_form(http, &format!("{url}/{tenant}/oauth2/v2.0/token"), form).await?;
    if status != 200 {
        return Ok(Err(oauth_error(status, &body)));
    }
    let access_token = body["access_token"].as_str().context("no access_token in the answer")?;
    let refresh_token = body["refresh_token"]
        .as_str()
        .context("the server granted no refresh token")?;
    Ok(Ok(Grant {
        access_token: access_token.to_owned(),
        expires_in: body["expires_in"].as_i64().unwrap_or(3600),
        refresh_token: RefreshToken(refresh_token.to_owned()),
    }))
}

async fn post_form(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> anyhow::Result<(u16, Value)> {
    let host = url.split('/').nth(2).unwrap_or(url).to_owned();
    let resp = http
        .post(url)
        .form(form)
        .send()
        .await
        .with_context(|| format!("cannot reach {host}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

/// Entra's `{"error", "error_description"}` as the CLI's error.
fn oauth_error(status: u16, body: &Value) -> HttpError {
    HttpError {
        status,
        code: body["error"].as_str().map(str::to_owned),
        message: body["error_description"]
            .as_str()
            .unwrap_or("the sign-in was refused")
            .to_owned(),
        challenge_resource: None,
    }
}

/// Opens `url` as Python's `webbrowser` does (az's way): each command of `$BROWSER` (separated by
/// `:`) in turn, with `%s` replaced by the URL or the URL appended, until one exits 0; without
/// `$BROWSER`, the desktop's opener. Whether one did.
async fn open_browser(url: &str) -> bool {
    let commands: Vec<String> = match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => b.split(':').map(str::to_owned).collect(),
        _ => vec!["xdg-open".into(), "open".into()],
    };
    for command in commands {
        let mut words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        if words.is_empty() {
            continue;
        }
        if words.iter().any(|w| w.contains("%s")) {
            for w in &mut words {
                *w = w.replace("%s", url);
            }
        } else {
            words.push(url.to_owned());
        }
        let status = tokio::process::Command::new(&words[0])
            .args(&words[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
            .await;
        if status.is_ok_and(|s| s.success()) {
            return true;
        }
    }
    false
}

/// Serves the loopback redirect until the browser brings the answer: the code, if its `state` is
/// this sign-in's. Other requests (a favicon) get a 404 and the wait goes on.
async fn wait_for_code(listener: &TcpListener, state: &str) -> anyhow::Result<String> {
    loop {
        let (mut conn, _) = listener.accept().await?;
        let Ok(Ok(Some(target))) = tokio::time::timeout(Duration::from_secs(10), request_target(&mut conn)).await
        else {
            continue;
        };
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let fields: std::collections::HashMap<String, String> =
            form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        if !fields.contains_key("code") && !fields.contains_key("error") {
            respond(&mut conn, "404 Not Found", "Not found.").await;
            continue;
        }
        let same_state = fields
            .get("state")
            .is_some_and(|s| keyhold_crypto::ct_eq(s.as_bytes(), state.as_bytes()));
        if !same_state {
            respond(
                &mut conn,
                "400 Bad Request",
                "This answer is not from the sign-in keyhold started.",
            )
            .await;
            bail!("the sign-in's answer came with another state: it is not from the sign-in keyhold started");
        }
        if let Some(error) = fields.get("error") {
            let description = fields.get("error_description").cloned().unwrap_or_default();
            respond(
                &mut conn,
                "400 Bad Request",
                "The sign-in failed. Return to the command line.",
            )
            .await;
            bail!(HttpError {
                status: 400,
                code: Some(error.clone()),
                message: description,
                challenge_resource: None,
            });
        }
        respond(
            &mut conn,
            "200 OK",
            "Authentication complete. You can close this window and return to the command line.",
        )
        .await;
        return fields.get("code").cloned().context("no code in the answer");
    }
}

/// The request target of an HTTP/1 request head (at most 16 KiB), if it is a GET.
async fn request_target(conn: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next().unwrap_or_default().split(' ');
    Ok(match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    })
}

async fn respond(conn: &mut TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>keyhold</title></head><body><p>{text}</p></body></html>\n"
    );
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nContent-Security-Policy: default-src 'none'\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The browser may be gone already; the answer it brought is what matters.
    let _ = conn.write_all(resp.as_bytes()).await;
    let _ = conn.shutdown().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_not_printed() {
        let grant = Grant {
            access_token: "eyJ.access-hunter2.sig".into(),
            expires_in: 1,
            refresh_token: RefreshToken("refresh-hunter2".into()),
        };
        let shown = format!("{grant:?}");
        assert!(!shown.contains("hunter2") && shown.contains("<redacted>"), "{shown}");
    }

    #[tokio::test]
    async fn the_loopback_listener_takes_only_its_own_state() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let browser = tokio::spawn(async move {
            for target in ["/favicon.ico", "/?code=the-code&state=s1"] {
                let mut c = TcpStream::connect(addr).await.unwrap();
                c.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                    .await
                    .unwrap();
                let mut answer = String::new();
                c.read_to_string(&mut answer).await.unwrap();
            }
        });
        assert_eq!(wait_for_code(&listener, "s1").await.unwrap(), "the-code");
        browser.await.unwrap();

        let forged = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"GET /?code=evil&state=other HTTP/1.1\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).await.unwrap();
            answer
        });
        assert!(wait_for_code(&listener, "s1").await.is_err());
        assert!(forged.await.unwrap().starts_with("HTTP/1.1 400"));
    }
}
