//! The ARM-shaped management plane on the server host: `/subscriptions/...`. ARM paths are
//! case-insensitive, so requests are parsed here into a [`Target`] instead of by the router; each
//! resource kind has its own module with thin handlers over `core::management`.

mod activity;
mod assignments;
mod groups;
mod providers;
mod resources;
mod vaults;

pub(crate) use vaults::vault_json;

use axum::{
    Json,
    body::Bytes,
    extract::{Request, State},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use keyhold_core::authz::Caller;
use keyhold_proto::{
    admin::ValueList,
    arm::{Subscription, SubscriptionPolicies, Tenant},
};
use serde::de::DeserializeOwned;

use crate::{
    AppState,
    audit::{Op, Routes},
    error::{ApiError, bad_parameter},
    extract::ArmCaller,
};

/// ARM routes name their operation from the path (`Op::Arm`), as ARM's activity log does.
pub fn routes() -> Routes<AppState> {
    Routes::new()
        .any("/subscriptions", Op::Arm, dispatch)
        .any("/subscriptions/{*rest}", Op::Arm, dispatch)
        .get("/tenants", Op::Arm, tenants)
        .get(
            "/providers/Microsoft.Authorization/roleDefinitions",
            Op::Arm,
            assignments::definitions_at_root,
        )
}

/// What an ARM path addresses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Subscriptions,
    Subscription,
    Groups,
    Group(String),
    Vaults {
        group: Option<String>,
    },
    Vault {
        group: String,
        name: String,
    },
    AccessPolicies {
        group: String,
        name: String,
        kind: String,
    },
    DeletedVaults,
    DeletedVault {
        name: String,
    },
    PurgeDeletedVault {
        name: String,
    },
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments[/{name}]`
    Assignments {
        scope: String,
        name: Option<String>,
    },
    Definitions {
        scope: String,
        name: Option<String>,
    },
    /// Other kinds: `providers/<namespace>/<type>[/<name>[/<action>]]`.
    Resources {
        group: Option<String>,
        kind: String,
    },
    Resource {
        group: String,
        kind: String,
        name: String,
    },
    ResourceAction {
        group: String,
        kind: String,
        name: String,
        action: String,
    },
    /// `/resources`: every resource of the subscription or of one group.
    AllResources {
        group: Option<String>,
    },
    /// `providers/<namespace>/checkNameAvailability` at the subscription.
    CheckName,
    /// `providers/Microsoft.Insights/eventtypes/management/values`: the activity log.
    ActivityLog {
        subscription: String,
    },
    /// `providers`: the resource providers.
    Providers,
    Provider {
        namespace: String,
    },
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Parses `/subscriptions/<sub>/...`; `None` for paths keyhold does not serve.
pub(crate) fn parse(path: &str) -> Option<Target> {
    let lower = path.to_ascii_lowercase();
    if let Some(at) = lower.rfind("/providers/microsoft.authorization/") {
        let scope = if at == 0 { "/".to_owned() } else { path[..at].to_owned() };
        let rest: Vec<&str> = path[at + "/providers/microsoft.authorization/".len()..]
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        return match rest.as_slice() {
            [k] if eq(k, "roleAssignments") => Some(Target::Assignments { scope, name: None }),
            [k, n] if eq(k, "roleAssignments") => Some(Target::Assignments {
                scope,
                name: Some((*n).to_owned()),
            }),
            [k] if eq(k, "roleDefinitions") => Some(Target::Definitions { scope, name: None }),
            [k, n] if eq(k, "roleDefinitions") => Some(Target::Definitions {
                scope,
                name: Some((*n).to_owned()),
            }),
            _ => None,
        };
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let kv = |p: &str, ns: &str| eq(p, "providers") && eq(ns, "Microsoft.KeyVault");
    match segs.as_slice() {
        [s] if eq(s, "subscriptions") => Some(Target::Subscriptions),
        [s, _] if eq(s, "subscriptions") => Some(Target::Subscription),
        [s, _, g] if eq(s, "subscriptions") && eq(g, "resourceGroups") => Some(Target::Groups),
        [s, _, g, name] if eq(s, "subscriptions") && eq(g, "resourceGroups") => Some(Target::Group((*name).to_owned())),
        [s, _, g, rg, p, ns, v]
            if eq(s, "subscriptions") && eq(g, "resourceGroups") && kv(p, ns) && eq(v, "vaults") =>
        {
            Some(Target::Vaults {
                group: Some((*rg).to_owned()),
            })
        }
        [s, _, g, rg, p, ns, v, name]
            if eq(s, "subscriptions") && eq(g, "resourceGroups") && kv(p, ns) && eq(v, "vaults") =>
        {
            Some(Target::Vault {
                group: (*rg).to_owned(),
                name: (*name).to_owned(),
            })
        }
        [s, _, g, rg, p, ns, v, name, a, kind]
            if eq(s, "subscriptions")
                && eq(g, "resourceGroups")
                && kv(p, ns)
                && eq(v, "vaults")
                && eq(a, "accessPolicies") =>
        {
            Some(Target::AccessPolicies {
                group: (*rg).to_owned(),
                name: (*name).to_owned(),
                kind: kind.to_ascii_lowercase(),
            })
        }
        [s, _, p, ns, v] if eq(s, "subscriptions") && kv(p, ns) && eq(v, "vaults") => {
            Some(Target::Vaults { group: None })
        }
        [s, _, p, ns, d] if eq(s, "subscriptions") && kv(p, ns) && eq(d, "deletedVaults") => {
            Some(Target::DeletedVaults)
        }
        [s, _, p, ns, l, _, d, name]
            if eq(s, "subscriptions") && kv(p, ns) && eq(l, "locations") && eq(d, "deletedVaults") =>
        {
            Some(Target::DeletedVault {
                name: (*name).to_owned(),
            })
        }
        [s, _, p, ns, l, _, d, name, purge]
            if eq(s, "subscriptions")
                && kv(p, ns)
                && eq(l, "locations")
                && eq(d, "deletedVaults")
                && eq(purge, "purge") =>
        {
            Some(Target::PurgeDeletedVault {
                name: (*name).to_owned(),
            })
        }
        [s, _, r] if eq(s, "subscriptions") && eq(r, "resources") => Some(Target::AllResources { group: None }),
        [s, sub, p, ns, e, m, v]
            if eq(s, "subscriptions")
                && eq(p, "providers")
                && eq(ns, "Microsoft.Insights")
                && eq(e, "eventtypes")
                && eq(m, "management")
                && eq(v, "values") =>
        {
            Some(Target::ActivityLog {
                subscription: (*sub).to_owned(),
            })
        }
        [s, _, p] if eq(s, "subscriptions") && eq(p, "providers") => Some(Target::Providers),
        [s, _, p, ns] if eq(s, "subscriptions") && eq(p, "providers") => Some(Target::Provider {
            namespace: (*ns).to_owned(),
        }),
        [s, _, p, _, c] if eq(s, "subscriptions") && eq(p, "providers") && eq(c, "checkNameAvailability") => {
            Some(Target::CheckName)
        }
        [s, _, g, rg, r] if eq(s, "subscriptions") && eq(g, "resourceGroups") && eq(r, "resources") => {
            Some(Target::AllResources {
                group: Some((*rg).to_owned()),
            })
        }
        [s, _, p, ns, t] if eq(s, "subscriptions") && eq(p, "providers") => Some(Target::Resources {
            group: None,
            kind: format!("{ns}/{t}"),
        }),
        [s, _, g, rg, p, ns, t] if eq(s, "subscriptions") && eq(g, "resourceGroups") && eq(p, "providers") => {
            Some(Target::Resources {
                group: Some((*rg).to_owned()),
                kind: format!("{ns}/{t}"),
            })
        }
        [s, _, g, rg, p, ns, t, name] if eq(s, "subscriptions") && eq(g, "resourceGroups") && eq(p, "providers") => {
            Some(Target::Resource {
                group: (*rg).to_owned(),
                kind: format!("{ns}/{t}"),
                name: (*name).to_owned(),
            })
        }
        [s, _, g, rg, p, ns, t, name, action]
            if eq(s, "subscriptions") && eq(g, "resourceGroups") && eq(p, "providers") =>
        {
            Some(Target::ResourceAction {
                group: (*rg).to_owned(),
                kind: format!("{ns}/{t}"),
                name: (*name).to_owned(),
                action: (*action).to_owned(),
            })
        }
        // A child resource: `providers/<ns>/<type>/<parent>/<child type>/<name>`, named `<parent>/<name>`.
        [s, _, g, rg, p, ns, t, parent, child, name]
            if eq(s, "subscriptions") && eq(g, "resourceGroups") && eq(p, "providers") && !kv(p, ns) =>
        {
            Some(Target::Resource {
                group: (*rg).to_owned(),
                kind: format!("{ns}/{t}/{child}"),
                name: format!("{parent}/{name}"),
            })
        }
        _ => None,
    }
}

/// The parts of a request every ARM handler needs.
pub(crate) struct ArmRequest {
    pub caller: Caller,
    pub method: Method,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
}

impl ArmRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The JSON body; ARM's `InvalidRequestContent` when it is not.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            keyhold_core::management::bad_request(
                "InvalidRequestContent",
                format!("The request content was invalid and could not be deserialized: {e}."),
            )
            .into()
        })
    }
}

/// ARM requires `api-version`; any dated version is accepted.
fn check_api_version(query: &[(String, String)]) -> Result<(), ApiError> {
    let Some((_, v)) = query.iter().find(|(k, _)| k.eq_ignore_ascii_case("api-version")) else {
        return Err(keyhold_core::management::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
        .into());
    };
    let date = v.split('-').take(3).collect::<Vec<_>>();
    let ok = date.len() == 3
        && date[0].len() == 4
        && date
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(keyhold_core::management::bad_request(
            "InvalidApiVersionParameter",
            format!("The api-version '{v}' is invalid. The supported versions are dated, such as '2023-07-01'."),
        )
        .into())
    }
}

async fn dispatch(caller: ArmCaller, State(s): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let query: Vec<(String, String)> = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    if let Err(e) = check_api_version(&query) {
        return e.into_response();
    }
    let Some(target) = parse(parts.uri.path()) else {
        return ApiError::NotFound {
            message: format!("No route for '{}' in keyhold's management plane.", parts.uri.path()),
        }
        .into_response();
    };
    let body = match axum::body::to_bytes(body, 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return bad_parameter("The request body could not be read.").into_response(),
    };
    let req = ArmRequest {
        caller: caller.caller(),
        method: parts.method,
        query,
        body,
    };
    let result = match &target {
        Target::Subscriptions | Target::Subscription => subscriptions(&s, &req, &target).await,
        Target::Groups | Target::Group(_) => groups::handle(&s, &req, &target).await,
        Target::Vaults { .. }
        | Target::Vault { .. }
        | Target::AccessPolicies { .. }
        | Target::DeletedVaults
        | Target::DeletedVault { .. }
        | Target::PurgeDeletedVault { .. } => vaults::handle(&s, &req, &target).await,
        Target::Assignments { .. } | Target::Definitions { .. } => assignments::handle(&s, &req, &target).await,
        Target::Resources { .. }
        | Target::Resource { .. }
        | Target::ResourceAction { .. }
        | Target::AllResources { .. }
        | Target::CheckName => resources::handle(&s, &req, &target).await,
        Target::Providers | Target::Provider { .. } => providers::handle(&s, &req, &target).await,
        Target::ActivityLog { subscription } => activity::handle(&s, &req, subscription).await,
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) type ArmResult = Result<Response, ApiError>;

/// Unix seconds as ARM's RFC 3339 timestamps.
pub(crate) fn iso(t: i64) -> String {
    keyhold_core::clock::rfc3339(t)
}

pub(crate) fn ok(status: StatusCode, body: impl serde::Serialize) -> ArmResult {
    Ok((status, Json(body)).into_response())
}

pub(crate) fn method_not_allowed(req: &ArmRequest) -> ArmResult {
    Err(keyhold_core::management::bad_request(
        "MethodNotAllowed",
        format!("The method {} is not supported here.", req.method),
    )
    .into())
}

pub(crate) fn list<T: serde::Serialize>(items: Vec<T>) -> ArmResult {
    ok(StatusCode::OK, ValueList { value: items })
}

/// `GET /tenants`: the one tenant, to any caller with a management token (az lists it at sign-in).
async fn tenants(_caller: ArmCaller, State(s): State<AppState>) -> Json<ValueList<Tenant>> {
    let tenant_id = s.core.tenant_id.clone();
    Json(ValueList {
        value: vec![Tenant {
            id: format!("/tenants/{tenant_id}"),
            tenant_id,
            display_name: "keyhold".into(),
            default_domain: s.core.config.dns_suffix.clone(),
            domains: vec![s.core.config.dns_suffix.clone()],
            tenant_category: "Home".into(),
            tenant_type: "AAD".into(),
        }],
    })
}

async fn subscriptions(s: &AppState, req: &ArmRequest, target: &Target) -> ArmResult {
    if req.method != Method::GET {
        return method_not_allowed(req);
    }
    let m = &s.core.management;
    let sub = Subscription {
        id: m.subscription_scope(),
        subscription_id: m.subscription_id().to_owned(),
        tenant_id: s.core.tenant_id.clone(),
        display_name: "keyhold".into(),
        state: "Enabled".into(),
        subscription_policies: SubscriptionPolicies {
            location_placement_id: "Public_2014-09-01".into(),
            quota_id: "keyhold".into(),
            spending_limit: "Off".into(),
        },
        authorization_source: "RoleBased".into(),
    };
    if let Target::Subscriptions = target {
        let listed = m.subscription_listed(&req.caller).await?;
        return Ok(Json(ValueList {
            value: if listed { vec![sub] } else { vec![] },
        })
        .into_response());
    }
    m.read_subscription(&req.caller).await?;
    Ok(Json(sub).into_response())
}

#[cfg(test)]
mod tests {
    use super::{Target, parse};

    #[test]
    fn arm_paths_parse_case_insensitively() {
        assert_eq!(
            parse("/subscriptions/s/resourcegroups/RG"),
            Some(Target::Group("RG".into()))
        );
        assert_eq!(
            parse("/subscriptions/s/resourceGroups/rg/providers/microsoft.keyvault/VAULTS/kv/accessPolicies/Add"),
            Some(Target::AccessPolicies {
                group: "rg".into(),
                name: "kv".into(),
                kind: "add".into()
            })
        );
        assert_eq!(
            parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/secrets/x/providers/Microsoft.Authorization/roleAssignments/g"
            ),
            Some(Target::Assignments {
                scope: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/secrets/x".into(),
                name: Some("g".into())
            })
        );
        assert_eq!(
            parse("/subscriptions/s/providers/Microsoft.KeyVault/locations/westus/deletedVaults/kv/purge"),
            Some(Target::PurgeDeletedVault { name: "kv".into() })
        );
        assert_eq!(
            parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"),
            Some(Target::Resource {
                group: "rg".into(),
                kind: "Microsoft.Compute/virtualMachines".into(),
                name: "vm".into()
            })
        );
        assert_eq!(
            parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/cpu"
            ),
            Some(Target::Resource {
                group: "rg".into(),
                kind: "Microsoft.MachineLearningServices/workspaces/computes".into(),
                name: "ws/cpu".into()
            })
        );
        assert_eq!(
            parse("/subscriptions/s/resources"),
            Some(Target::AllResources { group: None })
        );
    }
}
