//! People: a user is a principal (kind `User`) and a row with its sign-in name and password hash,
//! written together. Sign-in names are unique case-insensitively, as in Entra. Deleting the
//! principal (`IdentityStore::delete_principal`) deletes the user.

use async_trait::async_trait;

use crate::{Result, UserRecord};

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts the user and its principal; `StoreError::Exists` if the name is taken.
    async fn put_user(&self, u: &UserRecord) -> Result<()>;
    /// Replaces the user's name, display name, hash, enabled flag and password time;
    /// `StoreError::Exists` if the new name is another user's, `NotFound` if there is no such user.
    async fn update_user(&self, u: &UserRecord) -> Result<()>;
    async fn user(&self, object_id: &str) -> Result<Option<UserRecord>>;
    async fn user_by_upn(&self, user_principal_name: &str) -> Result<Option<UserRecord>>;
    /// Every user, oldest first.
    async fn list_users(&self) -> Result<Vec<UserRecord>>;
}
