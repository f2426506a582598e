//! The one subscription: who may read it, and who sees it listed.

use super::{ArmError, Management};
use crate::authz::Caller;

const READ: &str = "Microsoft.Resources/subscriptions/read";

impl Management {
    /// Refuses unless `caller` may read the subscription itself.
    pub async fn read_subscription(&self, caller: &Caller) -> Result<(), ArmError> {
        self.require(caller, READ, &self.subscription_scope()).await
    }

    /// Whether `GET /subscriptions` lists the subscription to `caller`: to anyone who may read it, and
    /// to anyone with a role anywhere in it, as Azure does.
    pub async fn subscription_listed(&self, caller: &Caller) -> Result<bool, ArmError> {
        let scope = self.subscription_scope();
        Ok(self.authz.action(caller, READ, &scope).await? || self.authz.has_any_role_under(caller, &scope).await?)
    }
}
