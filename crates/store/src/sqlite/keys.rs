//! Key tables, shaped like the secret tables: a row in `deleted_keys` hides every version of a name
//! from live reads; the private key column holds only sealed bytes.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{CachedSql, SqliteStore, db_err};
use crate::{columns::opt_to_json, *};

const COLS: &str = "s.seq, s.vault, s.name, s.version, s.kty, s.jwk, s.key_ops, s.private, s.enabled, s.nbf, s.exp,
    s.exportable, s.tags, s.created, s.updated, s.managed";
const LIVE: &str = "NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.vault = s.vault AND d.name = s.name)";
const LATEST: &str = "s.seq = (SELECT MAX(seq) FROM key_versions t WHERE t.vault = s.vault AND t.name = s.name)";

fn row(r: &Row<'_>) -> rusqlite::Result<KeyVersionRecord> {
    let corrupt = |e: String| rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into());
    let jwk: String = r.get(5)?;
    let ops: String = r.get(6)?;
    let private: Vec<u8> = r.get(7)?;
    let tags: Option<String> = r.get(12)?;
    Ok(KeyVersionRecord {
        seq: r.get(0)?,
        vault: r.get(1)?,
        name: r.get(2)?,
        version: r.get(3)?,
        kty: r.get(4)?,
        public_jwk: serde_json::from_str(&jwk).map_err(|e| corrupt(e.to_string()))?,
        key_ops: serde_json::from_str(&ops).map_err(|e| corrupt(e.to_string()))?,
        private: Sealed::from_stored(private).map_err(|e| corrupt(e.to_string()))?,
        enabled: r.get(8)?,
        nbf: r.get(9)?,
        exp: r.get(10)?,
        exportable: r.get(11)?,
        tags: match tags {
            Some(t) => Some(serde_json::from_str(&t).map_err(|e| corrupt(e.to_string()))?),
            None => None,
        },
        created: r.get(13)?,
        updated: r.get(14)?,
        managed: r.get(15)?,
    })
}

pub(super) fn is_deleted(c: &Connection, vault: &str, name: &str) -> Result<bool> {
    c.cached_row(
        "SELECT 1 FROM deleted_keys WHERE vault = ?1 AND name = ?2",
        params![vault, name],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(db_err)
}

pub(super) fn insert(c: &Connection, k: &KeyVersionRecord) -> Result<()> {
    c.cached_execute(
        "INSERT INTO key_versions (vault, name, version, kty, jwk, key_ops, private, enabled, nbf, exp, exportable, tags, created, updated, managed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            k.vault,
            k.name,
            k.version,
            k.kty,
            columns::to_json(&k.public_jwk)?,
            columns::to_json(&k.key_ops)?,
            k.private.as_bytes(),
            k.enabled,
            k.nbf,
            k.exp,
            k.exportable,
            opt_to_json(k.tags.as_ref())?,
            k.created,
            k.updated,
            k.managed
        ],
    )
    .map(drop)
    .map_err(db_err)
}

fn many(c: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<KeyVersionRecord>> {
    let mut st = c.prepare_cached(sql).map_err(db_err)?;
    let rows = st.query_map(p, row).map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

fn deleted_row(r: &Row<'_>) -> rusqlite::Result<DeletedKey> {
    let latest = row(r)?;
    Ok((
        DeletedKeyRecord {
            vault: latest.vault.clone(),
            name: latest.name.clone(),
            deleted_date: r.get(16)?,
            scheduled_purge_date: r.get(17)?,
        },
        latest,
    ))
}

fn deleted_select(filter: &str) -> String {
    format!(
        "SELECT {COLS}, d.deleted_date, d.scheduled_purge_date FROM deleted_keys d
         JOIN key_versions s ON s.vault = d.vault AND s.name = d.name AND {LATEST} WHERE {filter}"
    )
}

fn policy_row(r: &Row<'_>) -> rusqlite::Result<KeyPolicyRecord> {
    let policy: String = r.get(2)?;
    Ok(KeyPolicyRecord {
        vault: r.get(0)?,
        name: r.get(1)?,
        policy: serde_json::from_str(&policy).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.to_string().into())
        })?,
        created: r.get(3)?,
        updated: r.get(4)?,
    })
}

fn after_seq(page: &PageRequest) -> i64 {
    page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0)
}

