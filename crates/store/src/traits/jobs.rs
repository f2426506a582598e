//! Leadership of background jobs among the nodes of one service.

use async_trait::async_trait;

use crate::Result;

#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    // Background jobs.
    /// Whether this process leads `job` (purge, re-sealing), so that one node at a time runs it.
    /// Leadership, once taken, is kept until the process ends (or its database session does, when
    /// another node may take it). Call before each run: `false` means another node leads.
    async fn try_lead(&self, job: &str) -> Result<bool>;
}
