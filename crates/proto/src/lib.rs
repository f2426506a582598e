//! Azure wire types shared by server, CLI and tests: Key Vault bodies, Entra/OAuth2 responses and the
//! error envelopes. Serde shapes only: no behaviour, no I/O, and never a database row.
#![forbid(unsafe_code)]

pub mod admin;
pub mod arm;
pub mod certificates;
pub mod data_dir;
pub mod entra;
pub mod error;
pub mod graph;
pub mod insights;
pub mod keys;
pub mod keyvault;
pub mod managed_identity;
