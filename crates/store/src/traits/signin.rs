//! Interactive sign-in state shared by every node: device codes and refresh tokens, by hash only.
//! The one-time steps (approve, redeem, take) are atomic, so of two racing requests one wins.

use async_trait::async_trait;

use crate::{AuthCodeRecord, DeviceCodeRecord, RefreshTokenRecord, Result};

#[async_trait]
pub trait SignInStore: Send + Sync + 'static {
    async fn put_device_code(&self, d: &DeviceCodeRecord) -> Result<()>;
    async fn device_code(&self, hash: &str) -> Result<Option<DeviceCodeRecord>>;
    /// Marks a pending, unexpired device code approved by `object_id`; false otherwise.
    async fn approve_device_code(&self, user_code: &str, object_id: &str, now: i64) -> Result<bool>;
    /// Marks an approved, unredeemed, unexpired device code redeemed and returns it; `None` otherwise.
    async fn redeem_device_code(&self, hash: &str, now: i64) -> Result<Option<DeviceCodeRecord>>;
    async fn put_auth_code(&self, c: &AuthCodeRecord) -> Result<()>;
    /// Removes and returns an unexpired authorization code (each works once).
    async fn take_auth_code(&self, hash: &str, now: i64) -> Result<Option<AuthCodeRecord>>;
    async fn put_refresh_token(&self, t: &RefreshTokenRecord) -> Result<()>;
    /// Removes and returns an unexpired refresh token (each is good for one exchange).
    async fn take_refresh_token(&self, hash: &str, now: i64) -> Result<Option<RefreshTokenRecord>>;
    /// Revokes every refresh token of a principal; how many there were.
    async fn delete_refresh_tokens(&self, object_id: &str) -> Result<u64>;
}
