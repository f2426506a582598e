//! Turns a route's declared operation into the audit record's operation and target: Key Vault's
//! operation names on the data plane and keyhold's own on the admin and sys API come from the route's
//! declaration, the target from the path's parameters; on the ARM management plane the name is the one
//! Azure's activity log would give, derived from the path and method as ARM does
//! (`{provider}/{type}[/{child type}]/{write|read|delete|action}`), with the resource id as the target,
//! so a new ARM resource type is named without a declaration of its own.

use axum::http::Method;

/// What the audit record says about a request before it runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Operation {
    pub name: String,
    pub object: Option<String>,
    pub version: Option<String>,
    pub vault: Option<String>,
    /// A POST that changes nothing (a key's sign, verify, encrypt, decrypt, wrap, unwrap): it needs
    /// no `request` record, which exists so that no change is committed unannounced.
    pub changes_nothing: bool,
}

/// How a route names its audit operation, declared beside the route (`audit::Routes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Key Vault's name (or keyhold's, on the admin and sys API); the target is read from the path's
    /// parameters.
    Named(&'static str),
    /// A key's cryptographic operation, named from the path's last segment (`sign`, `unwrapKey`, …).
    /// On the versionless routes (`POST /keys/{name}/{op}`) that segment fills the `{version}`
    /// parameter, so it is not recorded as a version.
    KeyCrypto { versioned: bool },
    /// The name ARM's activity log gives the path and method; the target is the resource id.
    Arm,
}

impl From<&'static str> for Op {
    fn from(name: &'static str) -> Self {
        Op::Named(name)
    }
}

/// Key Vault's name for a crypto operation from its path segment.
fn key_crypto_name(path: &str) -> &'static str {
    let last = path.rsplit('/').next().unwrap_or_default();
    const NAMES: [(&str, &str); 6] = [
        ("sign", "KeySign"),
        ("verify", "KeyVerify"),
        ("encrypt", "KeyEncrypt"),
        ("decrypt", "KeyDecrypt"),
        ("wrapkey", "KeyWrap"),
        ("unwrapkey", "KeyUnwrap"),
    ];
    NAMES
        .iter()
        .find(|(segment, _)| last.eq_ignore_ascii_case(segment))
        .map_or("KeyOperation", |(_, name)| name)
}

