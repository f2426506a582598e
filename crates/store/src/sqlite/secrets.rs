//! Secret tables. A soft-deleted secret keeps its versions; a row in `deleted_secrets` hides them from
//! every live read.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{CachedSql, db_err};
use crate::*;

pub(super) const COLS: &str =
    "seq, vault, name, version, value, content_type, tags, enabled, nbf, exp, created, updated, managed";
const LIVE: &str = "NOT EXISTS (SELECT 1 FROM deleted_secrets d WHERE d.vault = s.vault AND d.name = s.name)";

pub(super) fn row(r: &Row<'_>) -> rusqlite::Result<SecretVersionRecord> {
    let value: Vec<u8> = r.get(4)?;
    let tags: Option<String> = r.get(6)?;
    let corrupt = |e: String| rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Blob, e.into());
    Ok(SecretVersionRecord {
        seq: r.get(0)?,
        vault: r.get(1)?,
        name: r.get(2)?,
        version: r.get(3)?,
        value: Sealed::from_stored(value).map_err(|e| corrupt(e.to_string()))?,
        content_type: r.get(5)?,
        tags: match tags {
            Some(t) => Some(serde_json::from_str(&t).map_err(|e| corrupt(e.to_string()))?),
            None => None,
        },
        enabled: r.get(7)?,
        nbf: r.get(8)?,
        exp: r.get(9)?,
        created: r.get(10)?,
        updated: r.get(11)?,
        managed: r.get(12)?,
    })
}

fn tags_json(s: &SecretVersionRecord) -> Result<Option<String>> {
    crate::columns::opt_to_json(s.tags.as_ref())
}

pub(super) fn is_deleted(c: &Connection, vault: &str, name: &str) -> Result<bool> {
    c.cached_row(
        "SELECT 1 FROM deleted_secrets WHERE vault = ?1 AND name = ?2",
        params![vault, name],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(db_err)
}

pub(super) fn insert(c: &Connection, s: &SecretVersionRecord) -> Result<()> {
    c.cached_execute(
        "INSERT INTO secret_versions (vault, name, version, value, content_type, tags, enabled, nbf, exp, created, updated, managed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            s.vault, s.name, s.version, s.value.as_bytes(), s.content_type, tags_json(s)?, s.enabled, s.nbf, s.exp,
            s.created, s.updated, s.managed
        ],
    )
    .map(drop)
    .map_err(db_err)
}

/// Whether the latest version of a name is a certificate's.
pub(super) fn latest_managed(c: &Connection, table: &str, vault: &str, name: &str) -> Result<bool> {
    c.query_row(
        &format!("SELECT managed FROM {table} WHERE vault = ?1 AND name = ?2 ORDER BY seq DESC LIMIT 1"),
        params![vault, name],
        |r| r.get::<_, bool>(0),
    )
    .optional()
    .map(|m| m.unwrap_or(false))
    .map_err(db_err)
}

pub(super) fn put_version(c: &mut Connection, s: &SecretVersionRecord) -> Result<()> {
    let tx = c.savepoint().map_err(db_err)?;
    if is_deleted(&tx, &s.vault, &s.name)? {
        return Err(StoreError::Deleted);
    }
    if latest_managed(&tx, "secret_versions", &s.vault, &s.name)? {
        return Err(StoreError::Managed);
    }
    insert(&tx, s)?;
    tx.commit().map_err(db_err)
}

