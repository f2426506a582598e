//! Managed identities served by this host's endpoints. Today: the host's own system-assigned identity,
//! created at first start. Tokens are cached per (identity, resource) like IMDS does, because RS256
//! signing is too slow to do per request.

use std::{collections::HashMap, sync::Mutex};

use keyhold_crypto::random;
use keyhold_store::{PrincipalKind, PrincipalRecord};
use serde::{Deserialize, Serialize};

use super::{Identity, IssuedToken};
use crate::AuthError;

/// The identity a host's managed-identity endpoints hand out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostIdentity {
    pub object_id: String,
    pub client_id: String,
    /// ARM resource id of the host, the token's `xms_mirid`.
    pub resource_id: String,
}

/// How a workload named the identity it wants (`client_id`, `object_id`, `msi_res_id`/`mi_res_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySelector {
    SystemAssigned,
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

#[derive(Default)]
pub(super) struct TokenCache {
    tokens: Mutex<HashMap<(String, String), CachedToken>>,
}

#[derive(Clone)]
struct CachedToken {
    access_token: String,
    expires_on: i64,
    not_before: i64,
}

/// Associated data of the sealed meta `identity_header`.
pub(crate) const IDENTITY_HEADER_AAD: [&str; 1] = ["identity-header"];

/// Where the sealed header secret is kept.
pub(crate) const IDENTITY_HEADER_META: &str = "identity_header";

impl HostIdentity {
    fn matches(&self, sel: &IdentitySelector) -> bool {
        match sel {
            IdentitySelector::SystemAssigned => true,
            IdentitySelector::ClientId(id) => id.eq_ignore_ascii_case(&self.client_id),
            IdentitySelector::ObjectId(id) => id.eq_ignore_ascii_case(&self.object_id),
            IdentitySelector::ResourceId(id) => id.eq_ignore_ascii_case(&self.resource_id),
        }
    }
}

impl Identity {
    /// The host's system-assigned identity, created on first use and stable afterwards.
    pub async fn host_identity(&self, host_name: &str) -> Result<HostIdentity, AuthError> {
        if let Some(bytes) = self.store.meta("host_identity").await? {
            return serde_json::from_slice(&bytes).map_err(|e| AuthError::Internal(e.to_string()));
        }
        let subscription = String::from_utf8(
            self.store
                .put_meta_if_absent("subscription_id", random::guid().as_bytes())
                .await?,
        )
        .map_err(|e| AuthError::Internal(e.to_string()))?;
        let host = HostIdentity {
            object_id: random::guid(),
            client_id: random::guid(),
            resource_id: format!(
                "/subscriptions/{subscription}/resourceGroups/keyhold/providers/Microsoft.Compute/virtualMachines/{host_name}"
            ),
        };
        let json = serde_json::to_vec(&host).map_err(|e| AuthError::Internal(e.to_string()))?;
        let stored = self.store.put_meta_if_absent("host_identity", &json).await?;
        let host: HostIdentity = serde_json::from_slice(&stored).map_err(|e| AuthError::Internal(e.to_string()))?;
        if self.store.principal(&host.object_id).await?.is_none() {
            self.store
                .put_principal(&PrincipalRecord {
                    object_id: host.object_id.clone(),
                    app_id: Some(host.client_id.clone()),
                    display_name: host_name.to_owned(),
                    kind: PrincipalKind::ManagedIdentity,
                    tenant_id: self.tenant_id.clone(),
                    created: self.clock.now(),
                })
                .await?;
        }
        Ok(host)
    }

    /// A token for the selected identity of `host`, from the cache while it has at least ten minutes
    /// (or half its lifetime) left.
    pub fn managed_identity_token(
        &self,
        host: &HostIdentity,
        selector: &IdentitySelector,
        resource: &str,
    ) -> Result<IssuedToken, AuthError> {
        if !host.matches(selector) {
            return Err(AuthError::IdentityNotFound);
        }
        if self.audience_of(resource).is_none() {
            return Err(AuthError::UnknownResource(resource.to_owned()));
        }
        let now = self.clock.now();
        let margin = (self.config.token_lifetime_secs / 2).min(600);
        let key = (host.object_id.clone(), resource.to_owned());
        let cached = self
            .mi_cache
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(t) = cached.filter(|t| t.expires_on - now > margin) {
            return Ok(IssuedToken {
                access_token: t.access_token,
                oid: host.object_id.clone(),
                expires_in: t.expires_on - now,
                expires_on: t.expires_on,
                not_before: t.not_before,
                resource: resource.to_owned(),
            });
        }
        let token = self.issue(
            &host.object_id,
            &host.client_id,
            "2",
            resource,
            Some(host.resource_id.clone()),
        )?;
        let entry = CachedToken {
            access_token: token.access_token.clone(),
            expires_on: token.expires_on,
            not_before: token.not_before,
        };
        self.mi_cache
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, entry);
        Ok(token)
    }

    /// The shared header secret of the App Service and 2017 protocols, sealed at rest.
    pub async fn identity_header(&self) -> Result<String, AuthError> {
        let fresh = self.keys.seal(&IDENTITY_HEADER_AAD, random::token(24).as_bytes())?;
        let stored = self
            .store
            .put_meta_if_absent(IDENTITY_HEADER_META, fresh.as_bytes())
            .await?;
        let sealed = keyhold_crypto::Sealed::from_stored(stored)?;
        let plain = self.keys.open(&IDENTITY_HEADER_AAD, &sealed).await?;
        String::from_utf8(plain.to_vec()).map_err(|e| AuthError::Internal(e.to_string()))
    }
}

/// Test only the store-free logic here; the endpoints are covered end to end.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_case_insensitively() {
        let h = HostIdentity {
            object_id: "O".into(),
            client_id: "C".into(),
            resource_id: "/subscriptions/S/x".into(),
        };
        assert!(h.matches(&IdentitySelector::SystemAssigned));
        assert!(h.matches(&IdentitySelector::ClientId("c".into())));
        assert!(h.matches(&IdentitySelector::ResourceId("/SUBSCRIPTIONS/s/X".into())));
        assert!(!h.matches(&IdentitySelector::ObjectId("other".into())));
    }
}
