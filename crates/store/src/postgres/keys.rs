//! Key tables, shaped like the secret tables. Writes to one key name take a transaction-scoped
//! advisory lock on its (vault, name) key first, as `secrets.rs` explains.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object, Transaction};
use tokio_postgres::{Row, types::ToSql};

use super::{PostgresStore, db_err, execute, fold, locked_write, query, query_opt};
use crate::{
    columns::{from_json, opt_from_json, opt_to_json, to_json},
    *,
};

const COLS: &str = "s.seq, s.vault, s.name, s.version, s.kty, s.jwk, s.key_ops, s.private, s.enabled, s.nbf, s.exp,
    s.exportable, s.tags, s.created, s.updated, s.managed";
const LIVE: &str =
    "NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.vault_key = s.vault_key AND d.name_key = s.name_key)";
const LATEST: &str =
    "s.seq = (SELECT MAX(t.seq) FROM key_versions t WHERE t.vault_key = s.vault_key AND t.name_key = s.name_key)";

fn row(r: &Row) -> Result<KeyVersionRecord> {
    let jwk: String = r.try_get(5).map_err(db_err)?;
    let ops: String = r.try_get(6).map_err(db_err)?;
    let private: Vec<u8> = r.try_get(7).map_err(db_err)?;
    Ok(KeyVersionRecord {
        seq: r.try_get(0).map_err(db_err)?,
        vault: r.try_get(1).map_err(db_err)?,
        name: r.try_get(2).map_err(db_err)?,
        version: r.try_get(3).map_err(db_err)?,
        kty: r.try_get(4).map_err(db_err)?,
        public_jwk: from_json(&jwk)?,
        key_ops: from_json(&ops)?,
        private: Sealed::from_stored(private).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        enabled: r.try_get(8).map_err(db_err)?,
        nbf: r.try_get(9).map_err(db_err)?,
        exp: r.try_get(10).map_err(db_err)?,
        exportable: r.try_get(11).map_err(db_err)?,
        tags: opt_from_json(r.try_get(12).map_err(db_err)?)?,
        created: r.try_get(13).map_err(db_err)?,
        updated: r.try_get(14).map_err(db_err)?,
        managed: r.try_get(15).map_err(db_err)?,
    })
}

fn deleted_row(r: &Row) -> Result<DeletedKey> {
    let latest = row(r)?;
    Ok((
        DeletedKeyRecord {
            vault: latest.vault.clone(),
            name: latest.name.clone(),
            deleted_date: r.try_get(16).map_err(db_err)?,
            scheduled_purge_date: r.try_get(17).map_err(db_err)?,
        },
        latest,
    ))
}

fn deleted_select(filter: &str) -> String {
    format!(
        "SELECT {COLS}, d.deleted_date, d.scheduled_purge_date FROM deleted_keys d
         JOIN key_versions s ON s.vault_key = d.vault_key AND s.name_key = d.name_key AND {LATEST} WHERE {filter}"
    )
}

fn policy_row(r: &Row) -> Result<KeyPolicyRecord> {
    let policy: String = r.try_get(2).map_err(db_err)?;
    Ok(KeyPolicyRecord {
        vault: r.try_get(0).map_err(db_err)?,
        name: r.try_get(1).map_err(db_err)?,
        policy: from_json(&policy)?,
        created: r.try_get(3).map_err(db_err)?,
        updated: r.try_get(4).map_err(db_err)?,
    })
}

async fn locked<'a>(c: &'a mut Object, vault: &str, name: &str) -> Result<Transaction<'a>> {
    let tx = c.transaction().await.map_err(db_err)?;
    execute(&tx, LOCK, &[&fold(vault), &fold(name)]).await?;
    Ok(tx)
}

pub(super) async fn is_deleted(c: &impl GenericClient, vault: &str, name: &str) -> Result<bool> {
    Ok(query_opt(
        c,
        "SELECT 1 FROM deleted_keys WHERE vault_key = $1 AND name_key = $2",
        &[&fold(vault), &fold(name)],
    )
    .await?
    .is_some())
}

