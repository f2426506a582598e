//! `keyhold vm ...`: `Microsoft.Compute/virtualMachines` records (keyhold runs no machines; a VM is
//! the holder of managed identities) and their identities.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{
    arm::{self, IDENTITIES, VMS, call},
    output::OutputArgs,
    session::{Conn, Session},
};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyhold vm create -g myRG -n myVM --image UbuntuLTS --admin-username azureuser --generate-ssh-keys\n  keyhold vm identity assign -g myRG -n myVM\n  keyhold vm show -g myRG -n myVM --query identity.principalId -o tsv"
)]
pub struct VmArgs {
    #[command(subcommand)]
    command: VmCommand,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Args)]
struct VmRef {
    #[arg(long, short = 'n')]
    name: String,
    #[arg(long, short = 'g')]
    resource_group: String,
}

#[derive(Debug, Args)]
struct IdentityChange {
    #[command(flatten)]
    vm: VmRef,
    /// `[system]` and/or user-assigned identity ids or names (default: [system]).
    #[arg(long, num_args = 1..)]
    identities: Vec<String>,
    /// With `assign`: give the system-assigned identity this role (name or GUID) at --scope.
    #[arg(long, requires = "scope")]
    role: Option<String>,
    /// The scope of --role.
    #[arg(long)]
    scope: Option<String>,
}

#[derive(Debug, Subcommand)]
enum VmCommand {
    /// Create a virtual machine record (a holder of managed identities).
    #[command(after_help = "Example:
  keyhold vm create --resource-group myRG --name myVM --image UbuntuLTS --admin-username azureuser --generate-ssh-keys")]
    Create {
        #[command(flatten)]
        vm: VmRef,
        #[arg(long)]
        image: Option<String>,
        #[arg(long)]
        admin_username: Option<String>,
        #[arg(long)]
        admin_password: Option<String>,
        /// Accepted for az compatibility (no keys are written).
        #[arg(long)]
        generate_ssh_keys: bool,
        #[arg(long)]
        ssh_key_values: Option<Vec<String>>,
        #[arg(long, default_value = "Standard_DS1_v2")]
        size: String,
        #[arg(long, short = 'l')]
        location: Option<String>,
        /// Identities to assign at creation: `[system]` and/or user-assigned ids.
        #[arg(long, num_args = 0.., default_missing_value = "[system]")]
        assign_identity: Option<Vec<String>>,
        #[arg(long, num_args = 0..)]
        tags: Vec<String>,
        #[arg(long)]
        authentication_type: Option<String>,
        #[arg(long)]
        public_ip_sku: Option<String>,
        #[arg(long)]
        no_wait: bool,
    },
    /// Show a virtual machine.
    #[command(after_help = "Example:\n  keyhold vm show -g myRG -n myVM --query identity")]
    Show(VmRef),
    /// List virtual machines.
    #[command(after_help = "Example:\n  keyhold vm list -g myRG -o table")]
    List {
        #[arg(long, short = 'g')]
        resource_group: Option<String>,
    },
    /// Delete a virtual machine (and its system-assigned identity).
    #[command(after_help = "Example:\n  keyhold vm delete -g myRG -n myVM --yes")]
    Delete {
        #[command(flatten)]
        vm: VmRef,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Managed identities of a virtual machine.
    #[command(
        after_help = "Examples:\n  keyhold vm identity assign -g myRG -n myVM\n  keyhold vm identity show -g myRG -n myVM"
    )]
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Enable a managed identity (older form of `vm identity assign`).
    #[command(after_help = "Example:\n  keyhold vm assign-identity -g myRG -n myVM")]
    AssignIdentity(IdentityChange),
}

#[derive(Debug, Subcommand)]
enum IdentityCommand {
    /// Enable the system-assigned identity and/or attach user-assigned ones.
    #[command(after_help = "Examples:
  keyhold vm identity assign --name myVM --resource-group myRG
  keyhold vm identity assign -g myRG -n myVM --identities myID
  keyhold vm identity assign -g myRG -n myVM --role Reader --scope /subscriptions/SUB/resourceGroups/myRG")]
    Assign(IdentityChange),
    /// Disable the system-assigned identity and/or detach user-assigned ones.
    #[command(after_help = "Example:\n  keyhold vm identity remove -g myRG -n myVM --identities [system]")]
    Remove(IdentityChange),
    /// Show a virtual machine's identities.
    #[command(after_help = "Example:\n  keyhold vm identity show -g myRG -n myVM")]
    Show(VmRef),
}

