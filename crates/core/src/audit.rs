//! The audit log: one JSON line per record, hash-chained so that editing, removing or reordering a
//! line shows. Never a secret value or token: the record type has no field that could hold one.
//!
//! Each line's `hash` is SHA-256 over the previous line's hash and the line's own canonical JSON (the
//! record without `hash` and `mac`, keys sorted). While the instance is unsealed each line also carries
//! `mac`, an HMAC of its sequence and hash under a key derived from the root key
//! ([`keyhold_crypto::AuditKey`]): the SHA-256 chain alone can be recomputed by anyone who edits the
//! file, the MAC only by someone who can unseal. Lines a sealed server writes (seal status, init,
//! unseal attempts, repairs) have no MAC; [`verify_keyed`] accepts an unkeyed line only for those
//! operations (so a log written before keying existed verifies with the bare chain only). The durable head is recorded in the store with its own MAC (the
//! anchor), so cutting lines off the end, or emptying the file, shows too.
//!
//! What this cannot catch: someone who holds the unseal key (or the key file) can recompute every
//! MAC; someone with write access to the database can put back an older genuine anchor and cut the
//! log back to it. Keep the unseal key away from whoever administers the log and the database. A mutating request gets two records sharing its request id: a
//! `request` record written before the handler runs (if it cannot be written the request is refused
//! and nothing changes), and its outcome after. So a change is never committed without a trace, even
//! when the client drops the connection or the process is killed mid-request; a request record with
//! no outcome reads as "outcome unknown" (see `keyhold audit verify --reconcile`).
//!
//! Lines reach the kernel (write(2)) before the handler runs, which survives SIGKILL; the file is
//! fsynced once a second and at shutdown, so power loss can cost the last second of records (one fsync
//! per line would double the cost of every request). An append that fails part-way (a full disk) is cut
//! back to the last whole record, so the chain stays valid and appends resume when space returns. A
//! torn last line found at start (power loss) is cut off and a `AuditLogRepaired` record says so;
//! anything worse is refused with the line number and the repair command.

use std::{
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    os::unix::fs::OpenOptionsExt,
    path::Path,
    sync::{
        Mutex,
        atomic::{AtomicI64, Ordering},
    },
};

use keyhold_crypto::AuditKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Operations a sealed server records, before the audit key exists: the only ones that may follow a
/// keyed line without a MAC of their own.
pub const SEALED_OPERATIONS: &[&str] = &[
    "SealStatus",
    "SealInit",
    "Unseal",
    "AuditLogRepaired",
    "AuditLogWritable",
];

/// The operation of the record a server writes when the log no longer holds the anchor an earlier run
/// recorded (the log was cut or rewritten while keyhold was stopped).
pub const DISCONTINUITY: &str = "AuditLogDiscontinuity";

/// The `phase` of a record written before a mutating request runs.
pub const PHASE_REQUEST: &str = "request";

/// What one operation did. `result` is the HTTP status the caller saw (0 in a `request` record).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub time: String,
    pub request_id: String,
    pub caller_oid: Option<String>,
    pub caller_appid: Option<String>,
    pub client_ip: Option<String>,
    pub operation: String,
    pub vault: Option<String>,
    pub object: Option<String>,
    pub version: Option<String>,
    pub result: u16,
    /// `request` for the record written before a mutating request runs; absent on outcomes (and on
    /// every record of logs written before phases existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Free-form detail (a role assignment's principal, role and scope; what a repair cut off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One verified line of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// A line's canonical form, in the order a reader sees it; written through [`SortedLine`].
#[cfg(test)]
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    seq: u64,
    prev: String,
    #[serde(flatten)]
    entry: AuditEntry,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "audit log is corrupt at line {line}: {reason} (`keyhold audit repair` keeps the lines before it and sets the rest aside)"
    )]
    Broken { line: usize, reason: String },
    /// The last line is incomplete, as a power loss mid-write leaves it; `open` repairs this.
    #[error("audit log's last line ({line}) is incomplete ({bytes} bytes): a write was cut off")]
    TornTail { line: usize, bytes: u64 },
    #[error("audit log {0} is in use by another keyhold server")]
    Locked(String),
}

struct Tail {
    file: File,
    seq: u64,
    prev: String,
    /// Length of the file up to the last whole record: a failed append is cut back to it.
    len: u64,
    dirty: bool,
}

/// Unix seconds of the last failed write, or [`NOT_FAILED`]: requests are refused up front for a
/// moment after one. Outside the tail's lock, so that checking it before every request does not
/// contend with the appends.
const NOT_FAILED: i64 = i64::MIN;

