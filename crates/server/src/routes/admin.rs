//! keyhold's own admin API, for the admin principal only: vaults (until the ARM management plane
//! lands), service principals, certificates and signing-key rotation.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{get, post, put},
};
use keyhold_core::{
    authz::{AccessPolicy, Permissions, SECRET_PERMISSIONS},
    management::{PolicyEdit, VaultSpec},
};
use keyhold_store::VaultRecord;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    error::{ApiError, bad_parameter},
    extract::{AdminCaller, KvJson},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/keyhold/v1/vaults/{name}", put(put_vault).get(get_vault))
        .route("/keyhold/v1/servicePrincipals", post(create_sp).get(list_sps))
        .route("/keyhold/v1/servicePrincipals/{id}", get(show_sp).delete(delete_sp))
        .route(
            "/keyhold/v1/servicePrincipals/{id}/credentials/reset",
            post(reset_sp_credential),
        )
        .route(
            "/keyhold/v1/servicePrincipals/{app_id}/certificates",
            post(add_certificate),
        )
        .route("/keyhold/v1/signingKeys/rotate", post(rotate))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VaultBody {
    soft_delete_retention_in_days: Option<i64>,
    enable_purge_protection: Option<bool>,
}

fn vault_json(s: &AppState, v: &VaultRecord) -> Value {
    let host = s.core.config.vault_resource.trim_start_matches("https://");
    let uri = format!("https://{}.{host}/", v.name);
    json!({
        "name": v.name,
        "vaultUri": uri,
        "properties": {
            "tenantId": v.tenant_id,
            "vaultUri": uri,
            "enableSoftDelete": true,
            "softDeleteRetentionInDays": v.retention_days,
            "enablePurgeProtection": v.purge_protection,
        }
    })
}

/// The resource group of vaults made through this API.
pub const ADMIN_GROUP: &str = "keyhold";

/// Creates (or updates) a vault in resource group `keyhold`, with an access policy granting its creator
/// every secret permission, as `az keyvault create` does.
async fn put_vault(
    admin: AdminCaller,
    State(s): State<AppState>,
    Path(name): Path<String>,
    KvJson(body): KvJson<VaultBody>,
) -> Result<Json<Value>, ApiError> {
    let caller = admin.caller();
    let m = &s.core.management;
    m.put_group(&caller, ADMIN_GROUP, "local", None).await?;
    let spec = VaultSpec {
        soft_delete_retention_in_days: body.soft_delete_retention_in_days,
        enable_purge_protection: body.enable_purge_protection,
        ..Default::default()
    };
    let (vault, created) = m.put_vault(&caller, ADMIN_GROUP, &name, spec, false).await?;
    if created {
        let everything: Vec<String> = SECRET_PERMISSIONS
            .iter()
            .filter(|p| **p != "all")
            .map(|p| p.to_string())
            .collect();
        let policy = AccessPolicy {
            tenant_id: caller.tenant.clone(),
            object_id: caller.oid.clone(),
            application_id: None,
            permissions: Permissions {
                secrets: everything,
                keys: keyhold_core::authz::KEY_PERMISSIONS
                    .iter()
                    .filter(|p| **p != "all")
                    .map(|p| p.to_string())
                    .collect(),
                ..Default::default()
            },
        };
        m.edit_policies(&caller, ADMIN_GROUP, &vault.name, PolicyEdit::Add, vec![policy])
            .await?;
    }
    Ok(Json(vault_json(&s, &vault)))
}

async fn get_vault(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let vault = s.core.vaults.get(&name).await?.ok_or_else(|| ApiError::NotFound {
        message: format!("Vault '{name}' was not found."),
    })?;
    Ok(Json(vault_json(&s, &vault)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpBody {
    display_name: String,
}

async fn create_sp(
    _: AdminCaller,
    State(s): State<AppState>,
    KvJson(body): KvJson<SpBody>,
) -> Result<Json<Value>, ApiError> {
    if body.display_name.trim().is_empty() || body.display_name.len() > 256 {
        return Err(bad_parameter("displayName must be 1-256 characters."));
    }
    let sp = s
        .core
        .identity
        .create_service_principal(&body.display_name)
        .await
        .map_err(auth_to_api)?;
    Ok(Json(json!({
        "appId": sp.app_id,
        "displayName": sp.display_name,
        "password": sp.password.expose_secret(),
        "tenant": sp.tenant,
        "objectId": sp.object_id,
    })))
}

/// A service principal in `az ad sp show`'s shape (the Graph object).
fn sp_json(p: &keyhold_store::PrincipalRecord) -> Value {
    let app_id = p.app_id.clone().unwrap_or_default();
    json!({
        "id": p.object_id,
        "appId": app_id,
        "displayName": p.display_name,
        "appOwnerOrganizationId": p.tenant_id,
        "servicePrincipalNames": [app_id],
        "servicePrincipalType": "Application",
        "accountEnabled": true,
    })
}

async fn list_sps(_: AdminCaller, State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let all = s.core.identity.service_principals().await.map_err(auth_to_api)?;
    Ok(Json(json!({ "value": all.iter().map(sp_json).collect::<Vec<_>>() })))
}

async fn show_sp(_: AdminCaller, State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let p = s.core.identity.service_principal(&id).await.map_err(auth_to_api)?;
    Ok(Json(sp_json(&p)))
}

async fn delete_sp(
    admin: AdminCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    let p = s.core.identity.service_principal(&id).await.map_err(auth_to_api)?;
    if p.object_id == admin.caller().oid {
        return Err(bad_parameter("The admin principal cannot delete itself."));
    }
    s.core
        .identity
        .delete_service_principal(&id)
        .await
        .map_err(auth_to_api)?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `az ad sp credential reset`: one new secret, every old one removed.
async fn reset_sp_credential(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sp = s.core.identity.reset_client_secret(&id).await.map_err(auth_to_api)?;
    Ok(Json(json!({
        "appId": sp.app_id,
        "password": sp.password.expose_secret(),
        "tenant": sp.tenant,
    })))
}

#[derive(Deserialize)]
struct CertBody {
    certificate: String,
}

async fn add_certificate(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(app_id): Path<String>,
    KvJson(body): KvJson<CertBody>,
) -> Result<Json<Value>, ApiError> {
    let thumbprint = s
        .core
        .identity
        .add_certificate(&app_id, body.certificate.as_bytes())
        .await
        .map_err(auth_to_api)?;
    Ok(Json(json!({ "thumbprint": thumbprint })))
}

async fn rotate(_: AdminCaller, State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let kid = s.core.identity.rotate_signing_key().await.map_err(auth_to_api)?;
    Ok(Json(json!({ "kid": kid })))
}

fn auth_to_api(e: keyhold_core::AuthError) -> ApiError {
    use keyhold_core::{AuthError, VaultError};
    match e {
        AuthError::UnknownClient(id) => ApiError::NotFound {
            message: format!("Service principal '{id}' was not found."),
        },
        AuthError::InvalidAssertion(why) => bad_parameter(why),
        other => ApiError::Vault(VaultError::Internal(other.to_string())),
    }
}
