//! Rotation policies: Azure's validation (ISO 8601 durations, one trigger per action, `Notify` only
//! before expiry, the 7-day and 28-day minimums) and the leader's job that rotates keys when a
//! `Rotate` trigger is due and records a due `Notify` for the events work to come.

use keyhold_proto::keys::{
    KeyRotationPolicy, LifetimeAction, LifetimeActionType, LifetimeTrigger, RotationPolicyAttributes,
};
use keyhold_store::{KeyPolicyRecord, KeyVersionRecord, VaultRecord};

use super::{VaultKeys, validate_key_name};
use crate::{
    VaultError,
    authz::{Caller, KeyOp},
};

const DAY: i64 = 86_400;

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::BadParameter(msg.into())
}

/// Seconds of an ISO 8601 duration (`P90D`, `P1Y2M`, `PT36H`); years are 365 days, months 30.
pub fn duration_secs(text: &str) -> Option<i64> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0i64;
    let mut num = String::new();
    let mut any = false;
    for (part, units) in [
        (date, [('Y', 365 * DAY), ('M', 30 * DAY), ('W', 7 * DAY), ('D', DAY)]),
        (time, [('H', 3600), ('M', 60), ('S', 1), ('\0', 0)]),
    ] {
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit = units.iter().find(|(u, _)| *u == c)?.1;
            total = total.checked_add(num.parse::<i64>().ok()?.checked_mul(unit)?)?;
            num.clear();
            any = true;
        }
        if !num.is_empty() {
            return None;
        }
    }
    any.then_some(total)
}

/// Validated and normalised (action types spelled `Rotate` / `Notify`).
fn validate(mut p: KeyRotationPolicy) -> Result<KeyRotationPolicy, VaultError> {
    let expiry = match p.attributes.as_ref().and_then(|a| a.expiry_time.as_deref()) {
        Some(t) => {
            let secs = duration_secs(t)
                .ok_or_else(|| bad(format!("Invalid expiryTime '{t}': it must be an ISO 8601 duration.")))?;
            if secs < 28 * DAY {
                return Err(bad(
                    "The expiryTime of a rotation policy must be at least 28 days (P28D).",
                ));
            }
            Some(secs)
        }
        None => None,
    };
    for a in p.lifetime_actions.iter_mut().flatten() {
        let kind = a.action.as_ref().and_then(|t| t.kind.clone()).unwrap_or_default();
        let kind = if kind.eq_ignore_ascii_case("rotate") {
            "Rotate"
        } else if kind.eq_ignore_ascii_case("notify") {
            "Notify"
        } else {
            return Err(bad(format!(
                "Invalid lifetime action type '{kind}': it must be Rotate or Notify."
            )));
        };
        a.action = Some(LifetimeActionType {
            kind: Some(kind.into()),
        });
        let trigger = a.trigger.clone().unwrap_or_default();
        let (after, before) = (
            trigger.time_after_create.as_deref(),
            trigger.time_before_expiry.as_deref(),
        );
        let secs = match (after, before) {
            (Some(t), None) | (None, Some(t)) => duration_secs(t)
                .ok_or_else(|| bad(format!("Invalid trigger '{t}': it must be an ISO 8601 duration.")))?,
            _ => {
                return Err(bad(
                    "Each lifetime action needs exactly one of timeAfterCreate and timeBeforeExpiry.",
                ));
            }
        };
        if secs < 7 * DAY {
            return Err(bad("Lifetime action triggers must be at least 7 days (P7D)."));
        }
        if kind == "Notify" && after.is_some() {
            return Err(bad("A Notify action can only be triggered by timeBeforeExpiry."));
        }
        if before.is_some() && expiry.is_none() {
            return Err(bad("A timeBeforeExpiry trigger needs the policy's expiryTime."));
        }
        if let (Some(e), Some(_)) = (expiry, after)
            && secs > e - 7 * DAY
        {
            return Err(bad(
                "timeAfterCreate must be at least 7 days before the policy's expiryTime.",
            ));
        }
    }
    Ok(p)
}

/// Azure's default for a key without a policy: notify 30 days before expiry.
fn default_policy() -> KeyRotationPolicy {
    KeyRotationPolicy {
        id: None,
        lifetime_actions: Some(vec![LifetimeAction {
            trigger: Some(LifetimeTrigger {
                time_after_create: None,
                time_before_expiry: Some("P30D".into()),
            }),
            action: Some(LifetimeActionType {
                kind: Some("Notify".into()),
            }),
        }]),
        attributes: None,
    }
}

fn from_record(r: &KeyPolicyRecord) -> Result<KeyRotationPolicy, VaultError> {
    let mut p: KeyRotationPolicy = serde_json::from_value(r.policy.clone()).map_err(|_| VaultError::Integrity)?;
    let attrs = p.attributes.get_or_insert_with(RotationPolicyAttributes::default);
    attrs.created = Some(r.created);
    attrs.updated = Some(r.updated);
    Ok(p)
}

impl VaultKeys {
    pub async fn rotation_policy(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
    ) -> Result<KeyRotationPolicy, VaultError> {
        self.authz
            .key(caller, vault, KeyOp::GetRotationPolicy, Some(name))
            .await?;
        validate_key_name(name)?;
        self.record(vault, name, None).await?;
        match self.store.key_policy(&vault.name, name).await? {
            Some(r) => from_record(&r),
            None => Ok(default_policy()),
        }
    }

