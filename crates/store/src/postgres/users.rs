//! The users table: written with its principal in one transaction; a name taken meanwhile by
//! another transaction fails on the unique `upn_key` and is answered as taken.

use async_trait::async_trait;
use deadpool_postgres::Transaction;

use super::{
    identity::{PRINCIPAL_COLS, principal_row},
    *,
};

const USER_COLS: &str = "u.upn, u.password_hash, u.enabled, u.password_changed";

fn user_row(r: &Row) -> Result<UserRecord> {
    Ok(UserRecord {
        principal: principal_row(r)?,
        user_principal_name: r.try_get(6).map_err(db_err)?,
        password_hash: r.try_get(7).map_err(db_err)?,
        enabled: r.try_get(8).map_err(db_err)?,
        password_changed: r.try_get(9).map_err(db_err)?,
    })
}

fn select(filter: &str) -> String {
    let principal = PRINCIPAL_COLS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT {principal}, {USER_COLS} FROM users u JOIN principals p ON p.object_id = u.object_id {filter}")
}

/// A unique violation on the name is `Exists`; anything else a backend error.
fn taken_or(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::Exists
    } else {
        db_err(e)
    }
}

async fn name_taken(tx: &Transaction<'_>, upn: &str, except: &str) -> Result<bool> {
    Ok(query_opt(
        tx,
        "SELECT 1 FROM users WHERE upn_key = $1 AND object_id <> $2",
        &[&upn.to_lowercase(), &except],
    )
    .await?
    .is_some())
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn put_user(&self, u: &UserRecord) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        let p = &u.principal;
        if name_taken(&tx, &u.user_principal_name, &p.object_id).await? {
            return Err(StoreError::Exists);
        }
        super::identity::insert_principal(&tx, p).await?;
        tx.execute(
            "INSERT INTO users (object_id, upn, upn_key, password_hash, enabled, password_changed) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &p.object_id,
                &u.user_principal_name,
                &u.user_principal_name.to_lowercase(),
                &u.password_hash,
                &u.enabled,
                &u.password_changed,
            ],
        )
        .await
        .map_err(taken_or)?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_user(&self, u: &UserRecord) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        let oid = &u.principal.object_id;
        if name_taken(&tx, &u.user_principal_name, oid).await? {
            return Err(StoreError::Exists);
        }
        let n = tx
            .execute(
                "UPDATE users SET upn = $2, upn_key = $3, password_hash = $4, enabled = $5, password_changed = $6 WHERE object_id = $1",
                &[
                    oid,
                    &u.user_principal_name,
                    &u.user_principal_name.to_lowercase(),
                    &u.password_hash,
                    &u.enabled,
                    &u.password_changed,
                ],
            )
            .await
            .map_err(taken_or)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        execute(
            &tx,
            "UPDATE principals SET display_name = $2 WHERE object_id = $1",
            &[oid, &u.principal.display_name],
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn user(&self, object_id: &str) -> Result<Option<UserRecord>> {
        let c = self.client().await?;
        query_opt(&c, &select("WHERE u.object_id = $1"), &[&object_id])
            .await?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    async fn user_by_upn(&self, user_principal_name: &str) -> Result<Option<UserRecord>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &select("WHERE u.upn_key = $1"),
            &[&user_principal_name.to_lowercase()],
        )
        .await?
        .as_ref()
        .map(user_row)
        .transpose()
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let c = self.client().await?;
        let rows = query(&c, &select("ORDER BY p.created, p.object_id"), &[]).await?;
        rows.iter().map(user_row).collect()
    }
}