pub async fn run(args: VmArgs, out: &OutputArgs) -> anyhow::Result<()> {
    let s = args.conn.session()?;
    let result = match args.command {
        VmCommand::Create {
            vm,
            image,
            admin_username,
            size,
            location,
            assign_identity,
            tags,
            ..
        } => {
            let location = match location {
                Some(l) => arm::location(&l),
                None => arm::group_location(&s, &vm.resource_group).await?,
            };
            let mut body = json!({
                "location": location,
                "tags": arm::tags(&tags),
                "properties": {
                    "hardwareProfile": {"vmSize": size},
                    "storageProfile": {"imageReference": {"offer": image.unwrap_or_else(|| "UbuntuLTS".into())}},
                    "osProfile": {"computerName": vm.name, "adminUsername": admin_username.unwrap_or_else(|| "azureuser".into())},
                },
            });
            if let Some(ids) = assign_identity {
                body["identity"] = identity_body(&s, &vm.resource_group, &Value::Null, &ids, true).await?;
            }
            let path = arm::resource_path(&s, &vm.resource_group, VMS, &vm.name).await?;
            let v = call(&s, Method::PUT, &path, Some(&body)).await?;
            create_summary(&vm.resource_group, &v)
        }
        VmCommand::Show(vm) => call(&s, Method::GET, &path(&s, &vm).await?, None).await?,
        VmCommand::List { resource_group } => {
            let p = match resource_group {
                Some(g) => format!("{}/providers/{VMS}", arm::group_path(&s, &g).await?),
                None => format!("{}/providers/{VMS}", arm::sub(&s).await?),
            };
            Value::Array(arm::items(call(&s, Method::GET, &p, None).await?))
        }
        VmCommand::Delete { vm, yes } => {
            if !yes && !super::confirm("Are you sure you want to perform this operation? (y/n): ")? {
                return Ok(());
            }
            call(&s, Method::DELETE, &path(&s, &vm).await?, None).await?
        }
        VmCommand::Identity {
            command: IdentityCommand::Show(vm),
        } => call(&s, Method::GET, &path(&s, &vm).await?, None).await?["identity"].clone(),
        VmCommand::Identity {
            command: IdentityCommand::Assign(c),
        }
        | VmCommand::AssignIdentity(c) => change(&s, c, true).await?,
        VmCommand::Identity {
            command: IdentityCommand::Remove(c),
        } => {
            let v = change(&s, c, false).await?;
            v["userAssignedIdentities"].clone()
        }
    };
    out.print(result)
}

async fn path(s: &Session, vm: &VmRef) -> anyhow::Result<String> {
    arm::resource_path(s, &vm.resource_group, VMS, &vm.name).await
}

/// Assigns or removes identities with a PATCH; answers in az's `{systemAssignedIdentity, userAssignedIdentities}`.
async fn change(s: &Session, c: IdentityChange, assign: bool) -> anyhow::Result<Value> {
    let p = path(s, &c.vm).await?;
    let current = call(s, Method::GET, &p, None).await?;
    let ids = if c.identities.is_empty() {
        vec!["[system]".to_owned()]
    } else {
        c.identities
    };
    let identity = identity_body(s, &c.vm.resource_group, &current["identity"], &ids, assign).await?;
    let v = call(s, Method::PATCH, &p, Some(&json!({"identity": identity}))).await?;
    if let (true, Some(role), Some(scope), Some(principal)) =
        (assign, &c.role, &c.scope, v["identity"]["principalId"].as_str())
    {
        let role_id = super::role::role_definition_id(s, role, scope).await?;
        super::role::create(s, scope, &role_id, principal, Some("ServicePrincipal")).await?;
    }
    Ok(json!({
        "systemAssignedIdentity": v["identity"]["principalId"].as_str().unwrap_or(""),
        "userAssignedIdentities": v["identity"]["userAssignedIdentities"].as_object().cloned().unwrap_or_default(),
    }))
}

/// The `identity` of a PATCH: the current one plus (or minus) `ids`.
async fn identity_body(
    s: &Session,
    group: &str,
    current: &Value,
    ids: &[String],
    assign: bool,
) -> anyhow::Result<Value> {
    let mut system = current["type"].as_str().is_some_and(|t| t.contains("SystemAssigned"));
    let mut users = Map::new();
    if let Some(existing) = current["userAssignedIdentities"].as_object() {
        for k in existing.keys() {
            users.insert(k.clone(), json!({}));
        }
    }
    for id in ids {
        if id.eq_ignore_ascii_case("[system]") {
            system = assign;
            continue;
        }
        let full = if id.starts_with('/') {
            id.clone()
        } else {
            arm::resource_path(s, group, IDENTITIES, id).await?
        };
        if assign {
            users.insert(full, json!({}));
        } else {
            let key = users.keys().find(|k| k.eq_ignore_ascii_case(&full)).cloned();
            users.insert(key.unwrap_or(full), Value::Null);
        }
    }
    let any_user = users.values().any(|v| !v.is_null());
    let kind = match (system, any_user) {
        (true, true) => "SystemAssigned, UserAssigned",
        (true, false) => "SystemAssigned",
        (false, true) => "UserAssigned",
        (false, false) => "None",
    };
    let mut body = json!({"type": kind});
    if !users.is_empty() {
        body["userAssignedIdentities"] = Value::Object(users);
    }
    Ok(body)
}

/// What `az vm create` prints.
fn create_summary(group: &str, v: &Value) -> Value {
    let mut summary = json!({
        "fqdns": "",
        "id": v["id"],
        "location": v["location"],
        "macAddress": "00-0D-3A-00-00-01",
        "powerState": "VM running",
        "privateIpAddress": "10.0.0.4",
        "publicIpAddress": "",
        "resourceGroup": group,
        "zones": "",
    });
    if let Some(identity) = v.get("identity") {
        summary["identity"] = json!({
            "systemAssignedIdentity": identity["principalId"].as_str().unwrap_or(""),
            "userAssignedIdentities": identity["userAssignedIdentities"].as_object().cloned().unwrap_or_default(),
        });
    }
    summary
}
