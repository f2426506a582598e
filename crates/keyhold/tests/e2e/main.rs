//! End-to-end tests against a real `keyhold serve` binary over HTTPS (one binary, many modules, for
//! link time). Official-SDK suites live in `tests/sdk/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent;
mod at_rest;
mod audit;
mod authz;
mod certificates;
mod console;
mod crash;
mod faults;
mod graph;
mod hardening;
mod keys;
mod managed_identity;
mod management;
mod nodes;
mod postgres;
mod principals;
mod resources;
mod rotation;
mod seal;
mod secrets;
mod security;
mod signin;
mod token_endpoint;
mod tokens;

use keyhold_testkit::Server;
use serde_json::Value;

pub fn start(extra: &[&str]) -> Server {
    Server::start(env!("CARGO_BIN_EXE_keyhold").as_ref(), extra).expect("server starts")
}

/// A server with a vault `name` and a vault token.
pub async fn with_vault(name: &str) -> (Server, String) {
    let server = start(&[]);
    server.create_vault(name).await.expect("vault created");
    let token = server.token(&server.state.vault_resource).await.expect("vault token");
    (server, token)
}

pub async fn json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}