pub struct AuditLog {
    tail: Mutex<Tail>,
    failed_at: AtomicI64,
    /// Set once the seal opens; from then on every line carries a MAC.
    key: std::sync::OnceLock<AuditKey>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

/// `canonical` must not contain `hash`; serde_json's map keeps keys sorted, which makes it canonical.
fn hash_value(prev: &str, canonical: &Value) -> String {
    let mut input = prev.as_bytes().to_vec();
    input.push(b'\n');
    input.extend_from_slice(canonical.to_string().as_bytes());
    hex::encode(keyhold_crypto::sha256(&input))
}

/// [`hash_value`] over the canonical form already serialized.
fn hash_bytes(prev: &str, canonical: &[u8]) -> String {
    let mut input = Vec::with_capacity(prev.len() + 1 + canonical.len());
    input.extend_from_slice(prev.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(canonical);
    hex::encode(keyhold_crypto::sha256(&input))
}

/// A line with its fields in sorted order, so serializing it gives exactly the canonical JSON of
/// [`Line`] (what `serde_json::Value`, whose maps are sorted, prints); [`written_line`] adds `hash`
/// and `mac`. A test checks both against the `Value` route.
#[derive(Serialize)]
struct SortedLine<'a> {
    caller_appid: Option<&'a str>,
    caller_oid: Option<&'a str>,
    client_ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    object: Option<&'a str>,
    operation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<&'a str>,
    prev: &'a str,
    request_id: &'a str,
    result: u16,
    seq: u64,
    time: &'a str,
    vault: Option<&'a str>,
    version: Option<&'a str>,
}

impl<'a> SortedLine<'a> {
    fn new(seq: u64, prev: &'a str, e: &'a AuditEntry) -> Self {
        Self {
            caller_appid: e.caller_appid.as_deref(),
            caller_oid: e.caller_oid.as_deref(),
            client_ip: e.client_ip.as_deref(),
            detail: e.detail.as_deref(),
            object: e.object.as_deref(),
            operation: &e.operation,
            phase: e.phase.as_deref(),
            prev,
            request_id: &e.request_id,
            result: e.result,
            seq,
            time: &e.time,
            vault: e.vault.as_deref(),
            version: e.version.as_deref(),
        }
    }

    fn to_vec(&self) -> Result<Vec<u8>, AuditError> {
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, self).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(out)
    }
}

/// The line as written: `canonical` with `hash` and `mac` where their names sort, right before
/// `object`. `,"object":` marks the spot: it cannot occur inside a JSON string, where a quote is
/// always escaped, and `object` is always present.
fn written_line(canonical: &[u8], hash: &str, mac: Option<&str>) -> Result<Vec<u8>, AuditError> {
    const AT: &[u8] = b",\"object\":";
    let at = canonical
        .windows(AT.len())
        .position(|w| w == AT)
        .ok_or_else(|| std::io::Error::other("audit line without its object field"))?;
    let mut out = Vec::with_capacity(canonical.len() + 160);
    out.extend_from_slice(&canonical[..at]);
    let mut field = |name: &str, value: &str| -> Result<(), AuditError> {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        serde_json::to_writer(&mut out, value).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(())
    };
    field("hash", hash)?;
    if let Some(mac) = mac {
        field("mac", mac)?;
    }
    out.extend_from_slice(&canonical[at..]);
    Ok(out)
}

fn line_mac_input(seq: u64, hash: &str) -> Vec<u8> {
    format!("line\n{seq}\n{hash}").into_bytes()
}

