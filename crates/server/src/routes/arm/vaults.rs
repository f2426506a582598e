//! `Microsoft.KeyVault/vaults`: create or update, patch, read, list, delete (soft), access-policy edits,
//! deleted vaults, recover (`createMode: recover`) and purge.

use axum::http::{Method, StatusCode};
use keyhold_core::{
    authz::AccessPolicy,
    management::{PolicyEdit, Sku, VaultProperties, VaultSpec, bad_request},
};
use keyhold_proto::arm;
use keyhold_store::VaultRecord;
use serde_json::Value;

/// ARM's type of a vault.
const VAULTS: &str = "Microsoft.KeyVault/vaults";

use super::{ArmRequest, ArmResult, Target, iso, list, method_not_allowed, ok};
use crate::AppState;

fn vault_uri(s: &AppState, name: &str) -> String {
    s.core.config.vault_uri(name)
}

pub(crate) fn vault_json(s: &AppState, v: &VaultRecord) -> arm::Vault<AccessPolicy> {
    let p = VaultProperties::of(v);
    arm::Vault {
        id: s.core.management.vault_id(&p.resource_group, &v.name),
        name: v.name.clone(),
        kind: VAULTS.into(),
        location: p.location,
        tags: p.tags.unwrap_or_default(),
        system_data: arm::SystemData {
            created_at: iso(v.created),
        },
        properties: arm::VaultProperties {
            sku: arm::VaultSku {
                family: p.sku.family,
                name: p.sku.name,
            },
            tenant_id: v.tenant_id.clone(),
            access_policies: p.access_policies,
            enabled_for_deployment: p.enabled_for_deployment,
            enabled_for_disk_encryption: p.enabled_for_disk_encryption,
            enabled_for_template_deployment: p.enabled_for_template_deployment,
            enable_soft_delete: true,
            soft_delete_retention_in_days: v.retention_days,
            enable_rbac_authorization: p.enable_rbac_authorization,
            enable_purge_protection: v.purge_protection.then_some(true),
            vault_uri: vault_uri(s, &v.name),
            provisioning_state: "Succeeded".into(),
            public_network_access: p.public_network_access.unwrap_or_else(|| "Enabled".into()),
        },
    }
}

fn deleted_json(s: &AppState, v: &VaultRecord) -> arm::DeletedVault {
    let p = VaultProperties::of(v);
    let m = &s.core.management;
    arm::DeletedVault {
        id: format!(
            "{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}",
            m.subscription_scope(),
            p.location,
            v.name
        ),
        name: v.name.clone(),
        kind: "Microsoft.KeyVault/deletedVaults".into(),
        properties: arm::DeletedVaultProperties {
            vault_id: m.vault_id(&p.resource_group, &v.name),
            location: p.location,
            deletion_date: v.deleted_at.map(iso),
            scheduled_purge_date: v.purge_at.map(iso),
            tags: p.tags.unwrap_or_default(),
            purge_protection_enabled: v.purge_protection,
        },
    }
}

fn spec_of(body: arm::VaultWrite<AccessPolicy>) -> VaultSpec {
    let p = body.properties;
    VaultSpec {
        location: body.location,
        tags: body.tags,
        tenant_id: p.tenant_id,
        sku: p.sku.map(|sku| Sku {
            family: sku.family,
            name: sku.name,
        }),
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
            let body: arm::VaultWrite<AccessPolicy> = req.json()?;
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
            let body: arm::VaultAccessPolicyEdit<AccessPolicy> = req.json()?;
            let policies = m
                .edit_policies(caller, group, name, edit, body.properties.access_policies)
                .await?;
            let id = format!("{}/accessPolicies/{kind}", m.vault_id(group, name));
            ok(
                StatusCode::OK,
                arm::VaultAccessPolicies {
                    id,
                    name: kind.clone(),
                    kind: "Microsoft.KeyVault/vaults/accessPolicies".into(),
                    properties: arm::AccessPolicyList {
                        access_policies: policies,
                    },
                },
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
