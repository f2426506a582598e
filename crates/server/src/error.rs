//! The one place where domain errors become HTTP: Key Vault's `{"error":{"code","message"}}` for the
//! vault and admin APIs, Entra's OAuth2 body for the token endpoint, and the 401 challenge. Matches are
//! exhaustive so a new variant cannot silently become a 500.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use keyhold_core::{
    AuthError, VaultError, directory::DirectoryError, identity::TokenError, management::ArmError, seal::SealError,
};
use keyhold_proto::{
    error::{ErrorBody, OAuthErrorBody},
    graph::{GraphErrorBody, GraphErrorDetail, GraphInnerError},
    managed_identity::{AppServiceError, ImdsError},
};

/// Errors of the vault data plane and the admin API.
#[derive(Debug)]
pub enum ApiError {
    Vault(VaultError),
    /// No usable bearer token: 401 with the Key Vault challenge.
    Unauthorized {
        challenge: String,
        reason: Option<TokenError>,
    },
    /// A request the router does not know.
    NotFound {
        message: String,
    },
    /// A management-plane failure, in ARM's error shape.
    Arm(ArmError),
    /// The sys API's seal operations.
    Seal(SealError),
    /// No usable management token: ARM's 401.
    ArmUnauthorized {
        challenge: String,
        reason: Option<TokenError>,
    },
    /// Identity failures on the admin and agent APIs (service principals, join tokens, revocation),
    /// in Key Vault's body; the token endpoint has [`OAuthError`] instead.
    Auth(AuthError),
    /// A Microsoft Graph failure, in Graph's error shape.
    Graph(DirectoryError),
    /// No usable Graph token: Graph's 401.
    GraphUnauthorized {
        reason: Option<TokenError>,
    },
    /// A failure of the server itself (not of the request): a 500 with only a request id; the detail
    /// goes to the log.
    Internal(String),
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        Self::Graph(e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<ArmError> for ApiError {
    fn from(e: ArmError) -> Self {
        Self::Arm(e)
    }
}

impl From<SealError> for ApiError {
    fn from(e: SealError) -> Self {
        Self::Seal(e)
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        Self::Vault(e)
    }
}

pub fn bad_parameter(message: impl Into<String>) -> ApiError {
    ApiError::Vault(VaultError::BadParameter(message.into()))
}

fn body(status: StatusCode, body: ErrorBody) -> Response {
    (status, Json(body)).into_response()
}

fn internal(detail: &str) -> Response {
    let request_id = keyhold_crypto::random::guid();
    if disk_full(detail) {
        tracing::error!(%request_id, detail, "DATABASE DISK FULL: writes fail until space is freed");
        let mut resp = body(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorBody::new(
                "ServiceUnavailable",
                format!("The database's disk is full; nothing was changed. Retry later. Request id: {request_id}"),
            ),
        );
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        return resp;
    }
    tracing::error!(%request_id, detail, "internal error");
    body(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorBody::new("InternalError", format!("Internal error. Request id: {request_id}")),
    )
}

/// Whether a backend error says its disk is full: SQLite's `SQLITE_FULL` ("database or disk is full"),
/// PostgreSQL's `disk_full` (SQLSTATE 53100, "No space left on device"). The store's errors are text by
/// the time they get here, so this reads the text; a miss is still an (opaque) 500, never a success.
fn disk_full(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("disk is full") || d.contains("no space left on device") || d.contains("53100")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Unauthorized { challenge, reason } => {
                let message = match &reason {
                    None => "AKV10000: Request is missing a Bearer or PoP token.".to_owned(),
                    Some(TokenError::Audience { found }) => {
                        format!("AKV10022: Invalid audience. Found: {found}.")
                    }
                    Some(TokenError::Issuer) => "AKV10032: Invalid issuer.".to_owned(),
                    Some(TokenError::Expired) => "AKV10000: Token validation failed: the token is expired.".to_owned(),
                    Some(other) => format!("AKV10000: Token validation failed: {other}."),
                };
                let mut resp = body(StatusCode::UNAUTHORIZED, ErrorBody::new("Unauthorized", message));
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                resp
            }
            ApiError::ArmUnauthorized { challenge, reason } => {
                let (code, message) = match reason {
                    None => (
                        "AuthenticationFailed",
                        "Authentication failed. The 'Authorization' header is missing.".to_owned(),
                    ),
                    Some(TokenError::Expired) => (
                        "ExpiredAuthenticationToken",
                        "The access token expiry UTC time is earlier than current UTC time.".to_owned(),
                    ),
                    Some(TokenError::Audience { found }) => (
                        "InvalidAuthenticationTokenAudience",
                        format!("The access token has been obtained for wrong audience or resource '{found}'."),
                    ),
                    Some(other) => (
                        "InvalidAuthenticationToken",
                        format!("The access token is invalid: {other}."),
                    ),
                };
                let mut resp = body(StatusCode::UNAUTHORIZED, ErrorBody::new(code, message));
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                resp
            }
            ApiError::NotFound { message } => body(StatusCode::NOT_FOUND, ErrorBody::new("NotFound", message)),
            ApiError::Vault(e) => vault_error(e),
            ApiError::Arm(e) => arm_error(e),
            ApiError::Seal(e) => seal_error(e),
            ApiError::Auth(e) => auth_error(e),
            ApiError::Graph(e) => graph_error(e),
            ApiError::GraphUnauthorized { reason } => {
                let message = match reason {
                    None => "Access token is empty.".to_owned(),
                    Some(TokenError::Audience { .. }) => {
                        "Access token validation failure. Invalid audience.".to_owned()
                    }
                    Some(TokenError::Expired) => "Lifetime validation failed, the token is expired.".to_owned(),
                    Some(other) => format!("Access token validation failure: {other}."),
                };
                graph_body(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message)
            }
            ApiError::Internal(detail) => internal(&detail),
        }
    }
}