fn anchor_mac_input(seq: u64, hash: &str) -> Vec<u8> {
    format!("anchor\n{seq}\n{hash}").into_bytes()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl AuditLog {
    /// Opens (creating, 0600) and locks the log, and continues its chain. A torn last line is cut off
    /// and the repair recorded; a log whose chain is otherwise broken is refused: appending to it
    /// would make the break look like part of a valid history. The lock (held while the log is open)
    /// keeps two servers from interleaving one chain, whatever their data dirs.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        Self::open_after(path, None)
    }

    /// [`AuditLog::open`], checking only what follows `head` (the anchor the store holds) when the log
    /// still has that record where the anchor says: a long log is not re-read at every start. Full
    /// verification stays with `keyhold audit verify`. Without a usable head, the whole log is read.
    pub fn open_after(path: &Path, head: Option<&Anchor>) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        // Not a regular file (`/dev/full` in tests, a pipe): nothing to continue or lock.
        if !file.metadata()?.is_file() {
            return Ok(Self::at(file, Chain::genesis()));
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(AuditError::Locked(path.display().to_string())),
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        let mut repaired = None;
        let start = head.and_then(|a| resume_point(path, a)).unwrap_or_else(Chain::genesis);
        let chain = match scan_from(path, &start, false) {
            Ok(chain) => chain,
            Err(AuditError::TornTail { line, bytes }) => {
                let chain = scan_from(path, &start, true)?;
                file.set_len(chain.len)?;
                file.sync_data()?;
                tracing::warn!(line, bytes, "audit log: cut off an incomplete last line");
                repaired = Some(format!("cut off an incomplete last line ({line}, {bytes} bytes)"));
                chain
            }
            Err(e) => return Err(e),
        };
        let log = Self::at(file, chain);
        if let Some(detail) = repaired {
            log.append(
                AuditEntry {
                    time: now_rfc3339(),
                    request_id: keyhold_crypto::random::guid(),
                    operation: "AuditLogRepaired".into(),
                    detail: Some(detail),
                    ..Default::default()
                },
                0,
            )?;
            log.sync()?;
        }
        Ok(log)
    }

    fn at(file: File, chain: Chain) -> Self {
        Self {
            tail: Mutex::new(Tail {
                file,
                seq: chain.seq,
                prev: chain.prev,
                len: chain.len,
                dirty: false,
            }),
            failed_at: AtomicI64::new(NOT_FAILED),
            key: std::sync::OnceLock::new(),
        }
    }

    /// The whole records in the last `max_bytes` of the log, oldest first: what the activity log
    /// shows. They are read, not verified (`keyhold audit verify` does that).
    pub fn recent(&self, max_bytes: u64) -> Result<Vec<AuditEntry>, AuditError> {
        use std::os::unix::fs::FileExt;
        let (file, len) = {
            let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
            (tail.file.try_clone()?, tail.len)
        };
        let start = len.saturating_sub(max_bytes);
        let mut buf = vec![0; usize::try_from(len - start).unwrap_or(0)];
        file.read_exact_at(&mut buf, start)?;
        let mut lines = buf.split(|b| *b == b'\n');
        if start > 0 {
            lines.next(); // the end of a record that starts before the window
        }
        Ok(lines
            .filter_map(|l| serde_json::from_slice::<Record>(l).ok())
            .map(|r| r.entry)
            .collect())
    }

    /// Whether this instance wrote `anchor` (false while the log is not keyed yet).
    pub fn authentic(&self, anchor: &Anchor) -> bool {
        self.key.get().is_some_and(|key| anchor.authentic(key))
    }

    /// Keys every line from now on (called when the seal opens). A second key is ignored: one process
    /// serves one instance.
    pub fn set_key(&self, key: AuditKey) {
        let _ = self.key.set(key);
    }

    /// Whether a request may start: false for a second after a failed write, then the next request
    /// tries again, so the log recovers by itself once space returns.
    pub fn accepting(&self, now: i64) -> bool {
        let failed_at = self.failed_at.load(Ordering::Relaxed);
        failed_at == NOT_FAILED || now - failed_at >= 1
    }

    /// Whether the last write succeeded (for readiness).
    pub fn healthy(&self) -> bool {
        self.failed_at.load(Ordering::Relaxed) == NOT_FAILED
    }

    pub fn append(&self, entry: AuditEntry, now: i64) -> Result<(), AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        let seq = tail.seq + 1;
        // Straight to bytes, once: the same bytes as going through a sorted `serde_json::Value`,
        // without building one; the written line is those bytes with its hash and MAC spliced in.
        let canonical = SortedLine::new(seq, &tail.prev, &entry).to_vec()?;
        let digest = hash_bytes(&tail.prev, &canonical);
        let mac = self.key.get().map(|key| key.mac(&line_mac_input(seq, &digest)));
        let mut text = written_line(&canonical, &digest, mac.as_deref())?;
        text.push(b'\n');
        match tail.file.write_all(&text).and_then(|_| tail.file.flush()) {
            Ok(()) => {
                tail.seq = seq;
                tail.prev = digest;
                tail.len += text.len() as u64;
                tail.dirty = true;
                if self.failed_at.load(Ordering::Relaxed) != NOT_FAILED {
                    self.failed_at.store(NOT_FAILED, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(e) => {
                self.failed_at.store(now, Ordering::Relaxed);
                // A partial line would corrupt the chain for good: cut back to the last whole record.
                // Shrinking needs no space, so this works on a full disk.
                let len = tail.len;
                if let Err(cut) = tail.file.set_len(len) {
                    tracing::error!(error = %cut, "audit log: could not cut back a failed append");
                }
                Err(e.into())
            }
        }
    }

    /// fsync if anything was written since the last call; returns the head it made durable, with its
    /// MAC, once the log is keyed (a sealed server's head is not worth an anchor nobody can check).
    pub fn sync(&self) -> Result<Option<Anchor>, AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.dirty {
            tail.file.sync_data()?;
            tail.dirty = false;
            let (seq, len) = (tail.seq, tail.len);
            return Ok(self
                .key
                .get()
                .map(|key| Anchor::new(seq, tail.prev.clone(), Some(len), key)));
        }
        Ok(None)
    }
}

/// A durable head of the log, recorded in the store (`anchor_key`) after each fsync so that
/// `keyhold audit verify --reconcile` sees a truncated or rewritten log: the log must still have line
/// `seq`, with this hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
    /// HMAC under the audit key, so an anchor written into the database by hand does not verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Bytes of the log through record `seq`: where a start resumes checking. A hint only (not under
    /// the MAC): a wrong one sends the start back to reading the whole log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
}

