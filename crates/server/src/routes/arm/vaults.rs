//! `Microsoft.KeyVault/vaults`: create or update, patch, read, list, delete (soft), access-policy edits,
//! deleted vaults, recover (`createMode: recover`) and purge.

use axum::http::{Method, StatusCode};
use keyhold_core::{
    authz::AccessPolicy,
    management::{PolicyEdit, VaultProperties, VaultSpec, bad_request},
    secrets::Tags,
};
use keyhold_store::VaultRecord;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ArmRequest, ArmResult, Target, iso, list, method_not_allowed, ok};
use crate::AppState;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VaultBody {
    location: Option<String>,
    tags: Option<Tags>,
    #[serde(default)]
    properties: PropsBody,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PropsBody {
    tenant_id: Option<String>,
    sku: Option<keyhold_core::management::Sku>,
    access_policies: Option<Vec<AccessPolicy>>,
    enable_rbac_authorization: Option<bool>,
    enable_soft_delete: Option<bool>,
    soft_delete_retention_in_days: Option<i64>,
    enable_purge_protection: Option<bool>,
    enabled_for_deployment: Option<bool>,
    enabled_for_disk_encryption: Option<bool>,
    enabled_for_template_deployment: Option<bool>,
    public_network_access: Option<String>,
    create_mode: Option<String>,
}

#[derive(Deserialize)]
struct PolicyBody {
    properties: PolicyProps,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyProps {
    access_policies: Vec<AccessPolicy>,
}

fn vault_uri(s: &AppState, name: &str) -> String {
    s.core.config.vault_uri(name)
}

pub(crate) fn vault_json(s: &AppState, v: &VaultRecord) -> Value {
    let p = VaultProperties::of(v);
    json!({
        "id": s.core.management.vault_id(&p.resource_group, &v.name),
        "name": v.name,
        "type": "Microsoft.KeyVault/vaults",
        "location": p.location,
        "tags": p.tags.clone().unwrap_or_default(),
        "systemData": {"createdAt": iso(v.created)},
        "properties": {
            "sku": p.sku,
            "tenantId": v.tenant_id,
            "accessPolicies": p.access_policies,
            "enabledForDeployment": p.enabled_for_deployment,
            "enabledForDiskEncryption": p.enabled_for_disk_encryption,
            "enabledForTemplateDeployment": p.enabled_for_template_deployment,
            "enableSoftDelete": true,
            "softDeleteRetentionInDays": v.retention_days,
            "enableRbacAuthorization": p.enable_rbac_authorization,
            "enablePurgeProtection": if v.purge_protection { Value::Bool(true) } else { Value::Null },
            "vaultUri": vault_uri(s, &v.name),
            "provisioningState": "Succeeded",
            "publicNetworkAccess": p.public_network_access.clone().unwrap_or_else(|| "Enabled".into()),
        },
    })
}

fn deleted_json(s: &AppState, v: &VaultRecord) -> Value {
    let p = VaultProperties::of(v);
    let m = &s.core.management;
    json!({
        "id": format!("{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}", m.subscription_scope(), p.location, v.name),
        "name": v.name,
        "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {
            "vaultId": m.vault_id(&p.resource_group, &v.name),
            "location": p.location,
            "deletionDate": v.deleted_at.map(iso),
            "scheduledPurgeDate": v.purge_at.map(iso),
            "tags": p.tags.clone().unwrap_or_default(),
            "purgeProtectionEnabled": v.purge_protection,
        },
    })
}

fn spec_of(body: VaultBody) -> VaultSpec {
    let p = body.properties;
    VaultSpec {
        location: body.location,
        tags: body.tags,
        tenant_id: p.tenant_id,
        sku: p.sku,
        enable_rbac_authorization: p.enable_rbac_authorization,
        access_policies: p.access_policies,
        soft_delete_retention_in_days: p.soft_delete_retention_in_days,
        enable_purge_protection: p.enable_purge_protection,
        enable_soft_delete: p.enable_soft_delete,
        enabled_for_deployment: p.enabled_for_deployment,
        enabled_for_disk_encryption: p.enabled_for_disk_encryption,
        enabled_for_template_deployment: p.enabled_for_template_deployment,
        public_network_access: p.public_network_access,
        create_mode: p.create_mode,
    }
}

pub(super) async fn handle(s: &AppState, req: &ArmRequest, target: &Target) -> ArmResult {
    let m = &s.core.management;
    let caller = &req.caller;
    match (target, &req.method) {
        (Target::Vaults { group }, &Method::GET) => list(
            m.vaults(caller, group.as_deref())
                .await?
                .iter()
                .map(|v| vault_json(s, v))
                .collect(),
        ),
        (Target::Vault { group, name }, method @ (&Method::PUT | &Method::PATCH)) => {
            let body: VaultBody = req.json()?;
            let patch = method == Method::PATCH;
            let (v, created) = m.put_vault(caller, group, name, spec_of(body), patch).await?;
            ok(
                if created { StatusCode::CREATED } else { StatusCode::OK },
                vault_json(s, &v),
            )
        }
        (Target::Vault { group, name }, &Method::GET) => {
            ok(StatusCode::OK, vault_json(s, &m.vault(caller, group, name).await?))
        }
        (Target::Vault { group, name }, &Method::DELETE) => {
            let deleted = m.delete_vault(caller, group, name).await?;
            ok(
                if deleted {
                    StatusCode::OK
                } else {
                    StatusCode::NO_CONTENT
                },
                Value::Null,
            )
        }
        (Target::AccessPolicies { group, name, kind }, &Method::PUT) => {
            let edit = match kind.as_str() {
                "add" => PolicyEdit::Add,
                "replace" => PolicyEdit::Replace,
                "remove" => PolicyEdit::Remove,
                other => {
                    return Err(bad_request(
                        "BadRequest",
                        format!("Unknown access policy operation '{other}': use add, replace or remove."),
                    )
                    .into());
                }
            };
            let body: PolicyBody = req.json()?;
            let policies = m
                .edit_policies(caller, group, name, edit, body.properties.access_policies)
                .await?;
            let id = format!("{}/accessPolicies/{kind}", m.vault_id(group, name));
            ok(
                StatusCode::OK,
                json!({"id": id, "name": kind, "type": "Microsoft.KeyVault/vaults/accessPolicies", "properties": {"accessPolicies": policies}}),
            )
        }
        (Target::DeletedVaults, &Method::GET) => list(
            m.deleted_vaults(caller)
                .await?
                .iter()
                .map(|v| deleted_json(s, v))
                .collect(),
        ),
        (Target::DeletedVault { name }, &Method::GET) => {
            ok(StatusCode::OK, deleted_json(s, &m.deleted_vault(caller, name).await?))
        }
        (Target::PurgeDeletedVault { name }, &Method::POST) => {
            m.purge_deleted_vault(caller, name).await?;
            ok(StatusCode::OK, Value::Null)
        }
        _ => method_not_allowed(req),
    }
}
