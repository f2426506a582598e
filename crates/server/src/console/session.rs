//! The console's sessions, held on the server: the browser has only a random id in an HttpOnly
//! cookie, so the person's tokens never reach the page's script. A session keeps the refresh token
//! the sign-in gave and the access tokens it has redeemed it for, one per API; it ends on sign-out,
//! after an hour unused, after twelve hours in all, or when the refresh token stops working
//! (password changed, user disabled or deleted).
//!
//! Sessions live in this node's memory: a restart or another node behind the same name means
//! signing in again (nothing is lost but the sign-in).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use keyhold_core::{
    AuthError,
    identity::{CONSOLE_CLIENT_ID, Identity, UserTokens},
};
use keyhold_crypto::{ct_eq, random, sha256};
use secrecy::{ExposeSecret, SecretString};

/// Unused for an hour, or twelve hours after sign-in, a session is over.
const IDLE_SECS: i64 = 3600;
const ABSOLUTE_SECS: i64 = 12 * 3600;
/// A sign-in started and not finished is forgotten after ten minutes, as Entra's codes are.
const PENDING_SECS: i64 = 600;
/// At most this many sessions (and as many pending sign-ins): the least recently used goes first.
const MAX: usize = 10_000;
/// An access token this close to its expiry is renewed before use.
const RENEW_MARGIN_SECS: i64 = 120;

/// The APIs the console calls for the person, each with its own access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Arm,
    Vault,
    Graph,
}

impl Api {
    /// The scope a refresh token is redeemed with for this API.
    pub fn scope(self) -> &'static str {
        match self {
            Self::Arm => "https://management.core.windows.net//.default",
            Self::Vault => "https://vault.azure.net/.default",
            Self::Graph => "https://graph.microsoft.com/.default",
        }
    }
}

/// The sign-in's first scope: the management plane, with an id token and a refresh token.
pub const SIGN_IN_SCOPE: &str = "https://management.core.windows.net//.default openid profile offline_access";

fn now() -> i64 {
    use keyhold_core::clock::Clock;
    keyhold_core::clock::SystemClock.now()
}

/// A sign-in sent to the authorize page and not yet back: what the callback needs to finish it.
pub struct Pending {
    pub verifier: SecretString,
    pub redirect_uri: String,
    started: i64,
}

struct Tokens {
    refresh: SecretString,
    access: HashMap<Api, (SecretString, i64)>,
}

/// One signed-in person.
pub struct Session {
    pub object_id: String,
    pub user_principal_name: String,
    pub display_name: String,
    /// The anti-forgery token every state change must carry.
    pub csrf: SecretString,
    created: i64,
    last_seen: Mutex<i64>,
    /// One renewal at a time: a refresh token works once.
    tokens: tokio::sync::Mutex<Tokens>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({}, <redacted>)", self.object_id)
    }
}

impl Session {
    pub fn csrf_matches(&self, presented: &str) -> bool {
        ct_eq(presented.as_bytes(), self.csrf.expose_secret().as_bytes())
    }

    /// An access token for `api`: the one held while it has a while to live, else one redeemed
    /// from the refresh token (which is replaced, as every use spends it).
    pub async fn token(&self, api: Api, identity: &Identity) -> Result<SecretString, AuthError> {
        let mut tokens = self.tokens.lock().await;
        let now = now();
        if let Some((token, exp)) = tokens.access.get(&api)
            && *exp - RENEW_MARGIN_SECS > now
        {
            return Ok(token.clone());
        }
        let fresh = identity
            .redeem_refresh_token(CONSOLE_CLIENT_ID, tokens.refresh.expose_secret(), Some(api.scope()))
            .await?;
        tokens.refresh = fresh.refresh_token;
        let token = SecretString::from(fresh.access_token);
        tokens.access.insert(api, (token.clone(), now + fresh.expires_in));
        Ok(token)
    }

    /// The refresh token, for revoking it at sign-out.
    pub async fn refresh_token(&self) -> SecretString {
        self.tokens.lock().await.refresh.clone()
    }
}

