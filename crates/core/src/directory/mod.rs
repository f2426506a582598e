//! The directory as Microsoft Graph shows it: the same principals the token endpoint and RBAC use,
//! seen as Graph's applications and service principals. In keyhold an application and its service
//! principal are one principal: the service principal's id is the principal's object id (the `oid`
//! of its tokens), the application's id is derived from it, and `addPassword` adds a client secret
//! the token endpoint accepts at once.
//!
//! Users are people (`identity::users`); they are not service principals and are listed apart.
//!
//! Who may: Entra gives an application no directory access until it is granted Graph permissions,
//! so only the admin principal (the tenant's administrator) writes, and it and the tenant's users
//! (members read the directory by default) read; every other caller gets Graph's
//! `Authorization_RequestDenied`. `/me` is the signed-in user; an application token gets Graph's
//! answer for one.

mod filter;

use std::sync::Arc;

use keyhold_store::{ClientCertificateRecord, ClientSecretRecord, PrincipalKind, PrincipalRecord, UserRecord};
use secrecy::SecretString;

use filter::Fields;
pub use filter::Filter;

use crate::{
    AuthError,
    authz::Caller,
    clock::Clock,
    identity::{Identity, NewUser, UserPatch},
};

/// Why a Graph request was refused. Each maps to Graph's status and error code.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("Insufficient privileges to complete the operation.")]
    Denied,
    #[error("Resource '{0}' does not exist or one of its queried reference-property objects are not present.")]
    NotFound(String),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("/me request is only valid with delegated authentication flow.")]
    NotDelegated,
    #[error("internal: {0}")]
    Internal(String),
}

impl From<AuthError> for DirectoryError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::BadParameter(message) => Self::BadRequest {
                code: "Request_BadRequest",
                message,
            },
            AuthError::UnknownClient(id) => Self::NotFound(id),
            other => Self::Internal(other.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, DirectoryError>;

/// A principal with what Graph shows of it.
#[derive(Debug, Clone)]
pub struct DirectoryPrincipal {
    pub record: PrincipalRecord,
    /// The application object's id; `None` for a managed identity, which has no application in the
    /// tenant (as in Entra).
    pub application_id: Option<String>,
    /// `servicePrincipalNames`: the app id (Entra adds identifier URIs, which keyhold has none of).
    pub names: Vec<String>,
}

/// An application with its credentials (for `passwordCredentials` and `keyCredentials`).
#[derive(Debug, Clone)]
pub struct DirectoryApplication {
    pub principal: DirectoryPrincipal,
    pub secrets: Vec<ClientSecretRecord>,
    pub certificates: Vec<ClientCertificateRecord>,
}

/// A new client secret, shown once.
pub struct NewPassword {
    pub record: ClientSecretRecord,
    pub secret: SecretString,
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewPassword({}, <redacted>)", self.record.key_id)
    }
}

#[derive(Clone)]
pub struct Directory {
    identity: Arc<Identity>,
    clock: Arc<dyn Clock>,
    admin_object_id: String,
}

/// The application object id of a principal: a name-based UUID (v8) from its object id, so it is
/// stable, distinct from the object id, and needs no column of its own.
pub fn application_id(object_id: &str) -> String {
    let digest = keyhold_crypto::sha256(format!("keyhold-application:{object_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

fn view(record: PrincipalRecord) -> DirectoryPrincipal {
    let application_id = (record.kind == PrincipalKind::ServicePrincipal).then(|| application_id(&record.object_id));
    let names = record.app_id.iter().cloned().collect();
    DirectoryPrincipal {
        record,
        application_id,
        names,
    }
}

fn user_fields(u: &UserRecord) -> Fields<'_> {
    Fields {
        id: &u.principal.object_id,
        app_id: None,
        display_name: &u.principal.display_name,
        user_principal_name: Some(&u.user_principal_name),
        names: &[],
    }
}

/// What `directoryObjects/getByIds` finds.
#[derive(Debug, Clone)]
pub enum DirectoryObject {
    ServicePrincipal(DirectoryPrincipal),
    User(UserRecord),
}

fn fields(p: &DirectoryPrincipal) -> Fields<'_> {
    Fields {
        id: &p.record.object_id,
        app_id: p.record.app_id.as_deref(),
        display_name: &p.record.display_name,
        user_principal_name: None,
        names: &p.names,
    }
}

/// The most entries one page holds, and the default (Graph's for principals).
pub const MAX_PAGE: usize = 999;
pub const DEFAULT_PAGE: usize = 100;

/// One page of a listing, and the offset of the next if there is one.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<usize>,
}

