//! Azure's built-in roles that keyhold knows, with their real GUIDs, actions and data actions.

/// A role definition. Patterns use Azure's `*` wildcard and match case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub actions: &'static [&'static str],
    pub not_actions: &'static [&'static str],
    pub data_actions: &'static [&'static str],
    pub not_data_actions: &'static [&'static str],
}

const KV_MANAGE_READ: &[&str] = &[
    "Microsoft.Authorization/*/read",
    "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/deployments/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Support/*",
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
];

pub const OWNER: Role = Role {
    id: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    name: "Owner",
    description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    actions: &["*"],
    not_actions: &[],
    data_actions: &[],
    not_data_actions: &[],
};

pub const BUILT_IN: &[Role] = &[
    OWNER,
    Role {
        id: "b24988ac-6180-42a0-ab88-20f7382dd24c",
        name: "Contributor",
        description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
        ],
        data_actions: &[],
        not_data_actions: &[],
    },
    Role {
        id: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        name: "Reader",
        description: "View all resources, but does not allow you to make any changes.",
        actions: &["*/read"],
        not_actions: &[],
        data_actions: &[],
        not_data_actions: &[],
    },
    Role {
        id: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        name: "Key Vault Administrator",
        description: "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets.",
        actions: KV_MANAGE_READ,
        not_actions: &[],
        data_actions: &["Microsoft.KeyVault/vaults/*"],
        not_data_actions: &[],
    },
    Role {
        id: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        name: "Key Vault Secrets Officer",
        description: "Perform any action on the secrets of a key vault, except manage permissions.",
        actions: KV_MANAGE_READ,
        not_actions: &[],
        data_actions: &["Microsoft.KeyVault/vaults/secrets/*"],
        not_data_actions: &[],
    },
    Role {
        id: "4633458b-17de-408a-b874-0445c86b69e6",
        name: "Key Vault Secrets User",
        description: "Read secret contents.",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
        not_data_actions: &[],
    },
    Role {
        id: "21090545-7ca7-4776-b22c-e363652d74d2",
        name: "Key Vault Reader",
        description: "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values.",
        actions: KV_MANAGE_READ,
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
        not_data_actions: &[],
    },
    Role {
        id: "a4417e6f-fecd-4de8-b567-7b0420556985",
        name: "Key Vault Certificates Officer",
        description: "Perform any action on the certificates of a key vault, excluding reading the secret and key portions, and managing permissions.",
        actions: KV_MANAGE_READ,
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/certificatecas/*",
            "Microsoft.KeyVault/vaults/certificates/*",
            "Microsoft.KeyVault/vaults/certificatecontacts/write",
        ],
        not_data_actions: &[],
    },
    Role {
        id: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
        name: "Key Vault Certificate User",
        description: "Read entire certificate contents including secret and key portion.",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/certificates/read",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            "Microsoft.KeyVault/vaults/keys/read",
        ],
        not_data_actions: &[],
    },
    Role {
        id: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        name: "Key Vault Crypto Officer",
        description: "Perform any action on the keys of a key vault, except manage permissions.",
        actions: KV_MANAGE_READ,
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/*",
            "Microsoft.KeyVault/vaults/keyrotationpolicies/*",
        ],
        not_data_actions: &[],
    },
    Role {
        id: "12338af0-0e69-4776-bea7-57ae8d297424",
        name: "Key Vault Crypto User",
        description: "Perform cryptographic operations using keys.",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/update/action",
            "Microsoft.KeyVault/vaults/keys/backup/action",
            "Microsoft.KeyVault/vaults/keys/encrypt/action",
            "Microsoft.KeyVault/vaults/keys/decrypt/action",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
            "Microsoft.KeyVault/vaults/keys/sign/action",
            "Microsoft.KeyVault/vaults/keys/verify/action",
        ],
        not_data_actions: &[],
    },
    Role {
        id: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        name: "Key Vault Crypto Service Encryption User",
        description: "Read metadata of keys and perform wrap/unwrap operations.",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
        ],
        not_data_actions: &[],
    },
    Role {
        id: "08bbd89e-9f13-488c-ac41-acfcb10c90ab",
        name: "Key Vault Crypto Service Release User",
        description: "Release keys.",
        actions: &[],
        not_actions: &[],
        data_actions: &["Microsoft.KeyVault/vaults/keys/release/action"],
        not_data_actions: &[],
    },
    Role {
        id: "f25e0fa2-a7c8-4377-a976-54943a77a395",
        name: "Key Vault Contributor",
        description: "Manage key vaults, but does not allow you to assign roles in Azure RBAC, and does not allow you to access secrets, keys, or certificates.",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.KeyVault/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        not_actions: &[
            "Microsoft.KeyVault/locations/deletedVaults/purge/action",
            "Microsoft.KeyVault/hsmPools/*",
            "Microsoft.KeyVault/managedHsms/*",
        ],
        data_actions: &[],
        not_data_actions: &[],
    },
    Role {
        id: "81a9662b-bebf-436f-a333-f67b29880f12",
        name: "Storage Account Key Operator Service Role",
        description: "Permits listing and regenerating storage account access keys.",
        actions: &[
            "Microsoft.Storage/storageAccounts/listkeys/action",
            "Microsoft.Storage/storageAccounts/regeneratekey/action",
        ],
        not_actions: &[],
        data_actions: &[],
        not_data_actions: &[],
    },
    Role {
        id: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        name: "User Access Administrator",
        description: "Lets you manage user access to Azure resources.",
        actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        not_actions: &[],
        data_actions: &[],
        not_data_actions: &[],
    },
    Role {
        id: "f1a07417-d97a-45cb-824c-7a7467783830",
        name: "Managed Identity Operator",
        description: "Read and Assign User Assigned Identity",
        actions: &[
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
        data_actions: &[],
        not_data_actions: &[],
    },
    Role {
        id: "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
        name: "Managed Identity Contributor",
        description: "Create, Read, Update, and Delete User Assigned Identity",
        actions: &[
            "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
        data_actions: &[],
        not_data_actions: &[],
    },
];

/// A built-in role by GUID, by full definition id (`.../roleDefinitions/<guid>`), or by name.
pub fn find(id_or_name: &str) -> Option<&'static Role> {
    let key = id_or_name.rsplit('/').next().unwrap_or(id_or_name);
    BUILT_IN
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(key) || r.name.eq_ignore_ascii_case(id_or_name))
}

/// Azure's wildcard match: `*` spans any characters, comparison ignores case.
pub fn pattern_matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == a;
    }
    let mut rest = a.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

impl Role {
    pub fn allows_action(&self, action: &str) -> bool {
        self.actions.iter().any(|p| pattern_matches(p, action))
            && !self.not_actions.iter().any(|p| pattern_matches(p, action))
    }

    pub fn allows_data_action(&self, action: &str) -> bool {
        self.data_actions.iter().any(|p| pattern_matches(p, action))
            && !self.not_data_actions.iter().any(|p| pattern_matches(p, action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_exclusions() {
        assert!(pattern_matches(
            "Microsoft.KeyVault/vaults/secrets/*",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action"
        ));
        assert!(pattern_matches("*/read", "Microsoft.KeyVault/vaults/read"));
        assert!(!pattern_matches("*/read", "Microsoft.KeyVault/vaults/write"));
        assert!(pattern_matches(
            "Microsoft.KeyVault/vaults/*/read",
            "microsoft.keyvault/vaults/secrets/read"
        ));
        let contributor = find("Contributor").map(|r| r.allows_action("Microsoft.Authorization/roleAssignments/write"));
        assert_eq!(contributor, Some(false));
        let user = find("4633458b-17de-408a-b874-0445c86b69e6");
        assert!(user.is_some_and(|r| r.allows_data_action("Microsoft.KeyVault/vaults/secrets/getSecret/action")));
        assert!(user.is_some_and(|r| !r.allows_data_action("Microsoft.KeyVault/vaults/secrets/setSecret/action")));
        assert!(find("/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635").is_some());
    }
}
