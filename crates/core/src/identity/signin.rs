//! People signing in: the password check (throttled per user and source address, with a decoy hash
//! for unknown names so timing does not tell which exist), the device-code flow, refresh tokens
//! (stored as hashes, rotated on every use, void after a password change or the user's deletion)
//! and the tokens a user gets: an access token with Entra's user claims and, for `openid`, an id
//! token. Public clients are Microsoft's first-party ones (az, Azure PowerShell, Visual Studio and
//! VS Code, whose client id the SDKs' interactive credentials use by default).

use keyhold_crypto::{password, random, sha256};
use keyhold_proto::entra::{AccessClaims, IdClaims};
use keyhold_store::{DeviceCodeRecord, RefreshTokenRecord, UserRecord};
use secrecy::{ExposeSecret, SecretString};

use super::{Identity, Source};
use crate::AuthError;

/// Microsoft's first-party public clients, which Entra lets sign in to any tenant.
const PUBLIC_CLIENTS: &[&str] = &[
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46", // Azure CLI, and the Azure SDKs' default
    "1950a258-227b-4e31-a9cf-717495945fc2", // Azure PowerShell
    "872cd9fa-d31f-45e0-9eab-6e460a02d1f1", // Visual Studio
    "aebc6443-996d-45c2-90f0-388ff96faa56", // Visual Studio Code
];

/// A device code lives 15 minutes and is polled every 5 seconds, as Entra's.
const DEVICE_CODE_SECS: i64 = 900;
const DEVICE_POLL_SECS: i64 = 5;
/// Refresh tokens live 90 days (each use replaces it).
const REFRESH_SECS: i64 = 90 * 24 * 3600;
/// Wrong passwords allowed per (user, source) per minute before that source waits.
pub(crate) const SIGNIN_FAILURES: u32 = 5;

/// What the device-code endpoint answers.
pub struct NewDeviceCode {
    pub device_code: SecretString,
    pub user_code: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// What a user's grant answers.
pub struct UserTokens {
    pub access_token: String,
    pub refresh_token: SecretString,
    pub id_token: Option<String>,
    pub oid: String,
    pub scope: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserTokens(for {}, <redacted>)", self.oid)
    }
}

pub(super) fn hash_hex(secret: &str) -> String {
    sha256(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `XXXX-XXXX` from an alphabet without look-alikes (no 0/O, 1/I/L).
fn user_code() -> Result<String, AuthError> {
    let picked = random::code(b"ABCDEFGHJKMNPQRSTUVWXYZ23456789", 8)?;
    Ok(format!("{}-{}", &picked[..4], &picked[4..]))
}

/// The resource a delegated scope list asks for: the first scope that is not OpenID's, without its
/// permission (`https://vault.azure.net/.default` → `https://vault.azure.net`).
pub(super) fn resource_of(scope: &str) -> Result<String, AuthError> {
    let oidc = ["openid", "profile", "offline_access", "email"];
    let first = scope
        .split_whitespace()
        .find(|s| !oidc.contains(s))
        .ok_or_else(|| AuthError::InvalidScope(scope.to_owned()))?;
    let resource = match first.rsplit_once('/') {
        Some((r, perm)) if !perm.is_empty() && r.contains("://") => r.trim_end_matches('/'),
        _ => first,
    };
    Ok(resource.to_owned())
}

/// The first-party public client `client_id` names, if it is one.
pub(super) fn public_client_id(client_id: &str) -> Option<&'static str> {
    PUBLIC_CLIENTS
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(client_id))
}

impl Identity {
    /// The resource a delegated scope list asks for, if it is one of ours.
    pub(super) fn delegated_resource(&self, scope: &str) -> Result<String, AuthError> {
        let resource = resource_of(scope)?;
        if self.audience_of(&resource).is_none() {
            return Err(AuthError::UnknownResource(resource));
        }
        Ok(resource)
    }

    fn public_client(&self, client_id: &str) -> Result<(), AuthError> {
        public_client_id(client_id)
            .map(drop)
            .ok_or_else(|| AuthError::UnknownClient(client_id.to_owned()))
    }

