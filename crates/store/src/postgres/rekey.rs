//! Data-key rotation: versions whose value is sealed under another data key, and compare-and-swap
//! replacement of one value. The key id is bytes 1..5 of a sealed value (`substring` is 1-based).
//! An `UPDATE … WHERE value = old` re-checks its condition after waiting for a concurrent writer's row
//! lock, so a swap never overwrites a change it did not see.

use deadpool_postgres::GenericClient;

use super::{db_err, execute, query, query_opt, secrets};
use crate::*;

pub(super) async fn not_under(
    c: &impl GenericClient,
    key_id: u32,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<SecretVersionRecord>> {
    let rows = query(
        c,
        &format!(
            "SELECT {} FROM secret_versions s WHERE s.seq > $2 AND substring(s.value from 2 for 4) <> $1
             ORDER BY s.seq LIMIT $3",
            secrets::COLS
        ),
        &[&key_id.to_be_bytes().as_slice(), &after_seq, &i64::from(limit)],
    )
    .await?;
    rows.iter().map(secrets::row).collect()
}

pub(super) async fn count_not_under(c: &impl GenericClient, key_id: u32) -> Result<u64> {
    let row = query_opt(
        c,
        "SELECT COUNT(*) FROM secret_versions WHERE substring(value from 2 for 4) <> $1",
        &[&key_id.to_be_bytes().as_slice()],
    )
    .await?;
    let n: i64 = match row {
        Some(r) => r.try_get(0).map_err(db_err)?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

pub(super) async fn replace_value(c: &impl GenericClient, seq: i64, old: &[u8], new: &[u8]) -> Result<bool> {
    let n = execute(
        c,
        "UPDATE secret_versions SET value = $3 WHERE seq = $1 AND value = $2",
        &[&seq, &old, &new],
    )
    .await?;
    Ok(n == 1)
}

pub(super) async fn replace_signing_key(c: &impl GenericClient, kid: &str, old: &[u8], new: &[u8]) -> Result<bool> {
    let n = execute(
        c,
        "UPDATE signing_keys SET sealed = $3 WHERE kid = $1 AND sealed = $2",
        &[&kid, &old, &new],
    )
    .await?;
    Ok(n == 1)
}

pub(super) async fn replace_meta(c: &impl GenericClient, key: &str, old: &[u8], new: &[u8]) -> Result<bool> {
    let n = execute(
        c,
        "UPDATE meta SET value = $3 WHERE key = $1 AND value = $2",
        &[&key, &old, &new],
    )
    .await?;
    Ok(n == 1)
}
