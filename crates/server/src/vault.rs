//! Which vault a request is for: the `<name>.<dns-suffix>` host label, resolved to a vault record.

use std::sync::Arc;

use axum::{extract::FromRequestParts, http::request::Parts};
use keyhold_core::VaultError;
use keyhold_store::VaultRecord;

use crate::{AppState, error::ApiError, extract::request_origin};

/// Set by the host dispatcher on requests to a vault host.
#[derive(Debug, Clone)]
pub struct VaultName(pub String);

/// The vault a data-plane request addresses. Comes after the caller extractor, so an unknown vault
/// is only revealed to authenticated callers.
pub struct Vault(pub Arc<VaultRecord>);

impl FromRequestParts<AppState> for Vault {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let name = parts
            .extensions
            .get::<VaultName>()
            .map(|v| v.0.clone())
            .unwrap_or_default();
        match state.core.vaults.get(&name).await? {
            Some(v) => Ok(Self(v)),
            None => Err(VaultError::VaultNotFound(name).into()),
        }
    }
}

/// `https://host:port` as addressed by the client.
pub struct Origin(pub String);

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(request_origin(parts)))
    }
}

/// The vault label of `host` if it is `<label>.<suffix>[:port]`.
pub fn vault_label(host: &str, suffix: &str) -> Option<String> {
    if host.starts_with('[') {
        return None; // an IPv6 literal is never a vault
    }
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let label = host.strip_suffix(&suffix.to_ascii_lowercase())?.strip_suffix('.')?;
    (!label.is_empty() && !label.contains('.')).then(|| label.to_owned())
}

#[cfg(test)]
mod tests {
    use super::vault_label;

    #[test]
    fn labels() {
        assert_eq!(
            vault_label("myvault.vault.localhost:8443", "vault.localhost").as_deref(),
            Some("myvault")
        );
        assert_eq!(
            vault_label("MyVault.Vault.Localhost", "vault.localhost").as_deref(),
            Some("myvault")
        );
        assert_eq!(vault_label("vault.localhost:8443", "vault.localhost"), None);
        assert_eq!(vault_label("a.b.vault.localhost", "vault.localhost"), None);
        assert_eq!(vault_label("localhost:8443", "vault.localhost"), None);
        assert_eq!(vault_label("[::1]:8443", "vault.localhost"), None);
    }
}
