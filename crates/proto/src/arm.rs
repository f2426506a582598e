//! ARM's resource shapes that keyhold serves typed. (Vaults, resources and role assignments are still
//! built as JSON in the server's ARM routes.)

use serde::{Deserialize, Serialize};

/// `GET /subscriptions/{id}` and each item of `GET /subscriptions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub subscription_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub state: String,
    pub subscription_policies: SubscriptionPolicies,
    pub authorization_source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPolicies {
    pub location_placement_id: String,
    pub quota_id: String,
    pub spending_limit: String,
}
