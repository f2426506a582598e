//! Names an operation and its target for the audit record: Key Vault's operation names on the data
//! plane, keyhold's own names on the admin and sys API, and on the ARM management plane the operation
//! Azure's activity log would name, derived from the path and method as ARM does
//! (`{provider}/{type}[/{child type}]/{write|read|delete|action}`) with the resource id as the target.
//! Deriving ARM names here means a new ARM route cannot forget its audit operation.

use axum::http::Method;

/// What the audit record says about a request before it runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Operation {
    pub name: String,
    pub object: Option<String>,
    pub version: Option<String>,
    pub vault: Option<String>,
}

/// Key Vault's names for key operations. Crypto operations are named from the path's last segment; on
/// the versionless `POST /keys/{name}/{op}` route that segment is the operation, not a version.
fn key_operation(m: &str, matched: &str, path: &str, mut op: Operation) -> Operation {
    let last = path.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
    if m == "POST" && (matched == "/keys/{name}/{version}" || matched == "/keys/{name}//{op}") {
        op.version = None;
    }
    let crypto = match last.as_str() {
        "sign" => Some("KeySign"),
        "verify" => Some("KeyVerify"),
        "encrypt" => Some("KeyEncrypt"),
        "decrypt" => Some("KeyDecrypt"),
        "wrapkey" => Some("KeyWrap"),
        "unwrapkey" => Some("KeyUnwrap"),
        "release" => Some("KeyRelease"),
        _ => None,
    };
    let name = match (m, matched.trim_end_matches('/')) {
        ("POST", "/keys/{name}/{version}/{op}" | "/keys/{name}/{version}" | "/keys/{name}//{op}")
        | ("POST", "/keys/{name}/release" | "/keys/{name}//release") => crypto.unwrap_or("KeyOperation"),
        ("POST", "/keys/{name}/create") => "KeyCreate",
        ("PUT", "/keys/{name}") => "KeyImport",
        ("GET", "/keys") => "KeyList",
        ("GET", "/keys/{name}" | "/keys/{name}/{version}") => "KeyGet",
        ("PATCH", "/keys/{name}" | "/keys/{name}/{version}") => "KeyUpdate",
        ("DELETE", "/keys/{name}") => "KeyDelete",
        ("GET", "/keys/{name}/versions") => "KeyListVersions",
        ("POST", "/keys/{name}/backup") => "KeyBackup",
        ("POST", "/keys/restore") => "KeyRestore",
        ("POST", "/keys/{name}/rotate") => "KeyRotate",
        ("GET", "/keys/{name}/rotationpolicy") => "KeyRotationPolicyGet",
        ("PUT", "/keys/{name}/rotationpolicy") => "KeyRotationPolicySet",
        ("GET", "/deletedkeys") => "DeletedKeyList",
        ("GET", "/deletedkeys/{name}") => "DeletedKeyGet",
        ("DELETE", "/deletedkeys/{name}") => "KeyPurge",
        ("POST", "/deletedkeys/{name}/recover") => "KeyRecover",
        ("POST", "/rng") => "GetRandomBytes",
        _ => {
            op.name = format!("{m} {matched}");
            return op;
        }
    };
    op.name = name.to_owned();
    op
}

