//! Service principals and their credentials. A client secret is shown once, at creation, and stored
//! only as a SHA-256 hash: it is 240 random bits, so a fast hash is as safe as a slow one here.

use keyhold_crypto::{random, x509::ClientCertificate};
use keyhold_store::{ClientCertificateRecord, ClientSecretRecord, PrincipalKind, PrincipalRecord};
use secrecy::{ExposeSecret, SecretString};

use super::Identity;
use crate::AuthError;

/// What `az ad sp create-for-rbac` prints.
pub struct NewServicePrincipal {
    pub app_id: String,
    pub object_id: String,
    pub display_name: String,
    pub tenant: String,
    pub password: SecretString,
}

impl std::fmt::Debug for NewServicePrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewServicePrincipal({}, password <redacted>)", self.app_id)
    }
}

/// Entra's limit on display names: 1 to 256 characters, not all blank.
fn validate_display_name(display_name: &str) -> Result<(), AuthError> {
    if display_name.trim().is_empty() || display_name.len() > 256 {
        return Err(AuthError::BadParameter("displayName must be 1-256 characters.".into()));
    }
    Ok(())
}

/// Client secrets live two years, Entra's default for new credentials.
const SECRET_LIFETIME_SECS: i64 = 2 * 365 * 24 * 3600;

impl Identity {
    /// Creates a service principal with one client secret.
    pub async fn create_service_principal(&self, display_name: &str) -> Result<NewServicePrincipal, AuthError> {
        let principal = self.create_application(display_name).await?;
        let password = self.add_client_secret(&principal.object_id).await?;
        Ok(NewServicePrincipal {
            app_id: principal.app_id.unwrap_or_default(),
            object_id: principal.object_id,
            display_name: principal.display_name,
            tenant: self.tenant_id.clone(),
            password,
        })
    }

    /// A service principal with no credential yet (Graph's `POST /applications`: the application
    /// and its service principal are one principal in keyhold).
    pub async fn create_application(&self, display_name: &str) -> Result<PrincipalRecord, AuthError> {
        validate_display_name(display_name)?;
        let principal = PrincipalRecord {
            object_id: random::guid(),
            app_id: Some(random::guid()),
            display_name: display_name.to_owned(),
            kind: PrincipalKind::ServicePrincipal,
            tenant_id: self.tenant_id.clone(),
            created: self.clock.now(),
        };
        self.store.put_principal(&principal).await?;
        Ok(principal)
    }

    pub async fn rename_service_principal(&self, object_id: &str, display_name: &str) -> Result<(), AuthError> {
        validate_display_name(display_name)?;
        self.store.rename_principal(object_id, display_name).await?;
        Ok(())
    }

    async fn add_client_secret(&self, object_id: &str) -> Result<SecretString, AuthError> {
        let expires = self.clock.now() + SECRET_LIFETIME_SECS;
        Ok(self.add_password(object_id, expires).await?.1)
    }

    /// Adds a client secret that works until `expires` (Graph's `addPassword`); the secret is in the
    /// answer only, the store keeps its hash.
    pub async fn add_password(
        &self,
        object_id: &str,
        expires: i64,
    ) -> Result<(ClientSecretRecord, SecretString), AuthError> {
        let now = self.clock.now();
        if expires <= now {
            return Err(AuthError::BadParameter(
                "The credential's end date must be in the future.".into(),
            ));
        }
        let secret = random::client_secret()?;
        let record = ClientSecretRecord {
            key_id: random::guid(),
            object_id: object_id.to_owned(),
            hash: keyhold_crypto::sha256(secret.expose_secret().as_bytes()).to_vec(),
            hint: secret.expose_secret().chars().take(3).collect(),
            created: now,
            expires,
        };
        self.store.put_client_secret(&record).await?;
        Ok((record, secret))
    }

    /// Removes one client secret; false if the principal has none with that key id.
    pub async fn remove_password(&self, object_id: &str, key_id: &str) -> Result<bool, AuthError> {
        Ok(self.store.delete_client_secret(object_id, key_id).await?)
    }