/// The session cookie's value names a session by its SHA-256, so the table holds no usable id.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Arc<Session>>>,
    pending: Mutex<HashMap<[u8; 32], Pending>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(<redacted>)")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sessions {
    /// Remembers a sign-in under its `state` until its callback.
    pub fn begin(&self, state: &str, verifier: SecretString, redirect_uri: String) {
        let now = now();
        let mut pending = lock(&self.pending);
        pending.retain(|_, p| p.started + PENDING_SECS > now);
        if pending.len() >= MAX
            && let Some(oldest) = pending.iter().min_by_key(|(_, p)| p.started).map(|(k, _)| *k)
        {
            pending.remove(&oldest);
        }
        pending.insert(
            sha256(state.as_bytes()),
            Pending {
                verifier,
                redirect_uri,
                started: now,
            },
        );
    }

    /// The sign-in `state` names, once.
    pub fn finish(&self, state: &str) -> Option<Pending> {
        let p = lock(&self.pending).remove(&sha256(state.as_bytes()))?;
        (p.started + PENDING_SECS > now()).then_some(p)
    }

    /// A new session for the tokens a sign-in gave; returns its cookie value.
    pub fn open(
        &self,
        tokens: UserTokens,
        user_principal_name: String,
        display_name: String,
    ) -> Result<SecretString, AuthError> {
        let id = SecretString::from(random::token(32)?);
        let now = now();
        let session = Session {
            object_id: tokens.oid.clone(),
            user_principal_name,
            display_name,
            csrf: SecretString::from(random::token(32)?),
            created: now,
            last_seen: Mutex::new(now),
            tokens: tokio::sync::Mutex::new(Tokens {
                refresh: tokens.refresh_token,
                access: HashMap::from([(
                    Api::Arm,
                    (SecretString::from(tokens.access_token), now + tokens.expires_in),
                )]),
            }),
        };
        let mut live = lock(&self.live);
        live.retain(|_, s| alive(s, now));
        if live.len() >= MAX
            && let Some(oldest) = live.iter().min_by_key(|(_, s)| *lock(&s.last_seen)).map(|(k, _)| *k)
        {
            live.remove(&oldest);
        }
        live.insert(sha256(id.expose_secret().as_bytes()), Arc::new(session));
        Ok(id)
    }

    /// The live session a cookie value names, marked as used now.
    pub fn get(&self, cookie: &str) -> Option<Arc<Session>> {
        let key = sha256(cookie.as_bytes());
        let now = now();
        let mut live = lock(&self.live);
        let session = live.get(&key)?.clone();
        if !alive(&session, now) {
            live.remove(&key);
            return None;
        }
        *lock(&session.last_seen) = now;
        Some(session)
    }

    /// Ends the session a cookie value names.
    pub fn close(&self, cookie: &str) -> Option<Arc<Session>> {
        lock(&self.live).remove(&sha256(cookie.as_bytes()))
    }
}

fn alive(s: &Session, now: i64) -> bool {
    s.created + ABSOLUTE_SECS > now && *lock(&s.last_seen) + IDLE_SECS > now
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tokens() -> UserTokens {
        UserTokens {
            access_token: "at".into(),
            refresh_token: SecretString::from("rt".to_owned()),
            id_token: None,
            oid: "oid-1".into(),
            scope: SIGN_IN_SCOPE.into(),
            expires_in: 3600,
        }
    }

    #[test]
    fn a_pending_sign_in_finishes_once() {
        let s = Sessions::default();
        s.begin(
            "state-1",
            SecretString::from("v".to_owned()),
            "https://x/signin-oidc".into(),
        );
        assert!(s.finish("state-2").is_none());
        let p = s.finish("state-1").unwrap();
        assert_eq!(p.redirect_uri, "https://x/signin-oidc");
        assert!(s.finish("state-1").is_none(), "a state works once");
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_closed() {
        let s = Sessions::default();
        let id = s.open(tokens(), "a@x".into(), "A".into()).unwrap();
        let session = s.get(id.expose_secret()).unwrap();
        assert_eq!(session.object_id, "oid-1");
        assert!(s.get("another").is_none());
        assert!(session.csrf_matches(session.csrf.expose_secret()));
        assert!(!session.csrf_matches(""));
        assert!(!session.csrf_matches("x"));
        assert!(s.close(id.expose_secret()).is_some());
        assert!(s.get(id.expose_secret()).is_none());
        assert!(!format!("{session:?}").contains(session.csrf.expose_secret()));
    }
}
