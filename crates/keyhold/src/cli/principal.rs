//! Looking up service principals over the admin API, shared by `ad sp` and `role assignment` (which
//! takes an app id or an object id wherever az does).

use reqwest::Method;
use serde_json::Value;

use super::{rest::HttpError, session::Session};

pub(super) fn sp_path(id: &str) -> String {
    format!(
        "/keyhold/v1/servicePrincipals/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

pub(super) async fn show(s: &Session, id: &str) -> anyhow::Result<Value> {
    s.mgmt(Method::GET, &sp_path(id), None).await
}

/// A user's object id from its sign-in name, through Graph.
pub async fn user_object_id(s: &Session, upn: &str) -> anyhow::Result<String> {
    let user = s.graph(Method::GET, &user_path(upn), None).await?;
    user["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("user '{upn}' has no id"))
}

pub(super) fn user_path(id: &str) -> String {
    format!(
        "/users/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

/// The object id of an app id or a user's sign-in name (`alice@…`, as az takes `--assignee`);
/// anything else the server does not know as a service principal (a managed identity, or any id
/// when the caller may not read principals) is taken as an object id.
pub async fn resolve_object_id(s: &Session, id: &str) -> anyhow::Result<String> {
    if id.contains('@') {
        return user_object_id(s, id).await;
    }
    match show(s, id).await {
        Ok(sp) => Ok(sp["id"].as_str().or(sp["objectId"].as_str()).unwrap_or(id).to_owned()),
        Err(e)
            if e.downcast_ref::<HttpError>()
                .is_some_and(|h| matches!(h.status, 403 | 404)) =>
        {
            Ok(id.to_owned())
        }
        Err(e) => Err(e),
    }
}
