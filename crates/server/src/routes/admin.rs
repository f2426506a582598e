//! keyhold's own admin API, for the admin principal only: vaults (kept for the tools that predate the
//! ARM management plane), service principals, certificates and signing-key rotation. Each handler is
//! one domain call; the rules (who may, what is valid) live in core.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use keyhold_proto::admin::{
    AdminVault, CertificateBody, CreatedServicePrincipal, NewServicePrincipalBody, ResetCredential, RotatedSigningKey,
    ServicePrincipal, Thumbprint, ValueList, VaultBody,
};
use keyhold_store::{PrincipalRecord, VaultRecord};
use secrecy::ExposeSecret;

use crate::{
    AppState,
    audit::Routes,
    error::ApiError,
    extract::{AdminCaller, KvJson},
    routes::arm::vault_json,
};

pub fn routes() -> Routes<AppState> {
    const SP: &str = "/keyhold/v1/servicePrincipals/{id}";
    Routes::new()
        .put("/keyhold/v1/vaults/{name}", "VaultWrite", put_vault)
        .get("/keyhold/v1/vaults/{name}", "VaultRead", get_vault)
        .post("/keyhold/v1/servicePrincipals", "ServicePrincipalCreate", create_sp)
        .get("/keyhold/v1/servicePrincipals", "ServicePrincipalList", list_sps)
        .get(SP, "ServicePrincipalRead", show_sp)
        .delete(SP, "ServicePrincipalDelete", delete_sp)
        .post(
            "/keyhold/v1/servicePrincipals/{id}/credentials/reset",
            "ServicePrincipalCredentialReset",
            reset_sp_credential,
        )
        .post(
            "/keyhold/v1/servicePrincipals/{app_id}/certificates",
            "ServicePrincipalCertificateAdd",
            add_certificate,
        )
        .post("/keyhold/v1/signingKeys/rotate", "SigningKeyRotate", rotate)
}

/// Creates (or updates) a vault; a new one grants its creator every secret permission.
async fn put_vault(
    admin: AdminCaller,
    State(s): State<AppState>,
    Path(name): Path<String>,
    KvJson(body): KvJson<VaultBody>,
) -> Result<Json<AdminVault>, ApiError> {
    let vault = s
        .core
        .management
        .put_admin_vault(
            &admin.caller(),
            &name,
            body.soft_delete_retention_in_days,
            body.enable_purge_protection,
        )
        .await?;
    Ok(Json(admin_vault(&s, &vault)))
}

async fn get_vault(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<AdminVault>, ApiError> {
    let vault = s.core.vaults.get(&name).await?.ok_or_else(|| ApiError::NotFound {
        message: format!("Vault '{name}' was not found."),
    })?;
    Ok(Json(admin_vault(&s, &vault)))
}

async fn create_sp(
    _: AdminCaller,
    State(s): State<AppState>,
    KvJson(body): KvJson<NewServicePrincipalBody>,
) -> Result<Json<CreatedServicePrincipal>, ApiError> {
    let sp = s.core.identity.create_service_principal(&body.display_name).await?;
    Ok(Json(CreatedServicePrincipal {
        password: sp.password.expose_secret().to_owned(),
        app_id: sp.app_id,
        display_name: sp.display_name,
        tenant: sp.tenant,
        object_id: sp.object_id,
    }))
}

async fn list_sps(_: AdminCaller, State(s): State<AppState>) -> Result<Json<ValueList<ServicePrincipal>>, ApiError> {
    let all = s.core.identity.service_principals().await?;
    Ok(Json(ValueList {
        value: all.iter().map(service_principal).collect(),
    }))
}

async fn show_sp(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ServicePrincipal>, ApiError> {
    let p = s.core.identity.service_principal(&id).await?;
    Ok(Json(service_principal(&p)))
}

async fn delete_sp(
    admin: AdminCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core
        .identity
        .delete_service_principal(&admin.caller().oid, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `az ad sp credential reset`: one new secret, every old one removed.
async fn reset_sp_credential(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ResetCredential>, ApiError> {
    let sp = s.core.identity.reset_client_secret(&id).await?;
    Ok(Json(ResetCredential {
        password: sp.password.expose_secret().to_owned(),
        app_id: sp.app_id,
        tenant: sp.tenant,
    }))
}

async fn add_certificate(
    _: AdminCaller,
    State(s): State<AppState>,
    Path(app_id): Path<String>,
    KvJson(body): KvJson<CertificateBody>,
) -> Result<Json<Thumbprint>, ApiError> {
    let thumbprint = s
        .core
        .identity
        .add_certificate(&app_id, body.certificate.as_bytes())
        .await?;
    Ok(Json(Thumbprint { thumbprint }))
}

async fn rotate(_: AdminCaller, State(s): State<AppState>) -> Result<Json<RotatedSigningKey>, ApiError> {
    let kid = s.core.identity.rotate_signing_key().await?;
    Ok(Json(RotatedSigningKey { kid }))
}

/// The admin API's vault body: the ARM vault body, projected.
fn admin_vault(s: &AppState, v: &VaultRecord) -> AdminVault {
    AdminVault::from(&vault_json(s, v))
}

/// A service principal in `az ad sp show`'s shape (the Graph object).
fn service_principal(p: &PrincipalRecord) -> ServicePrincipal {
    let app_id = p.app_id.clone().unwrap_or_default();
    ServicePrincipal {
        id: p.object_id.clone(),
        service_principal_names: vec![app_id.clone()],
        app_id,
        display_name: p.display_name.clone(),
        app_owner_organization_id: p.tenant_id.clone(),
        service_principal_type: "Application".into(),
        account_enabled: true,
    }
}
