//! Instance metadata: the wrapped root key and keyring, the seal, the tenant, the CA, the audit anchor.

use async_trait::async_trait;

use crate::Result;

#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    // Instance metadata: the wrapped root key and keyring, the tenant, the CA.
    async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>>;
    async fn put_meta(&self, key: &str, value: &[u8]) -> Result<()>;
    /// Sets `key` only if absent; returns the value that is stored afterwards. Lets several starting
    /// nodes agree on one root key / tenant.
    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<Vec<u8>>;
    /// Compare-and-swap: sets `key` to `new` only if it still holds `old`; false if it changed (or is
    /// absent). Keyring rotations on two nodes cannot overwrite each other.
    async fn replace_meta(&self, key: &str, old: &[u8], new: &[u8]) -> Result<bool>;
}
