//! Bearer-token verification for every protected route. The algorithm is pinned to RS256 and the key
//! must be one of ours by `kid`; issuer, tenant, audience and lifetime are checked on every request.
//! A fully verified token is cached by its SHA-256, so the hot path skips the RSA check but never the
//! lifetime or audience checks.

use std::{collections::HashMap, sync::Arc, sync::Mutex};

use keyhold_crypto::jwt::{Alg, Unverified};
use keyhold_proto::entra::AccessClaims;

use super::Identity;
use crate::CoreConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The vault data plane.
    Vault,
    /// The management plane and keyhold's admin API.
    Management,
    /// keyhold's Microsoft Graph subset (`CoreConfig::graph_resource`).
    Graph,
}

/// Why a token was refused. Each maps to Key Vault's 401 with its own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signing algorithm is not allowed")]
    Algorithm,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token's issuer is invalid")]
    Issuer,
    #[error("invalid audience; found: {found}")]
    Audience { found: String },
    #[error("the token is expired")]
    Expired,
    #[error("the token is not yet valid")]
    NotYetValid,
}

#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub claims: Arc<AccessClaims>,
}

const CACHE_MAX: usize = 50_000;

pub(super) struct Verifier {
    cache: Mutex<HashMap<[u8; 32], Arc<AccessClaims>>>,
}

impl Verifier {
    pub(super) fn new() -> Self {
        Self {
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub(super) async fn verify(&self, token: &str, want: Audience, id: &Identity) -> Result<VerifiedToken, TokenError> {
        let digest = keyhold_crypto::sha256(token.as_bytes());
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .cloned();
        let claims = match cached {
            Some(c) => c,
            None => {
                let claims = Arc::new(verify_signed(token, id).await?);
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache.len() >= CACHE_MAX {
                    let now = id.clock.now();
                    cache.retain(|_, c| c.exp > now);
                    if cache.len() >= CACHE_MAX {
                        cache.clear();
                    }
                }
                cache.insert(digest, claims.clone());
                claims
            }
        };
        let now = id.clock.now();
        let skew = id.config.clock_skew_secs;
        if now >= claims.exp + skew {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now + skew {
            return Err(TokenError::NotYetValid);
        }
        if classify(&id.config, &claims.aud) != Some(want) {
            return Err(TokenError::Audience {
                found: claims.aud.clone(),
            });
        }
        Ok(VerifiedToken { claims })
    }
}

async fn verify_signed(token: &str, id: &Identity) -> Result<AccessClaims, TokenError> {
    let parsed = Unverified::parse(token).map_err(|_| TokenError::Malformed)?;
    if parsed.header.alg() != Some(Alg::Rs256) {
        return Err(TokenError::Algorithm);
    }
    let kid = parsed.header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
    let key = id.signing.public(kid).await.ok_or(TokenError::UnknownKey)?;
    let claims: AccessClaims = parsed.verify(Alg::Rs256, &key).map_err(|e| match e {
        keyhold_crypto::jwt::JwtError::Malformed => TokenError::Malformed,
        keyhold_crypto::jwt::JwtError::Algorithm => TokenError::Algorithm,
        keyhold_crypto::jwt::JwtError::Signature => TokenError::Signature,
    })?;
    if claims.iss != id.issuer() || claims.tid != id.tenant_id {
        return Err(TokenError::Issuer);
    }
    Ok(claims)
}

/// Which audience a resource URI (or token `aud`) belongs to. Trailing slashes and case are ignored.
pub(crate) fn classify(config: &CoreConfig, resource: &str) -> Option<Audience> {
    let r = resource.trim_end_matches('/');
    let is = |s: &str| r.eq_ignore_ascii_case(s.trim_end_matches('/'));
    if is(&config.vault_resource) || is("https://vault.azure.net") {
        Some(Audience::Vault)
    } else if is(&config.public_url) || is("https://management.azure.com") || is("https://management.core.windows.net")
    {
        Some(Audience::Management)
    } else if is(&config.graph_resource()) || is("https://graph.microsoft.com") {
        Some(Audience::Graph)
    } else {
        None
    }
}