pub(super) fn update_version(c: &mut Connection, s: &SecretVersionRecord) -> Result<()> {
    let n = c
        .cached_execute(
            &format!(
                "UPDATE secret_versions AS s SET content_type = ?4, tags = ?5, enabled = ?6, nbf = ?7, exp = ?8, updated = ?9
                 WHERE vault = ?1 AND name = ?2 AND version = ?3 AND {LIVE}"
            ),
            params![s.vault, s.name, s.version, s.content_type, tags_json(s)?, s.enabled, s.nbf, s.exp, s.updated],
        )
        .map_err(db_err)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub(super) fn version(
    c: &Connection,
    vault: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Option<SecretVersionRecord>> {
    let res = match version {
        Some(v) => c.cached_row(
            &format!("SELECT {COLS} FROM secret_versions s WHERE vault = ?1 AND name = ?2 AND version = ?3 AND {LIVE}"),
            params![vault, name, v],
            row,
        ),
        None => c.cached_row(
            &format!("SELECT {COLS} FROM secret_versions s WHERE vault = ?1 AND name = ?2 AND {LIVE} ORDER BY seq DESC LIMIT 1"),
            params![vault, name],
            row,
        ),
    };
    res.optional().map_err(db_err)
}

pub(super) fn list_latest(c: &mut Connection, vault: &str, page: &PageRequest) -> Result<Vec<SecretVersionRecord>> {
    let after = page.after.clone().unwrap_or_default();
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM secret_versions s
             WHERE vault = ?1 AND name > ?2 AND {LIVE}
               AND seq = (SELECT MAX(seq) FROM secret_versions t WHERE t.vault = s.vault AND t.name = s.name)
             ORDER BY name COLLATE NOCASE LIMIT ?3"
        ))
        .map_err(db_err)?;
    let rows = st.query_map(params![vault, after, page.limit], row).map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

pub(super) fn list_versions(
    c: &mut Connection,
    vault: &str,
    name: &str,
    page: &PageRequest,
) -> Result<Vec<SecretVersionRecord>> {
    let after: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM secret_versions s WHERE vault = ?1 AND name = ?2 AND seq > ?3 AND {LIVE} ORDER BY seq LIMIT ?4"
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map(params![vault, name, after, page.limit], row)
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

pub(super) fn soft_delete(c: &mut Connection, d: &DeletedSecretRecord) -> Result<()> {
    let tx = c.savepoint().map_err(db_err)?;
    let exists = tx
        .cached_row(
            &format!("SELECT 1 FROM secret_versions s WHERE vault = ?1 AND name = ?2 AND {LIVE} LIMIT 1"),
            params![d.vault, d.name],
            |_| Ok(()),
        )
        .optional()
        .map_err(db_err)?;
    if exists.is_none() {
        return Err(StoreError::NotFound);
    }
    tx.cached_execute(
        "INSERT INTO deleted_secrets (vault, name, deleted_date, scheduled_purge_date) VALUES (?1, ?2, ?3, ?4)",
        params![d.vault, d.name, d.deleted_date, d.scheduled_purge_date],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

fn deleted_row(r: &Row<'_>) -> rusqlite::Result<(DeletedSecretRecord, SecretVersionRecord)> {
    let latest = row(r)?;
    Ok((
        DeletedSecretRecord {
            vault: latest.vault.clone(),
            name: latest.name.clone(),
            deleted_date: r.get(13)?,
            scheduled_purge_date: r.get(14)?,
        },
        latest,
    ))
}

const DELETED_SELECT: &str =
    "SELECT s.seq, s.vault, s.name, s.version, s.value, s.content_type, s.tags, s.enabled, s.nbf, s.exp,
        s.created, s.updated, s.managed, d.deleted_date, d.scheduled_purge_date
     FROM deleted_secrets d JOIN secret_versions s ON s.vault = d.vault AND s.name = d.name
       AND s.seq = (SELECT MAX(seq) FROM secret_versions t WHERE t.vault = d.vault AND t.name = d.name)";

pub(super) fn deleted(
    c: &mut Connection,
    vault: &str,
    name: &str,
) -> Result<Option<(DeletedSecretRecord, SecretVersionRecord)>> {
    c.cached_row(
        &format!("{DELETED_SELECT} WHERE d.vault = ?1 AND d.name = ?2"),
        params![vault, name],
        deleted_row,
    )
    .optional()
    .map_err(db_err)
}

pub(super) fn list_deleted(
    c: &mut Connection,
    vault: &str,
    page: &PageRequest,
) -> Result<Vec<(DeletedSecretRecord, SecretVersionRecord)>> {
    let after = page.after.clone().unwrap_or_default();
    let mut st = c
        .prepare_cached(&format!(
            "{DELETED_SELECT} WHERE d.vault = ?1 AND d.name > ?2 ORDER BY d.name COLLATE NOCASE LIMIT ?3"
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map(params![vault, after, page.limit], deleted_row)
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

/// Removes a secret's versions: a soft-deleted one (`deleted = true`) or a live one.
pub(super) fn purge(c: &mut Connection, vault: &str, name: &str, deleted: bool) -> Result<()> {
    let tx = c.savepoint().map_err(db_err)?;
    if is_deleted(&tx, vault, name)? != deleted {
        return Err(StoreError::NotFound);
    }
    tx.cached_execute(
        "DELETE FROM deleted_secrets WHERE vault = ?1 AND name = ?2",
        params![vault, name],
    )
    .map_err(db_err)?;
    let n = tx
        .cached_execute(
            "DELETE FROM secret_versions WHERE vault = ?1 AND name = ?2",
            params![vault, name],
        )
        .map_err(db_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().map_err(db_err)
}

pub(super) fn restore(c: &mut Connection, versions: &[SecretVersionRecord]) -> Result<()> {
    let Some(first) = versions.first() else {
        return Err(StoreError::NotFound);
    };
    let tx = c.savepoint().map_err(db_err)?;
    if is_deleted(&tx, &first.vault, &first.name)? {
        return Err(StoreError::Deleted);
    }
    let exists = tx
        .cached_row(
            "SELECT 1 FROM secret_versions WHERE vault = ?1 AND name = ?2 LIMIT 1",
            params![first.vault, first.name],
            |_| Ok(()),
        )
        .optional()
        .map_err(db_err)?;
    if exists.is_some() {
        return Err(StoreError::Exists);
    }
    for v in versions {
        insert(&tx, v)?;
    }
    tx.commit().map_err(db_err)
}