/// The given live version, or the latest when `version` is `None`.
fn version(c: &Connection, vault: &str, name: &str, version: Option<&str>) -> Result<Option<KeyVersionRecord>> {
    let res = match version {
        Some(v) => c.cached_row(
            &format!("SELECT {COLS} FROM key_versions s WHERE vault = ?1 AND name = ?2 AND version = ?3 AND {LIVE}"),
            params![vault, name, v],
            row,
        ),
        None => c.cached_row(
            &format!(
                "SELECT {COLS} FROM key_versions s WHERE vault = ?1 AND name = ?2 AND {LIVE} ORDER BY seq DESC LIMIT 1"
            ),
            params![vault, name],
            row,
        ),
    };
    res.optional().map_err(db_err)
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn put_key_version(&self, k: &KeyVersionRecord) -> Result<()> {
        let k = k.clone();
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            if is_deleted(&tx, &k.vault, &k.name)? {
                return Err(StoreError::Deleted);
            }
            if super::secrets::latest_managed(&tx, "key_versions", &k.vault, &k.name)? {
                return Err(StoreError::Managed);
            }
            insert(&tx, &k)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn update_key_version(&self, k: &KeyVersionRecord) -> Result<()> {
        let k = k.clone();
        self.write(move |c| {
            let n = c
                .cached_execute(
                    &format!(
                        "UPDATE key_versions AS s SET key_ops = ?4, enabled = ?5, nbf = ?6, exp = ?7, tags = ?8, updated = ?9
                         WHERE vault = ?1 AND name = ?2 AND version = ?3 AND {LIVE}"
                    ),
                    params![
                        k.vault,
                        k.name,
                        k.version,
                        columns::to_json(&k.key_ops)?,
                        k.enabled,
                        k.nbf,
                        k.exp,
                        opt_to_json(k.tags.as_ref())?,
                        k.updated
                    ],
                )
                .map_err(db_err)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn key_version(&self, vault: &str, name: &str, version: Option<&str>) -> Result<Option<KeyVersionRecord>> {
        self.cached_version(&self.key_rows, (vault, name, version), self::version)
            .await
    }

    async fn list_keys(&self, vault: &str, page: &PageRequest) -> Result<Vec<KeyVersionRecord>> {
        let (vault, after, limit) = (vault.to_owned(), page.after.clone().unwrap_or_default(), page.limit);
        self.scan(move |c| {
            many(
                c,
                &format!(
                    "SELECT {COLS} FROM key_versions s WHERE vault = ?1 AND name > ?2 AND {LIVE} AND {LATEST}
                     ORDER BY name COLLATE NOCASE LIMIT ?3"
                ),
                params![vault, after, limit],
            )
        })
        .await
    }

    async fn list_key_versions(&self, vault: &str, name: &str, page: &PageRequest) -> Result<Vec<KeyVersionRecord>> {
        let (vault, name, after, limit) = (vault.to_owned(), name.to_owned(), after_seq(page), page.limit);
        self.scan(move |c| {
            many(
                c,
                &format!(
                    "SELECT {COLS} FROM key_versions s WHERE vault = ?1 AND name = ?2 AND seq > ?3 AND {LIVE}
                     ORDER BY seq LIMIT ?4"
                ),
                params![vault, name, after, limit],
            )
        })
        .await
    }

    async fn delete_key(&self, d: &DeletedKeyRecord) -> Result<()> {
        let d = d.clone();
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            let exists = tx
                .cached_row(
                    &format!("SELECT 1 FROM key_versions s WHERE vault = ?1 AND name = ?2 AND {LIVE} LIMIT 1"),
                    params![d.vault, d.name],
                    |_| Ok(()),
                )
                .optional()
                .map_err(db_err)?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            tx.cached_execute(
                "INSERT INTO deleted_keys (vault, name, deleted_date, scheduled_purge_date) VALUES (?1, ?2, ?3, ?4)",
                params![d.vault, d.name, d.deleted_date, d.scheduled_purge_date],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn deleted_key(&self, vault: &str, name: &str) -> Result<Option<DeletedKey>> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.read(move |c| {
            c.cached_row(
                &deleted_select("d.vault = ?1 AND d.name = ?2"),
                params![vault, name],
                deleted_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn list_deleted_keys(&self, vault: &str, page: &PageRequest) -> Result<Vec<DeletedKey>> {
        let (vault, after, limit) = (vault.to_owned(), page.after.clone().unwrap_or_default(), page.limit);
        self.scan(move |c| {
            let sql = format!(
                "{} ORDER BY d.name COLLATE NOCASE LIMIT ?3",
                deleted_select("d.vault = ?1 AND d.name > ?2")
            );
            let mut st = c.prepare_cached(&sql).map_err(db_err)?;
            let rows = st
                .query_map(params![vault, after, limit], deleted_row)
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn recover_key(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| {
            let n = c
                .cached_execute(
                    "DELETE FROM deleted_keys WHERE vault = ?1 AND name = ?2",
                    params![vault, name],
                )
                .map_err(db_err)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn purge_key(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            if !is_deleted(&tx, &vault, &name)? {
                return Err(StoreError::NotFound);
            }
            for table in ["deleted_keys", "key_versions", "key_policies"] {
                tx.cached_execute(
                    &format!("DELETE FROM {table} WHERE vault = ?1 AND name = ?2"),
                    params![vault, name],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn restore_key(&self, versions: &[KeyVersionRecord]) -> Result<()> {
        let versions = versions.to_vec();
        self.write(move |c| {
            let Some(first) = versions.first() else {
                return Err(StoreError::NotFound);
            };
            let tx = c.savepoint().map_err(db_err)?;
            if is_deleted(&tx, &first.vault, &first.name)? {
                return Err(StoreError::Deleted);
            }
            let exists = tx
                .cached_row(
                    "SELECT 1 FROM key_versions WHERE vault = ?1 AND name = ?2 LIMIT 1",
                    params![first.vault, first.name],
                    |_| Ok(()),
                )
                .optional()
                .map_err(db_err)?;
            if exists.is_some() {
                return Err(StoreError::Exists);
            }
            for v in &versions {
                insert(&tx, v)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn purgeable_keys(&self, now: i64) -> Result<Vec<(String, String)>> {
        self.scan(move |c| {
            let mut st = c
                .prepare_cached("SELECT vault, name FROM deleted_keys WHERE scheduled_purge_date <= ?1")
                .map_err(db_err)?;
            let rows = st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn put_key_policy(&self, p: &KeyPolicyRecord) -> Result<()> {
        let p = p.clone();
        self.write(move |c| {
            c.cached_execute(
                "INSERT INTO key_policies (vault, name, policy, created, updated) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (vault, name) DO UPDATE SET policy = excluded.policy, updated = excluded.updated",
                params![p.vault, p.name, columns::to_json(&p.policy)?, p.created, p.updated],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn key_policy(&self, vault: &str, name: &str) -> Result<Option<KeyPolicyRecord>> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.read(move |c| {
            c.cached_row(
                "SELECT vault, name, policy, created, updated FROM key_policies WHERE vault = ?1 AND name = ?2",
                params![vault, name],
                policy_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn key_policies(&self) -> Result<Vec<KeyPolicyRecord>> {
        self.scan(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT p.vault, p.name, p.policy, p.created, p.updated FROM key_policies p
                     WHERE NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.vault = p.vault AND d.name = p.name)
                     ORDER BY p.vault, p.name",
                )
                .map_err(db_err)?;
            let rows = st.query_map([], policy_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn key_versions_not_under(&self, key_id: u32, after_seq: i64, limit: u32) -> Result<Vec<KeyVersionRecord>> {
        self.scan(move |c| {
            many(
                c,
                &format!("SELECT {COLS} FROM key_versions s WHERE seq > ?2 AND substr(private, 2, 4) <> ?1 ORDER BY seq LIMIT ?3"),
                params![key_id.to_be_bytes().to_vec(), after_seq, limit],
            )
        })
        .await
    }

    async fn replace_key_private(&self, seq: i64, old: &Sealed, new: &Sealed) -> Result<bool> {
        let (old, new) = (old.as_bytes().to_vec(), new.as_bytes().to_vec());
        self.write(move |c| {
            c.cached_execute(
                "UPDATE key_versions SET private = ?3 WHERE seq = ?1 AND private = ?2",
                params![seq, old, new],
            )
            .map(|n| n == 1)
            .map_err(db_err)
        })
        .await
    }
}
