//! Helpers shared by the ARM-shaped commands: paths, api-version, locations, finding by name.

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;

use super::session::Session;

/// keyhold accepts any dated api-version; this one is sent everywhere.
pub const API: &str = "api-version=2023-07-01";

pub const VAULTS: &str = "Microsoft.KeyVault/vaults";
pub const VMS: &str = "Microsoft.Compute/virtualMachines";
pub const IDENTITIES: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
pub const STORAGE: &str = "Microsoft.Storage/storageAccounts";

/// `/subscriptions/{id}`.
pub async fn sub(s: &Session) -> anyhow::Result<String> {
    Ok(format!("/subscriptions/{}", s.subscription_id().await?))
}

pub async fn group_path(s: &Session, group: &str) -> anyhow::Result<String> {
    Ok(format!("{}/resourceGroups/{group}", sub(s).await?))
}

pub async fn resource_path(s: &Session, group: &str, kind: &str, name: &str) -> anyhow::Result<String> {
    Ok(format!("{}/providers/{kind}/{name}", group_path(s, group).await?))
}

/// `path?api-version=...` (or `&` when `path` has a query already).
pub fn with_api(path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{API}")
}

pub async fn call(s: &Session, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
    s.mgmt(method, &with_api(path), body).await
}

/// `West US` → `westus`, as ARM stores locations.
pub fn location(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The location of a resource group (az's default for resources created in it).
pub async fn group_location(s: &Session, group: &str) -> anyhow::Result<String> {
    let g = call(s, Method::GET, &group_path(s, group).await?, None).await?;
    Ok(g["location"].as_str().unwrap_or("westus").to_owned())
}

/// The resource group in an ARM id.
pub fn group_of(id: &str) -> Option<String> {
    let segs: Vec<&str> = id.split('/').collect();
    segs.iter()
        .position(|s| s.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| segs.get(i + 1))
        .map(|s| (*s).to_owned())
}

/// The `value` of a list answer.
pub fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Object(mut m) => match m.remove("value") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A resource of `kind` found by name across the subscription, for commands whose `-g` is optional.
pub async fn find(s: &Session, kind: &str, name: &str, group: Option<&str>) -> anyhow::Result<Value> {
    if let Some(g) = group {
        return call(s, Method::GET, &resource_path(s, g, kind, name).await?, None).await;
    }
    let all = items(call(s, Method::GET, &format!("{}/providers/{kind}", sub(s).await?), None).await?);
    all.into_iter()
        .find(|v| v["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .with_context(|| {
            let what = kind.rsplit('/').next().unwrap_or(kind);
            format!("The Resource '{kind}/{name}' was not found ({what} '{name}' in no resource group you can read).")
        })
        .map_err(|e| {
            anyhow::Error::new(super::rest::HttpError {
                status: 404,
                code: Some("ResourceNotFound".into()),
                message: e.to_string(),
                challenge_resource: None,
            })
        })
}

/// `key=value` pairs (az's `--tags`) as a JSON object.
pub fn tags(pairs: &[String]) -> Value {
    let mut m = serde_json::Map::new();
    for p in pairs {
        let (k, v) = p.split_once('=').unwrap_or((p.as_str(), ""));
        m.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    Value::Object(m)
}