/// Key Vault's names for certificate operations (one block, to move with the route builder).
fn certificate_operation(m: &str, matched: &str) -> Option<&'static str> {
    Some(match (m, matched.trim_end_matches('/')) {
        ("POST", "/certificates/{name}/create") => "CertificateCreate",
        ("POST", "/certificates/{name}/import") => "CertificateImport",
        ("GET", "/certificates") => "CertificateList",
        ("GET", "/certificates/{name}" | "/certificates/{name}/{version}") => "CertificateGet",
        ("PATCH", "/certificates/{name}" | "/certificates/{name}/{version}") => "CertificateUpdate",
        ("DELETE", "/certificates/{name}") => "CertificateDelete",
        ("GET", "/certificates/{name}/versions") => "CertificateListVersions",
        ("GET", "/certificates/{name}/policy") => "CertificatePolicyGet",
        ("PATCH", "/certificates/{name}/policy") => "CertificatePolicySet",
        ("GET", "/certificates/{name}/pending") => "CertificatePendingGet",
        ("PATCH", "/certificates/{name}/pending") => "CertificatePendingUpdate",
        ("DELETE", "/certificates/{name}/pending") => "CertificatePendingDelete",
        ("POST", "/certificates/{name}/pending/merge") => "CertificatePendingMerge",
        ("POST", "/certificates/{name}/backup") => "CertificateBackup",
        ("POST", "/certificates/restore") => "CertificateRestore",
        ("GET", "/deletedcertificates") => "DeletedCertificateList",
        ("GET", "/deletedcertificates/{name}") => "DeletedCertificateGet",
        ("DELETE", "/deletedcertificates/{name}") => "CertificatePurge",
        ("POST", "/deletedcertificates/{name}/recover") => "CertificateRecover",
        ("GET", "/certificates/contacts") => "CertificateContactsGet",
        ("PUT", "/certificates/contacts") => "CertificateContactsSet",
        ("DELETE", "/certificates/contacts") => "CertificateContactsDelete",
        ("GET", "/certificates/issuers") => "CertificateIssuerList",
        ("GET", "/certificates/issuers/{name}") => "CertificateIssuerGet",
        ("PUT", "/certificates/issuers/{name}") => "CertificateIssuerSet",
        ("PATCH", "/certificates/issuers/{name}") => "CertificateIssuerUpdate",
        ("DELETE", "/certificates/issuers/{name}") => "CertificateIssuerDelete",
        _ => return None,
    })
}