    pub async fn client_secrets(&self, object_id: &str) -> Result<Vec<ClientSecretRecord>, AuthError> {
        Ok(self.store.client_secrets(object_id).await?)
    }

    pub async fn client_certificates(&self, object_id: &str) -> Result<Vec<ClientCertificateRecord>, AuthError> {
        Ok(self.store.client_certificates(object_id).await?)
    }

    /// A principal by object id or by app id. Both are GUIDs keyhold writes in lower case, so a
    /// client's other spelling is folded before the keyed read.
    pub async fn principal_by_object_id(&self, object_id: &str) -> Result<Option<PrincipalRecord>, AuthError> {
        Ok(self.store.principal(&object_id.to_ascii_lowercase()).await?)
    }

    pub async fn principal_by_app_id(&self, app_id: &str) -> Result<Option<PrincipalRecord>, AuthError> {
        Ok(self.store.principal_by_app_id(&app_id.to_ascii_lowercase()).await?)
    }

    /// Every principal of the tenant: service principals and managed identities, oldest first.
    pub async fn principals(&self) -> Result<Vec<PrincipalRecord>, AuthError> {
        Ok(self.store.list_principals().await?)
    }

    /// Registers a certificate for client assertions; returns its hex SHA-1 thumbprint.
    pub async fn add_certificate(&self, app_id: &str, pem: &[u8]) -> Result<String, AuthError> {
        let principal = self
            .store
            .principal_by_app_id(app_id)
            .await?
            .ok_or_else(|| AuthError::UnknownClient(app_id.to_owned()))?;
        let cert = ClientCertificate::parse(pem).map_err(|e| AuthError::InvalidAssertion(e.to_string()))?;
        self.store
            .put_client_certificate(&ClientCertificateRecord {
                key_id: random::guid(),
                object_id: principal.object_id,
                x5t: cert.x5t.clone(),
                x5t_s256: cert.x5t_s256.clone(),
                der: cert.der.clone(),
                not_after: cert.not_after,
            })
            .await?;
        Ok(cert.thumbprint_hex)
    }

    /// Every service principal of the tenant (managed identities are listed with their resources).
    pub async fn service_principals(&self) -> Result<Vec<PrincipalRecord>, AuthError> {
        let all = self.store.list_principals().await?;
        Ok(all
            .into_iter()
            .filter(|p| p.kind == PrincipalKind::ServicePrincipal)
            .collect())
    }

    /// A service principal by app id or object id.
    pub async fn service_principal(&self, id: &str) -> Result<PrincipalRecord, AuthError> {
        let found = match self.store.principal_by_app_id(id).await? {
            Some(p) => Some(p),
            None => self.store.principal(id).await?,
        };
        found
            .filter(|p| p.kind == PrincipalKind::ServicePrincipal)
            .ok_or_else(|| AuthError::UnknownClient(id.to_owned()))
    }

    /// Deletes a service principal with its credentials. Tokens it already holds stay valid until they
    /// expire, as in Entra. The caller cannot delete itself: the admin would lock itself out.
    pub async fn delete_service_principal(&self, caller_oid: &str, id: &str) -> Result<PrincipalRecord, AuthError> {
        let p = self.service_principal(id).await?;
        if p.object_id == caller_oid {
            return Err(AuthError::BadParameter(
                "The admin principal cannot delete itself.".into(),
            ));
        }
        self.store.delete_principal(&p.object_id).await?;
        Ok(p)
    }

    /// Replaces every client secret of a service principal with one new secret (`az ad sp credential
    /// reset`); the old secrets stop working at once.
    pub async fn reset_client_secret(&self, id: &str) -> Result<NewServicePrincipal, AuthError> {
        let p = self.service_principal(id).await?;
        self.store.delete_client_secrets(&p.object_id).await?;
        let password = self.add_client_secret(&p.object_id).await?;
        Ok(NewServicePrincipal {
            app_id: p.app_id.unwrap_or_default(),
            object_id: p.object_id,
            display_name: p.display_name,
            tenant: self.tenant_id.clone(),
            password,
        })
    }
}
