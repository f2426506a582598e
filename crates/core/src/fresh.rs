//! Store reads a node answers again for a moment. Every data-plane request needs its vault's record
//! (access policies, RBAC mode), every RBAC decision the caller's role assignments and every
//! managed-identity token its resource's identities; re-reading them per request was a read
//! transaction (and a JSON parse) each, a round trip each on PostgreSQL.
//!
//! An entry is served for at most [`FRESH_FOR`] after it was read. That bounds how long a change made
//! on *another* node (a revoked access policy or role assignment, a deleted identity) can go unseen here: under a second,
//! as issue 17 requires of every node. A change made on *this* node is seen at once: an entry is used
//! only while the store's count of this node's writes of its kind ([`Store::writes`]) is what it was
//! before the entry was read, so a write that lands during the read leaves the entry stale already.
//! What is cached here is no secret material.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use keyhold_store::{Store, WriteKind};

/// How long a value read on this node may be served without reading it again.
pub const FRESH_FOR: Duration = Duration::from_millis(500);
/// Past this many keys the cache starts afresh: a bound on memory, not an eviction policy (what is in
/// use is read again within [`FRESH_FOR`] anyway).
const MAX_ENTRIES: usize = 4096;

pub(crate) struct Fresh<V> {
    store: Arc<dyn Store>,
    kind: WriteKind,
    entries: RwLock<HashMap<String, Entry<V>>>,
}

struct Entry<V> {
    value: V,
    read_at: Instant,
    writes: u64,
}

impl<V: Clone> Fresh<V> {
    pub(crate) fn new(store: Arc<dyn Store>, kind: WriteKind) -> Self {
        Self {
            store,
            kind,
            entries: RwLock::default(),
        }
    }

    /// `key`'s value as of at most [`FRESH_FOR`] ago and never older than this node's last write of
    /// the cache's kind; `load` reads it from the store otherwise.
    pub(crate) async fn get<E, F>(&self, key: &str, load: impl FnOnce() -> F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        // Taken before the read: a write that lands during it leaves the entry stale-marked.
        let (read_at, writes) = (Instant::now(), self.store.writes(self.kind));
        if let Some(e) = self.entries.read().unwrap_or_else(|p| p.into_inner()).get(key)
            && e.writes == writes
            && read_at.saturating_duration_since(e.read_at) < FRESH_FOR
        {
            return Ok(e.value.clone());
        }
        let value = load().await?;
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key.to_owned(),
            Entry {
                value: value.clone(),
                read_at,
                writes,
            },
        );
        Ok(value)
    }
}
