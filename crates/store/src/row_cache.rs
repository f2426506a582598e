//! Point reads of secret and key versions, remembered until the next write.
//!
//! A secret GET spent a sixth of its CPU on SQLite's read transaction (the `-shm` locks are `fcntl`
//! calls), and on PostgreSQL a round trip, to read a row that had not changed. Here a row read is
//! kept and served again for as long as nothing has been written since: a [`Generation`] counts the
//! writes that may change such rows, an entry is kept only if the count did not move while it was
//! being read, and any later write empties the cache. So a write, once acknowledged, is never
//! hidden by an older row.
//!
//! Who advances the count is the backend's business. On SQLite it is exact because the store object
//! is the file's one writer (`keyhold serve` holds the data dir's lock, and the offline `keyhold
//! audit` commands write only the audit anchor, never these rows; `JobStore::try_lead` rests on the
//! same fact): its writer thread advances the count after each transaction, before answering any of
//! its callers. On PostgreSQL other nodes write too, and `postgres/coherence/` advances it when
//! they do. What is held is the rows as stored — values and private keys still sealed — within
//! [`MAX_BYTES`].

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{KeyVersionRecord, SecretVersionRecord};

/// What the cache may hold, counted as the sealed bytes plus [`OVERHEAD`] per row. Reaching it
/// empties the cache: a working set that fits is served from memory, one that does not costs a
/// read per miss, as without the cache.
const MAX_BYTES: usize = 8 << 20;
/// The rest of a row (ids, tags, the public JWK), roughly.
const OVERHEAD: usize = 512;

/// The count of finished writes that may change cached rows.
#[derive(Debug, Default)]
pub(crate) struct Generation(AtomicU64);