pub(super) async fn insert(c: &impl GenericClient, k: &KeyVersionRecord) -> Result<()> {
    execute(
        c,
        "INSERT INTO key_versions (vault, name, version, kty, jwk, key_ops, private, enabled, nbf, exp, exportable, tags, created, updated, managed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &k.vault,
            &k.name,
            &k.version,
            &k.kty,
            &to_json(&k.public_jwk)?,
            &to_json(&k.key_ops)?,
            &k.private.as_bytes(),
            &k.enabled,
            &k.nbf,
            &k.exp,
            &k.exportable,
            &opt_to_json(k.tags.as_ref())?,
            &k.created,
            &k.updated,
            &k.managed,
        ],
    )
    .await
    .map(drop)
}

/// Takes a key name's lock, in a statement of its own (see [`locked`]).
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('key:' || $1), hashtext($2))";

/// The insert of [`insert`], unless the name is soft-deleted or its latest version is a
/// certificate's (`$16`, `$17`: the folded vault and name).
const PUT_UNLESS_HIDDEN: &str = "INSERT INTO key_versions
     (vault, name, version, kty, jwk, key_ops, private, enabled, nbf, exp, exportable, tags, created, updated, managed)
     SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::bytea, $8::boolean, $9::bigint,
            $10::bigint, $11::boolean, $12::text, $13::bigint, $14::bigint, $15::boolean
     WHERE NOT EXISTS (SELECT 1 FROM deleted_keys WHERE vault_key = $16 AND name_key = $17)
       AND NOT COALESCE(
             (SELECT managed FROM key_versions WHERE vault_key = $16 AND name_key = $17 ORDER BY seq DESC LIMIT 1),
             false)";

/// As a secret's SET: `BEGIN`, the lock with the conditional insert, `COMMIT`.
async fn put_version(c: &mut Object, k: &KeyVersionRecord) -> Result<()> {
    let tx = c.transaction().await.map_err(db_err)?;
    let (vault_key, name_key) = (fold(&k.vault), fold(&k.name));
    let (jwk, key_ops, tags) = (
        to_json(&k.public_jwk)?,
        to_json(&k.key_ops)?,
        opt_to_json(k.tags.as_ref())?,
    );
    let private = k.private.as_bytes();
    let params: [&(dyn ToSql + Sync); 17] = [
        &k.vault,
        &k.name,
        &k.version,
        &k.kty,
        &jwk,
        &key_ops,
        &private,
        &k.enabled,
        &k.nbf,
        &k.exp,
        &k.exportable,
        &tags,
        &k.created,
        &k.updated,
        &k.managed,
        &vault_key,
        &name_key,
    ];
    if locked_write(&tx, LOCK, (&vault_key, &name_key), PUT_UNLESS_HIDDEN, &params).await? == 0 {
        return Err(if is_deleted(&tx, &k.vault, &k.name).await? {
            StoreError::Deleted
        } else {
            StoreError::Managed
        });
    }
    tx.commit().await.map_err(db_err)
}

/// The lock and the update go out together.
async fn update_version(c: &mut Object, k: &KeyVersionRecord) -> Result<()> {
    let tx = c.transaction().await.map_err(db_err)?;
    let update = format!(
        "UPDATE key_versions AS s SET key_ops = $4, enabled = $5, nbf = $6, exp = $7, tags = $8, updated = $9
         WHERE s.vault_key = $1 AND s.name_key = $2 AND s.version = $3 AND {LIVE}"
    );
    let (vault_key, name_key) = (fold(&k.vault), fold(&k.name));
    let (key_ops, tags) = (to_json(&k.key_ops)?, opt_to_json(k.tags.as_ref())?);
    let params: [&(dyn ToSql + Sync); 9] = [
        &vault_key, &name_key, &k.version, &key_ops, &k.enabled, &k.nbf, &k.exp, &tags, &k.updated,
    ];
    if locked_write(&tx, LOCK, (&vault_key, &name_key), &update, &params).await? == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await.map_err(db_err)
}

fn after_seq(page: &PageRequest) -> i64 {
    page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0)
}

