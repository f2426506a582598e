//! Files in the data dir that other processes read: `state.json` (where the listeners are),
//! `admin.json` (the admin's credentials, written once, 0600), `ca.pem` and `ca-bundle.pem`.

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use serde::{Deserialize, Serialize};

use crate::ServeError;

pub use keyhold_proto::data_dir::StateFile;

/// What `keyhold env` needs to point workloads at this host's managed-identity endpoints (0600: the
/// header is a secret).
#[derive(Clone, Serialize, Deserialize)]
pub struct MiFile {
    pub identity_endpoint: String,
    pub identity_header: String,
    pub imds_authority: String,
    pub client_id: String,
    pub object_id: String,
    pub resource_id: String,
}

impl std::fmt::Debug for MiFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MiFile({}, header <redacted>)", self.identity_endpoint)
    }
}

/// The admin's credentials in `az ad sp create-for-rbac`'s shape.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminFile {
    pub app_id: String,
    pub display_name: String,
    pub password: String,
    pub tenant: String,
    pub object_id: String,
}

impl std::fmt::Debug for AdminFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminFile({}, password <redacted>)", self.app_id)
    }
}

fn io(what: &str, e: std::io::Error) -> ServeError {
    ServeError(format!("{what}: {e}"))
}

/// Writes via a temporary file and a rename, so readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ServeError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| io("write", e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| io("write", e))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).map_err(|e| io("chmod", e))?;
    fs::rename(&tmp, path).map_err(|e| io("rename", e))
}

/// An exclusive lock on `<dir>/keyhold.lock`, released when the returned file is dropped (or the process
/// ends, however it ends).
pub fn lock_data_dir(dir: &Path) -> Result<fs::File, ServeError> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("keyhold.lock"))
        .map_err(|e| io("lock data dir", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(ServeError(format!(
            "the data dir {} is in use by another keyhold serve (one server per data dir; several nodes share a PostgreSQL database, each with its own data dir)",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(io("lock data dir", e)),
    }
}

pub fn create_data_dir(dir: &Path) -> Result<(), ServeError> {
    fs::create_dir_all(dir).map_err(|e| io("create data dir", e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io("chmod data dir", e))
}

/// System trust roots plus our CA, so one bundle serves both keyhold and the rest of the internet.
pub fn write_ca_bundle(dir: &Path, ca_pem: &str) -> Result<(), ServeError> {
    let mut bundle = String::new();
    for candidate in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ] {
        if let Ok(system) = fs::read_to_string(candidate) {
            bundle.push_str(&system);
            if !bundle.ends_with('\n') {
                bundle.push('\n');
            }
            break;
        }
    }
    bundle.push_str(ca_pem);
    write_atomic(&dir.join("ca-bundle.pem"), bundle.as_bytes(), 0o600)
}
