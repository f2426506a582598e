//! Token signing keys. The newest key signs; a retired key stays published (and accepted) until every
//! token it signed has expired, so rotation never invalidates a live token. Other nodes' rotations are
//! picked up by reloading from the store when an unknown `kid` shows up.

use std::sync::Arc;

use keyhold_crypto::jwt::{PublicKey, SigningKey};
use keyhold_proto::entra::Jwk;
use keyhold_store::{SigningKeyRecord, Store};
use std::sync::RwLock;

use crate::{AuthError, CoreConfig, Keys, clock::Clock};

struct Loaded {
    key: SigningKey,
    public: PublicKey,
    created: i64,
    retired_at: Option<i64>,
}

pub(super) struct SigningKeys {
    store: Arc<dyn Store>,
    keys: Keys,
    clock: Arc<dyn Clock>,
    /// How long a retired key stays valid: the longest token lifetime plus skew.
    overlap_secs: i64,
    loaded: RwLock<Vec<Loaded>>,
    last_reload: std::sync::Mutex<i64>,
}

/// The least time between reloads caused by unknown kids.
const RELOAD_MIN_SECS: i64 = 5;

pub(crate) fn aad(kid: &str) -> [&str; 2] {
    ["signing-key", kid]
}

impl SigningKeys {
    pub(super) async fn load(
        store: Arc<dyn Store>,
        keys: Keys,
        clock: Arc<dyn Clock>,
        config: &CoreConfig,
    ) -> Result<Self, AuthError> {
        let this = Self {
            store,
            keys,
            clock,
            overlap_secs: config.token_lifetime_secs.max(24 * 3600) + config.clock_skew_secs,
            loaded: RwLock::new(Vec::new()),
            last_reload: std::sync::Mutex::new(0),
        };
        this.reload().await?;
        let none_active = this
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .all(|k| k.retired_at.is_some());
        if none_active {
            this.rotate().await?;
        }
        Ok(this)
    }

    /// Rotates when the active key is older than `max_age_secs`; returns the new kid if it did.
    pub(super) async fn rotate_if_older(&self, max_age_secs: i64) -> Result<Option<String>, AuthError> {
        let newest = self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|k| k.retired_at.is_none())
            .map(|k| k.created)
            .max();
        match newest {
            Some(created) if created + max_age_secs > self.clock.now() => Ok(None),
            _ => self.rotate().await.map(Some),
        }
    }

    pub(super) async fn reload(&self) -> Result<(), AuthError> {
        let now = self.clock.now();
        let mut fresh = Vec::new();
        for rec in self.store.signing_keys().await? {
            if rec.retired_at.is_some_and(|r| r + self.overlap_secs < now) {
                self.store.delete_signing_key(&rec.kid).await?;
                continue;
            }
            let pkcs8 = self.keys.open(&aad(&rec.kid), &rec.sealed).await?;
            let key = SigningKey::from_pkcs8(&pkcs8)?;
            let public = key.public_key()?;
            fresh.push(Loaded {
                key,
                public,
                created: rec.created,
                retired_at: rec.retired_at,
            });
        }
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    pub(super) async fn rotate(&self) -> Result<String, AuthError> {
        // Off the async workers: RSA key generation is tens of milliseconds of CPU.
        let key = tokio::task::spawn_blocking(SigningKey::generate)
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))??;
        let now = self.clock.now();
        let record = SigningKeyRecord {
            kid: key.kid.clone(),
            created: now,
            retired_at: None,
            sealed: self.keys.seal(&aad(&key.kid), key.pkcs8())?,
        };
        self.store.put_signing_key(&record).await?;
        let active: Vec<String> = self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|k| k.retired_at.is_none())
            .map(|k| k.key.kid.clone())
            .collect();
        for kid in active {
            self.store.retire_signing_key(&kid, now).await?;
        }
        self.reload().await?;
        Ok(key.kid)
    }

    pub(super) fn sign<C: serde::Serialize>(&self, claims: &C) -> Result<String, AuthError> {
        let guard = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let active = guard
            .iter()
            .rev()
            .find(|k| k.retired_at.is_none())
            .ok_or_else(|| AuthError::Internal("no active signing key".into()))?;
        Ok(active.key.sign(claims)?)
    }

    /// The public key for `kid`, reloading at most every few seconds when it is unknown (another node
    /// rotated), so that made-up kids cannot hammer the store.
    pub(super) async fn public(&self, kid: &str) -> Option<PublicKey> {
        if let Some(k) = self.find(kid) {
            return Some(k);
        }
        let now = self.clock.now();
        {
            let Ok(mut last) = self.last_reload.lock() else {
                return None;
            };
            if now - *last < RELOAD_MIN_SECS {
                return None;
            }
            *last = now;
        }
        self.reload().await.ok()?;
        self.find(kid)
    }

    fn find(&self, kid: &str) -> Option<PublicKey> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|k| k.key.kid == kid)
            .map(|k| k.public.clone())
    }

    pub(super) fn published(&self, issuer: &str) -> Vec<Jwk> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|k| {
                let (n, e) = k.key.public_jwk();
                Jwk {
                    kty: "RSA".into(),
                    use_: "sig".into(),
                    alg: "RS256".into(),
                    kid: k.key.kid.clone(),
                    x5t: k.key.kid.clone(),
                    n,
                    e,
                    issuer: issuer.to_owned(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use keyhold_store::SqliteStore;

    use super::*;

    use crate::clock::FakeClock;

    #[tokio::test]
    async fn keys_rotate_when_old_and_the_old_one_stays_published() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("keyhold-signing-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db"))?);
        let clock = Arc::new(FakeClock(AtomicI64::new(1_000_000)));
        let config = CoreConfig {
            public_url: "https://localhost:1".into(),
            node_url: "https://localhost:1".into(),
            vault_resource: "https://vault.localhost:1".into(),
            dns_suffix: "vault.localhost".into(),
            token_lifetime_secs: 3600,
            device_code_lifetime_secs: 900,
            clock_skew_secs: 60,
            signing_key_max_age_secs: 1000,
        };
        let ring = Keys::load(store.clone(), keyhold_crypto::RootKey::generate()?).await?;
        let keys = SigningKeys::load(store, ring, clock.clone(), &config).await?;
        assert_eq!(keys.published("iss").len(), 1);
        assert_eq!(keys.rotate_if_older(1000).await?, None, "a fresh key stays");
        clock.0.fetch_add(1000, Ordering::SeqCst);
        let new_kid = keys.rotate_if_older(1000).await?.ok_or("an old key is replaced")?;
        let published: Vec<String> = keys.published("iss").into_iter().map(|k| k.kid).collect();
        assert_eq!(published.len(), 2, "the old key stays published for its tokens");
        assert!(published.contains(&new_kid));
        assert_eq!(keys.rotate_if_older(1000).await?, None);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
