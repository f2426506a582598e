//! The JSON files a server leaves in its data dir for local clients (the CLI, the test kit), which read
//! them instead of asking the server where it listens.

use serde::{Deserialize, Serialize};

/// `state.json`: where this node listens and what it is called.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateFile {
    pub pid: u32,
    pub listen: String,
    pub mi_listen: String,
    /// The service's public origin (`--public-url`): token issuer and management audience.
    pub url: String,
    /// This node's own HTTPS origin, for clients that must reach this node (the operator CLI).
    #[serde(default)]
    pub node_url: String,
    pub tenant_id: String,
    pub dns_suffix: String,
    pub vault_resource: String,
}
