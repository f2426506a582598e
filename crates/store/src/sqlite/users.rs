//! The users table: written with its principal under one savepoint of the writer's transaction.

use async_trait::async_trait;

use super::{
    identity::{PRINCIPAL_COLS, principal_row},
    *,
};

const USER_COLS: &str = "u.upn, u.password_hash, u.enabled, u.password_changed";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        principal: principal_row(r)?,
        user_principal_name: r.get(6)?,
        password_hash: r.get(7)?,
        enabled: r.get(8)?,
        password_changed: r.get(9)?,
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

fn name_taken(c: &Connection, upn: &str, except: &str) -> Result<bool> {
    c.query_row(
        "SELECT 1 FROM users WHERE upn_key = ?1 AND object_id <> ?2",
        [upn.to_lowercase(), except.to_owned()],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
    .map_err(db_err)
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn put_user(&self, u: &UserRecord) -> Result<()> {
        let u = u.clone();
        self.write(move |c| {
            if name_taken(c, &u.user_principal_name, &u.principal.object_id)? {
                return Err(StoreError::Exists);
            }
            let p = &u.principal;
            c.execute(
                &format!("INSERT INTO principals ({PRINCIPAL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![p.object_id, p.app_id, p.display_name, p.kind.as_str(), p.tenant_id, p.created],
            )
            .map_err(db_err)?;
            c.execute(
                "INSERT INTO users (object_id, upn, upn_key, password_hash, enabled, password_changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    p.object_id,
                    u.user_principal_name,
                    u.user_principal_name.to_lowercase(),
                    u.password_hash,
                    u.enabled,
                    u.password_changed
                ],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn update_user(&self, u: &UserRecord) -> Result<()> {
        let u = u.clone();
        self.write(move |c| {
            if name_taken(c, &u.user_principal_name, &u.principal.object_id)? {
                return Err(StoreError::Exists);
            }
            let n = c
                .execute(
                    "UPDATE users SET upn = ?2, upn_key = ?3, password_hash = ?4, enabled = ?5, password_changed = ?6 WHERE object_id = ?1",
                    params![
                        u.principal.object_id,
                        u.user_principal_name,
                        u.user_principal_name.to_lowercase(),
                        u.password_hash,
                        u.enabled,
                        u.password_changed
                    ],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "UPDATE principals SET display_name = ?2 WHERE object_id = ?1",
                params![u.principal.object_id, u.principal.display_name],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn user(&self, object_id: &str) -> Result<Option<UserRecord>> {
        let oid = object_id.to_owned();
        self.read(move |c| {
            c.query_row(&select("WHERE u.object_id = ?1"), [oid], user_row)
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn user_by_upn(&self, user_principal_name: &str) -> Result<Option<UserRecord>> {
        let key = user_principal_name.to_lowercase();
        self.read(move |c| {
            c.query_row(&select("WHERE u.upn_key = ?1"), [key], user_row)
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        self.read(move |c| {
            let mut st = c.prepare(&select("ORDER BY p.created, p.object_id")).map_err(db_err)?;
            let rows = st.query_map([], user_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
        })
        .await
    }
}
