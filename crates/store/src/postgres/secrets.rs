//! Secret tables. A soft-deleted secret keeps its versions; a row in `deleted_secrets` hides them from
//! every live read.
//!
//! Writes to one secret take a transaction-scoped advisory lock on its (vault, name) key first, so that
//! check-then-write steps (is it deleted? does it exist?) cannot interleave with another writer of the
//! same name under READ COMMITTED. The SQLite backend gets the same from its single connection.

use deadpool_postgres::{GenericClient, Object, Transaction};
use tokio_postgres::{Row, types::ToSql};

use super::{db_err, execute, fold, locked_write, query, query_opt};
use crate::*;

pub(super) const COLS: &str =
    "s.seq, s.vault, s.name, s.version, s.value, s.content_type, s.tags, s.enabled, s.nbf, s.exp, s.created, s.updated,
    s.managed";
const LIVE: &str =
    "NOT EXISTS (SELECT 1 FROM deleted_secrets d WHERE d.vault_key = s.vault_key AND d.name_key = s.name_key)";
const LATEST: &str =
    "s.seq = (SELECT MAX(t.seq) FROM secret_versions t WHERE t.vault_key = s.vault_key AND t.name_key = s.name_key)";

pub(super) fn row(r: &Row) -> Result<SecretVersionRecord> {
    let value: Vec<u8> = r.try_get(4).map_err(db_err)?;
    let tags: Option<String> = r.try_get(6).map_err(db_err)?;
    Ok(SecretVersionRecord {
        seq: r.try_get(0).map_err(db_err)?,
        vault: r.try_get(1).map_err(db_err)?,
        name: r.try_get(2).map_err(db_err)?,
        version: r.try_get(3).map_err(db_err)?,
        value: Sealed::from_stored(value).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        content_type: r.try_get(5).map_err(db_err)?,
        tags: crate::columns::opt_from_json(tags)?,
        enabled: r.try_get(7).map_err(db_err)?,
        nbf: r.try_get(8).map_err(db_err)?,
        exp: r.try_get(9).map_err(db_err)?,
        created: r.try_get(10).map_err(db_err)?,
        updated: r.try_get(11).map_err(db_err)?,
        managed: r.try_get(12).map_err(db_err)?,
    })
}

fn tags_json(s: &SecretVersionRecord) -> Result<Option<String>> {
    crate::columns::opt_to_json(s.tags.as_ref())
}

/// Limit of a page: `u32::MAX` means all.
fn limit(page: &PageRequest) -> i64 {
    i64::from(page.limit)
}

/// Opens a transaction holding the write lock of one secret name.
async fn locked<'a>(c: &'a mut Object, vault: &str, name: &str) -> Result<Transaction<'a>> {
    let tx = c.transaction().await.map_err(db_err)?;
    execute(&tx, LOCK, &[&fold(vault), &fold(name)]).await?;
    Ok(tx)
}

pub(super) async fn is_deleted(c: &impl GenericClient, vault: &str, name: &str) -> Result<bool> {
    Ok(query_opt(
        c,
        "SELECT 1 FROM deleted_secrets WHERE vault_key = $1 AND name_key = $2",
        &[&fold(vault), &fold(name)],
    )
    .await?
    .is_some())
}

pub(super) async fn insert(c: &impl GenericClient, s: &SecretVersionRecord) -> Result<()> {
    execute(
        c,
        "INSERT INTO secret_versions (vault, name, version, value, content_type, tags, enabled, nbf, exp, created, updated, managed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &s.vault, &s.name, &s.version, &s.value.as_bytes(), &s.content_type, &tags_json(s)?, &s.enabled,
            &s.nbf, &s.exp, &s.created, &s.updated, &s.managed,
        ],
    )
    .await
    .map(drop)
}

/// Takes the name's lock, in a statement of its own (see [`locked`]).
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))";

/// The insert of [`insert`], unless the name is soft-deleted or its latest version is a certificate's
/// (`$13`, `$14`: the folded vault and name).
const PUT_UNLESS_HIDDEN: &str = "INSERT INTO secret_versions
     (vault, name, version, value, content_type, tags, enabled, nbf, exp, created, updated, managed)
     SELECT $1::text, $2::text, $3::text, $4::bytea, $5::text, $6::text, $7::boolean, $8::bigint, $9::bigint,
            $10::bigint, $11::bigint, $12::boolean
     WHERE NOT EXISTS (SELECT 1 FROM deleted_secrets WHERE vault_key = $13 AND name_key = $14)
       AND NOT COALESCE(
             (SELECT managed FROM secret_versions WHERE vault_key = $13 AND name_key = $14 ORDER BY seq DESC LIMIT 1),
             false)";

