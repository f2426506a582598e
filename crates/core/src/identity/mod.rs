//! The identity provider: principals and their credentials, client authentication, and the tokens
//! keyhold issues and verifies.

mod agents;
mod authorize;
mod client_auth;
pub(crate) mod managed;
mod principals;
mod signin;
pub(crate) mod signing;
mod signout;
mod users;
pub use crate::throttle::Source;
mod verify;

use std::sync::Arc;

use keyhold_proto::entra::{AccessClaims, Jwk};
use keyhold_store::Store;

pub use agents::{AgentAssertion, NewJoinToken};
pub use authorize::{AuthorizeError, AuthorizeParams, AuthorizeRequest, CONSOLE_CALLBACK, CONSOLE_CLIENT_ID};
pub use client_auth::ClientCredential;
pub use managed::{IdentitySelector, ManagedIdentity};
pub use principals::NewServicePrincipal;
pub use signin::{NewDeviceCode, UserTokens};
pub use users::{NewUser, UserPatch};
pub use verify::{Audience, TokenError, VerifiedToken};

use crate::{AuthError, CoreConfig, Keys, clock::Clock};

pub struct Identity {
    store: Arc<dyn Store>,
    keys: Keys,
    mi_cache: managed::TokenCache,
    /// Each resource's managed identities, as [`Identity::identities_of`] last read them.
    identities: crate::fresh::Fresh<Arc<Vec<managed::ManagedIdentity>>>,
    clock: Arc<dyn Clock>,
    config: Arc<CoreConfig>,
    tenant_id: String,
    signing: signing::SigningKeys,
    verifier: verify::Verifier,
    /// Failed client authentications per (client id, source address).
    throttle: crate::throttle::Throttle<(String, Source)>,
    /// Wrong passwords per (user principal name, source address).
    signin_throttle: crate::throttle::Throttle<(String, Source)>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity(tenant {})", self.tenant_id)
    }
}

/// An issued access token and its lifetime, for the token endpoint's response.
pub struct IssuedToken {
    pub access_token: String,
    /// The principal the token was issued to.
    pub oid: String,
    pub expires_in: i64,
    pub expires_on: i64,
    pub not_before: i64,
    pub resource: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedToken(<redacted>, for {})", self.resource)
    }
}