impl Generation {
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Called once a write has ended (SQLite: by the writer thread, before it answers any of its
    /// callers), or when rows held may be out of date (PostgreSQL: another node wrote).
    pub(crate) fn advance(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// A cacheable row: how much it weighs.
pub(crate) trait Row: Clone {
    fn weight(&self) -> usize;
}

impl Row for SecretVersionRecord {
    fn weight(&self) -> usize {
        self.value.as_bytes().len() + OVERHEAD
    }
}

impl Row for KeyVersionRecord {
    fn weight(&self) -> usize {
        self.private.as_bytes().len() + OVERHEAD
    }
}

/// `(vault, name, version)`, as the caller spelled them (names are compared without case, so two
/// spellings are two entries of the same row).
fn key(vault: &str, name: &str, version: Option<&str>) -> String {
    // Vault, object and version names cannot hold a newline.
    let mut k = String::with_capacity(vault.len() + name.len() + version.map_or(0, str::len) + 2);
    k.push_str(vault);
    k.push('\n');
    k.push_str(name);
    k.push('\n');
    k.push_str(version.unwrap_or(""));
    k
}

pub(crate) struct RowCache<R> {
    generation: Arc<Generation>,
    inner: Mutex<Inner<R>>,
}

struct Inner<R> {
    /// The generation every entry was read in.
    generation: u64,
    bytes: usize,
    /// `None`: no such live row.
    rows: HashMap<String, Option<R>>,
}

/// A read in progress: the generation it began in.
pub(crate) struct Ticket(u64);

impl<R: Row> RowCache<R> {
    pub(crate) fn new(generation: Arc<Generation>) -> Self {
        Self {
            generation,
            inner: Mutex::new(Inner {
                generation: 0,
                bytes: 0,
                rows: HashMap::new(),
            }),
        }
    }

    /// The row if it was read since the last write; otherwise a ticket to read it with. The ticket
    /// is taken before the read starts, so a write that ends during the read is seen by `keep`.
    fn get(&self, key: &str) -> Result<Option<R>, Ticket> {
        let now = self.generation.current();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.catch_up(now);
        match inner.rows.get(key) {
            Some(row) => Ok(row.clone()),
            None => Err(Ticket(now)),
        }
    }

    /// The version `(vault, name, version)`: from memory if it was read since the last write and
    /// `serve` (the backend may serve from memory now), else from `read` — kept unless a write
    /// ended meanwhile, or the row was found in memory but not served.
    pub(crate) async fn read_through<E, F>(
        &self,
        (vault, name, version): (&str, &str, Option<&str>),
        serve: bool,
        read: impl FnOnce() -> F,
    ) -> Result<Option<R>, E>
    where
        F: std::future::Future<Output = Result<Option<R>, E>>,
    {
        let key = key(vault, name, version);
        let ticket = match self.get(&key) {
            Ok(row) if serve => return Ok(row),
            Ok(_) => None,
            Err(ticket) => Some(ticket),
        };
        let row = read().await?;
        if let Some(ticket) = ticket {
            self.keep(key, ticket, &row);
        }
        Ok(row)
    }

    /// Keeps what a read found, unless a write ended after its ticket was taken.
    fn keep(&self, key: String, ticket: Ticket, row: &Option<R>) {
        let now = self.generation.current();
        if ticket.0 != now {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.catch_up(now);
        let weight = row.as_ref().map_or(OVERHEAD, Row::weight);
        if inner.bytes + weight > MAX_BYTES {
            inner.rows.clear();
            inner.bytes = 0;
        }
        if inner.rows.insert(key, row.clone()).is_none() {
            inner.bytes += weight;
        }
    }
}

impl<R> Inner<R> {
    /// Drops everything read before the latest write.
    fn catch_up(&mut self, now: u64) {
        if self.generation != now {
            self.rows.clear();
            self.bytes = 0;
            self.generation = now;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Sealed;

    /// A row of `len` sealed bytes, told apart by `seq`.
    fn row(seq: i64, len: usize) -> SecretVersionRecord {
        SecretVersionRecord {
            vault: "v".into(),
            name: "n".into(),
            version: "1".into(),
            value: Sealed::from_stored(vec![1u8; len.max(64)]).unwrap(),
            content_type: None,
            tags: None,
            enabled: true,
            nbf: None,
            exp: None,
            created: 0,
            updated: 0,
            seq,
            managed: false,
        }
    }

    #[test]
    fn a_row_is_served_until_the_next_write() {
        let generation = Arc::new(Generation::default());
        let cache = RowCache::new(generation.clone());
        let k = key("v", "n", None);
        let ticket = cache.get(&k).unwrap_err();
        cache.keep(k.clone(), ticket, &Some(row(7, 64)));
        assert_eq!(cache.get(&k).ok().flatten().map(|r| r.seq), Some(7));
        generation.advance();
        assert!(cache.get(&k).is_err(), "a write must empty the cache");
    }

    #[test]
    fn a_read_that_overlapped_a_write_is_not_kept() {
        let generation = Arc::new(Generation::default());
        let cache = RowCache::new(generation.clone());
        let k = key("v", "n", Some("1"));
        let ticket = cache.get(&k).unwrap_err();
        generation.advance(); // a write ends while the row is being read
        cache.keep(k.clone(), ticket, &Some(row(1, 64)));
        assert!(
            cache.get(&k).is_err(),
            "the row read before the write must not be served after it"
        );
    }

    #[test]
    fn absence_is_remembered_too_and_the_budget_holds() {
        let generation = Arc::new(Generation::default());
        let cache = RowCache::new(generation);
        let missing = key("v", "gone", None);
        let ticket = cache.get(&missing).unwrap_err();
        cache.keep(missing.clone(), ticket, &None);
        assert!(matches!(cache.get(&missing), Ok(None)));
        for i in 0..4 {
            let k = key("v", &format!("big{i}"), None);
            let ticket = cache.get(&k).unwrap_err();
            cache.keep(k, ticket, &Some(row(i, MAX_BYTES / 3)));
        }
        let inner = cache.inner.lock().unwrap();
        assert!(inner.bytes <= MAX_BYTES, "{} bytes held", inner.bytes);
        assert!(inner.rows.len() < 5);
    }
}