fn graph_body(status: StatusCode, code: &str, message: String) -> Response {
    let error = GraphErrorBody {
        error: GraphErrorDetail {
            code: code.to_owned(),
            message,
            inner_error: GraphInnerError {
                date: keyhold_core::clock::now_rfc3339(),
                request_id: keyhold_crypto::random::guid(),
            },
        },
    };
    (status, Json(error)).into_response()
}

/// Graph's status and error code for each directory failure.
fn graph_error(e: DirectoryError) -> Response {
    let msg = e.to_string();
    match e {
        DirectoryError::Denied => graph_body(StatusCode::FORBIDDEN, "Authorization_RequestDenied", msg),
        DirectoryError::NotFound(_) => graph_body(StatusCode::NOT_FOUND, "Request_ResourceNotFound", msg),
        DirectoryError::BadRequest { code, message } => graph_body(StatusCode::BAD_REQUEST, code, message),
        DirectoryError::NotDelegated => graph_body(StatusCode::BAD_REQUEST, "BadRequest", msg),
        DirectoryError::Internal(detail) => internal(&detail),
    }
}

/// Identity errors on keyhold's admin and agent APIs. Exhaustive, so a throttle stays a 429 and a
/// store failure a 500 with a request id, whatever route it comes from.
fn auth_error(e: AuthError) -> Response {
    let msg = e.to_string();
    match e {
        AuthError::UnknownTenant(t) => body(
            StatusCode::NOT_FOUND,
            ErrorBody::new("NotFound", format!("Tenant '{t}' not found.")),
        ),
        AuthError::UnknownClient(id) => body(
            StatusCode::NOT_FOUND,
            ErrorBody::new("NotFound", format!("Service principal '{id}' was not found.")),
        ),
        AuthError::UnknownAgent | AuthError::IdentityNotFound => {
            body(StatusCode::NOT_FOUND, ErrorBody::new("NotFound", msg))
        }
        AuthError::InvalidAssertion(why) => body(StatusCode::BAD_REQUEST, ErrorBody::new("BadParameter", why)),
        AuthError::MissingCredential
        | AuthError::MissingParameter(_)
        | AuthError::UnsupportedGrant(_)
        | AuthError::InvalidScope(_)
        | AuthError::UnknownResource(_)
        | AuthError::BadParameter(_) => body(StatusCode::BAD_REQUEST, ErrorBody::new("BadParameter", msg)),
        AuthError::InvalidSecret | AuthError::InvalidAgent(_) | AuthError::InvalidUserCredentials => {
            body(StatusCode::UNAUTHORIZED, ErrorBody::new("Unauthorized", msg))
        }
        AuthError::UserDisabled => body(StatusCode::FORBIDDEN, ErrorBody::new("Forbidden", msg)),
        AuthError::AuthorizationPending | AuthError::ExpiredToken | AuthError::InvalidGrant(_) => {
            body(StatusCode::BAD_REQUEST, ErrorBody::new("BadParameter", msg))
        }
        AuthError::NotAdmin(_) => body(StatusCode::FORBIDDEN, ErrorBody::new("Forbidden", msg)),
        AuthError::Throttled { retry_after_secs } => {
            let mut resp = body(StatusCode::TOO_MANY_REQUESTS, ErrorBody::new("Throttled", msg));
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        AuthError::Internal(detail) => internal(&detail),
    }
}

fn seal_error(e: SealError) -> Response {
    let msg = e.to_string();
    let retry = match &e {
        SealError::Busy { retry_after_secs } | SealError::Throttled { retry_after_secs } => Some(*retry_after_secs),
        _ => None,
    };
    let (status, code) = match e {
        SealError::Store(inner) => return internal(&inner.to_string()),
        SealError::Internal(detail) => return internal(&detail),
        SealError::NotInitialized => (StatusCode::BAD_REQUEST, "NotInitialized"),
        SealError::AlreadyInitialized => (StatusCode::CONFLICT, "AlreadyInitialized"),
        SealError::WrongKey => (StatusCode::BAD_REQUEST, "WrongUnsealKey"),
        SealError::BadInput(_) => (StatusCode::BAD_REQUEST, "BadParameter"),
        SealError::BadShare(_) => (StatusCode::BAD_REQUEST, "BadShare"),
        SealError::SharesDoNotUnseal { .. } => (StatusCode::BAD_REQUEST, "WrongUnsealKey"),
        SealError::Busy { .. } | SealError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "Throttled"),
    };
    let mut resp = body(status, ErrorBody::new(code, msg));
    if let Some(secs) = retry {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

fn vault_error(e: VaultError) -> Response {
    let msg = e.to_string();
    match e {
        VaultError::BadParameter(_) | VaultError::BadBackup => {
            body(StatusCode::BAD_REQUEST, ErrorBody::new("BadParameter", msg))
        }
        VaultError::SecretNotFound { .. } | VaultError::DeletedSecretNotFound { .. } => {
            body(StatusCode::NOT_FOUND, ErrorBody::new("SecretNotFound", msg))
        }
        VaultError::KeyNotFound { .. } | VaultError::DeletedKeyNotFound { .. } => {
            body(StatusCode::NOT_FOUND, ErrorBody::new("KeyNotFound", msg))
        }
        VaultError::CertificateNotFound { .. } | VaultError::DeletedCertificateNotFound { .. } => {
            body(StatusCode::NOT_FOUND, ErrorBody::new("CertificateNotFound", msg))
        }
        VaultError::CertificateIssuerNotFound { .. } => {
            body(StatusCode::NOT_FOUND, ErrorBody::new("CertificateIssuerNotFound", msg))
        }
        VaultError::CertificateAlreadyExists { .. } => body(StatusCode::CONFLICT, ErrorBody::new("Conflict", msg)),
        VaultError::NameTaken { .. } => body(StatusCode::CONFLICT, ErrorBody::new("Conflict", msg)),
        VaultError::Managed { .. } => body(StatusCode::FORBIDDEN, ErrorBody::new("Forbidden", msg)),
        VaultError::ContactsNotFound => body(StatusCode::NOT_FOUND, ErrorBody::new("ContactsNotFound", msg)),
        VaultError::PendingCertificateNotFound { .. } => {
            body(StatusCode::NOT_FOUND, ErrorBody::new("PendingCertificateNotFound", msg))
        }
        VaultError::CertificateDeletedButRecoverable { .. } => body(
            StatusCode::CONFLICT,
            ErrorBody::new("Conflict", msg).with_inner("ObjectIsDeletedButRecoverable"),
        ),
        VaultError::KeyDeletedButRecoverable { .. } => body(
            StatusCode::CONFLICT,
            ErrorBody::new("Conflict", msg).with_inner("ObjectIsDeletedButRecoverable"),
        ),
        VaultError::KeyAlreadyExists { .. } => body(StatusCode::CONFLICT, ErrorBody::new("Conflict", msg)),
        VaultError::KeyOperationForbidden(_) => body(StatusCode::FORBIDDEN, ErrorBody::new("Forbidden", msg)),
        VaultError::VaultNotFound(_) => body(StatusCode::NOT_FOUND, ErrorBody::new("VaultNotFound", msg)),
        VaultError::DeletedButRecoverable { .. } => body(
            StatusCode::CONFLICT,
            ErrorBody::new("Conflict", msg).with_inner("ObjectIsDeletedButRecoverable"),
        ),
        VaultError::AlreadyExists { .. } => body(StatusCode::CONFLICT, ErrorBody::new("Conflict", msg)),
        VaultError::Disabled => body(StatusCode::FORBIDDEN, ErrorBody::new("Forbidden", msg)),
        VaultError::Forbidden { rbac, .. } => {
            let inner = if rbac { "ForbiddenByRbac" } else { "AccessDenied" };
            body(
                StatusCode::FORBIDDEN,
                ErrorBody::new("Forbidden", msg).with_inner(inner),
            )
        }
        VaultError::PurgeProtected => body(
            StatusCode::FORBIDDEN,
            ErrorBody::new("Forbidden", msg).with_inner("ForbiddenByPolicy"),
        ),
        VaultError::Integrity => internal("integrity check failed on a stored record"),
        VaultError::Internal(detail) => internal(&detail),
    }
}

fn arm_error(e: ArmError) -> Response {
    let msg = e.to_string();
    let (status, code) = match e {
        ArmError::AuthorizationFailed { .. } => (StatusCode::FORBIDDEN, "AuthorizationFailed"),
        ArmError::LinkedAuthorizationFailed { .. } => (StatusCode::FORBIDDEN, "LinkedAuthorizationFailed"),
        ArmError::ResourceGroupNotFound(_) => (StatusCode::NOT_FOUND, "ResourceGroupNotFound"),
        ArmError::ResourceNotFound { .. } => (StatusCode::NOT_FOUND, "ResourceNotFound"),
        ArmError::VaultAlreadyExists(_) => (StatusCode::CONFLICT, "VaultAlreadyExists"),
        ArmError::VaultDeletedConflict(_) => (StatusCode::CONFLICT, "ConflictError"),
        ArmError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
        ArmError::RoleAssignmentExists => (StatusCode::CONFLICT, "RoleAssignmentExists"),
        ArmError::RoleDefinitionDoesNotExist(_) => (StatusCode::BAD_REQUEST, "RoleDefinitionDoesNotExist"),
        ArmError::PurgeProtected(_) => (StatusCode::CONFLICT, "Conflict"),
        ArmError::Vault(inner) => return vault_error(inner),
        ArmError::Internal(detail) => return internal(&detail),
    };
    body(status, ErrorBody::new(code, msg))
}

/// Token-endpoint errors in Entra's shape, with the AADSTS code the Rust SDK insists on.
#[derive(Debug)]
pub struct OAuthError {
    pub error: AuthError,
    pub tenant: String,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let tenant = self.tenant;
        let (status, code, aadsts, description) = match &self.error {
            AuthError::UnknownTenant(t) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                format!("Tenant '{t}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
            ),
            AuthError::UnknownClient(id) => (
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                format!("Application with identifier '{id}' was not found in the directory '{tenant}'."),
            ),
            AuthError::InvalidSecret => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.".into(),
            ),
            AuthError::InvalidAssertion(why) => {
                (StatusCode::UNAUTHORIZED, "invalid_client", 700027, format!("Client assertion failed validation: {why}."))
            }
            AuthError::MissingCredential => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
            ),
            AuthError::Throttled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                50053,
                "Too many failed attempts for this client from this address. Try again later.".into(),
            ),
            AuthError::MissingParameter(p) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{p}'."),
            ),
            AuthError::UnsupportedGrant(g) => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{g}'."),
            ),
            AuthError::InvalidScope(s) => (
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                70011,
                format!("The provided value for the input parameter 'scope' is not valid. The scope {s} is not valid; client credentials need '<resource>/.default'."),
            ),
            AuthError::UnknownResource(r) => (
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                500011,
                format!("The resource principal named {r} was not found in the tenant named {tenant}."),
            ),
            AuthError::IdentityNotFound => (StatusCode::BAD_REQUEST, "invalid_request", 90002, "Identity not found.".into()),
            AuthError::InvalidAgent(why) => (StatusCode::UNAUTHORIZED, "invalid_client", 700027, format!("Agent authentication failed: {why}.")),
            AuthError::UnknownAgent => (StatusCode::UNAUTHORIZED, "invalid_client", 700027, "Agent authentication failed: unknown or already revoked agent.".into()),
            AuthError::BadParameter(why) => (StatusCode::BAD_REQUEST, "invalid_request", 900144, why.clone()),
            AuthError::NotAdmin(_) => (StatusCode::FORBIDDEN, "unauthorized_client", 700016, self.error.to_string()),
            AuthError::InvalidUserCredentials => (StatusCode::BAD_REQUEST, "invalid_grant", 50126, self.error.to_string()),
            AuthError::UserDisabled => (StatusCode::BAD_REQUEST, "invalid_grant", 50057, self.error.to_string()),
            AuthError::AuthorizationPending => (
                StatusCode::BAD_REQUEST,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.".into(),
            ),
            AuthError::ExpiredToken => (StatusCode::BAD_REQUEST, "expired_token", 70020, self.error.to_string()),
            AuthError::InvalidGrant(why) => (StatusCode::BAD_REQUEST, "invalid_grant", 70000, why.clone()),
            AuthError::Internal(detail) => {
                tracing::error!(detail, "token endpoint internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error", 90033, "An internal error occurred.".into())
            }
        };
        let trace_id = keyhold_crypto::random::guid();
        let body = OAuthErrorBody {
            error: code.into(),
            error_description: format!("AADSTS{aadsts}: {description} Trace ID: {trace_id}"),
            error_codes: vec![aadsts],
            timestamp: keyhold_core::clock::now_rfc3339(),
            correlation_id: keyhold_crypto::random::guid(),
            trace_id,
            error_uri: String::new(),
        };
        let mut resp = (status, Json(body)).into_response();
        if let AuthError::Throttled { retry_after_secs } = self.error {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        resp
    }
}