fn page<T>(all: Vec<T>, top: Option<usize>, skip: usize) -> Result<Page<T>> {
    let size = match top {
        Some(n) if n == 0 || n > MAX_PAGE => {
            return Err(DirectoryError::BadRequest {
                code: "Request_BadRequest",
                message: format!("Invalid page size specified: '{n}'. Must be between 1 and {MAX_PAGE} inclusive."),
            });
        }
        Some(n) => n,
        None => DEFAULT_PAGE,
    };
    let total = all.len();
    let items: Vec<T> = all.into_iter().skip(skip).take(size).collect();
    let next = (skip + items.len() < total).then_some(skip + items.len());
    Ok(Page { items, next })
}

impl Directory {
    pub fn new(identity: Arc<Identity>, clock: Arc<dyn Clock>, admin_object_id: String) -> Self {
        Self {
            identity,
            clock,
            admin_object_id,
        }
    }

    /// Writes: the admin only.
    fn authorize(&self, caller: &Caller) -> Result<()> {
        if caller.oid == self.admin_object_id {
            Ok(())
        } else {
            Err(DirectoryError::Denied)
        }
    }

    /// Reads: the admin, and the tenant's users.
    async fn authorize_read(&self, caller: &Caller) -> Result<()> {
        if caller.oid == self.admin_object_id || self.signed_in_user(caller).await?.is_some() {
            Ok(())
        } else {
            Err(DirectoryError::Denied)
        }
    }