/// A SET: `BEGIN`, the lock with the conditional insert ([`locked_write`]), `COMMIT` — three round
/// trips where the lock, the two checks and the insert each took one. Only a refused insert asks
/// which check refused it.
pub(super) async fn put_version(c: &mut Object, s: &SecretVersionRecord) -> Result<()> {
    let tx = c.transaction().await.map_err(db_err)?;
    let (vault_key, name_key) = (fold(&s.vault), fold(&s.name));
    let tags = tags_json(s)?;
    let value = s.value.as_bytes();
    let params: [&(dyn ToSql + Sync); 14] = [
        &s.vault,
        &s.name,
        &s.version,
        &value,
        &s.content_type,
        &tags,
        &s.enabled,
        &s.nbf,
        &s.exp,
        &s.created,
        &s.updated,
        &s.managed,
        &vault_key,
        &name_key,
    ];
    if locked_write(&tx, LOCK, (&vault_key, &name_key), PUT_UNLESS_HIDDEN, &params).await? == 0 {
        return Err(if is_deleted(&tx, &s.vault, &s.name).await? {
            StoreError::Deleted
        } else {
            StoreError::Managed
        });
    }
    tx.commit().await.map_err(db_err)
}

/// As [`put_version`]: the lock and the update go out together.
pub(super) async fn update_version(c: &mut Object, s: &SecretVersionRecord) -> Result<()> {
    let tx = c.transaction().await.map_err(db_err)?;
    let update = format!(
        "UPDATE secret_versions AS s SET content_type = $4, tags = $5, enabled = $6, nbf = $7, exp = $8, updated = $9
         WHERE s.vault_key = $1 AND s.name_key = $2 AND s.version = $3 AND {LIVE}"
    );
    let (vault_key, name_key) = (fold(&s.vault), fold(&s.name));
    let tags = tags_json(s)?;
    let params: [&(dyn ToSql + Sync); 9] = [
        &vault_key,
        &name_key,
        &s.version,
        &s.content_type,
        &tags,
        &s.enabled,
        &s.nbf,
        &s.exp,
        &s.updated,
    ];
    if locked_write(&tx, LOCK, (&vault_key, &name_key), &update, &params).await? == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await.map_err(db_err)
}