impl Anchor {
    pub fn new(seq: u64, hash: String, len: Option<u64>, key: &AuditKey) -> Self {
        let mac = Some(key.mac(&anchor_mac_input(seq, &hash)));
        Self { seq, hash, mac, len }
    }

    /// Whether keyhold wrote this anchor (its MAC verifies under `key`).
    pub fn authentic(&self, key: &AuditKey) -> bool {
        self.mac
            .as_deref()
            .is_some_and(|mac| key.verify(&anchor_mac_input(self.seq, &self.hash), mac))
    }
}

/// The store's meta key of a log's anchor: one per host and log path (several nodes share a database,
/// each with its own log).
pub fn anchor_key(log_path: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("audit-anchor:{host}:{}", absolute(log_path).display())
}

/// The log's absolute path, the same before the file exists (a first start computes the key before it
/// creates the log) as after: else a relative `--data-dir` recorded the first run's anchors under a
/// relative key that no later start looks up, and every restart read the whole log.
fn absolute(log_path: &Path) -> std::path::PathBuf {
    if let Ok(path) = std::fs::canonicalize(log_path) {
        return path;
    }
    let parent = match log_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), log_path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => log_path.to_owned(),
    }
}

/// Whether the log at `path` still holds `anchor` where the anchor's length hint says, reading only
/// that line (a start's quick check; [`holds`] is the full one).
pub fn holds_at_hint(path: &Path, anchor: &Anchor) -> bool {
    resume_point(path, anchor).is_some()
}

/// The chain state just after the anchored record, if the log has that record (whose own hash checks
/// out) ending exactly at the anchor's length hint.
fn resume_point(path: &Path, anchor: &Anchor) -> Option<Chain> {
    use std::io::{Read, Seek, SeekFrom};
    let len = anchor.len?;
    let mut file = File::open(path).ok()?;
    if len == 0 || file.metadata().ok()?.len() < len {
        return None;
    }
    // Records are far shorter than this; a longer one just means a full read.
    let from = len.saturating_sub(1 << 16);
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut window = vec![0u8; usize::try_from(len - from).ok()?];
    file.read_exact(&mut window).ok()?;
    let (last, body) = window.split_last()?;
    if *last != b'\n' {
        return None;
    }
    let line = match body.iter().rposition(|b| *b == b'\n') {
        Some(i) => &body[i + 1..],
        None if from == 0 => body,
        None => return None,
    };
    let mut value: Value = serde_json::from_slice(line).ok()?;
    let map = value.as_object_mut()?;
    let stated = map.remove("hash")?.as_str()?.to_owned();
    map.remove("mac");
    let seq = map.get("seq")?.as_u64()?;
    let prev = map.get("prev")?.as_str()?.to_owned();
    if seq != anchor.seq || stated != anchor.hash || hash_value(&prev, &value) != stated {
        return None;
    }
    Some(Chain {
        seq,
        prev: stated,
        len,
        keyed: 0,
        last_keyed: 0,
    })
}

/// Whether the log at `path` still holds `anchor` (its line `seq` with that hash).
pub fn holds(path: &Path, anchor: &Anchor) -> Result<bool, AuditError> {
    let mut found = false;
    walk(read(path)?, true, None, |record, hash| {
        if record.seq == anchor.seq && hash == anchor.hash {
            found = true;
        }
    })?;
    Ok(found)
}

/// Where a verified chain ends.
#[derive(Clone)]
struct Chain {
    seq: u64,
    prev: String,
    len: u64,
    /// Lines with a MAC, and the sequence of the last one.
    keyed: u64,
    last_keyed: u64,
}

