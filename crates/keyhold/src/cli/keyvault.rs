//! `keyhold keyvault ...`: vaults through the ARM management plane, their access policies, and (in
//! `secret`) the secrets of the data plane.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use keyhold_core::authz::{CERTIFICATE_PERMISSIONS, KEY_PERMISSIONS, SECRET_PERMISSIONS};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    arm::{self, VAULTS, call},
    output::OutputArgs,
    secret,
    session::{Conn, Session},
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold keyvault create --name myvault --resource-group myRG --location \"West US\"\n  keyhold keyvault set-policy --name myvault --object-id OID --secret-permissions get list\n  keyhold keyvault secret set --vault-name myvault --name AppSecret --value MySecret"
)]
pub struct KeyvaultArgs {
    #[command(subcommand)]
    command: KeyvaultCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Args)]
struct VaultRef {
    /// The vault's name.
    #[arg(long, short = 'n')]
    name: String,
    /// Its resource group (found by name when omitted).
    #[arg(long, short = 'g')]
    resource_group: Option<String>,
}

#[derive(Debug, Subcommand)]
enum KeyvaultCommand {
    /// Create a vault. Without --enable-rbac-authorization it gets an access policy giving you every
    /// secret, key and certificate permission.
    #[command(after_help = "Examples:
  keyhold keyvault create --name myvault --resource-group myRG --location \"West US\"
  keyhold keyvault create -n myvault -g myRG --enable-rbac-authorization true --retention-days 7")]
    Create {
        #[arg(long, short = 'n')]
        name: String,
        #[arg(long, short = 'g')]
        resource_group: String,
        /// Default: the resource group's.
        #[arg(long, short = 'l')]
        location: Option<String>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        enable_rbac_authorization: Option<bool>,
        #[arg(long)]
        retention_days: Option<i64>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        enable_purge_protection: Option<bool>,
        /// standard or premium.
        #[arg(long, default_value = "standard")]
        sku: String,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
    },
    /// List vaults (of one resource group with -g).
    #[command(after_help = "Example:\n  keyhold keyvault list -g myRG --query [].name -o tsv")]
    List {
        #[arg(long, short = 'g')]
        resource_group: Option<String>,
    },
    /// Show a vault.
    #[command(after_help = "Example:\n  keyhold keyvault show --name myvault --query properties.vaultUri")]
    Show(VaultRef),
    /// Change a vault's properties.
    #[command(after_help = "Example:\n  keyhold keyvault update --name myvault --enable-purge-protection true")]
    Update {
        #[command(flatten)]
        vault: VaultRef,
        #[arg(long)]
        enable_rbac_authorization: Option<bool>,
        #[arg(long)]
        retention_days: Option<i64>,
        #[arg(long)]
        enable_purge_protection: Option<bool>,
    },
    /// Delete a vault (soft delete: it can be recovered until its retention ends).
    #[command(after_help = "Example:\n  keyhold keyvault delete --name myvault")]
    Delete(VaultRef),
    /// Permanently delete a deleted vault.
    #[command(after_help = "Example:\n  keyhold keyvault purge --name myvault")]
    Purge {
        #[arg(long, short = 'n')]
        name: String,
        #[arg(long, short = 'l')]
        location: Option<String>,
    },
    /// Recover a deleted vault.
    #[command(after_help = "Example:\n  keyhold keyvault recover --name myvault")]
    Recover {
        #[arg(long, short = 'n')]
        name: String,
        #[arg(long, short = 'g')]
        resource_group: Option<String>,
        #[arg(long, short = 'l')]
        location: Option<String>,
    },
    /// List deleted vaults.
    #[command(after_help = "Example:\n  keyhold keyvault list-deleted -o table")]
    ListDeleted,
    /// Grant a principal permissions (replaces its permissions of the kinds given).
    #[command(after_help = "Examples:
  keyhold keyvault set-policy --name myvault --object-id OID --secret-permissions get list
  keyhold keyvault set-policy --name myvault --spn APP_ID --secret-permissions get")]
    SetPolicy {
        #[command(flatten)]
        vault: VaultRef,
        #[command(flatten)]
        who: Principal,
        #[arg(long, num_args = 1..)]
        secret_permissions: Option<Vec<String>>,
        #[arg(long, num_args = 1..)]
        key_permissions: Option<Vec<String>>,
        #[arg(long, num_args = 1..)]
        certificate_permissions: Option<Vec<String>>,
    },
    /// Remove a principal's access policy.
    #[command(after_help = "Example:\n  keyhold keyvault delete-policy --name myvault --object-id OID")]
    DeletePolicy {
        #[command(flatten)]
        vault: VaultRef,
        #[command(flatten)]
        who: Principal,
    },
    /// Secrets of a vault (data plane).
    #[command(
        after_help = "Examples:\n  keyhold keyvault secret set --vault-name myvault --name AppSecret --value MySecret\n  keyhold keyvault secret show --vault-name myvault --name AppSecret"
    )]
    Secret(secret::SecretArgs),
    /// Keys of a vault (data plane): create, manage, and cryptographic operations.
    #[command(
        after_help = "Examples:\n  keyhold keyvault key create --vault-name myvault --name mykey --kty RSA --size 2048\n  keyhold keyvault key sign --vault-name myvault --name mykey --algorithm RS256 --digest BASE64"
    )]
    Key(super::key::KeyArgs),
    /// Certificates of a vault (data plane): create (self-signed, keyhold's CA, or signed
    /// elsewhere and merged), import, download, contacts and issuers.
    #[command(
        after_help = "Examples:\n  keyhold keyvault certificate create --vault-name myvault --name web --policy \"$(keyhold keyvault certificate get-default-policy)\"\n  keyhold keyvault certificate download --vault-name myvault --name web --file web.pem"
    )]
    Certificate(super::certificate::CertificateArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Principal {
    /// The principal's object id.
    #[arg(long)]
    object_id: Option<String>,
    /// A service principal's app id (or object id).
    #[arg(long)]
    spn: Option<String>,
    /// A user principal name (`alice@contoso.example`).
    #[arg(long)]
    upn: Option<String>,
}

pub async fn run(args: KeyvaultArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let s = args.conn.session()?;
    let result = match args.command {
        KeyvaultCommand::Secret(a) => return secret::run(&s, a, out).await,
        KeyvaultCommand::Key(a) => return super::key::run(&s, a, out).await,
        KeyvaultCommand::Certificate(a) => return super::certificate::run(&s, a, out).await,
        KeyvaultCommand::Create {
            name,
            resource_group,
            location,
            enable_rbac_authorization,
            retention_days,
            enable_purge_protection,
            sku,
            tags,
        } => {
            let location = match location {
                Some(l) => arm::location(&l),
                None => arm::group_location(&s, &resource_group).await?,
            };
            let rbac = enable_rbac_authorization.unwrap_or(false);
            let policies = if rbac {
                json!([])
            } else {
                json!([{
                    "tenantId": s.profile.tenant_id,
                    "objectId": s.object_id().await?,
                    "permissions": {
                        "secrets": all(SECRET_PERMISSIONS),
                        "keys": all(KEY_PERMISSIONS),
                        "certificates": all(CERTIFICATE_PERMISSIONS),
                    }
                }])
            };
            let mut props = json!({
                "tenantId": s.profile.tenant_id,
                "sku": {"family": "A", "name": sku},
                "accessPolicies": policies,
                "enableRbacAuthorization": rbac,
            });
            if let Some(d) = retention_days {
                props["softDeleteRetentionInDays"] = json!(d);
            }
            if let Some(p) = enable_purge_protection {
                props["enablePurgeProtection"] = json!(p);
            }
            let body = json!({"location": location, "tags": arm::tags(&tags), "properties": props});
            let path = arm::resource_path(&s, &resource_group, VAULTS, &name).await?;
            call(&s, Method::PUT, &path, Some(&body)).await?
        }
        KeyvaultCommand::List { resource_group } => {
            let path = match resource_group {
                Some(g) => format!("{}/providers/{VAULTS}", arm::group_path(&s, &g).await?),
                None => format!("{}/providers/{VAULTS}", arm::sub(&s).await?),
            };
            Value::Array(arm::items(call(&s, Method::GET, &path, None).await?))
        }
        KeyvaultCommand::Show(v) => find(&s, &v).await?,
        KeyvaultCommand::Update {
            vault,
            enable_rbac_authorization,
            retention_days,
            enable_purge_protection,
        } => {
            let found = find(&s, &vault).await?;
            let mut props = json!({});
            if let Some(r) = enable_rbac_authorization {
                props["enableRbacAuthorization"] = json!(r);
            }
            if let Some(d) = retention_days {
                props["softDeleteRetentionInDays"] = json!(d);
            }
            if let Some(p) = enable_purge_protection {
                props["enablePurgeProtection"] = json!(p);
            }
            call(&s, Method::PATCH, id(&found)?, Some(&json!({"properties": props}))).await?
        }
        KeyvaultCommand::Delete(v) => {
            let found = find(&s, &v).await?;
            call(&s, Method::DELETE, id(&found)?, None).await?
        }
        KeyvaultCommand::ListDeleted => Value::Array(arm::items(
            call(
                &s,
                Method::GET,
                &format!("{}/providers/Microsoft.KeyVault/deletedVaults", arm::sub(&s).await?),
                None,
            )
            .await?,
        )),
        KeyvaultCommand::Purge { name, location } => {
            let location = match location {
                Some(l) => arm::location(&l),
                None => deleted(&s, &name).await?["properties"]["location"]
                    .as_str()
                    .unwrap_or("westus")
                    .to_owned(),
            };
            let path = format!(
                "{}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}/purge",
                arm::sub(&s).await?
            );
            call(&s, Method::POST, &path, None).await?
        }
        KeyvaultCommand::Recover {
            name,
            resource_group,
            location,
        } => {
            let d = deleted(&s, &name).await?;
            let group = match resource_group {
                Some(g) => g,
                None => d["properties"]["vaultId"]
                    .as_str()
                    .and_then(arm::group_of)
                    .context("cannot tell the deleted vault's resource group: pass --resource-group")?,
            };
            let location = location
                .map(|l| arm::location(&l))
                .or_else(|| d["properties"]["location"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "westus".into());
            let body = json!({"location": location, "properties": {"tenantId": s.profile.tenant_id, "sku": {"family": "A", "name": "standard"}, "createMode": "recover"}});
            call(
                &s,
                Method::PUT,
                &arm::resource_path(&s, &group, VAULTS, &name).await?,
                Some(&body),
            )
            .await?
        }
        KeyvaultCommand::SetPolicy {
            vault,
            who,
            secret_permissions,
            key_permissions,
            certificate_permissions,
        } => {
            let found = find(&s, &vault).await?;
            let oid = object_id(&s, &who).await?;
            let existing = found["properties"]["accessPolicies"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["objectId"].as_str() == Some(oid.as_str())))
                .map(|p| p["permissions"].clone())
                .unwrap_or_else(|| json!({}));
            let pick = |given: Option<Vec<String>>, kind: &str| match given {
                Some(list) => json!(list.iter().map(|p| p.to_ascii_lowercase()).collect::<Vec<_>>()),
                None => existing.get(kind).cloned().unwrap_or_else(|| json!([])),
            };
            let permissions = json!({
                "secrets": pick(secret_permissions, "secrets"),
                "keys": pick(key_permissions, "keys"),
                "certificates": pick(certificate_permissions, "certificates"),
            });
            edit_policy(&s, &found, "replace", &oid, permissions).await?
        }
        KeyvaultCommand::DeletePolicy { vault, who } => {
            let found = find(&s, &vault).await?;
            let oid = object_id(&s, &who).await?;
            edit_policy(&s, &found, "remove", &oid, json!({})).await?
        }
    };
    out.print(result)
}

fn all(perms: &[&str]) -> Vec<String> {
    perms.iter().filter(|p| **p != "all").map(|p| p.to_string()).collect()
}

fn id(v: &Value) -> anyhow::Result<&str> {
    v["id"].as_str().context("the server's answer has no id")
}

async fn find(s: &Session, v: &VaultRef) -> anyhow::Result<Value> {
    arm::find(s, VAULTS, &v.name, v.resource_group.as_deref()).await
}

async fn deleted(s: &Session, name: &str) -> anyhow::Result<Value> {
    let all = arm::items(
        call(
            s,
            Method::GET,
            &format!("{}/providers/Microsoft.KeyVault/deletedVaults", arm::sub(s).await?),
            None,
        )
        .await?,
    );
    all.into_iter()
        .find(|v| v["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .ok_or_else(|| {
            anyhow::Error::new(super::rest::HttpError {
                status: 404,
                code: Some("ResourceNotFound".into()),
                message: format!("No deleted vault named '{name}' was found."),
                challenge_resource: None,
            })
        })
}

/// The object id of `--object-id`, `--spn` (an app id, resolved through the server) or `--upn`.
async fn object_id(s: &Session, who: &Principal) -> anyhow::Result<String> {
    if let Some(o) = &who.object_id {
        return Ok(o.clone());
    }
    if let Some(spn) = &who.spn {
        return super::principal::resolve_object_id(s, spn).await;
    }
    if let Some(upn) = &who.upn {
        return super::principal::user_object_id(s, upn).await;
    }
    bail!("give --object-id, --spn or --upn")
}

/// `accessPolicies/{add|replace|remove}` for one principal; prints the vault as az does.
async fn edit_policy(s: &Session, vault: &Value, kind: &str, oid: &str, permissions: Value) -> anyhow::Result<Value> {
    let body = json!({"properties": {"accessPolicies": [{
        "tenantId": s.profile.tenant_id,
        "objectId": oid,
        "permissions": permissions,
    }]}});
    let vault_id = id(vault)?;
    call(
        s,
        Method::PUT,
        &format!("{vault_id}/accessPolicies/{kind}"),
        Some(&body),
    )
    .await?;
    call(s, Method::GET, vault_id, None).await
}
