//! OpenID discovery and JWKS. Endpoints in the documents are built from the origin the client used
//! when it is one of ours (msal-node insists that the issuer shares scheme and host:port with the
//! authority), and from `--public-url` otherwise: a forged `Host` must not redirect a client.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::request::Parts,
    routing::get,
};
use keyhold_proto::entra::{Jwks, OpenIdConfiguration};

use crate::{AppState, error::ApiError, extract::own_origin};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(v2))
        .route("/{tenant}/.well-known/openid-configuration", get(v1))
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/{tenant}/discovery/keys", get(keys))
}

fn tenant_or_404(s: &AppState, tenant: &str) -> Result<(), ApiError> {
    if tenant.eq_ignore_ascii_case("common") || tenant.eq_ignore_ascii_case("organizations") {
        return Ok(());
    }
    s.core.identity.resolve_tenant(tenant).map(drop).map_err(ApiError::from)
}

fn document(s: &AppState, origin: &str, segment: &str, issuer: String) -> OpenIdConfiguration {
    let tid = &s.core.tenant_id;
    OpenIdConfiguration {
        issuer,
        authorization_endpoint: format!("{origin}/{segment}/oauth2/v2.0/authorize"),
        token_endpoint: format!("{origin}/{segment}/oauth2/v2.0/token"),
        jwks_uri: format!("{origin}/{tid}/discovery/v2.0/keys"),
        device_authorization_endpoint: format!("{origin}/{segment}/oauth2/v2.0/devicecode"),
        end_session_endpoint: format!("{origin}/{segment}/oauth2/v2.0/logout"),
        response_types_supported: vec!["code".into(), "token".into()],
        subject_types_supported: vec!["pairwise".into()],
        id_token_signing_alg_values_supported: vec!["RS256".into()],
        token_endpoint_auth_methods_supported: vec!["client_secret_post".into(), "private_key_jwt".into()],
        grant_types_supported: vec![
            "client_credentials".into(),
            "urn:ietf:params:oauth:grant-type:device_code".into(),
            "authorization_code".into(),
            "refresh_token".into(),
        ],
        tenant_region_scope: None,
    }
}

async fn v2(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    parts: Parts,
) -> Result<Json<OpenIdConfiguration>, ApiError> {
    tenant_or_404(&s, &tenant)?;
    let origin = own_origin(&parts, &s.core.config);
    let issuer = format!("{origin}/{}/v2.0", s.core.tenant_id);
    Ok(Json(document(&s, &origin, &tenant, issuer)))
}

/// The v1 document, and `/adfs/.well-known/openid-configuration`, which MSAL fetches when the
/// tenant is `adfs`.
async fn v1(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    parts: Parts,
) -> Result<Json<OpenIdConfiguration>, ApiError> {
    tenant_or_404(&s, &tenant)?;
    let origin = own_origin(&parts, &s.core.config);
    let issuer = if tenant.eq_ignore_ascii_case("adfs") {
        format!("{origin}/adfs")
    } else {
        format!("{origin}/{}/", s.core.tenant_id)
    };
    Ok(Json(document(&s, &origin, &tenant, issuer)))
}

async fn keys(State(s): State<AppState>, Path(tenant): Path<String>) -> Result<Json<Jwks>, ApiError> {
    tenant_or_404(&s, &tenant)?;
    Ok(Json(Jwks {
        keys: s.core.identity.jwks().await,
    }))
}