/// From the route template (`matched`) and the actual path.
pub fn classify(method: &Method, matched: &str, path: &str) -> Operation {
    if matched.starts_with("/subscriptions") {
        return arm(method, path);
    }
    let mut op = Operation::default();
    for (template, actual) in matched.split('/').zip(path.split('/')) {
        match template {
            "{name}" if matched.starts_with("/keyhold/v1/vaults") => op.vault = Some(actual.to_owned()),
            "{name}" | "{app_id}" | "{agent_id}" | "{id}" => op.object = Some(actual.to_owned()),
            "{version}" => op.version = Some(actual.to_owned()).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    let m = method.as_str();
    if matched.starts_with("/keys") || matched.starts_with("/deletedkeys") || matched == "/rng" {
        return key_operation(m, matched, path, op);
    }
    if let Some(name) = certificate_operation(m, matched) {
        op.name = name.to_owned();
        return op;
    }
    let name = match (m, matched.trim_end_matches('/')) {
        ("PUT", "/secrets/{name}") => "SecretSet",
        ("GET", "/secrets") => "SecretList",
        ("GET", "/secrets/{name}" | "/secrets/{name}/{version}") => "SecretGet",
        ("PATCH", "/secrets/{name}" | "/secrets/{name}/{version}") => "SecretUpdate",
        ("DELETE", "/secrets/{name}") => "SecretDelete",
        ("GET", "/secrets/{name}/versions") => "SecretListVersions",
        ("POST", "/secrets/{name}/backup") => "SecretBackup",
        ("POST", "/secrets/restore") => "SecretRestore",
        ("GET", "/deletedsecrets") => "DeletedSecretList",
        ("GET", "/deletedsecrets/{name}") => "DeletedSecretGet",
        ("DELETE", "/deletedsecrets/{name}") => "SecretPurge",
        ("POST", "/deletedsecrets/{name}/recover") => "SecretRecover",
        ("POST", "/{tenant}/oauth2/v2.0/token" | "/{tenant}/oauth2/token") => "TokenIssue",
        ("PUT", "/keyhold/v1/vaults/{name}") => "VaultWrite",
        ("GET", "/keyhold/v1/vaults/{name}") => "VaultRead",
        ("POST", "/keyhold/v1/servicePrincipals") => "ServicePrincipalCreate",
        ("GET", "/keyhold/v1/servicePrincipals") => "ServicePrincipalList",
        ("GET", "/keyhold/v1/servicePrincipals/{id}" | "/keyhold/v1/servicePrincipals/{app_id}") => {
            "ServicePrincipalRead"
        }
        ("DELETE", "/keyhold/v1/servicePrincipals/{id}" | "/keyhold/v1/servicePrincipals/{app_id}") => {
            "ServicePrincipalDelete"
        }
        ("POST", p) if p.starts_with("/keyhold/v1/servicePrincipals/") && p.ends_with("/credentials/reset") => {
            "ServicePrincipalCredentialReset"
        }
        ("POST", "/keyhold/v1/servicePrincipals/{app_id}/certificates") => "ServicePrincipalCertificateAdd",
        ("POST", "/keyhold/v1/signingKeys/rotate") => "SigningKeyRotate",
        ("POST", "/keyhold/v1/agents/joinTokens") => "AgentJoinTokenCreate",
        ("POST", "/keyhold/v1/agents/enroll") => "AgentEnroll",
        ("POST", "/keyhold/v1/agents/token") => "AgentToken",
        ("DELETE", "/keyhold/v1/agents/{agent_id}") => "AgentRevoke",
        ("POST", "/keyhold/v1/sys/rotate") => "DataKeyRotate",
        ("GET", "/keyhold/v1/sys/rotation-status") => "DataKeyRotationStatus",
        ("POST", "/keyhold/v1/sys/init") => "SealInit",
        ("POST", "/keyhold/v1/sys/unseal") => "Unseal",
        ("GET", "/keyhold/v1/sys/seal-status") => "SealStatus",
        ("", _) | (_, "") => "ManagedIdentityToken",
        _ => {
            op.name = format!("{m} {matched}");
            return op;
        }
    };
    op.name = name.to_owned();
    op
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_operation_and_object() {
        let op = classify(&Method::GET, "/secrets/{name}/{version}", "/secrets/db/abc");
        assert_eq!(
            (op.name.as_str(), op.object.as_deref(), op.version.as_deref()),
            ("SecretGet", Some("db"), Some("abc"))
        );
        let op = classify(&Method::PUT, "/keyhold/v1/vaults/{name}", "/keyhold/v1/vaults/kv1");
        assert_eq!(
            (op.name.as_str(), op.object, op.vault.as_deref()),
            ("VaultWrite", None, Some("kv1"))
        );
        assert_eq!(
            classify(&Method::DELETE, "/deletedsecrets/{name}", "/deletedsecrets/x").name,
            "SecretPurge"
        );
    }

    #[test]
    fn key_operations_are_named_as_key_vault_names_them() {
        let op = classify(&Method::POST, "/keys/{name}/{version}/{op}", "/keys/k/abc/sign");
        assert_eq!(
            (op.name.as_str(), op.object.as_deref(), op.version.as_deref()),
            ("KeySign", Some("k"), Some("abc"))
        );
        let op = classify(&Method::POST, "/keys/{name}/{version}", "/keys/k/unwrapKey");
        assert_eq!(
            (op.name.as_str(), op.version),
            ("KeyUnwrap", None),
            "versionless: no version"
        );
        assert_eq!(
            classify(&Method::POST, "/keys/{name}/create", "/keys/k/create").name,
            "KeyCreate"
        );
        assert_eq!(
            classify(&Method::DELETE, "/deletedkeys/{name}", "/deletedkeys/k").name,
            "KeyPurge"
        );
        assert_eq!(classify(&Method::POST, "/rng", "/rng").name, "GetRandomBytes");
    }

    #[test]
    fn certificate_operations_are_named_as_key_vault_names_them() {
        let op = classify(&Method::POST, "/certificates/{name}/create", "/certificates/c/create");
        assert_eq!(
            (op.name.as_str(), op.object.as_deref()),
            ("CertificateCreate", Some("c"))
        );
        let op = classify(&Method::GET, "/certificates/{name}/{version}", "/certificates/c/abc");
        assert_eq!(
            (op.name.as_str(), op.version.as_deref()),
            ("CertificateGet", Some("abc"))
        );
        for (m, matched, name) in [
            (
                Method::PATCH,
                "/certificates/{name}/pending",
                "CertificatePendingUpdate",
            ),
            (Method::PATCH, "/certificates/{name}/policy", "CertificatePolicySet"),
            (Method::GET, "/certificates", "CertificateList"),
            (Method::DELETE, "/deletedcertificates/{name}", "CertificatePurge"),
        ] {
            assert_eq!(classify(&m, matched, matched).name, name);
        }
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
            let op = classify(&method, "/subscriptions/{*rest}", path);
            assert_eq!((op.name.as_str(), op.object.as_deref()), (name, Some(object)), "{path}");
        }
    }
}
