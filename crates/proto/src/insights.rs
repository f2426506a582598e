//! Azure Monitor's activity log (`Microsoft.Insights/eventtypes/management/values`): the events
//! the console's "Activity log" blade lists.

use serde::{Deserialize, Serialize};

/// A `{value, localizedValue}` pair, as the activity log spells names and states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Localizable {
    pub value: String,
    pub localized_value: String,
}

impl Localizable {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        Self {
            localized_value: value.clone(),
            value,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequestInfo {
    pub client_ip_address: String,
}

/// One event (Azure's `EventData`, the fields keyhold knows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    pub id: String,
    pub event_data_id: String,
    pub correlation_id: String,
    /// The caller's object id.
    pub caller: String,
    pub category: Localizable,
    pub level: String,
    pub operation_name: Localizable,
    pub status: Localizable,
    pub sub_status: Localizable,
    pub event_timestamp: String,
    pub submission_timestamp: String,
    pub resource_id: String,
    pub subscription_id: String,
    pub tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequestInfo>,
}