/// Managed-identity endpoint errors, in IMDS's `{"error","error_description"}` shape.
#[derive(Debug)]
pub enum MiError {
    BadRequest(String),
    /// An agent could not get a token from the server.
    Upstream(String),
    Unauthorized(String),
    NotFound,
    Auth(AuthError),
}

impl From<AuthError> for MiError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl MiError {
    /// Status, OAuth2 error code and description: the same for every protocol's body.
    fn classify(self) -> (StatusCode, &'static str, String) {
        match self {
            MiError::BadRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
            MiError::Unauthorized(d) => (StatusCode::UNAUTHORIZED, "invalid_request", d),
            MiError::Upstream(why) => {
                tracing::error!(why, "token from the server failed");
                (
                    StatusCode::BAD_GATEWAY,
                    "server_error",
                    "The keyhold server could not be reached or refused.".to_owned(),
                )
            }
            MiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "No such managed-identity endpoint.".to_owned(),
            ),
            MiError::Auth(e) => mi_auth_error(e),
        }
    }

    /// The answer on the App Service route: IMDS's fields plus App Service's `statusCode` and
    /// `message`, which MSAL Python's App Service path reads to tell the user what went wrong.
    pub fn into_app_service_response(self) -> Response {
        let (status, error, description) = self.classify();
        let body = AppServiceError {
            error: error.into(),
            error_description: description.clone(),
            status_code: status.as_u16(),
            message: description,
        };
        (status, Json(body)).into_response()
    }
}