impl Chain {
    fn genesis() -> Self {
        Self {
            seq: 0,
            prev: GENESIS.to_owned(),
            len: 0,
            keyed: 0,
            last_keyed: 0,
        }
    }
}

/// Checks the whole chain; returns the number of records and the last hash, or the first broken line.
/// Without the key this is the SHA-256 chain only, which whoever edits the file can recompute.
pub fn verify(path: &Path) -> Result<(u64, String), AuditError> {
    let chain = scan(path)?;
    Ok((chain.seq, chain.prev))
}

/// The chain from the start to the last whole line (a line being appended meanwhile is not a break):
/// the background check a server runs after a start that resumed at its anchor.
pub fn verify_prefix(path: &Path) -> Result<(u64, String), AuditError> {
    let chain = walk(read(path)?, true, None, |_, _| {})?;
    Ok((chain.seq, chain.prev))
}

/// The operation of the record a server writes when its background check finds the log broken before
/// the point its start resumed from.
pub const BROKEN: &str = "AuditLogBroken";

/// What [`verify_keyed`] found.
#[derive(Debug, Clone)]
pub struct Verified {
    pub records: u64,
    pub head: String,
    /// Lines whose MAC verified.
    pub keyed: u64,
    /// Sequence of the last keyed line: everything up to it is authenticated.
    pub last_keyed: u64,
    /// Whether the log holds the anchor given (false when none was).
    pub anchor_held: bool,
    /// `AuditLogDiscontinuity` records: a server found the log cut while it was stopped.
    pub discontinuities: Vec<Record>,
}

/// Checks the chain and every MAC: a line with a wrong MAC, or an unkeyed line a sealed server could
/// not have written, breaks it.
/// In the same pass, whether the log holds `anchor` and which records report a discontinuity: a long
/// log is read once.
pub fn verify_keyed(path: &Path, key: &AuditKey, anchor: Option<&Anchor>) -> Result<Verified, AuditError> {
    let (mut anchor_held, mut discontinuities) = (false, Vec::new());
    let chain = walk(read(path)?, false, Some(key), |record, hash| {
        if anchor.is_some_and(|a| a.seq == record.seq && a.hash == hash) {
            anchor_held = true;
        }
        if record.entry.operation == DISCONTINUITY {
            discontinuities.push(record);
        }
    })?;
    Ok(Verified {
        records: chain.seq,
        head: chain.prev,
        keyed: chain.keyed,
        last_keyed: chain.last_keyed,
        anchor_held,
        discontinuities,
    })
}

/// Every record of a log whose chain verifies, in order.
pub fn records(path: &Path) -> Result<Vec<Record>, AuditError> {
    let mut out = Vec::new();
    walk(read(path)?, false, None, |record, _| out.push(record))?;
    Ok(out)
}

/// `keyhold audit repair`: keeps the verified records before the first broken line, moves the whole
/// original aside to `aside`, and appends a record naming the line and the file set aside. Run with the
/// server stopped (the lock is taken). Returns the first broken line, or `None` if the log was intact.
pub fn repair(path: &Path, aside: &Path) -> Result<Option<usize>, AuditError> {
    // A running server holds the log's lock: cutting the file under it would cut what it is
    // appending to. Held until the cut is made.
    let held = File::open(path)?;
    match held.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(AuditError::Locked(path.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
    }
    let (broken_at, reason) = match walk(read(path)?, false, None, |_, _| {}) {
        Ok(_) => return Ok(None),
        Err(AuditError::Broken { line, reason }) => (line, reason),
        Err(AuditError::TornTail { line, .. }) => (line, "incomplete last line".to_owned()),
        Err(e) => return Err(e),
    };
    std::fs::copy(path, aside)?;
    let keep = prefix_len(read(path)?, broken_at - 1)?;
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(keep)?;
    file.sync_data()?;
    drop(file);
    drop(held);
    let log = AuditLog::open(path)?;
    log.append(
        AuditEntry {
            time: now_rfc3339(),
            request_id: keyhold_crypto::random::guid(),
            operation: "AuditLogRepaired".into(),
            detail: Some(format!(
                "cut at line {broken_at} ({reason}); the original is kept at {}",
                aside.display()
            )),
            ..Default::default()
        },
        0,
    )?;
    log.sync()?;
    Ok(Some(broken_at))
}

/// Streams the file: a long log is verified at every start, and must not be read into memory whole.
fn read(path: &Path) -> Result<BufReader<File>, AuditError> {
    Ok(BufReader::with_capacity(1 << 16, File::open(path)?))
}

/// Byte length of the first `lines` lines.
fn prefix_len(mut reader: impl BufRead, lines: usize) -> Result<u64, AuditError> {
    let (mut len, mut buf) = (0u64, Vec::new());
    for _ in 0..lines {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        len += n as u64;
    }
    Ok(len)
}

fn scan(path: &Path) -> Result<Chain, AuditError> {
    walk(read(path)?, false, None, |_, _| {})
}

/// The chain from `start` (a verified point) to the end, or to a torn last line if that is ignored.
fn scan_from(path: &Path, start: &Chain, ignore_torn_tail: bool) -> Result<Chain, AuditError> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start.len))?;
    walk_from(
        BufReader::with_capacity(1 << 16, file),
        start.clone(),
        ignore_torn_tail,
        None,
        |_, _| {},
    )
}

