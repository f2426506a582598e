//! People in the tenant: users with a sign-in name (`alice@contoso.example`), a display name and an
//! Argon2id password hash. The rules are Entra's: names unique case-insensitively, passwords of 8 to
//! 256 characters with three of the four kinds (lower case, upper case, digits, symbols) and not
//! containing the name's local part. Hashing runs on the blocking pool: it costs tens of
//! milliseconds of CPU by design.

use keyhold_crypto::{password, random};
use keyhold_store::{PrincipalKind, PrincipalRecord, StoreError, UserRecord};
use secrecy::{ExposeSecret, SecretString};

use super::Identity;
use crate::AuthError;

/// A user to create.
pub struct NewUser<'a> {
    pub user_principal_name: &'a str,
    pub display_name: &'a str,
    pub password: &'a SecretString,
    pub enabled: bool,
}

/// What an update changes; `None` keeps.
#[derive(Default)]
pub struct UserPatch {
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub password: Option<SecretString>,
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPatch")
            .field("user_principal_name", &self.user_principal_name)
            .field("display_name", &self.display_name)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .finish()
    }
}

fn bad(message: impl Into<String>) -> AuthError {
    AuthError::BadParameter(message.into())
}

/// `local@domain`: a local part of 1 to 64 of the characters Entra allows, and a DNS name.
fn validate_upn(upn: &str) -> Result<(), AuthError> {
    let invalid = || {
        bad(format!(
            "Invalid value specified for property 'userPrincipalName' of resource 'User': '{upn}'."
        ))
    };
    let (local, domain) = upn.split_once('@').ok_or_else(invalid)?;
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c));
    let domain_ok = (1..=253).contains(&domain.len())
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok { Ok(()) } else { Err(invalid()) }
}

fn validate_display_name(name: &str) -> Result<(), AuthError> {
    if name.trim().is_empty() || name.chars().count() > 256 {
        return Err(bad("displayName must be 1-256 characters."));
    }
    Ok(())
}

/// Entra's password complexity rule.
fn validate_password(password: &SecretString, upn: &str) -> Result<(), AuthError> {
    let p = password.expose_secret();
    let kinds = [
        p.chars().any(|c| c.is_lowercase()),
        p.chars().any(|c| c.is_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_alphanumeric()),
    ];
    let local = upn.split('@').next().unwrap_or_default().to_lowercase();
    let weak = !(8..=256).contains(&p.chars().count())
        || kinds.iter().filter(|k| **k).count() < 3
        || (local.len() >= 3 && p.to_lowercase().contains(&local));
    if weak {
        return Err(bad(
            "The specified password does not comply with password complexity requirements. Please provide a different password.",
        ));
    }
    Ok(())
}

fn taken(upn: &str) -> AuthError {
    bad(format!(
        "Another object with the same value for property userPrincipalName already exists: '{upn}'."
    ))
}

impl Identity {
    async fn hash_password(password: &SecretString) -> Result<String, AuthError> {
        let password = password.clone();
        tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?
            .map_err(AuthError::from)
    }

    pub async fn create_user(&self, new: NewUser<'_>) -> Result<UserRecord, AuthError> {
        validate_upn(new.user_principal_name)?;
        validate_display_name(new.display_name)?;
        validate_password(new.password, new.user_principal_name)?;
        let now = self.clock.now();
        let user = UserRecord {
            principal: PrincipalRecord {
                object_id: random::guid(),
                app_id: None,
                display_name: new.display_name.to_owned(),
                kind: PrincipalKind::User,
                tenant_id: self.tenant_id.clone(),
                created: now,
            },
            user_principal_name: new.user_principal_name.to_owned(),
            password_hash: Self::hash_password(new.password).await?,
            enabled: new.enabled,
            password_changed: now,
        };
        match self.store.put_user(&user).await {
            Ok(()) => Ok(user),
            Err(StoreError::Exists) => Err(taken(new.user_principal_name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Applies `patch`. A new password voids the user's earlier sessions and refresh tokens.
    pub async fn update_user(&self, object_id: &str, patch: UserPatch) -> Result<UserRecord, AuthError> {
        let mut user = self.user(object_id).await?;
        if let Some(upn) = patch.user_principal_name {
            validate_upn(&upn)?;
            user.user_principal_name = upn;
        }
        if let Some(name) = patch.display_name {
            validate_display_name(&name)?;
            user.principal.display_name = name;
        }
        if let Some(password) = patch.password {
            validate_password(&password, &user.user_principal_name)?;
            user.password_hash = Self::hash_password(&password).await?;
            user.password_changed = self.clock.now();
        }
        if let Some(enabled) = patch.enabled {
            user.enabled = enabled;
        }
        match self.store.update_user(&user).await {
            Ok(()) => Ok(user),
            Err(StoreError::Exists) => Err(taken(&user.user_principal_name)),
            Err(StoreError::NotFound) => Err(AuthError::UnknownClient(object_id.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_user(&self, object_id: &str) -> Result<(), AuthError> {
        let user = self.user(object_id).await?;
        self.store.delete_principal(&user.principal.object_id).await?;
        Ok(())
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>, AuthError> {
        Ok(self.store.list_users().await?)
    }

    /// A user by object id or by sign-in name.
    pub async fn user(&self, id: &str) -> Result<UserRecord, AuthError> {
        let found = match self.store.user(id).await? {
            Some(u) => Some(u),
            None => self.store.user_by_upn(id).await?,
        };
        found.ok_or_else(|| AuthError::UnknownClient(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_entras_rules() {
        for ok in ["alice@contoso.example", "o'brien.j@sub.contoso.example", "a@b"] {
            assert!(validate_upn(ok).is_ok(), "{ok}");
        }
        for bad in [
            "alice",
            "@contoso.example",
            "alice@",
            "al ice@x.y",
            ".a@x.y",
            "a@-x.y",
            "a@x..y",
            "a@b@c",
        ] {
            assert!(validate_upn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_length_and_three_kinds() {
        let check = |p: &str| validate_password(&SecretString::from(p), "alice@contoso.example").is_ok();
        assert!(check("Tr0ub4dor&3"));
        assert!(check("correct-horse-9"), "lower, digit, symbol");
        assert!(!check("Sh0rt!"), "too short");
        assert!(!check("alllowercase"), "one kind");
        assert!(!check("lowercase123"), "two kinds");
        assert!(!check("Alice-2026!"), "contains the name");
    }
}
