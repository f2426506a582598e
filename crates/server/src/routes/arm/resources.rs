//! Other resource kinds (virtual machines, user-assigned identities, storage accounts, web apps), the
//! storage-account key actions, and the generic `/resources` listing `az resource list` reads.

use axum::http::{Method, StatusCode};
use keyhold_core::management::{
    ArmError, bad_request,
    resources::{ResourceSpec, STORAGE_ACCOUNTS, absent_kind, canonical_kind, identity_of},
};
use keyhold_proto::arm::{NameAvailability, Resource, ResourceSku, StorageAccountKey, StorageAccountKeys};
use keyhold_store::ResourceRecord;
use serde::Deserialize;
use serde_json::Value;

use super::{ArmRequest, ArmResult, Target, list, method_not_allowed, ok, vaults::vault_json};
use crate::AppState;

pub(crate) fn resource_json(r: &ResourceRecord) -> Resource {
    let storage = r.kind == STORAGE_ACCOUNTS;
    Resource {
        id: r.id.clone(),
        // A child resource answers with its own name; its id and type say whose child it is.
        name: r.name.rsplit('/').next().unwrap_or(&r.name).to_owned(),
        kind: r.kind.clone(),
        location: r.location.clone(),
        tags: r.tags.clone().unwrap_or_default(),
        variant: storage.then(|| "StorageV2".to_owned()),
        sku: storage.then(|| ResourceSku {
            name: "Standard_LRS".into(),
            tier: "Standard".into(),
        }),
        identity: identity_of(r),
        properties: Some(r.properties.clone()),
    }
}

fn kind_of(raw: &str) -> Result<&'static str, ArmError> {
    canonical_kind(raw).ok_or_else(|| {
        bad_request(
            "InvalidResourceType",
            format!("The resource type '{raw}' is not served by keyhold."),
        )
    })
}

fn keys_json(keys: Vec<(String, String)>) -> StorageAccountKeys {
    StorageAccountKeys {
        keys: keys
            .into_iter()
            .map(|(key_name, value)| StorageAccountKey {
                key_name,
                value,
                permissions: "FULL".into(),
            })
            .collect(),
    }
}