fn walk(
    reader: impl BufRead,
    ignore_torn_tail: bool,
    key: Option<&AuditKey>,
    each: impl FnMut(Record, &str),
) -> Result<Chain, AuditError> {
    walk_from(reader, Chain::genesis(), ignore_torn_tail, key, each)
}

fn walk_from(
    mut reader: impl BufRead,
    mut chain: Chain,
    ignore_torn_tail: bool,
    key: Option<&AuditKey>,
    mut each: impl FnMut(Record, &str),
) -> Result<Chain, AuditError> {
    let mut buf = Vec::new();
    let mut n = usize::try_from(chain.seq).unwrap_or(usize::MAX);
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf)?;
        if read == 0 {
            return Ok(chain);
        }
        n += 1;
        if buf.last() != Some(&b'\n') {
            if ignore_torn_tail {
                return Ok(chain);
            }
            return Err(AuditError::TornTail {
                line: n,
                bytes: read as u64,
            });
        }
        let text = &buf[..read - 1];
        let broken = |reason: &str| AuditError::Broken {
            line: n,
            reason: reason.to_owned(),
        };
        let mut value: Value = serde_json::from_slice(text).map_err(|_| broken("not a JSON object"))?;
        let Some(map) = value.as_object_mut() else {
            return Err(broken("not a JSON object"));
        };
        let stated = map
            .remove("hash")
            .and_then(|h| h.as_str().map(str::to_owned))
            .ok_or_else(|| broken("no hash"))?;
        let mac = map.remove("mac").and_then(|m| m.as_str().map(str::to_owned));
        let line_seq = map.get("seq").and_then(Value::as_u64).ok_or_else(|| broken("no seq"))?;
        if line_seq != chain.seq + 1 {
            return Err(broken(&format!(
                "sequence {line_seq} follows {}: a line was removed or reordered",
                chain.seq
            )));
        }
        if map.get("prev").and_then(Value::as_str) != Some(chain.prev.as_str()) {
            return Err(broken("prev does not match the previous line's hash"));
        }
        if hash_value(&chain.prev, &value) != stated {
            return Err(broken("hash mismatch: the line was altered"));
        }
        if let Some(key) = key {
            match &mac {
                Some(mac) if key.verify(&line_mac_input(line_seq, &stated), mac) => {
                    chain.keyed += 1;
                    chain.last_keyed = line_seq;
                }
                Some(_) => return Err(broken("MAC mismatch: the line was rewritten without the audit key")),
                None if !value
                    .get("operation")
                    .and_then(Value::as_str)
                    .is_some_and(|op| SEALED_OPERATIONS.contains(&op)) =>
                {
                    return Err(broken(
                        "no MAC: the line was written or rewritten without the audit key",
                    ));
                }
                None => {}
            }
        }
        if let Ok(record) = serde_json::from_value::<Record>(value) {
            each(record, &stated);
        }
        chain.seq = line_seq;
        chain.prev = stated;
        chain.len += read as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: &str) -> AuditEntry {
        AuditEntry {
            operation: op.into(),
            result: 200,
            ..Default::default()
        }
    }

    /// The old way of writing a line: through a sorted `Value`, `hash` and `mac` inserted.
    fn line_through_value(seq: u64, prev: &str, entry: &AuditEntry, mac: Option<&str>) -> (String, String) {
        let line = Line {
            seq,
            prev: prev.to_owned(),
            entry: entry.clone(),
        };
        let mut value = serde_json::to_value(&line).unwrap_or_default();
        let digest = hash_value(prev, &value);
        if let Value::Object(map) = &mut value {
            if let Some(mac) = mac {
                map.insert("mac".into(), Value::String(mac.to_owned()));
            }
            map.insert("hash".into(), Value::String(digest.clone()));
        }
        (digest, value.to_string())
    }

    #[test]
    fn a_sorted_line_is_byte_for_byte_the_canonical_json() -> Result<(), AuditError> {
        let full = AuditEntry {
            time: "2026-12-02T20:00:00Z".into(),
            request_id: "r\"1\\ é \u{1}\n".into(),
            caller_oid: Some("oid".into()),
            caller_appid: Some("app\u{7f}\u{2028}".into()),
            client_ip: Some("127.0.0.1".into()),
            operation: "SecretSet".into(),
            vault: Some("v".into()),
            object: Some("o,\"object\":".into()),
            version: Some("ver".into()),
            result: 65535,
            phase: Some(PHASE_REQUEST.into()),
            detail: Some("d\t😀".into()),
        };
        for (entry, mac) in [
            (AuditEntry::default(), None),
            (entry("SecretGet"), Some("m")),
            (full, Some("mac")),
        ] {
            let prev = "ab".repeat(32);
            let (digest, expected) = line_through_value(u64::MAX, &prev, &entry, mac);
            let canonical = SortedLine::new(u64::MAX, &prev, &entry).to_vec()?;
            assert_eq!(hash_bytes(&prev, &canonical), digest);
            let spliced = written_line(&canonical, &digest, mac)?;
            assert_eq!(String::from_utf8(spliced).ok(), Some(expected), "the spliced line");
        }
        Ok(())
    }

    #[test]
    fn the_anchor_key_is_the_same_before_and_after_the_log_exists() -> Result<(), AuditError> {
        let dir = std::env::temp_dir().join(format!("keyhold-audit-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let dir = std::fs::canonicalize(&dir)?;
        let cwd = std::env::current_dir()?;
        let relative = pathdiff(&dir, &cwd).join("audit.log");
        let before = anchor_key(&relative);
        std::fs::write(dir.join("audit.log"), b"")?;
        assert_eq!(anchor_key(&relative), before);
        assert_eq!(anchor_key(&dir.join("audit.log")), before);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    /// `to` relative to `from` (both absolute), so the test exercises a relative log path.
    fn pathdiff(to: &Path, from: &Path) -> std::path::PathBuf {
        let (to, from) = (
            to.components().collect::<Vec<_>>(),
            from.components().collect::<Vec<_>>(),
        );
        let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
        let mut out = std::path::PathBuf::new();
        for _ in common..from.len() {
            out.push("..");
        }
        for c in &to[common..] {
            out.push(c);
        }
        out
    }

    #[test]
    fn chain_verifies_and_an_edit_is_found_at_its_line() -> Result<(), AuditError> {
        let dir = std::env::temp_dir().join(format!("keyhold-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let log = AuditLog::open(&path)?;
        for op in ["SecretSet", "SecretGet", "SecretDelete"] {
            log.append(entry(op), 0)?;
        }
        drop(log);
        // Reopening continues the chain.
        AuditLog::open(&path)?.append(entry("SecretList"), 0)?;
        assert_eq!(verify(&path)?.0, 4);

        let text = std::fs::read_to_string(&path)?;
        std::fs::write(&path, text.replacen("SecretGet", "SecretGex", 1))?;
        assert!(matches!(verify(&path), Err(AuditError::Broken { line: 2, .. })));
        assert!(AuditLog::open(&path).is_err(), "a broken log is not appended to");

        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2]))?;
        assert!(
            matches!(verify(&path), Err(AuditError::Broken { line: 2, .. })),
            "a removed line shows"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_recorded() -> Result<(), AuditError> {
        let dir = std::env::temp_dir().join(format!("keyhold-audit-torn-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let log = AuditLog::open(&path)?;
        log.append(entry("SecretSet"), 0)?;
        drop(log);
        let mut text = std::fs::read_to_string(&path)?;
        text.push_str("{\"seq\":2,\"pre");
        std::fs::write(&path, &text)?;
        assert!(matches!(verify(&path), Err(AuditError::TornTail { line: 2, .. })));
        drop(AuditLog::open(&path)?);
        let records = records(&path)?;
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].entry.operation, "AuditLogRepaired");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    /// Rewrites a log the way someone without the key would: drops line `drop` and recomputes the
    /// SHA-256 chain (the MACs cannot be recomputed, so they are kept or dropped).
    fn rewrite(path: &Path, drop: usize, keep_macs: bool) -> Result<(), AuditError> {
        let text = std::fs::read_to_string(path)?;
        let mut prev = GENESIS.to_owned();
        let mut out = String::new();
        for (i, line) in text.lines().enumerate().filter(|(i, _)| *i + 1 != drop) {
            let mut value: Value = serde_json::from_str(line).map_err(|e| std::io::Error::other(e.to_string()))?;
            let map = value
                .as_object_mut()
                .ok_or_else(|| std::io::Error::other("not an object"))?;
            map.remove("hash");
            let mac = map.remove("mac");
            let seq = if i + 1 > drop { i as u64 } else { i as u64 + 1 };
            map.insert("seq".into(), seq.into());
            map.insert("prev".into(), prev.clone().into());
            let digest = hash_value(&prev, &value);
            let map = value
                .as_object_mut()
                .ok_or_else(|| std::io::Error::other("not an object"))?;
            if let (true, Some(mac)) = (keep_macs, mac) {
                map.insert("mac".into(), mac);
            }
            map.insert("hash".into(), digest.clone().into());
            out.push_str(&value.to_string());
            out.push('\n');
            prev = digest;
        }
        std::fs::write(path, out)?;
        Ok(())
    }

    #[test]
    fn a_keyed_chain_shows_a_rewrite_the_bare_chain_cannot() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("keyhold-audit-keyed-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let root = keyhold_crypto::RootKey::generate()?;
        let log = AuditLog::open(&path)?;
        log.append(entry("Unseal"), 0)?;
        log.set_key(root.audit_key()?);
        for op in ["SecretSet", "SecretGet", "SecretDelete"] {
            log.append(entry(op), 0)?;
        }
        let anchor = log.sync()?.ok_or("a keyed log anchors its head")?;
        drop(log);
        let key = root.audit_key()?;
        assert!(anchor.authentic(&key));
        assert!(
            !Anchor {
                seq: 3,
                ..anchor.clone()
            }
            .authentic(&key)
        );
        let verified = verify_keyed(&path, &key, None)?;
        assert_eq!((verified.records, verified.keyed, verified.last_keyed), (4, 3, 4));

        // A sealed restart appends unkeyed unseal records: still fine.
        AuditLog::open(&path)?.append(entry("Unseal"), 0)?;
        assert_eq!(verify_keyed(&path, &key, None)?.last_keyed, 4);
        let original = std::fs::read(&path)?;

        for keep_macs in [false, true] {
            std::fs::write(&path, &original)?;
            rewrite(&path, 3, keep_macs)?;
            assert_eq!(verify(&path)?.0, 4, "the bare chain passes the rewrite");
            // Without MACs the first stripped line shows; with the old MACs kept, the first moved one.
            let first = if keep_macs { 3 } else { 2 };
            let result = verify_keyed(&path, &key, None);
            assert!(
                matches!(result, Err(AuditError::Broken { line, .. }) if line == first),
                "the keyed check names line {first}: {result:?}"
            );
        }
        let other = keyhold_crypto::RootKey::generate()?.audit_key()?;
        std::fs::write(&path, &original)?;
        assert!(matches!(
            verify_keyed(&path, &other, None),
            Err(AuditError::Broken { line: 2, .. })
        ));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn a_start_resumes_at_the_anchor_and_continues_the_chain() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("keyhold-audit-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let root = keyhold_crypto::RootKey::generate()?;
        let log = AuditLog::open(&path)?;
        log.set_key(root.audit_key()?);
        log.append(entry("SecretSet"), 0)?;
        log.append(entry("SecretGet"), 0)?;
        let anchor = log.sync()?.ok_or("anchored")?;
        assert_eq!(anchor.len, Some(std::fs::metadata(&path)?.len()));
        log.append(entry("SecretList"), 0)?;
        drop(log);
        assert!(holds_at_hint(&path, &anchor));
        let mut text = std::fs::read_to_string(&path)?;
        text.push_str("{\"seq\":4,\"pre");
        std::fs::write(&path, &text)?;

        // Resumes after record 2, checks record 3, cuts the torn tail, and continues at 4.
        let log = AuditLog::open_after(&path, Some(&anchor))?;
        log.set_key(root.audit_key()?);
        log.append(entry("SecretDelete"), 0)?;
        drop(log);
        let verified = verify_keyed(&path, &root.audit_key()?, None)?;
        assert_eq!(verified.records, 5, "2 anchored, 1 after, the repair record, 1 new");

        // A hint that points elsewhere is not trusted: the whole log is read.
        let wrong = Anchor {
            len: Some(10),
            ..anchor.clone()
        };
        assert!(!holds_at_hint(&path, &wrong));
        let log = AuditLog::open_after(&path, Some(&wrong))?;
        log.append(entry("SecretSet"), 0)?;
        drop(log);
        assert_eq!(verify(&path)?.0, 6);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