    /// The user whose name and password these are. A source over its limit for this name waits out
    /// the minute before its next attempt is even checked; other sources are not affected, so nobody
    /// can lock a user out for longer than that.
    pub async fn password_sign_in(
        &self,
        user_principal_name: &str,
        password: &SecretString,
        source: Source,
    ) -> Result<UserRecord, AuthError> {
        let now = self.clock.now();
        let key = (user_principal_name.to_lowercase(), source);
        if let Some(retry_after_secs) = self.signin_throttle.blocked(&key, now) {
            return Err(AuthError::Throttled { retry_after_secs });
        }
        let found = self.store.user_by_upn(user_principal_name).await?;
        let stored = found
            .as_ref()
            .map_or_else(|| password::decoy().to_owned(), |u| u.password_hash.clone());
        let candidate = password.clone();
        let matches = tokio::task::spawn_blocking(move || password::verify(&candidate, &stored))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        match found {
            Some(user) if matches => {
                if !user.enabled {
                    return Err(AuthError::UserDisabled);
                }
                Ok(user)
            }
            _ => {
                self.signin_throttle.fail(key, now);
                Err(AuthError::InvalidUserCredentials)
            }
        }
    }

    /// Starts a device-code sign-in for a public client.
    pub async fn start_device_code(&self, client_id: &str, scope: &str) -> Result<NewDeviceCode, AuthError> {
        self.public_client(client_id)?;
        self.delegated_resource(scope)?;
        let device_code = SecretString::from(random::token(32)?);
        let user_code = user_code()?;
        self.store
            .put_device_code(&DeviceCodeRecord {
                hash: hash_hex(device_code.expose_secret()),
                user_code: user_code.clone(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                expires: self.clock.now() + DEVICE_CODE_SECS,
                object_id: None,
                redeemed: false,
            })
            .await?;
        Ok(NewDeviceCode {
            device_code,
            user_code,
            expires_in: DEVICE_CODE_SECS,
            interval: DEVICE_POLL_SECS,
        })
    }

    /// A person approves the device code shown to them, signing in with their password.
    pub async fn approve_device_code(
        &self,
        user_code: &str,
        user_principal_name: &str,
        password: &SecretString,
        source: Source,
    ) -> Result<UserRecord, AuthError> {
        let user = self.password_sign_in(user_principal_name, password, source).await?;
        let code = user_code.trim().to_ascii_uppercase();
        if self
            .store
            .approve_device_code(&code, &user.principal.object_id, self.clock.now())
            .await?
        {
            Ok(user)
        } else {
            Err(AuthError::InvalidGrant(
                "The code you entered has expired or is not valid.".into(),
            ))
        }
    }

    /// The client's poll: `AuthorizationPending` until approved, then the tokens, once.
    pub async fn redeem_device_code(&self, client_id: &str, device_code: &str) -> Result<UserTokens, AuthError> {
        let hash = hash_hex(device_code);
        let now = self.clock.now();
        let Some(pending) = self.store.device_code(&hash).await? else {
            return Err(AuthError::InvalidGrant("The device code is not valid.".into()));
        };
        if !pending.client_id.eq_ignore_ascii_case(client_id) {
            return Err(AuthError::InvalidGrant(
                "The device code was issued to another client.".into(),
            ));
        }
        if pending.expires <= now {
            return Err(AuthError::ExpiredToken);
        }
        if pending.object_id.is_none() {
            return Err(AuthError::AuthorizationPending);
        }
        let redeemed = self
            .store
            .redeem_device_code(&hash, now)
            .await?
            .ok_or_else(|| AuthError::InvalidGrant("The device code was already redeemed.".into()))?;
        let oid = redeemed.object_id.unwrap_or_default();
        let user = self.active_user(&oid, None).await?;
        self.user_tokens(&user, client_id, &redeemed.scope).await
    }

    /// A refresh token for new tokens (for the same or another resource); the old one is spent.
    pub async fn redeem_refresh_token(
        &self,
        client_id: &str,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<UserTokens, AuthError> {
        let spent = self
            .store
            .take_refresh_token(&hash_hex(refresh_token), self.clock.now())
            .await?
            .ok_or_else(|| {
                AuthError::InvalidGrant("The refresh token has expired, was revoked or was already used.".into())
            })?;
        if !spent.client_id.eq_ignore_ascii_case(client_id) {
            return Err(AuthError::InvalidGrant(
                "The refresh token was issued to another client.".into(),
            ));
        }
        let user = self.active_user(&spent.object_id, Some(spent.created)).await?;
        self.user_tokens(&user, client_id, scope.unwrap_or(&spent.scope)).await
    }

    /// Revokes one refresh token (a session's sign-out); `false` if it was already spent or unknown.
    pub async fn revoke_refresh_token(&self, refresh_token: &str) -> Result<bool, AuthError> {
        Ok(self
            .store
            .take_refresh_token(&hash_hex(refresh_token), self.clock.now())
            .await?
            .is_some())
    }

    /// Revokes every refresh token of a user (sign-out everywhere).
    pub async fn sign_out(&self, object_id: &str) -> Result<u64, AuthError> {
        Ok(self.store.delete_refresh_tokens(object_id).await?)
    }

    /// The user, still enabled, and (for a grant made at `since`) with no password change after it.
    pub(super) async fn active_user(&self, object_id: &str, since: Option<i64>) -> Result<UserRecord, AuthError> {
        let user = self
            .store
            .user(object_id)
            .await?
            .ok_or_else(|| AuthError::InvalidGrant("The user no longer exists.".into()))?;
        if !user.enabled {
            return Err(AuthError::UserDisabled);
        }
        if since.is_some_and(|t| t < user.password_changed) {
            return Err(AuthError::InvalidGrant(
                "The refresh token was revoked: the user's password changed.".into(),
            ));
        }
        Ok(user)
    }

    /// An access token with the user's claims, a new refresh token and, for `openid`, an id token.
    pub async fn user_tokens(&self, user: &UserRecord, client_id: &str, scope: &str) -> Result<UserTokens, AuthError> {
        self.user_tokens_with_nonce(user, client_id, scope, None).await
    }

    /// As [`Self::user_tokens`], with the authorize request's `nonce` in the id token.
    pub(super) async fn user_tokens_with_nonce(
        &self,
        user: &UserRecord,
        client_id: &str,
        scope: &str,
        nonce: Option<&str>,
    ) -> Result<UserTokens, AuthError> {
        let resource = self.delegated_resource(scope)?;
        let now = self.clock.now();
        let exp = now + self.config.token_lifetime_secs;
        let oid = user.principal.object_id.clone();
        let claims = AccessClaims {
            aud: resource.clone(),
            iss: self.issuer(),
            iat: now,
            nbf: now,
            exp,
            appid: client_id.to_owned(),
            appidacr: "0".into(),
            azp: client_id.to_owned(),
            azpacr: "0".into(),
            idp: self.issuer(),
            idtyp: "user".into(),
            oid: oid.clone(),
            sub: oid.clone(),
            tid: self.tenant_id.clone(),
            uti: random::token(16)?,
            ver: "2.0".into(),
            xms_mirid: None,
            upn: Some(user.user_principal_name.clone()),
            name: Some(user.principal.display_name.clone()),
            scp: Some("user_impersonation".into()),
        };
        let id_token = scope
            .split_whitespace()
            .any(|s| s == "openid")
            .then(|| {
                self.signing.sign(&IdClaims {
                    aud: client_id.to_owned(),
                    iss: self.issuer(),
                    iat: now,
                    nbf: now,
                    exp,
                    oid: oid.clone(),
                    sub: oid.clone(),
                    tid: self.tenant_id.clone(),
                    preferred_username: user.user_principal_name.clone(),
                    name: user.principal.display_name.clone(),
                    ver: "2.0".into(),
                    nonce: nonce.map(str::to_owned),
                })
            })
            .transpose()?;
        let refresh_token = SecretString::from(random::token(32)?);
        self.store
            .put_refresh_token(&RefreshTokenRecord {
                hash: hash_hex(refresh_token.expose_secret()),
                object_id: oid.clone(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                created: now,
                expires: now + REFRESH_SECS,
            })
            .await?;
        Ok(UserTokens {
            access_token: self.signing.sign(&claims)?,
            refresh_token,
            id_token,
            oid,
            scope: scope.to_owned(),
            expires_in: exp - now,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_is_the_first_non_openid_scope() {
        assert_eq!(
            resource_of("https://vault.azure.net/.default offline_access openid").unwrap(),
            "https://vault.azure.net"
        );
        assert_eq!(
            resource_of("openid https://management.core.windows.net//.default").unwrap(),
            "https://management.core.windows.net"
        );
        assert_eq!(
            resource_of("https://localhost:8443/graph//.default").unwrap(),
            "https://localhost:8443/graph"
        );
        assert!(resource_of("openid profile offline_access").is_err());
    }

    #[test]
    fn user_codes_have_no_look_alikes() {
        for _ in 0..50 {
            let code = user_code().unwrap();
            assert_eq!(code.len(), 9);
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
        }
    }
}