    pub async fn set_rotation_policy(
        &self,
        caller: &Caller,
        vault: &VaultRecord,
        name: &str,
        policy: KeyRotationPolicy,
    ) -> Result<KeyRotationPolicy, VaultError> {
        self.authz
            .key(caller, vault, KeyOp::SetRotationPolicy, Some(name))
            .await?;
        validate_key_name(name)?;
        self.record(vault, name, None).await?;
        let mut policy = validate(policy)?;
        policy.id = None;
        if let Some(a) = policy.attributes.as_mut() {
            a.created = None;
            a.updated = None;
        }
        let now = self.clock.now();
        let created = self
            .store
            .key_policy(&vault.name, name)
            .await?
            .map_or(now, |r| r.created);
        let record = KeyPolicyRecord {
            vault: vault.name.clone(),
            name: name.to_owned(),
            policy: serde_json::to_value(&policy).map_err(|e| VaultError::Internal(e.to_string()))?,
            created,
            updated: now,
        };
        self.store.put_key_policy(&record).await?;
        from_record(&record)
    }

    /// The policy's `expiryTime` in seconds, for new versions made by rotation.
    pub(crate) async fn policy_expiry(&self, vault: &VaultRecord, name: &str) -> Result<Option<i64>, VaultError> {
        let Some(r) = self.store.key_policy(&vault.name, name).await? else {
            return Ok(None);
        };
        let p = from_record(&r)?;
        Ok(p.attributes.and_then(|a| a.expiry_time).and_then(|t| duration_secs(&t)))
    }

    /// What the rotation job has to do now: every key whose `Rotate` trigger is due (one action per
    /// key, the first due), and every key version whose `Notify` trigger is due and not yet recorded.
    /// Nothing changes here: the job records each action before it runs it ([`Self::rotate_by_policy`],
    /// [`Self::claim_notify`]).
    pub async fn due_actions(&self) -> Result<Vec<DueAction>, VaultError> {
        let now = self.clock.now();
        let mut due_actions = Vec::new();
        for r in self.store.key_policies().await? {
            if self.store.vault(&r.vault).await?.is_none() {
                continue;
            }
            let Some(latest) = self.store.key_version(&r.vault, &r.name, None).await? else {
                continue;
            };
            let policy = from_record(&r)?;
            for a in policy.lifetime_actions.iter().flatten() {
                let trigger = a.trigger.clone().unwrap_or_default();
                let due = match (
                    trigger.time_after_create.as_deref(),
                    trigger.time_before_expiry.as_deref(),
                ) {
                    (Some(t), _) => duration_secs(t).is_some_and(|d| now >= latest.created + d),
                    (None, Some(t)) => duration_secs(t).zip(latest.exp).is_some_and(|(d, exp)| now >= exp - d),
                    _ => false,
                };
                if !due {
                    continue;
                }
                let kind = match a.action.as_ref().and_then(|t| t.kind.as_deref()) {
                    Some("Rotate") => DueKind::Rotate,
                    Some("Notify")
                        if self
                            .store
                            .meta(&notify_key(&r.vault, &r.name, &latest.version))
                            .await?
                            .is_none() =>
                    {
                        DueKind::Notify
                    }
                    _ => continue,
                };
                due_actions.push(DueAction {
                    vault: r.vault.clone(),
                    name: r.name.clone(),
                    version: latest.version.clone(),
                    kind,
                });
                if kind == DueKind::Rotate {
                    break;
                }
            }
        }
        Ok(due_actions)
    }

    /// The policy's rotation of one key (no caller: the rotation job's own act).
    pub async fn rotate_by_policy(&self, vault: &str, name: &str) -> Result<KeyVersionRecord, VaultError> {
        let record = self
            .store
            .vault(vault)
            .await?
            .ok_or_else(|| VaultError::VaultNotFound(vault.to_owned()))?;
        self.rotate_unchecked(&record, name).await
    }

    /// Marks a due `Notify` as recorded for this key version; false when another pass (or node) has.
    pub async fn claim_notify(&self, due: &DueAction, claim: &str) -> Result<bool, VaultError> {
        let key = notify_key(&due.vault, &due.name, &due.version);
        Ok(self.store.put_meta_if_absent(&key, claim.as_bytes()).await? == claim.as_bytes())
    }
}

fn notify_key(vault: &str, name: &str, version: &str) -> String {
    format!(
        "key-notify:{}:{}:{version}",
        vault.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

/// What a rotation policy's trigger asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueKind {
    Rotate,
    Notify,
}

/// One due action of a key's rotation policy; `version` is the key's latest version when it fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAction {
    pub vault: String,
    pub name: String,
    pub version: String,
    pub kind: DueKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_secs("P90D"), Some(90 * DAY));
        assert_eq!(duration_secs("P1Y"), Some(365 * DAY));
        assert_eq!(duration_secs("P1M2D"), Some(32 * DAY));
        assert_eq!(duration_secs("PT36H"), Some(36 * 3600));
        assert_eq!(duration_secs("P"), None);
        assert_eq!(duration_secs("90D"), None);
        assert_eq!(duration_secs("P9X"), None);
    }
}
