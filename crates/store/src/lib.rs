//! Persistence behind one narrow, domain-shaped trait: [`Store`], made of one sub-trait per domain
//! (`traits/`), which backends implement and callers hold as `Arc<dyn Store>`; nothing above this crate
//! knows SQL. Secret values and private keys arrive as [`Sealed`] ciphertext only.
//!
//! Backends: [`SqliteStore`] (embedded, the default) and [`PostgresStore`]. Each dialect has its own
//! migrations in `migrations/<dialect>/`, with the same file names; `tests/conformance/` runs one
//! suite against both.
#![forbid(unsafe_code)]

mod columns;
mod postgres;
mod records;
mod row_cache;
mod sqlite;
mod traits;
mod write_counts;

pub use keyhold_crypto::Sealed;
pub use postgres::PostgresStore;
pub use records::*;
pub use sqlite::SqliteStore;
pub use traits::{
    CertificateStore, IdentityStore, JobStore, KeyStore, ManagementStore, MetaStore, SecretStore, SignInStore, Store,
    UserStore,
};
pub use write_counts::WriteKind;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The name exists as a soft-deleted object.
    #[error("object is deleted")]
    Deleted,
    /// The name already exists (restore, create).
    #[error("object already exists")]
    Exists,
    /// The name's latest version is a certificate's key or secret, changed only through it.
    #[error("object is managed by a certificate")]
    Managed,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Where a list page starts: after this name (or sequence number) exclusive, at most `limit` rows.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: u32,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::path::Path;

    /// The `.sql` files of `migrations/<dialect>/`, sorted.
    pub(crate) fn migration_files(dialect: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_dialect_has_the_same_migration_files() {
        let sqlite = migration_files("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, migration_files("postgres"));
    }
}