/// The record's operation and target for a request to route template `matched` declared as `op`.
pub fn describe(op: Op, method: &Method, matched: &str, path: &str) -> Operation {
    let (name, versioned) = match op {
        Op::Arm => return arm(method, path),
        Op::Named(name) => (name, true),
        Op::KeyCrypto { versioned } => (key_crypto_name(path), versioned),
    };
    let mut described = Operation {
        name: name.to_owned(),
        changes_nothing: matches!(op, Op::KeyCrypto { .. }) && name != "KeyOperation",
        ..Operation::default()
    };
    for (template, actual) in matched.split('/').zip(path.split('/')) {
        match template {
            "{name}" if matched.starts_with("/keyhold/v1/vaults") => described.vault = Some(actual.to_owned()),
            "{name}" | "{app_id}" | "{agent_id}" | "{id}" => described.object = Some(actual.to_owned()),
            "{version}" if versioned => described.version = Some(actual.to_owned()).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    described
}

/// ARM's operation name for a management-plane path: the last `providers/{namespace}` segment (or
/// `Microsoft.Resources` for subscriptions and groups), then alternating type and name segments; a
/// type without a name is a list (read), and on POST a trailing segment is the action
/// (`Microsoft.Storage/storageAccounts/listKeys/action`). The target is the resource id.
fn arm(method: &Method, path: &str) -> Operation {
    let segments: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut namespace = "Microsoft.Resources";
    let mut types: Vec<&str> = Vec::new();
    let mut pairs: Vec<(&str, Option<&str>)> = Vec::new();
    let mut i = 0;
    while i < segments.len() {
        let segment = segments[i];
        if segment.eq_ignore_ascii_case("providers") && i + 1 < segments.len() {
            namespace = segments[i + 1];
            pairs.clear();
            i += 2;
            continue;
        }
        pairs.push((segment, segments.get(i + 1).copied()));
        i += 2;
    }
    // Outside a provider, types nest under subscriptions (resource groups, `resources`).
    let mut action = None;
    let last_unnamed = pairs.last().is_some_and(|(_, name)| name.is_none());
    for (n, (kind, _)) in pairs.iter().enumerate() {
        if n + 1 == pairs.len() && last_unnamed && *method == Method::POST {
            action = Some(*kind);
        } else {
            types.push(kind);
        }
    }
    let verb = match (action, method.as_str()) {
        (Some(a), _) => format!("{a}/action"),
        (None, "PUT" | "PATCH") => "write".to_owned(),
        (None, "DELETE") => "delete".to_owned(),
        (None, "POST") => "action".to_owned(),
        (None, _) => "read".to_owned(),
    };
    let kinds = if types.is_empty() {
        "subscriptions".to_owned()
    } else {
        types.join("/")
    };
    let target_len = segments.len() - usize::from(action.is_some());
    let object = format!("/{}", segments[..target_len].join("/"));
    let vault = (namespace.eq_ignore_ascii_case("Microsoft.KeyVault"))
        .then(|| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("vaults"))
                .and_then(|(_, n)| *n)
        })
        .flatten()
        .map(str::to_owned);
    Operation {
        name: format!("{namespace}/{kinds}/{verb}"),
        object: Some(object),
        version: None,
        vault,
        changes_nothing: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_operation_and_object() {
        let op = describe(
            "SecretGet".into(),
            &Method::GET,
            "/secrets/{name}/{version}",
            "/secrets/db/abc",
        );
        assert_eq!(
            (op.name.as_str(), op.object.as_deref(), op.version.as_deref()),
            ("SecretGet", Some("db"), Some("abc"))
        );
        let op = describe(
            "VaultWrite".into(),
            &Method::PUT,
            "/keyhold/v1/vaults/{name}",
            "/keyhold/v1/vaults/kv1",
        );
        assert_eq!(
            (op.name.as_str(), op.object, op.vault.as_deref()),
            ("VaultWrite", None, Some("kv1"))
        );
    }

    #[test]
    fn key_operations_are_named_as_key_vault_names_them() {
        let versioned = Op::KeyCrypto { versioned: true };
        let versionless = Op::KeyCrypto { versioned: false };
        let op = describe(
            versioned,
            &Method::POST,
            "/keys/{name}/{version}/{op}",
            "/keys/k/abc/sign",
        );
        assert_eq!(
            (op.name.as_str(), op.object.as_deref(), op.version.as_deref()),
            ("KeySign", Some("k"), Some("abc"))
        );
        let op = describe(
            versionless,
            &Method::POST,
            "/keys/{name}/{version}",
            "/keys/k/unwrapKey",
        );
        assert_eq!(
            (op.name.as_str(), op.version),
            ("KeyUnwrap", None),
            "versionless: no version"
        );
        let op = describe(versionless, &Method::POST, "/keys/{name}//{op}", "/keys/k//wrapKey");
        assert_eq!((op.name.as_str(), op.object.as_deref()), ("KeyWrap", Some("k")));
        let op = describe(
            versioned,
            &Method::POST,
            "/keys/{name}/{version}/{op}",
            "/keys/k/abc/rewrap",
        );
        assert_eq!(op.name, "KeyOperation", "an unknown operation is still recorded");
    }

    #[test]
    fn arm_paths_are_named_as_azure_names_them() {
        let cases = [
            (
                Method::PUT,
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
                "Microsoft.KeyVault/vaults/write",
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
            ),
            (
                Method::PUT,
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/accessPolicies/add",
                "Microsoft.KeyVault/vaults/accessPolicies/write",
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/accessPolicies/add",
            ),
            (
                Method::POST,
                "/subscriptions/s/providers/Microsoft.KeyVault/locations/westus/deletedVaults/kv/purge",
                "Microsoft.KeyVault/locations/deletedVaults/purge/action",
                "/subscriptions/s/providers/Microsoft.KeyVault/locations/westus/deletedVaults/kv",
            ),
            (
                Method::PUT,
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/g1",
                "Microsoft.Authorization/roleAssignments/write",
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/g1",
            ),
            (
                Method::DELETE,
                "/subscriptions/s/resourceGroups/rg",
                "Microsoft.Resources/subscriptions/resourceGroups/delete",
                "/subscriptions/s/resourceGroups/rg",
            ),
            (
                Method::GET,
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults",
                "Microsoft.KeyVault/vaults/read",
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults",
            ),
            (
                Method::POST,
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/listKeys",
                "Microsoft.Storage/storageAccounts/listKeys/action",
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
            ),
        ];
        for (method, path, name, object) in cases {
            let op = describe(Op::Arm, &method, "/subscriptions/{*rest}", path);
            assert_eq!((op.name.as_str(), op.object.as_deref()), (name, Some(object)), "{path}");
        }
    }
}
