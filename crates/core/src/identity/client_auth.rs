//! Client authentication at the token endpoint: client secrets (hash compared in constant time) and
//! certificate client assertions (RS256 or PS256, issuer = subject = client, audience = our token
//! endpoint, lifetime, one use per `jti`).

use keyhold_crypto::{jwt::Unverified, x509::ClientCertificate};
use keyhold_store::PrincipalRecord;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::Identity;
use crate::AuthError;

pub enum ClientCredential<'a> {
    Secret(&'a SecretString),
    /// A client assertion JWT, and the token-endpoint URLs it may be addressed to.
    Assertion {
        jwt: &'a str,
        audiences: &'a [String],
    },
}

/// Assertion claims. MSAL Python sends `exp`/`iat` as floats, so they are read as such.
#[derive(Deserialize)]
struct AssertionClaims {
    aud: String,
    iss: String,
    sub: String,
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    jti: Option<String>,
}

impl Identity {
    /// Returns the principal and its `appidacr` ("1" secret, "2" certificate).
    pub(super) async fn authenticate(
        &self,
        client_id: &str,
        credential: ClientCredential<'_>,
    ) -> Result<(PrincipalRecord, &'static str), AuthError> {
        let principal = self
            .store
            .principal_by_app_id(client_id)
            .await?
            .ok_or_else(|| AuthError::UnknownClient(client_id.to_owned()))?;
        let now = self.clock.now();
        match credential {
            ClientCredential::Secret(secret) => {
                let hash = keyhold_crypto::sha256(secret.expose_secret().as_bytes());
                let mut ok = false;
                for s in self.store.client_secrets(&principal.object_id).await? {
                    ok |= keyhold_crypto::ct_eq(&hash, &s.hash) && s.expires > now;
                }
                if ok {
                    Ok((principal, "1"))
                } else {
                    Err(AuthError::InvalidSecret)
                }
            }
            ClientCredential::Assertion { jwt, audiences } => {
                self.check_assertion(&principal, client_id, jwt, audiences, now).await?;
                Ok((principal, "2"))
            }
        }
    }

    async fn check_assertion(
        &self,
        principal: &PrincipalRecord,
        client_id: &str,
        jwt: &str,
        audiences: &[String],
        now: i64,
    ) -> Result<(), AuthError> {
        let bad = |m: &str| AuthError::InvalidAssertion(m.to_owned());
        let parsed = Unverified::parse(jwt).map_err(|_| bad("the assertion is not a valid JWT"))?;
        let alg = parsed
            .header
            .alg()
            .ok_or_else(|| bad("the assertion must be signed with RS256 or PS256"))?;
        let x5t = parsed.header.x5t.as_deref().map(|t| t.trim_end_matches('='));
        let x5t_s256 = parsed.header.x5t_s256.as_deref().map(|t| t.trim_end_matches('='));
        let certs = self.store.client_certificates(&principal.object_id).await?;
        let cert = certs
            .iter()
            .find(|c| Some(c.x5t.as_str()) == x5t || Some(c.x5t_s256.as_str()) == x5t_s256)
            .ok_or_else(|| bad("no certificate registered for this client matches the assertion's thumbprint"))?;
        if cert.not_after < now {
            return Err(bad("the certificate has expired"));
        }
        let key = ClientCertificate::parse(&cert.der)
            .and_then(|c| c.public_key())
            .map_err(|e| bad(&e.to_string()))?;
        let claims: AssertionClaims = parsed
            .verify(alg, &key)
            .map_err(|_| bad("the assertion's signature is invalid"))?;
        if claims.iss != client_id || claims.sub != client_id {
            return Err(bad("the assertion's iss and sub must both be the client id"));
        }
        let aud = claims.aud.trim_end_matches('/');
        if !audiences
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(aud))
        {
            return Err(bad("the assertion's audience is not this token endpoint"));
        }
        let skew = self.config.clock_skew_secs;
        let exp = claims.exp as i64;
        if exp.saturating_add(skew) <= now {
            return Err(bad("the assertion has expired"));
        }
        if claims.nbf.is_some_and(|n| n as i64 > now.saturating_add(skew)) {
            return Err(bad("the assertion is not yet valid"));
        }
        let jti = claims.jti.ok_or_else(|| bad("the assertion has no jti"))?;
        // Remembered in the store, so a replay fails after a restart and on every node.
        let key = format!("assertion:{client_id}:{jti}");
        if !self.store.first_use(&key, exp.saturating_add(skew), now).await? {
            return Err(bad("the assertion has already been used"));
        }
        Ok(())
    }
}
