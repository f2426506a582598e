//! The activity log of one resource: the audit records of the operations on it (the management
//! plane's changes, and for a vault every data-plane operation), newest first, for whoever may
//! read the resource's events.

use std::sync::Arc;

use crate::{
    audit::{AuditEntry, AuditLog},
    authz::{Caller, covers},
};

use super::{ArmError, Management};

/// How far back the activity log reads: the last 8 MiB of the audit log.
const WINDOW_BYTES: u64 = 8 * 1024 * 1024;
/// At most this many events are answered.
const MAX_EVENTS: usize = 500;

/// The vault a resource id names, if it names one.
fn vault_name(resource_id: &str) -> Option<&str> {
    let segs: Vec<&str> = resource_id.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [_, _, _, _, p, ns, t, name]
            if p.eq_ignore_ascii_case("providers")
                && ns.eq_ignore_ascii_case("Microsoft.KeyVault")
                && t.eq_ignore_ascii_case("vaults") =>
        {
            Some(name)
        }
        _ => None,
    }
}

impl Management {
    pub async fn activity_log(
        &self,
        caller: &Caller,
        log: &Arc<AuditLog>,
        resource_id: &str,
    ) -> Result<Vec<AuditEntry>, ArmError> {
        self.require(caller, "Microsoft.Insights/eventtypes/values/read", resource_id)
            .await?;
        let vault = vault_name(resource_id).map(str::to_ascii_lowercase);
        let concerns = |e: &AuditEntry| {
            let on_object = e.object.as_deref().is_some_and(|o| covers(resource_id, o));
            let in_vault = vault
                .as_deref()
                .is_some_and(|v| e.vault.as_deref().is_some_and(|ev| ev.eq_ignore_ascii_case(v)));
            // The management plane's reads are not activity (the console's own page loads would
            // drown the rest), as Azure's activity log leaves them out; the data plane's stay: who
            // read a secret is what a vault's owner asks.
            let arm_read = e.operation.ends_with("/read");
            e.phase.is_none() && e.result != 0 && !arm_read && (on_object || in_vault)
        };
        let log = log.clone();
        let mut events: Vec<AuditEntry> = tokio::task::spawn_blocking(move || log.recent(WINDOW_BYTES))
            .await
            .map_err(|e| ArmError::Internal(e.to_string()))?
            .map_err(|e| ArmError::Internal(e.to_string()))?
            .into_iter()
            .filter(concerns)
            .collect();
        events.reverse();
        events.truncate(MAX_EVENTS);
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::vault_name;

    #[test]
    fn only_a_vault_id_names_a_vault() {
        assert_eq!(
            vault_name("/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv1"),
            Some("kv1")
        );
        assert_eq!(vault_name("/subscriptions/s/resourceGroups/g"), None);
        assert_eq!(
            vault_name("/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm"),
            None
        );
    }
}