/// Identity errors on the managed-identity protocols, as OAuth2 codes in IMDS's body. Exhaustive: a
/// refused credential is a 4xx, a throttle a 429, and only the server's own failure a 500 (with a
/// request id; the detail goes to the log).
fn mi_auth_error(e: AuthError) -> (StatusCode, &'static str, String) {
    let msg = e.to_string();
    match e {
        AuthError::IdentityNotFound => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found".to_owned(),
        ),
        AuthError::InvalidAgent(why) => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("Agent authentication failed: {why}."),
        ),
        AuthError::UnknownResource(r) => (
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            format!("AADSTS500011: The resource principal named {r} was not found in the tenant."),
        ),
        AuthError::UnknownAgent | AuthError::InvalidSecret | AuthError::InvalidAssertion(_) => {
            (StatusCode::UNAUTHORIZED, "invalid_client", msg)
        }
        AuthError::UnknownTenant(_)
        | AuthError::UnknownClient(_)
        | AuthError::MissingCredential
        | AuthError::MissingParameter(_)
        | AuthError::UnsupportedGrant(_)
        | AuthError::InvalidScope(_)
        | AuthError::BadParameter(_)
        | AuthError::InvalidUserCredentials
        | AuthError::UserDisabled
        | AuthError::AuthorizationPending
        | AuthError::ExpiredToken
        | AuthError::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_request", msg),
        AuthError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", msg),
        AuthError::NotAdmin(_) => (StatusCode::FORBIDDEN, "unauthorized_client", msg),
        AuthError::Internal(detail) => {
            let request_id = keyhold_crypto::random::guid();
            tracing::error!(%request_id, detail, "managed identity token failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("An internal error occurred. Request id: {request_id}"),
            )
        }
    }
}