    async fn signed_in_user(&self, caller: &Caller) -> Result<Option<UserRecord>> {
        match self.identity.user(&caller.oid).await {
            Ok(u) if u.principal.object_id == caller.oid => Ok(Some(u)),
            Ok(_) | Err(AuthError::UnknownClient(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /me`: the signed-in user; an application's token gets Graph's refusal.
    pub async fn me(&self, caller: &Caller) -> Result<UserRecord> {
        self.signed_in_user(caller).await?.ok_or(DirectoryError::NotDelegated)
    }

    /// Service principals and managed identities (users are listed apart).
    async fn all(&self) -> Result<Vec<DirectoryPrincipal>> {
        Ok(self
            .identity
            .principals()
            .await?
            .into_iter()
            .filter(|p| p.kind != PrincipalKind::User)
            .map(view)
            .collect())
    }

    /// `GET /servicePrincipals`: service principals and managed identities, filtered and paged.
    pub async fn service_principals(
        &self,
        caller: &Caller,
        filter: &Filter,
        top: Option<usize>,
        skip: usize,
    ) -> Result<Page<DirectoryPrincipal>> {
        self.authorize_read(caller).await?;
        let all: Vec<DirectoryPrincipal> = self
            .all()
            .await?
            .into_iter()
            .filter(|p| filter.matches(&fields(p)))
            .collect();
        page(all, top, skip)
    }

    /// `GET /servicePrincipals/{id}` (an object id) or `(appId='…')`.
    pub async fn service_principal(&self, caller: &Caller, id: &str) -> Result<DirectoryPrincipal> {
        self.authorize_read(caller).await?;
        self.find_principal(id).await
    }

    /// A service principal or managed identity by object id (a user is not one).
    async fn find_principal(&self, id: &str) -> Result<DirectoryPrincipal> {
        self.identity
            .principal_by_object_id(id)
            .await?
            .filter(|p| p.kind != PrincipalKind::User)
            .map(view)
            .ok_or_else(|| DirectoryError::NotFound(id.to_owned()))
    }

    /// `POST /servicePrincipals {appId}`: the application's service principal. In keyhold it exists
    /// with the application, so this answers it.
    pub async fn create_service_principal(&self, caller: &Caller, app_id: &str) -> Result<DirectoryPrincipal> {
        self.authorize(caller)?;
        self.identity
            .principal_by_app_id(app_id)
            .await?
            .filter(|p| p.kind == PrincipalKind::ServicePrincipal)
            .map(view)
            .ok_or_else(|| DirectoryError::BadRequest {
                code: "Request_BadRequest",
                message: format!(
                    "The appId '{app_id}' of the service principal does not reference a valid application object."
                ),
            })
    }

    /// `DELETE /servicePrincipals/{id}` and `DELETE /applications/{id}`: the principal goes with
    /// its credentials. Managed identities go with their resource, not here; the admin cannot delete
    /// itself.
    async fn delete(&self, caller: &Caller, principal: &DirectoryPrincipal) -> Result<()> {
        if principal.application_id.is_none() {
            return Err(DirectoryError::BadRequest {
                code: "Request_BadRequest",
                message: "A managed identity's service principal is deleted with its resource.".into(),
            });
        }
        self.identity
            .delete_service_principal(&caller.oid, &principal.record.object_id)
            .await?;
        Ok(())
    }

    pub async fn delete_service_principal(&self, caller: &Caller, id: &str) -> Result<()> {
        self.authorize(caller)?;
        let p = self.find_principal(id).await?;
        self.delete(caller, &p).await
    }

    /// `GET /applications`, filtered and paged.
    pub async fn applications(
        &self,
        caller: &Caller,
        filter: &Filter,
        top: Option<usize>,
        skip: usize,
    ) -> Result<Page<DirectoryApplication>> {
        self.authorize_read(caller).await?;
        let matching: Vec<DirectoryPrincipal> = self
            .all()
            .await?
            .into_iter()
            .filter(|p| p.application_id.is_some())
            .filter(|p| {
                let mut f = fields(p);
                let app = p.application_id.as_deref().unwrap_or_default();
                f.id = app;
                filter.matches(&f)
            })
            .collect();
        let Page { items, next } = page(matching, top, skip)?;
        let mut apps = Vec::with_capacity(items.len());
        for p in items {
            apps.push(self.with_credentials(p).await?);
        }
        Ok(Page { items: apps, next })
    }

    async fn with_credentials(&self, principal: DirectoryPrincipal) -> Result<DirectoryApplication> {
        let oid = &principal.record.object_id;
        let secrets = self.identity.client_secrets(oid).await?;
        let certificates = self.identity.client_certificates(oid).await?;
        Ok(DirectoryApplication {
            principal,
            secrets,
            certificates,
        })
    }

    async fn find_application(&self, id: &str) -> Result<DirectoryPrincipal> {
        self.all()
            .await?
            .into_iter()
            .find(|p| p.application_id.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(id)))
            .ok_or_else(|| DirectoryError::NotFound(id.to_owned()))
    }

    /// `GET /applications/{id}` (the application's object id).
    pub async fn application(&self, caller: &Caller, id: &str) -> Result<DirectoryApplication> {
        self.authorize_read(caller).await?;
        let p = self.find_application(id).await?;
        self.with_credentials(p).await
    }

    /// `POST /applications`: a new application (and its service principal), without credentials.
    pub async fn create_application(&self, caller: &Caller, display_name: &str) -> Result<DirectoryApplication> {
        self.authorize(caller)?;
        let record = self.identity.create_application(display_name).await?;
        Ok(DirectoryApplication {
            principal: view(record),
            secrets: Vec::new(),
            certificates: Vec::new(),
        })
    }

    /// `PATCH /applications/{id}`: the display name is the one property keyhold keeps.
    pub async fn update_application(&self, caller: &Caller, id: &str, display_name: Option<&str>) -> Result<()> {
        self.authorize(caller)?;
        let p = self.find_application(id).await?;
        if let Some(name) = display_name.filter(|n| *n != p.record.display_name) {
            self.identity
                .rename_service_principal(&p.record.object_id, name)
                .await?;
        }
        Ok(())
    }

    pub async fn delete_application(&self, caller: &Caller, id: &str) -> Result<()> {
        self.authorize(caller)?;
        let p = self.find_application(id).await?;
        self.delete(caller, &p).await
    }

    /// `POST /applications/{id}/addPassword`: until `end` (unix seconds), or two years as Entra
    /// defaults to.
    pub async fn add_password(&self, caller: &Caller, id: &str, end: Option<i64>) -> Result<NewPassword> {
        self.authorize(caller)?;
        let p = self.find_application(id).await?;
        let end = end.unwrap_or_else(|| self.clock.now() + 2 * 365 * 24 * 3600);
        let (record, secret) = self.identity.add_password(&p.record.object_id, end).await?;
        Ok(NewPassword { record, secret })
    }

    /// `POST /applications/{id}/removePassword`: the secret stops working at once.
    pub async fn remove_password(&self, caller: &Caller, id: &str, key_id: &str) -> Result<()> {
        self.authorize(caller)?;
        let p = self.find_application(id).await?;
        if self.identity.remove_password(&p.record.object_id, key_id).await? {
            Ok(())
        } else {
            Err(DirectoryError::NotFound(key_id.to_owned()))
        }
    }

    /// `POST /directoryObjects/getByIds`: the service principals and users among `ids` (unknown ids
    /// are left out, as Graph does), of the kinds `types` allows (all when empty).
    pub async fn by_ids(&self, caller: &Caller, ids: &[String], types: &[String]) -> Result<Vec<DirectoryObject>> {
        self.authorize_read(caller).await?;
        if ids.len() > 1000 {
            return Err(DirectoryError::BadRequest {
                code: "Request_BadRequest",
                message: "Too many ids: at most 1000 may be given.".into(),
            });
        }
        let wants = |kind: &str| types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(kind));
        let listed = |oid: &str| ids.iter().any(|id| id.eq_ignore_ascii_case(oid));
        let mut found = Vec::new();
        if wants("servicePrincipal") {
            found.extend(
                self.all()
                    .await?
                    .into_iter()
                    .filter(|p| listed(&p.record.object_id))
                    .map(DirectoryObject::ServicePrincipal),
            );
        }
        if wants("user") {
            found.extend(
                self.identity
                    .users()
                    .await?
                    .into_iter()
                    .filter(|u| listed(&u.principal.object_id))
                    .map(DirectoryObject::User),
            );
        }
        Ok(found)
    }

    /// `GET /organization`: any caller the directory admits.
    pub async fn organization(&self, caller: &Caller) -> Result<()> {
        self.authorize_read(caller).await
    }

    /// `GET /users`, filtered and paged.
    pub async fn users(
        &self,
        caller: &Caller,
        filter: &Filter,
        top: Option<usize>,
        skip: usize,
    ) -> Result<Page<UserRecord>> {
        self.authorize_read(caller).await?;
        let all: Vec<UserRecord> = self
            .identity
            .users()
            .await?
            .into_iter()
            .filter(|u| filter.matches(&user_fields(u)))
            .collect();
        page(all, top, skip)
    }

    /// `GET /users/{id | userPrincipalName}`.
    pub async fn user(&self, caller: &Caller, id: &str) -> Result<UserRecord> {
        self.authorize_read(caller).await?;
        Ok(self.identity.user(id).await?)
    }

    /// `POST /users`.
    pub async fn create_user(&self, caller: &Caller, new: NewUser<'_>) -> Result<UserRecord> {
        self.authorize(caller)?;
        Ok(self.identity.create_user(new).await?)
    }

    /// `PATCH /users/{id}`.
    pub async fn update_user(&self, caller: &Caller, id: &str, patch: UserPatch) -> Result<UserRecord> {
        self.authorize(caller)?;
        let user = self.identity.user(id).await?;
        Ok(self.identity.update_user(&user.principal.object_id, patch).await?)
    }

    /// `DELETE /users/{id}`.
    pub async fn delete_user(&self, caller: &Caller, id: &str) -> Result<()> {
        self.authorize(caller)?;
        let user = self.identity.user(id).await?;
        Ok(self.identity.delete_user(&user.principal.object_id).await?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn application_ids_are_stable_and_not_the_object_id() {
        let a = application_id("0b6c7d1e-0000-4000-8000-000000000001");
        assert_eq!(a, application_id("0b6c7d1e-0000-4000-8000-000000000001"));
        assert_ne!(a, application_id("0b6c7d1e-0000-4000-8000-000000000002"));
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 8);
    }

    #[test]
    fn pages_hold_top_entries_and_point_at_the_rest() {
        let p = page((0..5).collect(), Some(2), 0).unwrap();
        assert_eq!((p.items, p.next), (vec![0, 1], Some(2)));
        let p = page((0..5).collect(), Some(2), 4).unwrap();
        assert_eq!((p.items, p.next), (vec![4], None));
        assert!(page((0..5).collect::<Vec<i32>>(), Some(0), 0).is_err());
        assert!(page((0..5).collect::<Vec<i32>>(), Some(1000), 0).is_err());
    }
}
