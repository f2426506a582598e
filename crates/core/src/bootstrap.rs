//! Every start, once the root key is unsealed: unwrap the keyring, and make sure the tenant, the admin
//! principal and a signing key exist. Several nodes
//! starting at once agree through `put_meta_if_absent`.

use std::sync::Arc;

use keyhold_crypto::{RootKey, random};
use keyhold_store::Store;
use secrecy::SecretString;

use crate::{
    CoreConfig, Keyhold, Keys, authz::Authorizer, clock::Clock, identity::Identity, management::Management,
    rotation::Rotation, secrets::Secrets, vaults::Vaults,
};

/// The admin's credentials, returned only by the start that created them.
pub struct AdminCredentials {
    pub app_id: String,
    pub object_id: String,
    pub display_name: String,
    pub tenant: String,
    pub password: SecretString,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminCredentials({}, password <redacted>)", self.app_id)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("start-up failed: {0}")]
pub struct BootError(String);

fn boot<E: std::fmt::Display>(e: E) -> BootError {
    BootError(e.to_string())
}

pub struct Bootstrap {
    pub core: Keyhold,
    pub admin: Option<AdminCredentials>,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bootstrap")
    }
}

impl Bootstrap {
    pub async fn open(
        store: Arc<dyn Store>,
        root: RootKey,
        clock: Arc<dyn Clock>,
        config: CoreConfig,
    ) -> Result<Self, BootError> {
        let keys = Keys::load(store.clone(), root).await.map_err(boot)?;
        let tenant_id = tenant_id(&*store).await?;
        let instance_id = meta_string(&*store, "instance_id", random::guid()).await?;
        let config = Arc::new(config);
        let identity = Arc::new(
            Identity::open(
                store.clone(),
                keys.clone(),
                clock.clone(),
                config.clone(),
                tenant_id.clone(),
            )
            .await
            .map_err(boot)?,
        );
        let admin = ensure_admin(&*store, &identity).await?;
        let admin_object_id = admin_object_id(&*store)
            .await
            .ok_or_else(|| BootError("admin principal missing".into()))?;
        let subscription_id = meta_string(&*store, "subscription_id", random::guid()).await?;
        let authz = Authorizer::new(store.clone(), subscription_id);
        let management = Management::new(
            store.clone(),
            keys.clone(),
            clock.clone(),
            authz.clone(),
            tenant_id.clone(),
        );
        management.ensure_owner(&admin_object_id).await.map_err(boot)?;
        let vaults = Vaults::new(store.clone());
        let rotation = Rotation::new(store.clone(), keys.clone());
        let vault_keys = crate::vault_keys::VaultKeys::new(
            store.clone(),
            keys.clone(),
            clock.clone(),
            tenant_id.clone(),
            instance_id.clone(),
            authz.clone(),
        );
        let directory = crate::directory::Directory::new(identity.clone(), clock.clone(), admin_object_id.clone());
        let certificates = crate::certificates::Certificates::new(
            store.clone(),
            keys.clone(),
            clock.clone(),
            authz.clone(),
            tenant_id.clone(),
            instance_id.clone(),
        );
        let secrets = Secrets::new(store, keys, clock, tenant_id.clone(), instance_id, authz);
        Ok(Self {
            core: Keyhold {
                config,
                tenant_id,
                admin_object_id,
                identity,
                vaults,
                secrets,
                vault_keys,
                certificates,
                management,
                rotation,
                directory,
            },
            admin,
        })
    }
}

/// The tenant id: readable while sealed (it is not secret), so a sealed server can already name it.
pub async fn tenant_id(store: &dyn Store) -> Result<String, BootError> {
    meta_string(store, "tenant_id", random::guid()).await
}

async fn meta_string(store: &dyn Store, key: &str, fresh: String) -> Result<String, BootError> {
    let stored = store.put_meta_if_absent(key, fresh.as_bytes()).await.map_err(boot)?;
    String::from_utf8(stored).map_err(boot)
}

async fn ensure_admin(store: &dyn Store, identity: &Identity) -> Result<Option<AdminCredentials>, BootError> {
    if store.meta("admin_object_id").await.map_err(boot)?.is_some() {
        return Ok(None);
    }
    let sp = identity.create_service_principal("keyhold-admin").await.map_err(boot)?;
    store
        .put_meta("admin_object_id", sp.object_id.as_bytes())
        .await
        .map_err(boot)?;
    Ok(Some(AdminCredentials {
        app_id: sp.app_id,
        object_id: sp.object_id,
        display_name: sp.display_name,
        tenant: sp.tenant,
        password: sp.password,
    }))
}

async fn admin_object_id(store: &dyn Store) -> Option<String> {
    store
        .meta("admin_object_id")
        .await
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
}
