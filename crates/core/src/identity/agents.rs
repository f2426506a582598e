//! `keyhold agent` on other hosts: a one-time, short-lived join token (stored as a hash) enrols an
//! agent for one resource; the agent keeps its private key, the server only its public point. From
//! then on the agent proves itself with short ES256 assertions (one use each) to get tokens for the
//! identities of its resource. Revoking the agent or deleting the resource stops tokens at once.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyhold_crypto::jwt::Unverified;
use keyhold_store::AgentRecord;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{Identity, IdentitySelector, IssuedToken, ManagedIdentity};
use crate::AuthError;

/// What an admin hands to whoever sets up the agent. The token is shown once.
#[derive(Debug)]
pub struct NewJoinToken {
    pub token: SecretString,
    pub expires_on: i64,
    pub resource_id: String,
}

/// The claims of an agent's assertion.
#[derive(Debug, Serialize, Deserialize)]
pub struct AgentAssertion {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The longest an agent assertion may live.
const MAX_ASSERTION_SECS: i64 = 600;

fn token_hash(token: &str) -> String {
    hex::encode(keyhold_crypto::sha256(token.as_bytes()))
}

fn invalid(why: &str) -> AuthError {
    AuthError::InvalidAgent(why.to_owned())
}

impl Identity {
    /// A one-time join token for the agent of `resource_id` (which must exist).
    pub async fn create_join_token(&self, resource_id: &str, ttl_secs: i64) -> Result<NewJoinToken, AuthError> {
        let resource = self
            .store
            .resource(resource_id)
            .await?
            .ok_or_else(|| AuthError::UnknownResource(resource_id.to_owned()))?;
        let token = SecretString::from(format!("khj_{}", keyhold_crypto::random::token(32)?));
        let expires_on = self.clock.now() + ttl_secs.clamp(1, 24 * 3600);
        self.store
            .put_join_token(&token_hash(token.expose_secret()), &resource.id, expires_on)
            .await?;
        Ok(NewJoinToken {
            token,
            expires_on,
            resource_id: resource.id,
        })
    }

    /// Enrols an agent: spends the join token, records the agent's public point.
    pub async fn enroll_agent(&self, join_token: &str, public_point: &str) -> Result<AgentRecord, AuthError> {
        let point = URL_SAFE_NO_PAD
            .decode(public_point.trim_end_matches('='))
            .map_err(|_| invalid("the public key is not base64url"))?;
        if point.len() != 65 || point[0] != 4 {
            return Err(invalid("the public key must be an uncompressed P-256 point"));
        }
        let now = self.clock.now();
        let resource_id = self
            .store
            .consume_join_token(&token_hash(join_token), now)
            .await?
            .ok_or_else(|| invalid("the join token is unknown, already used or expired"))?;
        if self.store.resource(&resource_id).await?.is_none() {
            return Err(invalid("the join token's resource no longer exists"));
        }
        let agent = AgentRecord {
            agent_id: keyhold_crypto::random::guid(),
            resource_id,
            public_key: URL_SAFE_NO_PAD.encode(point),
            created: now,
            revoked_at: None,
        };
        self.store.put_agent(&agent).await?;
        Ok(agent)
    }

    /// A token for an agent: verifies its assertion (addressed to one of `audiences`), then issues for
    /// the selected identity of its resource.
    pub async fn agent_token(
        &self,
        assertion: &str,
        audiences: &[String],
        selector: &IdentitySelector,
        audience: &str,
    ) -> Result<(ManagedIdentity, IssuedToken), AuthError> {
        let parsed = Unverified::parse(assertion).map_err(|_| invalid("the assertion is not a JWT"))?;
        let agent_id = parsed
            .header
            .kid
            .clone()
            .ok_or_else(|| invalid("the assertion names no agent (kid)"))?;
        let agent = self
            .store
            .agent(&agent_id)
            .await?
            .ok_or_else(|| invalid("unknown agent"))?;
        if agent.revoked_at.is_some() {
            return Err(invalid("the agent has been revoked"));
        }
        let point = URL_SAFE_NO_PAD
            .decode(&agent.public_key)
            .map_err(|_| invalid("stored key is corrupt"))?;
        let claims: AgentAssertion = parsed
            .verify_es256(&point)
            .map_err(|_| invalid("the assertion's signature is invalid"))?;
        let now = self.clock.now();
        let skew = self.config.clock_skew_secs;
        if claims.iss != agent_id || claims.sub != agent_id {
            return Err(invalid("the assertion's iss and sub must name the agent"));
        }
        if !audiences.iter().any(|a| {
            a.trim_end_matches('/')
                .eq_ignore_ascii_case(claims.aud.trim_end_matches('/'))
        }) {
            return Err(invalid("the assertion is addressed to another server"));
        }
        let Some(remember_until) = assertion_window(claims.iat, claims.exp, now, skew) else {
            return Err(invalid(
                "the assertion is expired, lives too long or was not issued just now",
            ));
        };
        if !self
            .store
            .first_use(&format!("agent:{agent_id}:{}", claims.jti), remember_until, now)
            .await?
        {
            return Err(invalid("the assertion has already been used"));
        }
        let mi = self.select_identity(&agent.resource_id, selector).await?;
        let token = self.managed_identity_token(&mi, audience)?;
        Ok((mi, token))
    }

    pub async fn revoke_agent(&self, agent_id: &str) -> Result<(), AuthError> {
        match self.store.revoke_agent(agent_id, self.clock.now()).await {
            Ok(()) => Ok(()),
            Err(keyhold_store::StoreError::NotFound) => Err(AuthError::UnknownAgent),
            Err(e) => Err(e.into()),
        }
    }
}

/// Until when an assertion's `jti` must be remembered, if its times are acceptable: issued within the
/// clock skew of `now`, not expired, living at most [`MAX_ASSERTION_SECS`]. Checked arithmetic: the
/// claims are the client's numbers, and i64 extremes must not wrap past the cap.
fn assertion_window(iat: i64, exp: i64, now: i64, skew: i64) -> Option<i64> {
    let issued_now = iat
        .checked_sub(now)
        .is_some_and(|d| d.checked_abs().is_some_and(|d| d <= skew));
    let lifetime_ok = exp
        .checked_sub(iat)
        .is_some_and(|l| (0..=MAX_ASSERTION_SECS).contains(&l));
    let until = exp.checked_add(skew).filter(|until| *until > now)?;
    (issued_now && lifetime_ok).then_some(until)
}

#[cfg(test)]
mod tests {
    use super::assertion_window;

    #[test]
    fn assertion_times_are_checked_without_overflow() {
        let now = 1_700_000_000;
        assert_eq!(assertion_window(now, now + 300, now, 60), Some(now + 360));
        assert_eq!(
            assertion_window(i64::MIN, now + 300, now, 60),
            None,
            "huge negative iat"
        );
        assert_eq!(assertion_window(now - 3600, now + 60, now, 60), None, "issued long ago");
        assert_eq!(assertion_window(now, i64::MAX, now, 60), None, "lives too long");
        assert_eq!(assertion_window(now, now + 601, now, 60), None);
        assert_eq!(assertion_window(now - 700, now - 100, now, 60), None, "expired");
        assert_eq!(assertion_window(i64::MAX, i64::MAX, now, 60), None);
    }
}
