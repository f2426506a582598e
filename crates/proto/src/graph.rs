//! The Microsoft Graph subset keyhold serves (what `az` calls to look principals up and to create
//! service principals): directory objects, collections with OData paging, Graph's error envelope.
//! Field names are Graph's; unknown request fields are ignored, as Graph ignores what it does not
//! know on the properties az sends.

use serde::{Deserialize, Serialize};

/// `#microsoft.graph.servicePrincipal`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    #[serde(rename = "@odata.type", skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<String>,
    pub id: String,
    pub account_enabled: bool,
    pub app_id: String,
    pub app_display_name: Option<String>,
    pub app_owner_organization_id: Option<String>,
    pub display_name: String,
    pub created_date_time: Option<String>,
    /// `Application` or `ManagedIdentity`.
    pub service_principal_type: String,
    pub service_principal_names: Vec<String>,
    pub alternative_names: Vec<String>,
    pub sign_in_audience: Option<String>,
    pub tags: Vec<String>,
    pub password_credentials: Vec<PasswordCredential>,
    pub key_credentials: Vec<KeyCredential>,
}

/// `#microsoft.graph.application`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    #[serde(rename = "@odata.type", skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<String>,
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub created_date_time: Option<String>,
    pub publisher_domain: Option<String>,
    pub sign_in_audience: String,
    pub identifier_uris: Vec<String>,
    pub password_credentials: Vec<PasswordCredential>,
    pub key_credentials: Vec<KeyCredential>,
}

/// A client secret as Graph shows it: `secretText` only in the answer to `addPassword`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    pub custom_key_identifier: Option<String>,
    pub display_name: Option<String>,
    pub end_date_time: Option<String>,
    pub hint: Option<String>,
    pub key_id: String,
    pub secret_text: Option<String>,
    pub start_date_time: Option<String>,
}

impl std::fmt::Debug for PasswordCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasswordCredential({}, secretText <redacted>)", self.key_id)
    }
}

/// A certificate credential (`keyCredentials`); keyhold lists the ones registered for client
/// assertions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredential {
    pub custom_key_identifier: Option<String>,
    pub display_name: Option<String>,
    pub end_date_time: Option<String>,
    pub key_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub usage: String,
}

/// `#microsoft.graph.organization`: the tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub display_name: String,
    pub tenant_type: String,
    pub verified_domains: Vec<VerifiedDomain>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedDomain {
    pub name: String,
    pub is_default: bool,
    pub is_initial: bool,
    #[serde(rename = "type")]
    pub kind: String,
    pub capabilities: String,
}

/// An OData collection page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collection<T> {
    #[serde(rename = "@odata.context")]
    pub context: String,
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// `POST /applications`: what keyhold reads of the body (az sends more, which is ignored).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationCreate {
    pub display_name: String,
}

/// `PATCH /applications/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationUpdate {
    pub display_name: Option<String>,
}

/// `POST /servicePrincipals`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalCreate {
    pub app_id: String,
}

/// `POST /applications/{id}/addPassword`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddPassword {
    #[serde(default)]
    pub password_credential: PasswordCredentialRequest,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredentialRequest {
    pub display_name: Option<String>,
    pub end_date_time: Option<String>,
    pub start_date_time: Option<String>,
}

/// `POST /applications/{id}/removePassword`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovePassword {
    pub key_id: String,
}

/// `POST /directoryObjects/getByIds`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetByIds {
    pub ids: Vec<String>,
    #[serde(default)]
    pub types: Vec<String>,
}

/// Graph's error envelope: `{"error": {"code", "message", "innerError"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphErrorBody {
    pub error: GraphErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphErrorDetail {
    pub code: String,
    pub message: String,
    pub inner_error: GraphInnerError,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphInnerError {
    pub date: String,
    #[serde(rename = "request-id")]
    pub request_id: String,
}

/// `#microsoft.graph.user`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(rename = "@odata.type", skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<String>,
    pub id: String,
    pub account_enabled: bool,
    pub display_name: String,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub created_date_time: Option<String>,
    pub user_type: String,
}

/// `POST /users`, as `az ad user create` sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCreate {
    #[serde(default = "enabled")]
    pub account_enabled: bool,
    pub display_name: String,
    pub user_principal_name: String,
    pub password_profile: PasswordProfile,
}

fn enabled() -> bool {
    true
}

/// `PATCH /users/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdate {
    pub account_enabled: Option<bool>,
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub password_profile: Option<PasswordProfile>,
}

/// A user's password as Graph takes it; never answered.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordProfile {
    pub password: String,
    #[serde(default)]
    pub force_change_password_next_sign_in: bool,
}

impl std::fmt::Debug for PasswordProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordProfile(<redacted>)")
    }
}