impl IntoResponse for MiError {
    /// IMDS's body, exactly: `error` and `error_description`.
    fn into_response(self) -> Response {
        let (status, error, description) = self.classify();
        let body = ImdsError {
            error: error.into(),
            error_description: description,
        };
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    async fn parts(resp: Response) -> (StatusCode, Option<String>, serde_json::Value) {
        let status = resp.status();
        let retry = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        (status, retry, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_throttled_admin_request_is_429_with_retry_after_not_500() {
        let (status, retry, body) =
            parts(ApiError::from(AuthError::Throttled { retry_after_secs: 7 }).into_response()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("7"));
        assert_eq!(body["error"]["code"], "Throttled");
    }

    #[tokio::test]
    async fn a_store_failure_is_a_500_with_a_request_id_on_every_surface() {
        let store = || "storage: connection reset".to_owned();
        let responses = [
            ApiError::from(AuthError::Internal(store())).into_response(),
            ApiError::from(VaultError::Internal(store())).into_response(),
            ApiError::from(ArmError::Internal(store())).into_response(),
            ApiError::from(ArmError::from(VaultError::Internal(store()))).into_response(),
            ApiError::from(SealError::Internal(store())).into_response(),
            ApiError::Internal(store()).into_response(),
        ];
        for resp in responses {
            let (status, _, body) = parts(resp).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.starts_with("Internal error. Request id: "), "{message}");
            assert!(
                !message.contains("connection reset"),
                "details stay in the log: {message}"
            );
        }
        let (status, _, body) = parts(MiError::from(AuthError::Internal(store())).into_response()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains("Request id: "), "{description}");
        assert!(!description.contains("connection reset"), "{description}");
    }

    #[tokio::test]
    async fn agent_errors_keep_their_statuses() {
        let (status, _, _) = parts(ApiError::from(AuthError::UnknownAgent).into_response()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "revoking an unknown agent");
        let (status, _, _) =
            parts(ApiError::from(AuthError::UnknownResource("/subscriptions/x".into())).into_response()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a join token for a missing resource");
        let (status, _, body) =
            parts(MiError::from(AuthError::Throttled { retry_after_secs: 3 }).into_response()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }

    #[tokio::test]
    async fn an_arm_request_refused_by_a_data_plane_rule_keeps_its_status() {
        let (status, _, body) = parts(ApiError::from(ArmError::from(VaultError::PurgeProtected)).into_response()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _, body) =
            parts(ApiError::from(ArmError::from(VaultError::BadParameter("x".into()))).into_response()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "BadRequest");
    }
}