#[derive(Deserialize)]
struct CheckNameBody {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegenerateBody {
    key_name: String,
}

pub(super) async fn handle(s: &AppState, req: &ArmRequest, target: &Target) -> ArmResult {
    let m = &s.core.management;
    let caller = &req.caller;
    match (target, &req.method) {
        (Target::CheckName, &Method::POST) => {
            let body: CheckNameBody = req.json()?;
            let answer = m.check_name(caller, &body.kind, &body.name).await?;
            ok(
                StatusCode::OK,
                NameAvailability {
                    name_available: answer.available,
                    reason: answer.reason.map(str::to_owned),
                    message: answer.message,
                },
            )
        }
        (Target::CheckName, _) => method_not_allowed(req),
        // Nothing to list, so nothing to hide: any caller with a management token gets the empty list.
        (Target::Resources { kind, .. }, &Method::GET) if absent_kind(kind) => list(Vec::<Resource>::new()),
        (Target::Resources { group, kind }, &Method::GET) => {
            let kind = kind_of(kind)?;
            list(
                m.resources(caller, group.as_deref(), Some(kind))
                    .await?
                    .iter()
                    .map(resource_json)
                    .collect(),
            )
        }
        (Target::Resource { group, kind, name }, method @ (&Method::PUT | &Method::PATCH)) => {
            let kind = kind_of(kind)?;
            let spec: ResourceSpec = req.json()?;
            let (r, created) = m
                .put_resource(caller, group, kind, name, spec, method == Method::PATCH)
                .await?;
            // Storage's create is a long-running operation answering 200 (done) or 202: its SDK
            // poller takes a 201 for an error.
            let status = if created && kind != STORAGE_ACCOUNTS {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            ok(status, resource_json(&r))
        }
        (Target::Resource { group, kind, name }, &Method::GET) => ok(
            StatusCode::OK,
            resource_json(&m.resource(caller, group, kind_of(kind)?, name).await?),
        ),
        (Target::Resource { group, kind, name }, &Method::DELETE) => {
            let deleted = m.delete_resource(caller, group, kind_of(kind)?, name).await?;
            ok(
                if deleted {
                    StatusCode::OK
                } else {
                    StatusCode::NO_CONTENT
                },
                Value::Null,
            )
        }
        (
            Target::ResourceAction {
                group,
                kind,
                name,
                action,
            },
            &Method::POST,
        ) if kind_of(kind)? == STORAGE_ACCOUNTS => match action.to_ascii_lowercase().as_str() {
            "listkeys" => ok(StatusCode::OK, keys_json(m.storage_keys(caller, group, name).await?)),
            "regeneratekey" => {
                let body: RegenerateBody = req.json()?;
                ok(
                    StatusCode::OK,
                    keys_json(m.regenerate_storage_key(caller, group, name, &body.key_name).await?),
                )
            }
            other => Err(bad_request("InvalidResourceType", format!("Unknown action '{other}'.")).into()),
        },
        // `.../<type>/<parent>/<child type>`: the children of one parent (a workspace's computes).
        (
            Target::ResourceAction {
                group,
                kind,
                name,
                action,
            },
            &Method::GET,
        ) if canonical_kind(&format!("{kind}/{action}")).is_some() => {
            let parent = m.resource(caller, group, kind_of(kind)?, name).await?;
            let child_kind = kind_of(&format!("{kind}/{action}"))?;
            let prefix = format!("{}/", parent.name.to_ascii_lowercase());
            list(
                m.resources(caller, Some(group), Some(child_kind))
                    .await?
                    .iter()
                    .filter(|r| r.name.to_ascii_lowercase().starts_with(&prefix))
                    .map(resource_json)
                    .collect(),
            )
        }
        (Target::AllResources { group }, &Method::GET) => {
            let filter = Filter::parse(req.param("$filter"))?;
            let mut items: Vec<Resource> = m
                .resources(caller, group.as_deref(), None)
                .await?
                .iter()
                .map(resource_json)
                .collect();
            items.extend(m.vaults(caller, group.as_deref()).await?.iter().map(|v| {
                let full = vault_json(s, v);
                Resource {
                    id: full.id,
                    name: full.name,
                    kind: full.kind,
                    location: full.location,
                    tags: full.tags,
                    variant: None,
                    sku: None,
                    identity: None,
                    properties: None,
                }
            }));
            items.retain(|i| filter.matches(i));
            list(items)
        }
        _ => method_not_allowed(req),
    }
}

/// The subset of ARM's OData `$filter` that the az CLI sends: `name eq '..'`, `resourceType eq '..'`,
/// `resourceGroup eq '..'`, joined with `and`.
#[derive(Default)]
struct Filter {
    name: Option<String>,
    kind: Option<String>,
    group: Option<String>,
}

impl Filter {
    fn parse(raw: Option<&str>) -> Result<Self, ArmError> {
        let mut f = Self::default();
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            return Ok(f);
        };
        for clause in raw.split(" and ") {
            let (field, value) = clause.trim().split_once(" eq ").ok_or_else(|| {
                bad_request(
                    "InvalidFilterInQueryString",
                    format!("Unsupported $filter clause '{clause}'."),
                )
            })?;
            let value = value.trim().trim_matches('\'').to_owned();
            match field.trim().to_ascii_lowercase().as_str() {
                "name" => f.name = Some(value),
                "resourcetype" => f.kind = Some(value),
                "resourcegroup" => f.group = Some(value),
                other => {
                    return Err(bad_request(
                        "InvalidFilterInQueryString",
                        format!("Unsupported $filter field '{other}'."),
                    ));
                }
            }
        }
        Ok(f)
    }

    fn matches(&self, item: &Resource) -> bool {
        let is = |want: &Option<String>, got: Option<&str>| {
            want.as_ref()
                .is_none_or(|w| got.is_some_and(|g| g.eq_ignore_ascii_case(w)))
        };
        let group = item.id.split('/').nth(4);
        is(&self.name, Some(&item.name)) && is(&self.kind, Some(&item.kind)) && is(&self.group, group)
    }
}
