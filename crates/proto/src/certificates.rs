//! Key Vault certificates bodies. Member names follow the REST API exactly, which mixes snake_case
//! (`key_props`, `validity_months`) and camelCase (`contentType`, `recoveryLevel`); `cer` is standard
//! base64, `x5t` and `csr` as Azure sends them; timestamps are integer Unix seconds.

use serde::{Deserialize, Serialize};

use crate::keyvault::Tags;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recoverable_days: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exportable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecretProperties {
    #[serde(rename = "contentType", skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubjectAlternativeNames {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upns: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uris: Option<Vec<String>>,
    #[serde(rename = "ipAddresses", skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BasicConstraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct X509CertificateProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ekus: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sans: Option<SubjectAlternativeNames>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_months: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_constraints: Option<BasicConstraints>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Trigger {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime_percentage: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_before_expiry: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Action {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LifetimeAction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuerParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_transparency: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<i64>,
}

/// A certificate's management policy. In a request every member is optional; in a response `id` is
/// `…/certificates/{name}/policy`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificatePolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_props: Option<KeyProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_props: Option<SecretProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x509_props: Option<X509CertificateProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime_actions: Option<Vec<LifetimeAction>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<PolicyAttributes>,
}

/// `POST /certificates/{name}/create`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CertificateCreateParameters {
    pub policy: Option<CertificatePolicy>,
    pub attributes: Option<CertificateAttributes>,
    pub tags: Option<Tags>,
    #[serde(rename = "preserveCertOrder")]
    pub preserve_cert_order: Option<bool>,
}

/// `PATCH /certificates/{name}[/{version}]`: absent fields mean unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CertificateUpdateParameters {
    pub policy: Option<CertificatePolicy>,
    pub attributes: Option<CertificateAttributes>,
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateBundle {
    pub id: String,
    pub kid: String,
    pub sid: String,
    pub x5t: String,
    pub cer: String,
    #[serde(rename = "contentType")]
    pub content_type: String,
    pub attributes: CertificateAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<CertificatePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(rename = "preserveCertOrder", skip_serializing_if = "Option::is_none")]
    pub preserve_cert_order: Option<bool>,
    #[serde(rename = "recoveryId", skip_serializing_if = "Option::is_none")]
    pub recovery_id: Option<String>,
    #[serde(rename = "deletedDate", skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<i64>,
    #[serde(rename = "scheduledPurgeDate", skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateItem {
    pub id: String,
    pub x5t: String,
    pub attributes: CertificateAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(rename = "recoveryId", skip_serializing_if = "Option::is_none")]
    pub recovery_id: Option<String>,
    #[serde(rename = "deletedDate", skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<i64>,
    #[serde(rename = "scheduledPurgeDate", skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OperationError {
    pub code: String,
    pub message: String,
}

/// `…/certificates/{name}/pending`: the create operation. `status` is `inProgress`, `completed`,
/// `cancelled` or `failed` (the JS SDK compares it case-sensitively).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateOperation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerParameters>,
    /// base64 DER of the PKCS#10 request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
    pub cancellation_requested: bool,
    pub status: String,
    pub status_details: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<OperationError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "preserveCertOrder", skip_serializing_if = "Option::is_none")]
    pub preserve_cert_order: Option<bool>,
}

/// `PATCH …/pending`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CertificateOperationUpdateParameter {
    pub cancellation_requested: Option<bool>,
}

/// `POST /certificates/{name}/import`. `value` is base64 PKCS#12, or PEM (raw, or base64 of it);
/// `Debug` never prints it or the password.
#[derive(Clone, Default, Deserialize)]
pub struct CertificateImportParameters {
    pub value: Option<String>,
    pub pwd: Option<String>,
    pub policy: Option<CertificatePolicy>,
    pub attributes: Option<CertificateAttributes>,
    pub tags: Option<Tags>,
    #[serde(rename = "preserveCertOrder")]
    pub preserve_cert_order: Option<bool>,
}

impl std::fmt::Debug for CertificateImportParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateImportParameters")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// `POST /certificates/{name}/pending/merge`: the signed chain (standard base64 DER, leaf first).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CertificateMergeParameters {
    pub x5c: Option<Vec<String>>,
    pub attributes: Option<CertificateAttributes>,
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Contact {
    #[serde(rename = "email", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `/certificates/contacts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Contacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "contacts", skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
}

/// An issuer's account; `pwd` is accepted and never returned (nor printed by `Debug`).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuerCredentials {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pwd: Option<String>,
}

impl std::fmt::Debug for IssuerCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerCredentials")
            .field("account_id", &self.account_id)
            .field("pwd", &self.pwd.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdministratorDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrganizationDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_details: Option<Vec<AdministratorDetails>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuerAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<i64>,
}

/// `/certificates/issuers/{name}`: the request (`PUT`, `PATCH`) and the answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuerBundle {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<IssuerCredentials>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_details: Option<OrganizationDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<IssuerAttributes>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateIssuerItem {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}
