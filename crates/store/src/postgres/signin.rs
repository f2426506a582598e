//! Device codes and refresh tokens; the one-time steps are single conditional statements
//! (`UPDATE … RETURNING`, `DELETE … RETURNING`), so of two racing nodes one wins.

use async_trait::async_trait;

use super::*;

const DEVICE_COLS: &str = "hash, user_code, client_id, scope, expires, object_id, redeemed";
const REFRESH_COLS: &str = "hash, object_id, client_id, scope, created, expires";

fn device_row(r: &Row) -> Result<DeviceCodeRecord> {
    Ok(DeviceCodeRecord {
        hash: r.try_get(0).map_err(db_err)?,
        user_code: r.try_get(1).map_err(db_err)?,
        client_id: r.try_get(2).map_err(db_err)?,
        scope: r.try_get(3).map_err(db_err)?,
        expires: r.try_get(4).map_err(db_err)?,
        object_id: r.try_get(5).map_err(db_err)?,
        redeemed: r.try_get(6).map_err(db_err)?,
    })
}

const CODE_COLS: &str = "hash, object_id, client_id, redirect_uri, code_challenge, scope, nonce, created, expires";

fn code_row(r: &Row) -> Result<AuthCodeRecord> {
    Ok(AuthCodeRecord {
        hash: r.try_get(0).map_err(db_err)?,
        object_id: r.try_get(1).map_err(db_err)?,
        client_id: r.try_get(2).map_err(db_err)?,
        redirect_uri: r.try_get(3).map_err(db_err)?,
        code_challenge: r.try_get(4).map_err(db_err)?,
        scope: r.try_get(5).map_err(db_err)?,
        nonce: r.try_get(6).map_err(db_err)?,
        created: r.try_get(7).map_err(db_err)?,
        expires: r.try_get(8).map_err(db_err)?,
    })
}

fn refresh_row(r: &Row) -> Result<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        hash: r.try_get(0).map_err(db_err)?,
        object_id: r.try_get(1).map_err(db_err)?,
        client_id: r.try_get(2).map_err(db_err)?,
        scope: r.try_get(3).map_err(db_err)?,
        created: r.try_get(4).map_err(db_err)?,
        expires: r.try_get(5).map_err(db_err)?,
    })
}

#[async_trait]
impl SignInStore for PostgresStore {
    async fn put_device_code(&self, d: &DeviceCodeRecord) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            &format!("INSERT INTO device_codes ({DEVICE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[
                &d.hash,
                &d.user_code,
                &d.client_id,
                &d.scope,
                &d.expires,
                &d.object_id,
                &d.redeemed,
            ],
        )
        .await
        .map(drop)
    }

    async fn device_code(&self, hash: &str) -> Result<Option<DeviceCodeRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {DEVICE_COLS} FROM device_codes WHERE hash = $1"),
            &[&hash],
        )
        .await?
        .as_ref()
        .map(device_row)
        .transpose()
    }

    async fn approve_device_code(&self, user_code: &str, object_id: &str, now: i64) -> Result<bool> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE device_codes SET object_id = $2 WHERE user_code = $1 AND object_id IS NULL AND expires > $3",
            &[&user_code, &object_id, &now],
        )
        .await?;
        Ok(n > 0)
    }

    async fn redeem_device_code(&self, hash: &str, now: i64) -> Result<Option<DeviceCodeRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!(
                "UPDATE device_codes SET redeemed = TRUE WHERE hash = $1 AND object_id IS NOT NULL AND NOT redeemed AND expires > $2 RETURNING {DEVICE_COLS}"
            ),
            &[&hash, &now],
        )
        .await?
        .as_ref()
        .map(device_row)
        .transpose()
    }

    async fn put_auth_code(&self, a: &AuthCodeRecord) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            &format!("INSERT INTO auth_codes ({CODE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
            &[
                &a.hash,
                &a.object_id,
                &a.client_id,
                &a.redirect_uri,
                &a.code_challenge,
                &a.scope,
                &a.nonce,
                &a.created,
                &a.expires,
            ],
        )
        .await
        .map(drop)
    }

    async fn take_auth_code(&self, hash: &str, now: i64) -> Result<Option<AuthCodeRecord>> {
        let c = self.client().await?;
        let taken = query_opt(
            &c,
            &format!("DELETE FROM auth_codes WHERE hash = $1 RETURNING {CODE_COLS}"),
            &[&hash],
        )
        .await?
        .as_ref()
        .map(code_row)
        .transpose()?;
        Ok(taken.filter(|a| a.expires > now))
    }

    async fn put_refresh_token(&self, t: &RefreshTokenRecord) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            &format!("INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[&t.hash, &t.object_id, &t.client_id, &t.scope, &t.created, &t.expires],
        )
        .await
        .map(drop)
    }

    async fn take_refresh_token(&self, hash: &str, now: i64) -> Result<Option<RefreshTokenRecord>> {
        let c = self.client().await?;
        let taken = query_opt(
            &c,
            &format!("DELETE FROM refresh_tokens WHERE hash = $1 RETURNING {REFRESH_COLS}"),
            &[&hash],
        )
        .await?
        .as_ref()
        .map(refresh_row)
        .transpose()?;
        Ok(taken.filter(|t| t.expires > now))
    }

    async fn delete_refresh_tokens(&self, object_id: &str) -> Result<u64> {
        let c = self.client().await?;
        execute(&c, "DELETE FROM refresh_tokens WHERE object_id = $1", &[&object_id]).await
    }
}
