//! `keyhold agent` for another host: enrolment with a one-time join token, tokens for its resource's
//! identity, and every way that is refused.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::Method;
use serde_json::{Value, json};

use crate::{json, with_vault};

struct Agent {
    child: Child,
    url: String,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts an agent; `Err` with its exit status if it does not come up.
fn start_agent(
    server: &keyhold_testkit::Server,
    state_dir: &std::path::Path,
    join_token: &str,
) -> Result<Agent, String> {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhold"))
        .args([
            "agent",
            "--server",
            &server.state.url,
            "--join-token",
            join_token,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--state-dir")
        .arg(state_dir)
        .arg("--ca-file")
        .arg(server.data_dir.join("ca.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("agent exited: {status}"));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Agent {
                child,
                url: format!("http://127.0.0.1:{port}"),
            });
        }
        assert!(Instant::now() < deadline, "agent did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn join_token(server: &keyhold_testkit::Server, resource: &str, ttl: i64) -> String {
    let mgmt = server.token(&server.state.url).await.unwrap();
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            &format!("{}/keyhold/v1/agents/joinTokens", server.state.url),
            Some(&mgmt),
            Some(json!({"resourceId": resource, "ttlSeconds": ttl})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn imds(server: &keyhold_testkit::Server, agent: &Agent, resource: &str, extra: &str) -> (u16, Value) {
    let url = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}{extra}",
        agent.url
    );
    json(server.http.get(url).header("Metadata", "true").send().await.unwrap()).await
}

fn oid_of(token: &str) -> String {
    use base64::Engine;
    let p = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    claims["oid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_agent_serves_its_vms_identity_and_stops_when_revoked() {
    let (server, admin_token) = with_vault("kv1").await;
    let sub = server.subscription_id().await.unwrap();
    let rg = format!("/subscriptions/{sub}/resourceGroups/keyhold");
    let vm = format!("{rg}/providers/Microsoft.Compute/virtualMachines/secondVM");
    let (status, v) = server
        .arm(
            Method::PUT,
            &vm,
            Some(json!({"location": "local", "identity": {"type": "SystemAssigned"}})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    let vm_oid = v["identity"]["principalId"].as_str().unwrap().to_owned();
    let host: Value = serde_json::from_slice(&std::fs::read(server.data_dir.join("mi.json")).unwrap()).unwrap();
    assert_ne!(host["object_id"].as_str(), Some(vm_oid.as_str()));

    let dir = tempfile_dir("agent");
    let token = join_token(&server, &vm, 900).await;
    let agent = start_agent(&server, &dir.join("a1"), &token).expect("agent enrols");
    let state: Value = serde_json::from_slice(&std::fs::read(dir.join("a1/agent.json")).unwrap()).unwrap();
    let key_mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.join("a1/agent.key")).unwrap().permissions());
    assert_eq!(key_mode & 0o777, 0o600, "the agent's key is private");

    // The VM's identity, which the vault accepts once granted.
    let resource = server.state.vault_resource.clone();
    let (status, body) = imds(&server, &agent, &resource, "").await;
    assert_eq!(status, 200, "{body}");
    let vm_token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        oid_of(&vm_token),
        vm_oid,
        "the agent serves its VM's identity, not the server host's"
    );
    let url = format!("{}/secrets/for-vm?api-version=7.4", server.vault_url("kv1"));
    server
        .http
        .put(&url)
        .bearer_auth(&admin_token)
        .json(&json!({"value": "vm-secret"}))
        .send()
        .await
        .unwrap();
    server.grant_secrets("kv1", &vm_oid, &["get"]).await.unwrap();
    let (status, got) = server
        .call(reqwest::Method::GET, &url, Some(&vm_token), None)
        .await
        .unwrap();
    assert_eq!((status, got["value"].as_str()), (200, Some("vm-secret")), "{got}");
    // App Service protocol on the agent too, with the agent's own header.
    let header = state["identityHeader"].as_str().unwrap();
    let (status, body) = json(
        server
            .http
            .get(format!(
                "{}/msi/token?api-version=2019-08-01&resource={resource}",
                agent.url
            ))
            .header("X-IDENTITY-HEADER", header)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["access_token"].as_str().map(oid_of)),
        (200, Some(vm_oid.clone()))
    );

    // A user-assigned identity not attached to the VM: 400, never 404.
    let (status, body) = imds(
        &server,
        &agent,
        &resource,
        "&client_id=00000000-0000-0000-0000-00000000abcd",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    // The join token was spent: a second agent cannot enrol with it.
    assert!(
        start_agent(&server, &dir.join("a2"), &token).is_err(),
        "a reused join token is refused"
    );
    // An expired one is refused too.
    let short = join_token(&server, &vm, 1).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        start_agent(&server, &dir.join("a3"), &short).is_err(),
        "an expired join token is refused"
    );

    // Revoking the agent stops new tokens at once (the management audience is not cached yet).
    let agent_id = state["agentId"].as_str().unwrap();
    let mgmt = server.token(&server.state.url).await.unwrap();
    let resp = server
        .http
        .delete(format!("{}/keyhold/v1/agents/{agent_id}", server.state.url))
        .bearer_auth(&mgmt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (status, body) = imds(&server, &agent, &server.state.url, "").await;
    assert_eq!(status, 401, "a revoked agent gets no new tokens: {body}");
    drop(agent);

    // Deleting the resource stops a live agent's new tokens too.
    let token2 = join_token(&server, &vm, 900).await;
    let agent2 = start_agent(&server, &dir.join("a4"), &token2).expect("a fresh token enrols");
    server.arm(Method::DELETE, &vm, None).await.unwrap();
    let (status, body) = imds(&server, &agent2, &resource, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("keyhold-{tag}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
