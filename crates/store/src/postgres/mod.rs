//! PostgreSQL backend: `tokio-postgres` behind a `deadpool` pool, over rustls when the URL asks for
//! it (`sslmode`, `sslrootcert`: see `tls.rs`). Every acknowledged write is one committed transaction; with PostgreSQL's default
//! `synchronous_commit = on` it has reached the server's disk.
//!
//! Vault and secret names compare case-insensitively through generated `*_key` columns (ASCII folding,
//! byte order), the same rule as SQLite's `COLLATE NOCASE`; see `migrations/postgres/0001_init.sql`.

mod certificates;
mod coherence;
mod identity;
mod keys;
mod leader;
mod management;
mod rekey;
mod secrets;
mod signin;
mod tls;
mod users;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Row, types::ToSql};

use crate::{
    row_cache::{Generation, Row as Cacheable, RowCache},
    write_counts::WriteCounts,
    *,
};

pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/postgres/0001_init.sql")),
    (
        "0002_management",
        include_str!("../../migrations/postgres/0002_management.sql"),
    ),
    (
        "0003_resources",
        include_str!("../../migrations/postgres/0003_resources.sql"),
    ),
    ("0004_agents", include_str!("../../migrations/postgres/0004_agents.sql")),
    ("0005_keys", include_str!("../../migrations/postgres/0005_keys.sql")),
    (
        "0006_certificates",
        include_str!("../../migrations/postgres/0006_certificates.sql"),
    ),
    ("0007_users", include_str!("../../migrations/postgres/0007_users.sql")),
    ("0008_signin", include_str!("../../migrations/postgres/0008_signin.sql")),
    (
        "0009_auth_codes",
        include_str!("../../migrations/postgres/0009_auth_codes.sql"),
    ),
];

/// Key of the advisory lock held while migrating, so that processes starting together migrate once.
const MIGRATION_LOCK: i64 = 0x6b65_7968_6f6c_6401;

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    leader: Arc<leader::Leader>,
    writes: Arc<WriteCounts>,
    coherence: Arc<coherence::Coherence>,
    secret_rows: Arc<RowCache<SecretVersionRecord>>,
    key_rows: Arc<RowCache<KeyVersionRecord>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may carry a password.
        f.write_str("PostgresStore")
    }
}

pub(crate) fn db_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("{} ({})", db.message(), db.code().code())),
        None => StoreError::Backend(with_sources(&e)),
    }
}

fn pool_err(e: impl std::error::Error) -> StoreError {
    StoreError::Backend(with_sources(&e))
}

