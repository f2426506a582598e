//! Counts of this store object's finished writes of the kinds nodes cache reads of. A cache that saw
//! the same count before its read holds nothing older than this node's own last write of that kind;
//! other nodes' writes are not counted (the caches bound those by age instead).

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{Result, StoreError};

/// What a count covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// `put_vault`, `purge_vault`: access policies, RBAC mode, soft deletion.
    Vaults,
    /// Resources, resource groups and principals: which managed identities a resource has.
    Identities,
    /// `put_role_assignment`, `delete_role_assignment`: what RBAC allows whom.
    RoleAssignments,
}

#[derive(Debug, Default)]
pub(crate) struct WriteCounts {
    vaults: AtomicU64,
    identities: AtomicU64,
    role_assignments: AtomicU64,
}

impl WriteCounts {
    fn counter(&self, kind: WriteKind) -> &AtomicU64 {
        match kind {
            WriteKind::Vaults => &self.vaults,
            WriteKind::Identities => &self.identities,
            WriteKind::RoleAssignments => &self.role_assignments,
        }
    }

    /// Counts a write once it has returned, whatever its outcome: a failed write changed nothing,
    /// and a count too many only costs a cache one re-read.
    fn after<T>(&self, kind: WriteKind, done: Result<T>) -> Result<T> {
        self.counter(kind).fetch_add(1, Ordering::Release);
        done
    }

    /// Runs `write` to its end even if the caller stops waiting, and counts it once it has returned:
    /// a caller that goes away mid-write (a client hanging up) cannot leave a committed write
    /// uncounted, which would let this node serve what it cached before it for up to the caches' bound.
    pub(crate) async fn counted<T: Send + 'static>(
        self: &Arc<Self>,
        kind: WriteKind,
        write: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let counts = self.clone();
        tokio::spawn(async move { counts.after(kind, write.await) })
            .await
            .map_err(|e| StoreError::Backend(format!("a counted write did not finish: {e}")))?
    }

    pub(crate) fn get(&self, kind: WriteKind) -> u64 {
        self.counter(kind).load(Ordering::Acquire)
    }
}
