//! Embedded SQLite backend: WAL with `synchronous=FULL`, so an acknowledged write has reached the disk.
//! Writes go through the group-commit writer (`writer.rs`); reads use a small pool of connections,
//! which WAL lets run beside the writer and which see only committed data.
//!
//! Every statement is prepared once per connection and cached (`CachedSql`): parsing and planning
//! the SQL cost more than running an indexed lookup. A point read (one row by key) runs right where
//! it is awaited, on the first reader connection that is free: it takes a few microseconds, less
//! than handing it to tokio's blocking pool and waking the task again (two futex round trips, which
//! were a third of a secret GET's CPU). Reads that can return many rows (`scan`) and point reads that
//! find every connection busy go to the blocking pool.

mod certificates;
mod identity;
mod keys;
mod management;
mod rekey;
mod secrets;
mod signin;
mod users;
mod writer;

use std::{
    path::Path,
    sync::{
        Arc, Mutex, TryLockError,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use crate::row_cache::{Generation, Row, RowCache};
use crate::{write_counts::WriteCounts, *};

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        "0002_management",
        include_str!("../../migrations/sqlite/0002_management.sql"),
    ),
    (
        "0003_resources",
        include_str!("../../migrations/sqlite/0003_resources.sql"),
    ),
    ("0004_agents", include_str!("../../migrations/sqlite/0004_agents.sql")),
    ("0005_keys", include_str!("../../migrations/sqlite/0005_keys.sql")),
    (
        "0006_certificates",
        include_str!("../../migrations/sqlite/0006_certificates.sql"),
    ),
    ("0007_users", include_str!("../../migrations/sqlite/0007_users.sql")),
    ("0008_signin", include_str!("../../migrations/sqlite/0008_signin.sql")),
    (
        "0009_auth_codes",
        include_str!("../../migrations/sqlite/0009_auth_codes.sql"),
    ),
];
const READERS: usize = 4;
/// Prepared statements kept per connection: more than the distinct statements the store runs.
const STATEMENT_CACHE: usize = 128;

#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<writer::Writer>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<AtomicUsize>,
    writes: Arc<WriteCounts>,
    secret_rows: Arc<RowCache<SecretVersionRecord>>,
    key_rows: Arc<RowCache<KeyVersionRecord>>,
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// `query_row` and `execute` through the connection's statement cache.
pub(crate) trait CachedSql {
    fn cached_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;

