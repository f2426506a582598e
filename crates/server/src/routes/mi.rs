//! The managed-identity endpoints (wire-protocol §4): IMDS, App Service (2019), the 2017 `secret`
//! protocol and the legacy VM-extension POST. Paths are matched case-insensitively with an optional
//! trailing slash (msal-node lower-cases the URL and appends `/`). Unknown identities get 400
//! `invalid_request`, never 404, which the SDKs would retry for a minute.
//!
//! The protocol handling is shared: the server serves its host's identities from the domain
//! ([`LocalTokens`]); `keyhold agent` serves its resource's identities by asking the server.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Request, State},
    http::{HeaderMap, Method},
    response::{IntoResponse, Response},
};
use keyhold_core::identity::IdentitySelector;
use keyhold_proto::managed_identity::ImdsToken;
use secrecy::{ExposeSecret, SecretString};

use crate::{
    AppState,
    audit::{Audited, Op},
    error::MiError,
};

pub const APP_SERVICE_PATH: &str = "/msi/token";

/// A token as the managed-identity protocols hand it out: the server's answer to an agent, which
/// the agent re-serves in each protocol's shape.
pub use keyhold_proto::admin::AgentToken as MiToken;

/// Where tokens come from: the domain on the server, the server on an agent.
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync + 'static {
    async fn token(&self, selector: &IdentitySelector, audience: &str) -> Result<MiToken, MiError>;
}

/// The server's own host: tokens for the identities of its host resource.
pub struct LocalTokens(pub AppState);

#[async_trait::async_trait]
impl TokenSource for LocalTokens {
    async fn token(&self, selector: &IdentitySelector, audience: &str) -> Result<MiToken, MiError> {
        let identity = &self.0.core.identity;
        let mi = identity.select_identity(&self.0.mi.host_resource, selector).await?;
        let t = identity.managed_identity_token(&mi, audience)?;
        Ok(MiToken {
            access_token: t.access_token,
            object_id: mi.object_id,
            client_id: mi.client_id,
            expires_on: t.expires_on,
            not_before: t.not_before,
            resource: t.resource,
        })
    }
}

/// The server's managed-identity router, audited.
pub fn routes(state: AppState) -> Router {
    let audit = state.audit.clone();
    let header = state.mi.header.clone();
    protocol_routes(Arc::new(LocalTokens(state)), header).layer(axum::middleware::from_fn_with_state(
        Audited::new(audit, Op::Named("ManagedIdentityToken")),
        crate::audit::record,
    ))
}

#[derive(Clone)]
struct Protocols {
    source: Arc<dyn TokenSource>,
    header: SecretString,
}

/// Every managed-identity protocol over `source`; `header` is the App Service / 2017 shared secret.
pub fn protocol_routes(source: Arc<dyn TokenSource>, header: SecretString) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(Protocols { source, header })
}

type Params = HashMap<String, String>;

async fn dispatch(State(p): State<Protocols>, req: Request) -> Response {
    let path = req.uri().path().trim_end_matches('/').to_ascii_lowercase();
    let query: Params = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let slot = parts.extensions.get::<crate::audit::AuditSlot>().cloned();
    let request = match (method, path.as_str()) {
        (Method::GET, "/metadata/identity/oauth2/token") => imds(&parts.headers, &query),
        (Method::GET, APP_SERVICE_PATH) => app_service(p.header.expose_secret(), &parts.headers, &query),
        (Method::POST, APP_SERVICE_PATH | "/oauth2/token") => match axum::body::to_bytes(body, 64 * 1024).await {
            Ok(bytes) => legacy_post(&parts.headers, &bytes),
            Err(_) => Err(MiError::BadRequest("The request body could not be read.".into())),
        },
        _ => return MiError::NotFound.into_response(),
    };
    let result = match request {
        Ok((selector, audience)) => issue(&*p.source, &selector, &audience, slot.as_ref()).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(body) => body.into_response(),
        Err(e) if path == APP_SERVICE_PATH => e.into_app_service_response(),
        Err(e) => e.into_response(),
    }
}

fn metadata_true(headers: &HeaderMap) -> bool {
    headers
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn header_matches(headers: &HeaderMap, name: &str, expected: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| keyhold_crypto::ct_eq(v.as_bytes(), expected.as_bytes()))
}

/// The user-assigned selector, by whichever parameter name the protocol uses.
fn selector(p: &Params, client: &[&str], object: &[&str], resource: &[&str]) -> Result<IdentitySelector, MiError> {
    let find = |names: &[&str]| names.iter().find_map(|n| p.get(*n).filter(|v| !v.is_empty()).cloned());
    Ok(IdentitySelector::one_of(find(client), find(object), find(resource))?)
}

