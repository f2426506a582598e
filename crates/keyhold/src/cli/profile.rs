//! The saved profile: who the CLI is signed in as (`profile.json`) and where its token cache is, under
//! `$KEYHOLD_CONFIG_DIR` (default `~/.keyhold/`), files mode 0600 in a 0700 directory. A person's
//! profile holds their refresh token, which the server replaces at every use: the one on disk is the
//! current one, read and rewritten under a lock on `profile.lock`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::signin::RefreshToken;

/// How the profile gets tokens.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Login {
    ServicePrincipal {
        app_id: String,
        secret: String,
    },
    Identity {
        authority: String,
        client_id: Option<String>,
    },
    /// A person, signed in through the browser or a device code: new tokens come from their refresh
    /// token (the Azure CLI's client).
    #[serde(rename_all = "camelCase")]
    User {
        user_principal_name: String,
        object_id: String,
        refresh_token: RefreshToken,
    },
    /// Signed out on purpose: no automatic admin login either.
    LoggedOut,
}

/// Credentials are never printed.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::ServicePrincipal { app_id, .. } => f
                .debug_struct("ServicePrincipal")
                .field("app_id", app_id)
                .field("secret", &"<redacted>")
                .finish(),
            Login::Identity { authority, client_id } => f
                .debug_struct("Identity")
                .field("authority", authority)
                .field("client_id", client_id)
                .finish(),
            Login::User {
                user_principal_name,
                object_id,
                refresh_token,
            } => f
                .debug_struct("User")
                .field("user_principal_name", user_principal_name)
                .field("object_id", object_id)
                .field("refresh_token", refresh_token)
                .finish(),
            Login::LoggedOut => f.write_str("LoggedOut"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub url: String,
    pub tenant_id: String,
    pub vault_resource: String,
    pub ca_file: PathBuf,
    pub login: Login,
    pub subscription_id: Option<String>,
}

pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KEYHOLD_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".keyhold")
}

pub(super) fn profile_path() -> PathBuf {
    config_dir().join("profile.json")
}

pub(super) fn tokens_path() -> PathBuf {
    config_dir().join("tokens.json")
}

/// Writes `value` as JSON readable by the owner only.
pub fn write_private(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    use std::{
        io::Write,
        os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    };
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec_pretty(value)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The saved profile, if any.
pub fn saved_profile() -> Option<Profile> {
    read_json(&profile_path())
}

/// Changes the saved profile in place (under the lock, keeping the token cache).
pub fn update_profile(change: impl FnOnce(&mut Profile)) -> anyhow::Result<()> {
    let _lock = lock_profile()?;
    if let Some(mut profile) = saved_profile() {
        change(&mut profile);
        write_private(&profile_path(), &profile)?;
    }
    Ok(())
}

/// Serializes the profile's readers-and-writers across CLI processes (a refresh token works once:
/// two commands must not both spend it). Held until the file is dropped.
pub fn lock_profile() -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = config_dir();
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let path = dir.join("profile.lock");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

pub fn save_profile(profile: &Profile) -> anyhow::Result<()> {
    write_private(&profile_path(), profile)?;
    let _ = std::fs::remove_file(tokens_path());
    Ok(())
}

#[cfg(test)]
mod debug_tests {
    #[test]
    fn debug_hides_saved_credentials() -> Result<(), serde_json::Error> {
        for login in [
            serde_json::json!({"type": "servicePrincipal", "app_id": "a", "secret": "sp-hunter2"}),
            serde_json::json!({"type": "user", "userPrincipalName": "u@x", "objectId": "o", "refreshToken": "rt-hunter2"}),
        ] {
            let login: super::Login = serde_json::from_value(login)?;
            let shown = format!("{login:?}");
            assert!(!shown.contains("hunter2") && shown.contains("<redacted>"), "{shown}");
        }
        Ok(())
    }
}