    fn cached_execute<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl CachedSql for Connection {
    fn cached_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn cached_execute<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Creates the database file 0600 before SQLite opens it (and tightens one made by an older version):
/// SQLite gives its `-wal` and `-shm` files the database file's mode, so all three stay private
/// whatever the umask.
fn private_files(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |e: std::io::Error| StoreError::Backend(format!("database file {}: {e}", path.display()));
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    Ok(())
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
    )
    .map_err(db_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A reader connection, which SQLite itself keeps from writing: every write must go through the
/// writer thread, whose count of transactions is what the row cache trusts (`row_cache`).
fn reader(path: &Path) -> Result<Connection> {
    let conn = connect(path)?;
    conn.execute_batch("PRAGMA query_only=ON").map_err(db_err)?;
    Ok(conn)
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        private_files(path)?;
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        let readers = (0..READERS)
            .map(|_| reader(path).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        let generation = Arc::new(Generation::default());
        Ok(Self {
            writer: Arc::new(writer::Writer::start(conn, generation.clone())?),
            readers: Arc::new(readers),
            next_reader: Arc::new(AtomicUsize::new(0)),
            writes: Arc::default(),
            secret_rows: Arc::new(RowCache::new(generation.clone())),
            key_rows: Arc::new(RowCache::new(generation)),
        })
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// A write of a kind nodes cache reads of: counted once it has committed, even if the caller
    /// stops waiting (see [`WriteCounts::counted`]).
    async fn counted_write<T, F>(&self, kind: WriteKind, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let writer = self.writer.clone();
        self.writes.counted(kind, async move { writer.write(f).await }).await
    }

    /// A point read: on the first free reader connection, right here; on the blocking pool if all are
    /// busy. Only for statements that return at most a few rows by key (see the module comment).
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for k in 0..READERS {
            match self.readers[(start + k) % READERS].try_lock() {
                Ok(mut conn) => return f(&mut conn),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Poisoned(_)) => return Err(StoreError::Backend("poisoned".into())),
            }
        }
        self.scan(f).await
    }

    /// A point read of one version, served from `cache` while nothing has been written since it was
    /// last read (see `row_cache`).
    async fn cached_version<R, F>(
        &self,
        cache: &RowCache<R>,
        (vault, name, version): (&str, &str, Option<&str>),
        read: F,
    ) -> Result<Option<R>>
    where
        R: Row + Send + 'static,
        F: FnOnce(&Connection, &str, &str, Option<&str>) -> Result<Option<R>> + Send + 'static,
    {
        // The one writer counts every transaction, so what was read since is always served.
        cache
            .read_through((vault, name, version), true, || {
                let (vault, name, version) = (vault.to_owned(), name.to_owned(), version.map(str::to_owned));
                self.read(move |c| read(c, &vault, &name, version.as_deref()))
            })
            .await
    }

    /// A read that may return many rows: on the blocking pool, so it never holds up the async workers.
    async fn scan<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % READERS;
        tokio::task::spawn_blocking(move || {
            let mut guard = readers[i].lock().map_err(|_| StoreError::Backend("poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction().map_err(db_err)?;
    tx.cached_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)",
        [],
    )
    .map_err(db_err)?;
    for (name, sql) in MIGRATIONS {
        let done: Option<String> = tx
            .cached_row("SELECT name FROM schema_migrations WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err)?;
        if done.is_none() {
            tx.execute_batch(sql).map_err(db_err)?;
            tx.cached_execute("INSERT INTO schema_migrations (name) VALUES (?1)", [name])
                .map_err(db_err)?;
        }
    }
    tx.commit().map_err(db_err)
}

#[async_trait]
impl MetaStore for SqliteStore {
    async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.read(move |c| {
            c.cached_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn put_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.write(move |c| {
            c.cached_execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
            .map_err(db_err)
        })
        .await
    }

    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.write(move |c| {
            let tx = c.savepoint().map_err(db_err)?;
            tx.cached_execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
                params![key, value],
            )
            .map_err(db_err)?;
            let stored: Vec<u8> = tx
                .cached_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(stored)
        })
        .await
    }

    async fn replace_meta(&self, key: &str, old: &[u8], new: &[u8]) -> Result<bool> {
        let (key, old, new) = (key.to_owned(), old.to_vec(), new.to_vec());
        self.write(move |c| rekey::replace_meta(c, &key, &old, &new)).await
    }
}

#[async_trait]
impl ManagementStore for SqliteStore {
    async fn put_vault(&self, v: &VaultRecord) -> Result<()> {
        let v = v.clone();
        self.counted_write(WriteKind::Vaults, move |c| management::put_vault(c, &v))
            .await
    }

    async fn vault(&self, name: &str) -> Result<Option<VaultRecord>> {
        let name = name.to_owned();
        self.read(move |c| management::vault(c, &name, false)).await
    }

    async fn vault_any(&self, name: &str) -> Result<Option<VaultRecord>> {
        let name = name.to_owned();
        self.read(move |c| management::vault(c, &name, true)).await
    }

    async fn list_vaults(&self) -> Result<Vec<VaultRecord>> {
        self.scan(|c| management::list_vaults(c, false)).await
    }

    async fn list_deleted_vaults(&self) -> Result<Vec<VaultRecord>> {
        self.scan(|c| management::list_vaults(c, true)).await
    }

    async fn purge_vault(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.counted_write(WriteKind::Vaults, move |c| management::purge_vault(c, &name))
            .await
    }

    fn writes(&self, kind: WriteKind) -> u64 {
        self.writes.get(kind)
    }

    async fn put_resource_group(&self, g: &ResourceGroupRecord) -> Result<()> {
        let g = g.clone();
        self.write(move |c| management::put_resource_group(c, &g)).await
    }

    async fn resource_group(&self, name: &str) -> Result<Option<ResourceGroupRecord>> {
        let name = name.to_owned();
        self.read(move |c| management::resource_group(c, &name)).await
    }

    async fn list_resource_groups(&self) -> Result<Vec<ResourceGroupRecord>> {
        self.scan(management::list_resource_groups).await
    }

    async fn delete_resource_group(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.counted_write(WriteKind::Identities, move |c| {
            management::delete_resource_group(c, &name)
        })
        .await
    }

    async fn put_resource(&self, r: &ResourceRecord) -> Result<()> {
        let r = r.clone();
        self.counted_write(WriteKind::Identities, move |c| management::put_resource(c, &r))
            .await
    }

    async fn resource(&self, id: &str) -> Result<Option<ResourceRecord>> {
        let id = id.to_owned();
        self.read(move |c| management::resource(c, &id)).await
    }

    async fn list_resources(&self, group: Option<&str>) -> Result<Vec<ResourceRecord>> {
        let group = group.map(str::to_owned);
        self.scan(move |c| management::list_resources(c, group.as_deref()))
            .await
    }

    async fn delete_resource(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.counted_write(WriteKind::Identities, move |c| management::delete_resource(c, &id))
            .await
    }

    async fn replace_resource_sealed(&self, id: &str, old: &Sealed, new: &Sealed) -> Result<bool> {
        let (id, old, new) = (
            id.to_ascii_lowercase(),
            old.as_bytes().to_vec(),
            new.as_bytes().to_vec(),
        );
        self.write(move |c| {
            c.cached_execute(
                "UPDATE resources SET sealed = ?3 WHERE id_key = ?1 AND sealed = ?2",
                params![id, old, new],
            )
            .map(|n| n == 1)
            .map_err(db_err)
        })
        .await
    }

    async fn put_role_assignment(&self, a: &RoleAssignmentRecord) -> Result<()> {
        let a = a.clone();
        self.counted_write(WriteKind::RoleAssignments, move |c| {
            management::put_role_assignment(c, &a)
        })
        .await
    }

    async fn role_assignment(&self, name: &str) -> Result<Option<RoleAssignmentRecord>> {
        let name = name.to_owned();
        self.read(move |c| management::role_assignment(c, &name)).await
    }

    async fn delete_role_assignment(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.counted_write(WriteKind::RoleAssignments, move |c| {
            management::delete_role_assignment(c, &name)
        })
        .await
    }

    async fn role_assignments(&self) -> Result<Vec<RoleAssignmentRecord>> {
        self.scan(|c| management::role_assignments(c, None)).await
    }

    async fn role_assignments_for(&self, principal_id: &str) -> Result<Vec<RoleAssignmentRecord>> {
        let p = principal_id.to_owned();
        self.read(move |c| management::role_assignments(c, Some(&p))).await
    }
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn put_secret_version(&self, s: &SecretVersionRecord) -> Result<()> {
        let s = s.clone();
        self.write(move |c| secrets::put_version(c, &s)).await
    }

    async fn update_secret_version(&self, s: &SecretVersionRecord) -> Result<()> {
        let s = s.clone();
        self.write(move |c| secrets::update_version(c, &s)).await
    }

    async fn secret_version(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<SecretVersionRecord>> {
        self.cached_version(&self.secret_rows, (vault, name, version), secrets::version)
            .await
    }

    async fn list_secrets(&self, vault: &str, page: &PageRequest) -> Result<Vec<SecretVersionRecord>> {
        let (vault, page) = (vault.to_owned(), page.clone());
        self.scan(move |c| secrets::list_latest(c, &vault, &page)).await
    }

    async fn list_secret_versions(
        &self,
        vault: &str,
        name: &str,
        page: &PageRequest,
    ) -> Result<Vec<SecretVersionRecord>> {
        let (vault, name, page) = (vault.to_owned(), name.to_owned(), page.clone());
        self.scan(move |c| secrets::list_versions(c, &vault, &name, &page))
            .await
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
        self.write(move |c| secrets::soft_delete(c, &d)).await
    }

    async fn deleted_secret(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<(DeletedSecretRecord, SecretVersionRecord)>> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.read(move |c| secrets::deleted(c, &vault, &name)).await
    }

    async fn list_deleted_secrets(
        &self,
        vault: &str,
        page: &PageRequest,
    ) -> Result<Vec<(DeletedSecretRecord, SecretVersionRecord)>> {
        let (vault, page) = (vault.to_owned(), page.clone());
        self.scan(move |c| secrets::list_deleted(c, &vault, &page)).await
    }

    async fn recover_secret(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| {
            let n = c
                .cached_execute(
                    "DELETE FROM deleted_secrets WHERE vault = ?1 AND name = ?2",
                    params![vault, name],
                )
                .map_err(db_err)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn purge_secret(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| secrets::purge(c, &vault, &name, true)).await
    }

    async fn erase_secret(&self, vault: &str, name: &str) -> Result<()> {
        let (vault, name) = (vault.to_owned(), name.to_owned());
        self.write(move |c| secrets::purge(c, &vault, &name, false)).await
    }

    async fn restore_secret(&self, versions: &[SecretVersionRecord]) -> Result<()> {
        let versions = versions.to_vec();
        self.write(move |c| secrets::restore(c, &versions)).await
    }

    async fn purgeable_secrets(&self, now: i64) -> Result<Vec<(String, String)>> {
        self.scan(move |c| {
            let mut st = c
                .prepare_cached("SELECT vault, name FROM deleted_secrets WHERE scheduled_purge_date <= ?1")
                .map_err(db_err)?;
            let rows = st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn secret_versions_not_under(
        &self,
        key_id: u32,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<SecretVersionRecord>> {
        self.scan(move |c| rekey::not_under(c, key_id, after_seq, limit)).await
    }

    async fn count_secret_versions_not_under(&self, key_id: u32) -> Result<u64> {
        self.scan(move |c| rekey::count_not_under(c, key_id)).await
    }

    async fn replace_secret_value(&self, seq: i64, old: &Sealed, new: &Sealed) -> Result<bool> {
        let (old, new) = (old.as_bytes().to_vec(), new.as_bytes().to_vec());
        self.write(move |c| rekey::replace_value(c, seq, &old, &new)).await
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    /// One process owns an SQLite file, so it always leads.
    async fn try_lead(&self, _job: &str) -> Result<bool> {
        Ok(true)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[tokio::test]
    async fn reader_connections_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open(&dir.path().join("keyhold.db")).unwrap();
        let wrote = store
            .read(|c| {
                c.execute("INSERT INTO meta (key, value) VALUES ('k', x'00')", [])
                    .map_err(super::db_err)
            })
            .await;
        assert!(wrote.is_err(), "a write on a reader connection must be refused");
        let scanned = store
            .scan(|c| c.execute("DELETE FROM meta", []).map_err(super::db_err))
            .await;
        assert!(scanned.is_err());
    }
}