/// The live version `version`, or the latest live one.
async fn read_version(
    c: &impl GenericClient,
    vault: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Option<KeyVersionRecord>> {
    let (vault, name) = (fold(vault), fold(name));
    let found = match version {
        Some(v) => {
            query_opt(
                c,
                &format!(
                    "SELECT {COLS} FROM key_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND s.version = $3 AND {LIVE}"
                ),
                &[&vault, &name, &v],
            )
            .await?
        }
        None => {
            query_opt(
                c,
                &format!(
                    "SELECT {COLS} FROM key_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND {LIVE}
                     ORDER BY s.seq DESC LIMIT 1"
                ),
                &[&vault, &name],
            )
            .await?
        }
    };
    found.as_ref().map(row).transpose()
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn put_key_version(&self, k: &KeyVersionRecord) -> Result<()> {
        let k = k.clone();
        self.row_write(move |db| async move { put_version(&mut db.client().await?, &k).await })
            .await
    }

    async fn update_key_version(&self, k: &KeyVersionRecord) -> Result<()> {
        let k = k.clone();
        self.row_write(move |db| async move { update_version(&mut db.client().await?, &k).await })
            .await
    }

    async fn key_version(&self, vault: &str, name: &str, version: Option<&str>) -> Result<Option<KeyVersionRecord>> {
        self.cached_version(&self.key_rows, (vault, name, version), |c| async move {
            read_version(&c, vault, name, version).await
        })
        .await
    }

    async fn list_keys(&self, vault: &str, page: &PageRequest) -> Result<Vec<KeyVersionRecord>> {
        let after = fold(page.after.as_deref().unwrap_or_default());
        let rows = query(
            &self.client().await?,
            &format!(
                "SELECT {COLS} FROM key_versions s WHERE s.vault_key = $1 AND s.name_key > $2 AND {LIVE} AND {LATEST}
                 ORDER BY s.name_key LIMIT $3"
            ),
            &[&fold(vault), &after, &i64::from(page.limit)],
        )
        .await?;
        rows.iter().map(row).collect()
    }

    async fn list_key_versions(&self, vault: &str, name: &str, page: &PageRequest) -> Result<Vec<KeyVersionRecord>> {
        let rows = query(
            &self.client().await?,
            &format!(
                "SELECT {COLS} FROM key_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND s.seq > $3 AND {LIVE}
                 ORDER BY s.seq LIMIT $4"
            ),
            &[&fold(vault), &fold(name), &after_seq(page), &i64::from(page.limit)],
        )
        .await?;
        rows.iter().map(row).collect()
    }

    async fn delete_key(&self, d: &DeletedKeyRecord) -> Result<()> {
        let d = d.clone();
        self.row_write(move |db| async move {
            let d = &d;
            let mut c = db.client().await?;
            let tx = locked(&mut c, &d.vault, &d.name).await?;
            let exists = query_opt(
                &tx,
                &format!("SELECT 1 FROM key_versions s WHERE s.vault_key = $1 AND s.name_key = $2 AND {LIVE} LIMIT 1"),
                &[&fold(&d.vault), &fold(&d.name)],
            )
            .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            execute(
                &tx,
                "INSERT INTO deleted_keys (vault, name, deleted_date, scheduled_purge_date) VALUES ($1, $2, $3, $4)",
                &[&d.vault, &d.name, &d.deleted_date, &d.scheduled_purge_date],
            )
            .await?;
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn deleted_key(&self, vault: &str, name: &str) -> Result<Option<DeletedKey>> {
        query_opt(
            &self.client().await?,
            &deleted_select("d.vault_key = $1 AND d.name_key = $2"),
            &[&fold(vault), &fold(name)],
        )
        .await?
        .as_ref()
        .map(deleted_row)
        .transpose()
    }

    async fn list_deleted_keys(&self, vault: &str, page: &PageRequest) -> Result<Vec<DeletedKey>> {
        let after = fold(page.after.as_deref().unwrap_or_default());
        let rows = query(
            &self.client().await?,
            &format!(
                "{} ORDER BY d.name_key LIMIT $3",
                deleted_select("d.vault_key = $1 AND d.name_key > $2")
            ),
            &[&fold(vault), &after, &i64::from(page.limit)],
        )
        .await?;
        rows.iter().map(deleted_row).collect()
    }

    async fn recover_key(&self, vault: &str, name: &str) -> Result<()> {
        let vault = vault.to_owned();
        let name = name.to_owned();
        self.row_write(move |db| async move {
            let vault = vault.as_str();
            let name = name.as_str();
            let mut c = db.client().await?;
            let tx = locked(&mut c, vault, name).await?;
            let n = execute(
                &tx,
                "DELETE FROM deleted_keys WHERE vault_key = $1 AND name_key = $2",
                &[&fold(vault), &fold(name)],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn purge_key(&self, vault: &str, name: &str) -> Result<()> {
        let vault = vault.to_owned();
        let name = name.to_owned();
        self.row_write(move |db| async move {
            let vault = vault.as_str();
            let name = name.as_str();
            let mut c = db.client().await?;
            let tx = locked(&mut c, vault, name).await?;
            if !is_deleted(&tx, vault, name).await? {
                return Err(StoreError::NotFound);
            }
            for table in ["deleted_keys", "key_versions", "key_policies"] {
                execute(
                    &tx,
                    &format!("DELETE FROM {table} WHERE vault_key = $1 AND name_key = $2"),
                    &[&fold(vault), &fold(name)],
                )
                .await?;
            }
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn restore_key(&self, versions: &[KeyVersionRecord]) -> Result<()> {
        let versions = versions.to_vec();
        self.row_write(move |db| async move {
            let versions = versions.as_slice();
            let Some(first) = versions.first() else {
                return Err(StoreError::NotFound);
            };
            let mut c = db.client().await?;
            let tx = locked(&mut c, &first.vault, &first.name).await?;
            if is_deleted(&tx, &first.vault, &first.name).await? {
                return Err(StoreError::Deleted);
            }
            let exists = query_opt(
                &tx,
                "SELECT 1 FROM key_versions WHERE vault_key = $1 AND name_key = $2 LIMIT 1",
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
        })
        .await
    }

    async fn purgeable_keys(&self, now: i64) -> Result<Vec<(String, String)>> {
        let rows = query(
            &self.client().await?,
            "SELECT vault, name FROM deleted_keys WHERE scheduled_purge_date <= $1",
            &[&now],
        )
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?)))
            .collect()
    }

    async fn put_key_policy(&self, p: &KeyPolicyRecord) -> Result<()> {
        execute(
            &self.client().await?,
            "INSERT INTO key_policies (vault, name, policy, created, updated) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (vault_key, name_key) DO UPDATE SET policy = EXCLUDED.policy, updated = EXCLUDED.updated",
            &[&p.vault, &p.name, &to_json(&p.policy)?, &p.created, &p.updated],
        )
        .await
        .map(drop)
    }

    async fn key_policy(&self, vault: &str, name: &str) -> Result<Option<KeyPolicyRecord>> {
        query_opt(
            &self.client().await?,
            "SELECT vault, name, policy, created, updated FROM key_policies WHERE vault_key = $1 AND name_key = $2",
            &[&fold(vault), &fold(name)],
        )
        .await?
        .as_ref()
        .map(policy_row)
        .transpose()
    }

    async fn key_policies(&self) -> Result<Vec<KeyPolicyRecord>> {
        let rows = query(
            &self.client().await?,
            "SELECT p.vault, p.name, p.policy, p.created, p.updated FROM key_policies p
             WHERE NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.vault_key = p.vault_key AND d.name_key = p.name_key)
             ORDER BY p.vault_key, p.name_key",
            &[],
        )
        .await?;
        rows.iter().map(policy_row).collect()
    }

    async fn key_versions_not_under(&self, key_id: u32, after_seq: i64, limit: u32) -> Result<Vec<KeyVersionRecord>> {
        let rows = query(
            &self.client().await?,
            &format!(
                "SELECT {COLS} FROM key_versions s WHERE s.seq > $2 AND substring(s.private from 2 for 4) <> $1
                 ORDER BY s.seq LIMIT $3"
            ),
            &[&key_id.to_be_bytes().as_slice(), &after_seq, &i64::from(limit)],
        )
        .await?;
        rows.iter().map(row).collect()
    }

    async fn replace_key_private(&self, seq: i64, old: &Sealed, new: &Sealed) -> Result<bool> {
        let old = old.clone();
        let new = new.clone();
        self.row_write(move |db| async move {
            let old = &old;
            let new = &new;
            let n = execute(
                &db.client().await?,
                "UPDATE key_versions SET private = $3 WHERE seq = $1 AND private = $2",
                &[&seq, &old.as_bytes(), &new.as_bytes()],
            )
            .await?;
            Ok(n == 1)
        })
        .await
    }
}
