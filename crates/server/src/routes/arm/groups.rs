//! `resourceGroups`: create or update, read, list, delete (which deletes what is inside).

use axum::http::{Method, StatusCode};
use keyhold_core::secrets::Tags;
use keyhold_proto::arm::{Provisioning, ResourceGroup};
use keyhold_store::ResourceGroupRecord;
use serde::Deserialize;

use super::{ArmRequest, ArmResult, Target, list, method_not_allowed, ok};
use crate::AppState;

#[derive(Deserialize)]
struct GroupBody {
    #[serde(default)]
    location: String,
    tags: Option<Tags>,
}

pub(crate) fn group_json(s: &AppState, g: &ResourceGroupRecord) -> ResourceGroup {
    ResourceGroup {
        id: s.core.management.group_id(&g.name),
        name: g.name.clone(),
        kind: "Microsoft.Resources/resourceGroups".into(),
        location: g.location.clone(),
        tags: g.tags.clone().unwrap_or_default(),
        properties: Provisioning {
            provisioning_state: "Succeeded".into(),
        },
    }
}

pub(super) async fn handle(s: &AppState, req: &ArmRequest, target: &Target) -> ArmResult {
    let m = &s.core.management;
    match (target, &req.method) {
        (Target::Groups, &Method::GET) => list(m.groups(&req.caller).await?.iter().map(|g| group_json(s, g)).collect()),
        (Target::Group(name), &Method::PUT) => {
            let body: GroupBody = req.json()?;
            let (g, created) = m.put_group(&req.caller, name, &body.location, body.tags).await?;
            ok(
                if created { StatusCode::CREATED } else { StatusCode::OK },
                group_json(s, &g),
            )
        }
        (Target::Group(name), &Method::GET) => ok(StatusCode::OK, group_json(s, &m.group(&req.caller, name).await?)),
        (Target::Group(name), &Method::HEAD) => {
            let exists = m.group(&req.caller, name).await.is_ok();
            ok(
                if exists {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::NOT_FOUND
                },
                serde_json::Value::Null,
            )
        }
        (Target::Group(name), &Method::DELETE) => {
            if m.delete_group(&req.caller, name).await? {
                ok(StatusCode::OK, serde_json::Value::Null)
            } else {
                Err(keyhold_core::management::ArmError::ResourceGroupNotFound(name.clone()).into())
            }
        }
        _ => method_not_allowed(req),
    }
}