/// "error connecting to server: Connection refused (os error 111)" rather than the first line only.
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/dbname[?sslmode=…&sslrootcert=…]`)
    /// and applies the pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let tls::Database { config, tls } = tls::parse(url)?;
        let leader = Arc::new(leader::Leader::new(config.clone(), tls.clone()));
        let generation = Arc::new(Generation::default());
        let listening = coherence::Coherence::start(config.clone(), tls.clone(), generation.clone());
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(pool_err)?;
        // Each its own connection: one start-up round of handshakes, not two.
        let (coherence, migrated) = futures_util::future::join(listening, migrate(&pool)).await;
        migrated?;
        Ok(Self {
            pool,
            leader,
            writes: Arc::default(),
            coherence: coherence?,
            secret_rows: Arc::new(RowCache::new(generation.clone())),
            key_rows: Arc::new(RowCache::new(generation)),
        })
    }

    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(pool_err)
    }

    /// A write of a kind nodes cache reads of, given a pooled client: counted once it has finished,
    /// even if the caller stops waiting (see [`WriteCounts::counted`]).
    async fn counted_write<T, F, W>(&self, kind: WriteKind, write: W) -> Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T>> + Send,
        W: FnOnce(Object) -> F + Send + 'static,
    {
        let pool = self.pool.clone();
        self.writes
            .counted(kind, async move { write(pool.get().await.map_err(pool_err)?).await })
            .await
    }

    /// A write that may change rows nodes serve from memory (secret and key versions, and whatever
    /// hides them): run to its end on a task of its own, so a caller that stops waiting cannot skip
    /// the fence, then published to every node before the caller hears of it (`coherence`). Published
    /// whatever its outcome: a write that failed may have committed before it did.
    async fn row_write<T, F, W>(&self, write: W) -> Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T>> + Send,
        W: FnOnce(Self) -> F + Send + 'static,
    {
        let store = self.clone();
        tokio::spawn(async move {
            let done = write(store.clone()).await;
            store.coherence.publish(&store.pool).await;
            done
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a write did not finish: {e}")))?
    }

    /// A point read of one version, served from `cache` while this node may (see `coherence`) and
    /// nothing has been written since it was read.
    async fn cached_version<R, F>(
        &self,
        cache: &RowCache<R>,
        id: (&str, &str, Option<&str>),
        read: impl FnOnce(Object) -> F,
    ) -> Result<Option<R>>
    where
        R: Cacheable,
        F: std::future::Future<Output = Result<Option<R>>>,
    {
        cache
            .read_through(id, self.coherence.serving(), || async {
                read(self.client().await?).await
            })
            .await
    }
}

/// Applies the pending migrations, once however many nodes start together.
async fn migrate(pool: &Pool) -> Result<()> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(db_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_err)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
        .await
        .map_err(db_err)?;
    for (name, sql) in MIGRATIONS {
        let done = tx
            .query_opt("SELECT name FROM schema_migrations WHERE name = $1", &[name])
            .await
            .map_err(db_err)?;
        if done.is_none() {
            tx.batch_execute(sql).await.map_err(db_err)?;
            tx.execute("INSERT INTO schema_migrations (name) VALUES ($1)", &[name])
                .await
                .map_err(db_err)?;
        }
    }
    tx.commit().await.map_err(db_err)
}

/// Takes a name's advisory lock (`lock`, with the folded vault and name) and runs `write` after it,
/// in one round trip: both are sent before either answer is read, and the server runs them in
/// order, `write` once the lock is held. Returns the rows `write` changed. Every round trip wakes
/// the server's backend, which was most of a write's cost.
pub(crate) async fn locked_write(
    tx: &deadpool_postgres::Transaction<'_>,
    lock: &str,
    (vault_key, name_key): (&str, &str),
    write: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let lock = tx.prepare_cached(lock).await.map_err(db_err)?;
    let write = tx.prepare_cached(write).await.map_err(db_err)?;
    let (locked, written) =
        futures_util::future::join(tx.execute(&lock, &[&vault_key, &name_key]), tx.execute(&write, params)).await;
    locked.map_err(db_err)?;
    written.map_err(db_err)
}

/// Runs one statement (prepared once per connection) and returns its rows.
pub(crate) async fn query(c: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query(&st, params).await.map_err(db_err)
}

pub(crate) async fn query_opt(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query_opt(&st, params).await.map_err(db_err)
}

/// Runs one statement and returns the number of rows it changed.
pub(crate) async fn execute(c: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.execute(&st, params).await.map_err(db_err)
}

#[async_trait]
impl MetaStore for PostgresStore {
    async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let c = self.client().await?;
        query_opt(&c, "SELECT value FROM meta WHERE key = $1", &[&key])
            .await?
            .map(|r| r.try_get(0).map_err(db_err))
            .transpose()
    }

    async fn put_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&key, &value],
        )
        .await
        .map(drop)
    }

    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        // Under READ COMMITTED the insert waits for a concurrent inserter of the same key, and the
        // select that follows (a new snapshot) sees whichever value won.
        execute(
            &tx,
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &value],
        )
        .await?;
        let stored = query_opt(&tx, "SELECT value FROM meta WHERE key = $1", &[&key])
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get(0)
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(stored)
    }

    async fn replace_meta(&self, key: &str, old: &[u8], new: &[u8]) -> Result<bool> {
        let c = self.client().await?;
        rekey::replace_meta(&c, key, old, new).await
    }
}

#[async_trait]
impl ManagementStore for PostgresStore {
    async fn put_vault(&self, v: &VaultRecord) -> Result<()> {
        let v = v.clone();
        self.counted_write(WriteKind::Vaults, move |c| async move {
            management::put_vault(&c, &v).await
        })
        .await
    }

    async fn vault(&self, name: &str) -> Result<Option<VaultRecord>> {
        management::vault(&self.client().await?, name, false).await
    }

    async fn vault_any(&self, name: &str) -> Result<Option<VaultRecord>> {
        management::vault(&self.client().await?, name, true).await
    }

    async fn list_vaults(&self) -> Result<Vec<VaultRecord>> {
        management::list_vaults(&self.client().await?, false).await
    }

    async fn list_deleted_vaults(&self) -> Result<Vec<VaultRecord>> {
        management::list_vaults(&self.client().await?, true).await
    }

    async fn purge_vault(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        let store = self.clone();
        // It takes the vault's secrets and keys with it.
        self.writes
            .counted(WriteKind::Vaults, async move {
                store
                    .row_write(move |db| async move { management::purge_vault(&mut db.client().await?, &name).await })
                    .await
            })
            .await
    }

    fn writes(&self, kind: WriteKind) -> u64 {
        self.writes.get(kind)
    }

    async fn put_resource_group(&self, g: &ResourceGroupRecord) -> Result<()> {
        management::put_resource_group(&self.client().await?, g).await
    }

    async fn resource_group(&self, name: &str) -> Result<Option<ResourceGroupRecord>> {
        management::resource_group(&self.client().await?, name).await
    }

    async fn list_resource_groups(&self) -> Result<Vec<ResourceGroupRecord>> {
        management::list_resource_groups(&self.client().await?).await
    }

    async fn delete_resource_group(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.counted_write(WriteKind::Identities, move |c| async move {
            management::delete_resource_group(&c, &name).await
        })
        .await
    }

    async fn put_resource(&self, r: &ResourceRecord) -> Result<()> {
        let r = r.clone();
        self.counted_write(WriteKind::Identities, move |c| async move {
            management::put_resource(&c, &r).await
        })
        .await
    }

    async fn resource(&self, id: &str) -> Result<Option<ResourceRecord>> {
        management::resource(&self.client().await?, id).await
    }

    async fn list_resources(&self, group: Option<&str>) -> Result<Vec<ResourceRecord>> {
        management::list_resources(&self.client().await?, group).await
    }

    async fn delete_resource(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.counted_write(WriteKind::Identities, move |c| async move {
            management::delete_resource(&c, &id).await
        })
        .await
    }

    async fn replace_resource_sealed(&self, id: &str, old: &Sealed, new: &Sealed) -> Result<bool> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE resources SET sealed = $3 WHERE id_key = $1 AND sealed = $2",
            &[&id.to_ascii_lowercase(), &old.as_bytes(), &new.as_bytes()],
        )
        .await?;
        Ok(n == 1)
    }

    async fn put_role_assignment(&self, a: &RoleAssignmentRecord) -> Result<()> {
        let a = a.clone();
        self.counted_write(WriteKind::RoleAssignments, move |c| async move {
            management::put_role_assignment(&c, &a).await
        })
        .await
    }

    async fn role_assignment(&self, name: &str) -> Result<Option<RoleAssignmentRecord>> {
        management::role_assignment(&self.client().await?, name).await
    }

    async fn delete_role_assignment(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.counted_write(WriteKind::RoleAssignments, move |c| async move {
            management::delete_role_assignment(&c, &name).await
        })
        .await
    }

    async fn role_assignments(&self) -> Result<Vec<RoleAssignmentRecord>> {
        management::role_assignments(&self.client().await?, None).await
    }

    async fn role_assignments_for(&self, principal_id: &str) -> Result<Vec<RoleAssignmentRecord>> {
        management::role_assignments(&self.client().await?, Some(principal_id)).await
    }
}

#[async_trait]
impl SecretStore for PostgresStore {
    async fn put_secret_version(&self, s: &SecretVersionRecord) -> Result<()> {
        let s = s.clone();
        self.row_write(move |db| async move { secrets::put_version(&mut db.client().await?, &s).await })
            .await
    }

    async fn update_secret_version(&self, s: &SecretVersionRecord) -> Result<()> {
        let s = s.clone();
        self.row_write(move |db| async move { secrets::update_version(&mut db.client().await?, &s).await })
            .await
    }

    async fn secret_version(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<SecretVersionRecord>> {
        self.cached_version(&self.secret_rows, (vault, name, version), |c| async move {
            secrets::version(&c, vault, name, version).await
        })
        .await
    }

    async fn list_secrets(&self, vault: &str, page: &PageRequest) -> Result<Vec<SecretVersionRecord>> {
        let c = self.client().await?;
        secrets::list_latest(&c, vault, page).await
    }

    async fn list_secret_versions(
        &self,
        vault: &str,
        name: &str,
        page: &PageRequest,
    ) -> Result<Vec<SecretVersionRecord>> {
        let c = self.client().await?;
        secrets::list_versions(&c, vault, name, page).await
    }

    async fn all_secret_versions(&self, vault: &str, name: &str) -> Result<Vec<SecretVersionRecord>> {
        let page = PageRequest {
            after: None,
            limit: u32::MAX,
        };
        self.list_secret_versions(vault, name, &page).await
    }

    async fn delete_secret(&self, d: &DeletedSecretRecord) -> Result<()> {
        let d = d.clone();
        self.row_write(move |db| async move { secrets::soft_delete(&mut db.client().await?, &d).await })
            .await
    }

    async fn deleted_secret(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<(DeletedSecretRecord, SecretVersionRecord)>> {
        let c = self.client().await?;
        secrets::deleted(&c, vault, name).await
    }

    async fn list_deleted_secrets(
        &self,
        vault: &str,
        page: &PageRequest,
    ) -> Result<Vec<(DeletedSecretRecord, SecretVersionRecord)>> {
        let c = self.client().await?;
        secrets::list_deleted(&c, vault, page).await
    }

    async fn recover_secret(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.row_write(move |db| async move { secrets::recover(&mut db.client().await?, &vault, &name).await })
            .await
    }

    async fn purge_secret(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.row_write(move |db| async move { secrets::purge(&mut db.client().await?, &vault, &name, true).await })
            .await
    }

    async fn erase_secret(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.row_write(move |db| async move { secrets::purge(&mut db.client().await?, &vault, &name, false).await })
            .await
    }

    async fn restore_secret(&self, versions: &[SecretVersionRecord]) -> Result<()> {
        let versions = versions.to_vec();
        self.row_write(move |db| async move { secrets::restore(&mut db.client().await?, &versions).await })
            .await
    }

    async fn purgeable_secrets(&self, now: i64) -> Result<Vec<(String, String)>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT vault, name FROM deleted_secrets WHERE scheduled_purge_date <= $1",
            &[&now],
        )
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<_, tokio_postgres::Error>>()
            .map_err(db_err)
    }

    async fn secret_versions_not_under(
        &self,
        key_id: u32,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<SecretVersionRecord>> {
        let c = self.client().await?;
        rekey::not_under(&c, key_id, after_seq, limit).await
    }

    async fn count_secret_versions_not_under(&self, key_id: u32) -> Result<u64> {
        let c = self.client().await?;
        rekey::count_not_under(&c, key_id).await
    }

    async fn replace_secret_value(&self, seq: i64, old: &Sealed, new: &Sealed) -> Result<bool> {
        let (old, new) = (old.clone(), new.clone());
        self.row_write(move |db| async move {
            rekey::replace_value(&db.client().await?, seq, old.as_bytes(), new.as_bytes()).await
        })
        .await
    }
}

#[async_trait]
impl JobStore for PostgresStore {
    async fn try_lead(&self, job: &str) -> Result<bool> {
        self.leader.try_lead(job).await
    }
}

/// The comparison key of a vault or secret name: ASCII lower case, as the `*_key` columns and SQLite's
/// `NOCASE` fold.
pub(crate) fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let embedded: Vec<String> = super::MIGRATIONS
            .iter()
            .map(|(name, _)| format!("{name}.sql"))
            .collect();
        assert_eq!(embedded, crate::tests::migration_files("postgres"));
    }
}
