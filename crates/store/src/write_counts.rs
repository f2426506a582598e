//! Counts of this store object's finished writes of the kinds nodes cache reads of. A cache that saw
//! the same count before its read holds nothing older than this node's own last write of that kind;
//! other nodes' writes are not counted (the caches bound those by age instead).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::Result;

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
    pub(crate) fn after<T>(&self, kind: WriteKind, done: Result<T>) -> Result<T> {
        self.counter(kind).fetch_add(1, Ordering::Release);
        done
    }

    pub(crate) fn get(&self, kind: WriteKind) -> u64 {
        self.counter(kind).load(Ordering::Acquire)
    }
}