/// The identity endpoint's documented IMDS versions (the identity category exists since 2018-02-01).
const IMDS_VERSIONS: &[&str] = &[
    "2018-02-01",
    "2018-04-02",
    "2018-10-01",
    "2019-02-01",
    "2019-03-11",
    "2019-04-30",
    "2019-06-01",
    "2019-06-04",
    "2019-08-01",
    "2019-08-15",
    "2019-11-01",
    "2020-06-01",
    "2020-07-15",
    "2020-09-01",
    "2020-10-01",
    "2020-12-01",
    "2021-01-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-10-01",
    "2021-11-01",
    "2021-11-15",
    "2021-12-13",
    "2023-07-01",
    "2023-11-15",
    "2024-03-15",
    "2025-04-07",
];
/// App Service's `IDENTITY_ENDPOINT` protocol has one version, its 2017 `MSI_ENDPOINT` one another.
const APP_SERVICE_VERSIONS: &[&str] = &["2019-08-01"];
const MSI_2017_VERSIONS: &[&str] = &["2017-09-01"];

fn api_version_in(p: &Params, known: &[&str]) -> Result<(), MiError> {
    match p.get("api-version") {
        None => Err(MiError::BadRequest(
            "Required query variable 'api-version' is missing".into(),
        )),
        Some(v) if known.contains(&v.as_str()) => Ok(()),
        Some(v) => Err(MiError::BadRequest(format!(
            "Invalid api-version '{v}'. Supported versions: {}.",
            known.join(", ")
        ))),
    }
}

/// IMDS refuses requests that went through a proxy: a token must go to the workload that asked.
fn not_proxied(headers: &HeaderMap) -> Result<(), MiError> {
    if headers.contains_key("x-forwarded-for") {
        return Err(MiError::BadRequest(
            "Request contains X-Forwarded-For header; IMDS does not accept proxied requests.".into(),
        ));
    }
    Ok(())
}

fn resource(p: &Params) -> Result<String, MiError> {
    p.get("resource")
        .filter(|r| !r.is_empty())
        .map(|r| r.trim_end_matches("/.default").to_owned())
        .ok_or_else(|| MiError::BadRequest("Required audience parameter not specified".into()))
}

/// A token for the identity `sel` names, in IMDS's all-strings shape.
async fn issue(
    source: &dyn TokenSource,
    sel: &IdentitySelector,
    audience: &str,
    slot: Option<&crate::audit::AuditSlot>,
) -> Result<Json<ImdsToken>, MiError> {
    let token = source.token(sel, audience).await?;
    if let Some(slot) = slot {
        slot.caller(Some(&token.object_id), Some(&token.client_id));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let expires_in = (token.expires_on - now).max(0).to_string();
    Ok(Json(ImdsToken {
        access_token: token.access_token,
        client_id: token.client_id,
        ext_expires_in: expires_in.clone(),
        expires_in,
        expires_on: token.expires_on.to_string(),
        not_before: token.not_before.to_string(),
        resource: token.resource,
        token_type: "Bearer".into(),
    }))
}

/// What a protocol asks for: which identity, and the audience.
type Wanted = Result<(IdentitySelector, String), MiError>;

fn imds(headers: &HeaderMap, p: &Params) -> Wanted {
    if !metadata_true(headers) {
        return Err(MiError::BadRequest("Required metadata header not specified".into()));
    }
    not_proxied(headers)?;
    api_version_in(p, IMDS_VERSIONS)?;
    let resource = resource(p)?;
    let sel = selector(p, &["client_id"], &["object_id"], &["msi_res_id", "mi_res_id"])?;
    Ok((sel, resource))
}

/// `IDENTITY_ENDPOINT` (2019, `X-IDENTITY-HEADER`) and `MSI_ENDPOINT` (2017, `secret`) share one URL.
fn app_service(secret: &str, headers: &HeaderMap, p: &Params) -> Wanted {
    if headers.contains_key("x-identity-header") {
        if !header_matches(headers, "x-identity-header", secret) {
            return Err(MiError::Unauthorized("The X-IDENTITY-HEADER is invalid.".into()));
        }
        api_version_in(p, APP_SERVICE_VERSIONS)?;
        let sel = selector(p, &["client_id"], &["object_id"], &["mi_res_id", "msi_res_id"])?;
        return Ok((sel, resource(p)?));
    }
    if headers.contains_key("secret") {
        if !header_matches(headers, "secret", secret) {
            return Err(MiError::Unauthorized("The secret header is invalid.".into()));
        }
        api_version_in(p, MSI_2017_VERSIONS)?;
        let sel = selector(p, &["clientid", "client_id"], &[], &[])?;
        return Ok((sel, resource(p)?));
    }
    Err(MiError::Unauthorized(
        "Missing X-IDENTITY-HEADER (or secret) header.".into(),
    ))
}

/// The VM extension's `POST /oauth2/token` (and Cloud Shell's `POST $MSI_ENDPOINT`): form body.
fn legacy_post(headers: &HeaderMap, body: &Bytes) -> Wanted {
    if !metadata_true(headers) {
        return Err(MiError::BadRequest("Required metadata header not specified".into()));
    }
    not_proxied(headers)?;
    let form: Params = form_urlencoded::parse(body).into_owned().collect();
    let sel = selector(&form, &["client_id"], &["object_id"], &["msi_res_id"])?;
    Ok((sel, resource(&form)?))
}