pub(super) async fn version(
    c: &impl GenericClient,
    vault: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Option<SecretVersionRecord>> {
    let (vault, name) = (fold(vault), fold(name));
    let found = match version {
        Some(v) => {
            query_opt(
                c,
                &format!(
                    "SELECT {COLS} FROM secret_versions s
                     WHERE s.vault_key = $1 AND s.name_key = $2 AND s.version = $3 AND {LIVE}"
                ),
                &[&vault, &name, &v],
            )
            .await?
        }
        None => {
            query_opt(
                c,
                &format!(
                    "SELECT {COLS} FROM secret_versions s
                     WHERE s.vault_key = $1 AND s.name_key = $2 AND {LIVE} ORDER BY s.seq DESC LIMIT 1"
                ),
                &[&vault, &name],
            )
            .await?
        }
    };
    found.as_ref().map(row).transpose()
}

pub(super) async fn list_latest(
    c: &impl GenericClient,
    vault: &str,
    page: &PageRequest,
) -> Result<Vec<SecretVersionRecord>> {
    let after = fold(page.after.as_deref().unwrap_or_default());
    let rows = query(
        c,
        &format!(
            "SELECT {COLS} FROM secret_versions s
             WHERE s.vault_key = $1 AND s.name_key > $2 AND {LIVE} AND {LATEST}
             ORDER BY s.name_key LIMIT $3"
        ),
        &[&fold(vault), &after, &limit(page)],
    )
    .await?;
    rows.iter().map(row).collect()
}

pub(super) async fn list_versions(
    c: &impl GenericClient,
    vault: &str,
    name: &str,
    page: &PageRequest,
) -> Result<Vec<SecretVersionRecord>> {
    // As the SQLite backend: a cursor that is not a number starts from the beginning.
    let after: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
    let rows = query(
        c,
        &format!(
            "SELECT {COLS} FROM secret_versions s
             WHERE s.vault_key = $1 AND s.name_key = $2 AND s.seq > $3 AND {LIVE} ORDER BY s.seq LIMIT $4"
        ),
        &[&fold(vault), &fold(name), &after, &limit(page)],
    )
    .await?;
    rows.iter().map(row).collect()
}

pub(super) async fn soft_delete(c: &mut Object, d: &DeletedSecretRecord) -> Result<()> {
    let tx = locked(c, &d.vault, &d.name).await?;
    let exists = query_opt(
        &tx,
        &format!("SELECT 1 FROM secret_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND {LIVE} LIMIT 1"),
        &[&fold(&d.vault), &fold(&d.name)],
    )
    .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound);
    }
    execute(
        &tx,
        "INSERT INTO deleted_secrets (vault, name, deleted_date, scheduled_purge_date) VALUES ($1, $2, $3, $4)",
        &[&d.vault, &d.name, &d.deleted_date, &d.scheduled_purge_date],
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

fn deleted_row(r: &Row) -> Result<(DeletedSecretRecord, SecretVersionRecord)> {
    let latest = row(r)?;
    Ok((
        DeletedSecretRecord {
            vault: latest.vault.clone(),
            name: latest.name.clone(),
            deleted_date: r.try_get(13).map_err(db_err)?,
            scheduled_purge_date: r.try_get(14).map_err(db_err)?,
        },
        latest,
    ))
}

fn deleted_select(filter: &str) -> String {
    format!(
        "SELECT {COLS}, d.deleted_date, d.scheduled_purge_date
         FROM deleted_secrets d JOIN secret_versions s ON s.vault_key = d.vault_key AND s.name_key = d.name_key AND {LATEST}
         WHERE {filter}"
    )
}

pub(super) async fn deleted(
    c: &impl GenericClient,
    vault: &str,
    name: &str,
) -> Result<Option<(DeletedSecretRecord, SecretVersionRecord)>> {
    query_opt(
        c,
        &deleted_select("d.vault_key = $1 AND d.name_key = $2"),
        &[&fold(vault), &fold(name)],
    )
    .await?
    .as_ref()
    .map(deleted_row)
    .transpose()
}

pub(super) async fn list_deleted(
    c: &impl GenericClient,
    vault: &str,
    page: &PageRequest,
) -> Result<Vec<(DeletedSecretRecord, SecretVersionRecord)>> {
    let after = fold(page.after.as_deref().unwrap_or_default());
    let rows = query(
        c,
        &format!(
            "{} ORDER BY d.name_key LIMIT $3",
            deleted_select("d.vault_key = $1 AND d.name_key > $2")
        ),
        &[&fold(vault), &after, &limit(page)],
    )
    .await?;
    rows.iter().map(deleted_row).collect()
}

pub(super) async fn recover(c: &mut Object, vault: &str, name: &str) -> Result<()> {
    let tx = locked(c, vault, name).await?;
    let n = execute(
        &tx,
        "DELETE FROM deleted_secrets WHERE vault_key = $1 AND name_key = $2",
        &[&fold(vault), &fold(name)],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await.map_err(db_err)
}

/// Removes a secret's versions: a soft-deleted one (`deleted = true`) or a live one.
pub(super) async fn purge(c: &mut Object, vault: &str, name: &str, deleted: bool) -> Result<()> {
    let tx = locked(c, vault, name).await?;
    if is_deleted(&tx, vault, name).await? != deleted {
        return Err(StoreError::NotFound);
    }
    let (vault, name) = (fold(vault), fold(name));
    execute(
        &tx,
        "DELETE FROM deleted_secrets WHERE vault_key = $1 AND name_key = $2",
        &[&vault, &name],
    )
    .await?;
    let n = execute(
        &tx,
        "DELETE FROM secret_versions WHERE vault_key = $1 AND name_key = $2",
        &[&vault, &name],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await.map_err(db_err)
}

pub(super) async fn restore(c: &mut Object, versions: &[SecretVersionRecord]) -> Result<()> {
    let Some(first) = versions.first() else {
        return Err(StoreError::NotFound);
    };
    let tx = locked(c, &first.vault, &first.name).await?;
    if is_deleted(&tx, &first.vault, &first.name).await? {
        return Err(StoreError::Deleted);
    }
    let exists = query_opt(
        &tx,
        "SELECT 1 FROM secret_versions WHERE vault_key = $1 AND name_key = $2 LIMIT 1",
        &[&fold(&first.vault), &fold(&first.name)],
    )
    .await?;
    if exists.is_some() {
        return Err(StoreError::Exists);
    }
    for v in versions {
        insert(&tx, v).await?;
    }
    tx.commit().await.map_err(db_err)
}
