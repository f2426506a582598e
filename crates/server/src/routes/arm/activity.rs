//! `GET /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values`: the activity
//! log of the resource its `$filter` names (`resourceUri eq '<id>'`).

use axum::http::{Method, StatusCode};
use keyhold_core::{audit::AuditEntry, management::bad_request};
use keyhold_proto::insights::{EventData, HttpRequestInfo, Localizable};

use super::{ArmRequest, ArmResult, list, method_not_allowed};
use crate::AppState;

/// The id in `resourceUri eq '<id>'` (or `resourceId eq`), wherever it stands in the filter.
fn resource_uri(filter: &str) -> Option<&str> {
    let lower = filter.to_ascii_lowercase();
    let at = ["resourceuri eq '", "resourceid eq '"]
        .iter()
        .find_map(|k| lower.find(k).map(|i| i + k.len()))?;
    let end = filter[at..].find('\'')?;
    Some(&filter[at..at + end])
}

fn event(s: &AppState, subscription: &str, resource_id: &str, e: AuditEntry) -> EventData {
    let ok = (200..400).contains(&e.result);
    let reason = StatusCode::from_u16(e.result)
        .ok()
        .and_then(|c| c.canonical_reason())
        .unwrap_or("Unknown");
    EventData {
        id: format!("{resource_id}/events/{}", e.request_id),
        event_data_id: e.request_id.clone(),
        correlation_id: e.request_id,
        caller: e.caller_oid.unwrap_or_default(),
        category: Localizable::new("Administrative"),
        level: if ok { "Informational" } else { "Error" }.into(),
        operation_name: Localizable::new(e.operation),
        status: Localizable::new(if ok { "Succeeded" } else { "Failed" }),
        sub_status: Localizable::new(format!("{reason} (HTTP Status Code: {})", e.result)),
        event_timestamp: e.time.clone(),
        submission_timestamp: e.time,
        resource_id: resource_id.to_owned(),
        subscription_id: subscription.to_owned(),
        tenant_id: s.core.tenant_id.clone(),
        http_request: e
            .client_ip
            .map(|client_ip_address| HttpRequestInfo { client_ip_address }),
    }
}

pub(super) async fn handle(s: &AppState, req: &ArmRequest, subscription: &str) -> ArmResult {
    if req.method != Method::GET {
        return method_not_allowed(req);
    }
    let Some(resource_id) = req.param("$filter").and_then(resource_uri) else {
        return Err(bad_request(
            "BadRequest",
            "The $filter must name the resource: resourceUri eq '<resource id>'.",
        )
        .into());
    };
    let events = s
        .core
        .management
        .activity_log(&req.caller, &s.audit, resource_id)
        .await?;
    list(
        events
            .into_iter()
            .map(|e| event(s, subscription, resource_id, e))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::resource_uri;

    #[test]
    fn the_filter_names_the_resource() {
        assert_eq!(
            resource_uri("eventTimestamp ge '2026-01-01' and resourceUri eq '/subscriptions/s/resourceGroups/g'"),
            Some("/subscriptions/s/resourceGroups/g")
        );
        assert_eq!(resource_uri("resourceId eq '/x'"), Some("/x"));
        assert_eq!(resource_uri("eventTimestamp ge '2026-01-01'"), None);
    }
}
