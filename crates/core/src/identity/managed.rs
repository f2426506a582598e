//! Managed identities: which identities an ARM resource (a VM, a web app) carries, which one a
//! workload's request selects, and the tokens handed out for them. Tokens are cached per (identity,
//! audience) like IMDS does, because RS256 signing is too slow to do per request.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use keyhold_crypto::random;

use super::{Identity, IssuedToken};
use crate::AuthError;

/// One identity a managed-identity endpoint can hand out: a system-assigned identity (its resource's
/// own) or a user-assigned one attached to the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentity {
    pub object_id: String,
    pub client_id: String,
    /// ARM id the token names in `xms_mirid`: the resource itself, or the user-assigned identity.
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

impl IdentitySelector {
    /// The one identity a request names: none is the system-assigned one; more than one is refused,
    /// as every managed-identity protocol refuses it.
    pub fn one_of(
        client_id: Option<String>,
        object_id: Option<String>,
        resource_id: Option<String>,
    ) -> Result<Self, AuthError> {
        match (client_id, object_id, resource_id) {
            (None, None, None) => Ok(Self::SystemAssigned),
            (Some(c), None, None) => Ok(Self::ClientId(c)),
            (None, Some(o), None) => Ok(Self::ObjectId(o)),
            (None, None, Some(r)) => Ok(Self::ResourceId(r)),
            _ => Err(AuthError::BadParameter(
                "Only one of client_id, object_id or msi_res_id may be specified.".into(),
            )),
        }
    }
}

/// Cached managed-identity tokens at most (identities × audiences; a few audiences each).
const MAX_CACHED_TOKENS: usize = 50_000;

/// A resource URI as Entra matches it: case-insensitive, trailing slashes insignificant. Kept with at
/// most one trailing slash, so `https://management.azure.com/` (what az asks for) is echoed as asked.
pub fn canonical_resource(resource: &str) -> String {
    let lower = resource.trim().to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('/');
    if trimmed.len() < lower.len() {
        format!("{trimmed}/")
    } else {
        trimmed.to_owned()
    }
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

impl Identity {
    /// The identities attached to ARM resource `resource_id`: its system-assigned one first. Read
    /// through a [`crate::fresh::Fresh`] cache: an identity deleted or detached on another node stops
    /// being handed out here within a second, on this node at once.
    pub async fn identities_of(&self, resource_id: &str) -> Result<Arc<Vec<ManagedIdentity>>, AuthError> {
        self.identities
            .get(resource_id, || async {
                self.read_identities_of(resource_id).await.map(Arc::new)
            })
            .await
    }

    async fn read_identities_of(&self, resource_id: &str) -> Result<Vec<ManagedIdentity>, AuthError> {
        let Some(resource) = self.store.resource(resource_id).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let Some(identity) = crate::management::resources::identity_of(&resource) else {
            return Ok(out);
        };
        if let Some(oid) = identity.principal_id
            && let Some(p) = self.store.principal(&oid).await?
        {
            out.push(ManagedIdentity {
                object_id: p.object_id,
                client_id: p.app_id.unwrap_or_default(),
                resource_id: resource.id.clone(),
            });
        }
        for (id, uai) in identity.user_assigned_identities {
            if let (Some(oid), Some(cid)) = (uai.principal_id, uai.client_id) {
                // A deleted user-assigned identity no longer has a principal: it hands out nothing.
                if self.store.principal(&oid).await?.is_some() {
                    out.push(ManagedIdentity {
                        object_id: oid,
                        client_id: cid,
                        resource_id: id,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The identity of `resource_id` a request selects. With no selector: the system-assigned identity,
    /// or the only user-assigned one (as IMDS does).
    pub async fn select_identity(
        &self,
        resource_id: &str,
        selector: &IdentitySelector,
    ) -> Result<ManagedIdentity, AuthError> {
        let all = self.identities_of(resource_id).await?;
        let system = all
            .first()
            .filter(|i| i.resource_id.eq_ignore_ascii_case(resource_id))
            .cloned();
        let found = match selector {
            IdentitySelector::SystemAssigned => system.or_else(|| (all.len() == 1).then(|| all[0].clone())),
            IdentitySelector::ClientId(id) => all.iter().find(|i| i.client_id.eq_ignore_ascii_case(id)).cloned(),
            IdentitySelector::ObjectId(id) => all.iter().find(|i| i.object_id.eq_ignore_ascii_case(id)).cloned(),
            IdentitySelector::ResourceId(id) => all
                .iter()
                .find(|i| i.resource_id.eq_ignore_ascii_case(id) && !i.resource_id.eq_ignore_ascii_case(resource_id))
                .cloned(),
        };
        found.ok_or(AuthError::IdentityNotFound)
    }

    /// A token for `mi` and `audience`, from the cache while it has at least ten minutes (or half its
    /// lifetime) left.
    pub fn managed_identity_token(&self, mi: &ManagedIdentity, audience: &str) -> Result<IssuedToken, AuthError> {
        if self.audience_of(audience).is_none() {
            return Err(AuthError::UnknownResource(audience.to_owned()));
        }
        // One spelling per audience: `https://vault.azure.net////` or upper-case variants would each
        // cost a signature and a cache entry otherwise.
        let audience = &canonical_resource(audience);
        let now = self.clock.now();
        let margin = (self.config.token_lifetime_secs / 2).min(600);
        let key = (mi.object_id.clone(), audience.to_owned());
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
                oid: mi.object_id.clone(),
                expires_in: t.expires_on - now,
                expires_on: t.expires_on,
                not_before: t.not_before,
                resource: audience.to_owned(),
            });
        }
        let token = self.issue(
            &mi.object_id,
            &mi.client_id,
            "2",
            audience,
            Some(mi.resource_id.clone()),
        )?;
        let entry = CachedToken {
            access_token: token.access_token.clone(),
            expires_on: token.expires_on,
            not_before: token.not_before,
        };
        let mut tokens = self.mi_cache.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= MAX_CACHED_TOKENS {
            tokens.retain(|_, t| t.expires_on - now > margin);
            if tokens.len() >= MAX_CACHED_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(key, entry);
        Ok(token)
    }

    /// The shared header secret of the App Service and 2017 protocols, sealed at rest.
    pub async fn identity_header(&self) -> Result<String, AuthError> {
        let fresh = self.keys.seal(&IDENTITY_HEADER_AAD, random::token(24)?.as_bytes())?;
        let stored = self
            .store
            .put_meta_if_absent(IDENTITY_HEADER_META, fresh.as_bytes())
            .await?;
        let sealed = keyhold_crypto::Sealed::from_stored(stored)?;
        let plain = self.keys.open(&IDENTITY_HEADER_AAD, &sealed).await?;
        String::from_utf8(plain.to_vec()).map_err(|e| AuthError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_resource;

    #[test]
    fn resources_have_one_spelling() {
        assert_eq!(
            canonical_resource("https://vault.azure.net////"),
            "https://vault.azure.net/"
        );
        assert_eq!(canonical_resource("HTTPS://Vault.Azure.NET"), "https://vault.azure.net");
        assert_eq!(
            canonical_resource("https://vault.azure.net/"),
            "https://vault.azure.net/"
        );
    }
}
