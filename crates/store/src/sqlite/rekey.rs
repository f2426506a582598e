//! Data-key rotation: versions whose value is sealed under another data key, and compare-and-swap
//! replacement of one value. The key id is bytes 1..5 of a sealed value (`substr` is 1-based).

use rusqlite::{Connection, params};

use super::{CachedSql, db_err, secrets};
use crate::*;

pub(super) fn not_under(
    c: &mut Connection,
    key_id: u32,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<SecretVersionRecord>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {} FROM secret_versions WHERE seq > ?2 AND substr(value, 2, 4) <> ?1 ORDER BY seq LIMIT ?3",
            secrets::COLS
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map(params![key_id.to_be_bytes().to_vec(), after_seq, limit], secrets::row)
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

pub(super) fn count_not_under(c: &mut Connection, key_id: u32) -> Result<u64> {
    let n: i64 = c
        .cached_row(
            "SELECT COUNT(*) FROM secret_versions WHERE substr(value, 2, 4) <> ?1",
            [key_id.to_be_bytes().to_vec()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    Ok(n.max(0) as u64)
}

pub(super) fn replace_value(c: &mut Connection, seq: i64, old: &[u8], new: &[u8]) -> Result<bool> {
    let n = c
        .cached_execute(
            "UPDATE secret_versions SET value = ?3 WHERE seq = ?1 AND value = ?2",
            params![seq, old, new],
        )
        .map_err(db_err)?;
    Ok(n == 1)
}

pub(super) fn replace_signing_key(c: &mut Connection, kid: &str, old: &[u8], new: &[u8]) -> Result<bool> {
    let n = c
        .cached_execute(
            "UPDATE signing_keys SET sealed = ?3 WHERE kid = ?1 AND sealed = ?2",
            params![kid, old, new],
        )
        .map_err(db_err)?;
    Ok(n == 1)
}

pub(super) fn replace_meta(c: &mut Connection, key: &str, old: &[u8], new: &[u8]) -> Result<bool> {
    let n = c
        .cached_execute(
            "UPDATE meta SET value = ?3 WHERE key = ?1 AND value = ?2",
            params![key, old, new],
        )
        .map_err(db_err)?;
    Ok(n == 1)
}
