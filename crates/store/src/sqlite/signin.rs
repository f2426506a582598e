//! Device codes, authorization codes and refresh tokens; the one-time steps are single statements on
//! the one writer.

use async_trait::async_trait;

use super::*;

const DEVICE_COLS: &str = "hash, user_code, client_id, scope, expires, object_id, redeemed";
const REFRESH_COLS: &str = "hash, object_id, client_id, scope, created, expires";

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceCodeRecord> {
    Ok(DeviceCodeRecord {
        hash: r.get(0)?,
        user_code: r.get(1)?,
        client_id: r.get(2)?,
        scope: r.get(3)?,
        expires: r.get(4)?,
        object_id: r.get(5)?,
        redeemed: r.get(6)?,
    })
}

const CODE_COLS: &str = "hash, object_id, client_id, redirect_uri, code_challenge, scope, nonce, created, expires";

fn code_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuthCodeRecord> {
    Ok(AuthCodeRecord {
        hash: r.get(0)?,
        object_id: r.get(1)?,
        client_id: r.get(2)?,
        redirect_uri: r.get(3)?,
        code_challenge: r.get(4)?,
        scope: r.get(5)?,
        nonce: r.get(6)?,
        created: r.get(7)?,
        expires: r.get(8)?,
    })
}

fn refresh_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        hash: r.get(0)?,
        object_id: r.get(1)?,
        client_id: r.get(2)?,
        scope: r.get(3)?,
        created: r.get(4)?,
        expires: r.get(5)?,
    })
}

#[async_trait]
impl SignInStore for SqliteStore {
    async fn put_device_code(&self, d: &DeviceCodeRecord) -> Result<()> {
        let d = d.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO device_codes ({DEVICE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    d.hash,
                    d.user_code,
                    d.client_id,
                    d.scope,
                    d.expires,
                    d.object_id,
                    d.redeemed
                ],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn device_code(&self, hash: &str) -> Result<Option<DeviceCodeRecord>> {
        let hash = hash.to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {DEVICE_COLS} FROM device_codes WHERE hash = ?1"),
                [hash],
                device_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn approve_device_code(&self, user_code: &str, object_id: &str, now: i64) -> Result<bool> {
        let (code, oid) = (user_code.to_owned(), object_id.to_owned());
        self.write(move |c| {
            c.execute(
                "UPDATE device_codes SET object_id = ?2 WHERE user_code = ?1 AND object_id IS NULL AND expires > ?3",
                params![code, oid, now],
            )
            .map(|n| n > 0)
            .map_err(db_err)
        })
        .await
    }

    async fn redeem_device_code(&self, hash: &str, now: i64) -> Result<Option<DeviceCodeRecord>> {
        let hash = hash.to_owned();
        self.write(move |c| {
            c.query_row(
                &format!(
                    "UPDATE device_codes SET redeemed = 1 WHERE hash = ?1 AND object_id IS NOT NULL AND redeemed = 0 AND expires > ?2 RETURNING {DEVICE_COLS}"
                ),
                params![hash, now],
                device_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn put_auth_code(&self, a: &AuthCodeRecord) -> Result<()> {
        let a = a.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO auth_codes ({CODE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    a.hash,
                    a.object_id,
                    a.client_id,
                    a.redirect_uri,
                    a.code_challenge,
                    a.scope,
                    a.nonce,
                    a.created,
                    a.expires
                ],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn take_auth_code(&self, hash: &str, now: i64) -> Result<Option<AuthCodeRecord>> {
        let hash = hash.to_owned();
        self.write(move |c| {
            // One statement, as on PostgreSQL: the row is spent by reading it.
            let taken = c
                .query_row(
                    &format!("DELETE FROM auth_codes WHERE hash = ?1 RETURNING {CODE_COLS}"),
                    [&hash],
                    code_row,
                )
                .optional()
                .map_err(db_err)?;
            Ok(taken.filter(|a| a.expires > now))
        })
        .await
    }

    async fn put_refresh_token(&self, t: &RefreshTokenRecord) -> Result<()> {
        let t = t.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![t.hash, t.object_id, t.client_id, t.scope, t.created, t.expires],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn take_refresh_token(&self, hash: &str, now: i64) -> Result<Option<RefreshTokenRecord>> {
        let hash = hash.to_owned();
        self.write(move |c| {
            // One statement, as on PostgreSQL: the row is spent by reading it.
            let taken = c
                .query_row(
                    &format!("DELETE FROM refresh_tokens WHERE hash = ?1 RETURNING {REFRESH_COLS}"),
                    [&hash],
                    refresh_row,
                )
                .optional()
                .map_err(db_err)?;
            Ok(taken.filter(|t| t.expires > now))
        })
        .await
    }

    async fn delete_refresh_tokens(&self, object_id: &str) -> Result<u64> {
        let oid = object_id.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM refresh_tokens WHERE object_id = ?1", [oid])
                .map(|n| n as u64)
                .map_err(db_err)
        })
        .await
    }
}