impl Identity {
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        keys: Keys,
        clock: Arc<dyn Clock>,
        config: Arc<CoreConfig>,
        tenant_id: String,
    ) -> Result<Self, AuthError> {
        let signing = signing::SigningKeys::load(store.clone(), keys.clone(), clock.clone(), &config).await?;
        Ok(Self {
            verifier: verify::Verifier::new(),
            throttle: crate::throttle::Throttle::new(10, 60, 100_000),
            signin_throttle: crate::throttle::Throttle::new(signin::SIGNIN_FAILURES, 60, 100_000),
            identities: crate::fresh::Fresh::new(store.clone(), keyhold_store::WriteKind::Identities),
            store,
            keys,
            mi_cache: managed::TokenCache::default(),
            clock,
            config,
            tenant_id,
            signing,
        })
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The `iss` of every token we issue.
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.config.public_url, self.tenant_id)
    }

    /// Maps a tenant path segment (the GUID, or the `adfs` alias MSAL uses to skip instance
    /// discovery) to our tenant.
    pub fn resolve_tenant(&self, segment: &str) -> Result<&str, AuthError> {
        if segment.eq_ignore_ascii_case(&self.tenant_id) || segment.eq_ignore_ascii_case("adfs") {
            Ok(&self.tenant_id)
        } else {
            Err(AuthError::UnknownTenant(segment.to_owned()))
        }
    }

    /// Maps the tenant segment of a person's sign-in (authorize, device code, the token endpoint's
    /// user grants, logout) to our tenant: as [`Self::resolve_tenant`], plus Entra's multi-tenant
    /// aliases `common` and `organizations`, which MSAL and az use before they know the tenant. A
    /// person's tokens are always our one tenant's. (`consumers` is Microsoft accounts': none here.)
    pub fn resolve_sign_in_tenant(&self, segment: &str) -> Result<&str, AuthError> {
        if segment.eq_ignore_ascii_case("common") || segment.eq_ignore_ascii_case("organizations") {
            Ok(&self.tenant_id)
        } else {
            self.resolve_tenant(segment)
        }
    }

    /// Client credentials grant: authenticates the client and issues a token for `resource`. The
    /// right credential always works: failures are throttled per (client, source), and only the
    /// wrong ones of a throttled source answer 429.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        credential: ClientCredential<'_>,
        resource: &str,
        source: Source,
    ) -> Result<IssuedToken, AuthError> {
        if self.audience_of(resource).is_none() {
            return Err(AuthError::UnknownResource(resource.to_owned()));
        }
        let (principal, acr) = match self.authenticate(client_id, credential).await {
            Ok(ok) => ok,
            Err(e @ (AuthError::InvalidSecret | AuthError::InvalidAssertion(_))) => {
                let now = self.clock.now();
                let key = (client_id.to_ascii_lowercase(), source);
                if let Some(retry_after_secs) = self.throttle.blocked(&key, now) {
                    return Err(AuthError::Throttled { retry_after_secs });
                }
                self.throttle.fail(key, now);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let app_id = principal.app_id.clone().unwrap_or_default();
        self.issue(&principal.object_id, &app_id, acr, resource, None)
    }

    /// Signs a token for a principal. `mirid` is the resource id of a managed identity.
    pub fn issue(
        &self,
        oid: &str,
        app_id: &str,
        acr: &str,
        resource: &str,
        mirid: Option<String>,
    ) -> Result<IssuedToken, AuthError> {
        let now = self.clock.now();
        let exp = now + self.config.token_lifetime_secs;
        let claims = AccessClaims {
            aud: resource.to_owned(),
            iss: self.issuer(),
            iat: now,
            nbf: now,
            exp,
            appid: app_id.to_owned(),
            appidacr: acr.to_owned(),
            azp: app_id.to_owned(),
            azpacr: acr.to_owned(),
            idp: self.issuer(),
            idtyp: "app".into(),
            oid: oid.to_owned(),
            sub: oid.to_owned(),
            tid: self.tenant_id.clone(),
            uti: keyhold_crypto::random::token(16)?,
            ver: "2.0".into(),
            xms_mirid: mirid,
            upn: None,
            name: None,
            scp: None,
        };
        Ok(IssuedToken {
            access_token: self.signing.sign(&claims)?,
            oid: oid.to_owned(),
            expires_in: exp - now,
            expires_on: exp,
            not_before: now,
            resource: resource.to_owned(),
        })
    }

    /// Which of our audiences a resource URI names, if any.
    pub fn audience_of(&self, resource: &str) -> Option<Audience> {
        verify::classify(&self.config, resource)
    }

    /// Verifies a bearer token for `want` (signature, issuer, audience, lifetime).
    pub async fn verify(&self, token: &str, want: Audience) -> Result<VerifiedToken, TokenError> {
        self.verifier.verify(token, want, self).await
    }

    pub async fn jwks(&self) -> Vec<Jwk> {
        self.signing.published(&self.issuer())
    }

    /// Re-reads the signing keys from the store: another node may have rotated them.
    pub async fn reload_signing_keys(&self) -> Result<(), AuthError> {
        self.signing.reload().await
    }

    /// Scheduled rotation: a new signing key once the active one is older than the configured age.
    pub async fn rotate_signing_key_if_due(&self) -> Result<Option<String>, AuthError> {
        self.signing.rotate_if_older(self.config.signing_key_max_age_secs).await
    }

    /// Adds a new signing key; the old one stays published until its last token has expired.
    pub async fn rotate_signing_key(&self) -> Result<String, AuthError> {
        self.signing.rotate().await
    }
}
