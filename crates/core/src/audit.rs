//! The audit log: one JSON line per operation, hash-chained so that editing, removing or reordering a
//! line shows. Never a secret value or token: the record type has no field that could hold one.
//!
//! Each line's `hash` is SHA-256 over the previous line's hash and the line's own canonical JSON (the
//! record without `hash`, keys sorted). Lines are written before the response is sent; if the write
//! fails the caller is told so and the request fails, rather than proceeding unaudited. The file is
//! fsynced once a second and at shutdown (one fsync per line would double the cost of every request).

use std::{
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    os::unix::fs::OpenOptionsExt,
    path::Path,
    sync::Mutex,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What one operation did. `result` is the HTTP status the caller saw.
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
}

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
    #[error("audit log is corrupt at line {line}: {reason}")]
    Broken { line: usize, reason: String },
}

struct Tail {
    file: File,
    seq: u64,
    prev: String,
    dirty: bool,
    /// Unix seconds of the last failed write: requests are refused up front for a moment after one.
    failed_at: Option<i64>,
}

pub struct AuditLog {
    tail: Mutex<Tail>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

fn hash(prev: &str, line: &Line) -> Result<String, AuditError> {
    let canonical = serde_json::to_value(line).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(hash_value(prev, &canonical))
}

/// `canonical` must not contain `hash`; serde_json's map keeps keys sorted, which makes it canonical.
fn hash_value(prev: &str, canonical: &Value) -> String {
    let mut input = prev.as_bytes().to_vec();
    input.push(b'\n');
    input.extend_from_slice(canonical.to_string().as_bytes());
    hex::encode(keyhold_crypto::sha256(&input))
}

impl AuditLog {
    /// Opens (creating, 0600) the log and continues its chain. A log whose chain is broken is refused:
    /// appending to it would make the break look like part of a valid history.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let (seq, prev) = if path.exists() && path.metadata()?.is_file() {
            verify(path)?
        } else {
            (0, GENESIS.to_owned())
        };
        let file = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        Ok(Self {
            tail: Mutex::new(Tail {
                file,
                seq,
                prev,
                dirty: false,
                failed_at: None,
            }),
        })
    }

    /// Whether a request may start: false for a second after a failed write.
    pub fn accepting(&self, now: i64) -> bool {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.failed_at.is_none_or(|t| now - t >= 1)
    }

    pub fn append(&self, entry: AuditEntry, now: i64) -> Result<(), AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        let line = Line {
            seq: tail.seq + 1,
            prev: tail.prev.clone(),
            entry,
        };
        let digest = hash(&tail.prev, &line)?;
        let mut value = serde_json::to_value(&line).map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Value::Object(map) = &mut value {
            map.insert("hash".into(), Value::String(digest.clone()));
        }
        let mut text = value.to_string();
        text.push('\n');
        match tail.file.write_all(text.as_bytes()).and_then(|_| tail.file.flush()) {
            Ok(()) => {
                tail.seq = line.seq;
                tail.prev = digest;
                tail.dirty = true;
                tail.failed_at = None;
                Ok(())
            }
            Err(e) => {
                tail.failed_at = Some(now);
                Err(e.into())
            }
        }
    }

    /// fsync if anything was written since the last call.
    pub fn sync(&self) -> Result<(), AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.dirty {
            tail.file.sync_data()?;
            tail.dirty = false;
        }
        Ok(())
    }
}

/// Checks the whole chain; returns the last sequence number and hash, or the first broken line.
pub fn verify(path: &Path) -> Result<(u64, String), AuditError> {
    let reader = BufReader::new(File::open(path)?);
    let (mut seq, mut prev) = (0u64, GENESIS.to_owned());
    for (i, line) in reader.lines().enumerate() {
        let n = i + 1;
        let broken = |reason: &str| AuditError::Broken {
            line: n,
            reason: reason.to_owned(),
        };
        let text = line?;
        let mut value: Value = serde_json::from_str(&text).map_err(|_| broken("not a JSON object"))?;
        let Some(map) = value.as_object_mut() else {
            return Err(broken("not a JSON object"));
        };
        let stated = map
            .remove("hash")
            .and_then(|h| h.as_str().map(str::to_owned))
            .ok_or_else(|| broken("no hash"))?;
        let line_seq = map.get("seq").and_then(Value::as_u64).ok_or_else(|| broken("no seq"))?;
        if line_seq != seq + 1 {
            return Err(broken(&format!(
                "sequence {line_seq} follows {seq}: a line was removed or reordered"
            )));
        }
        if map.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            return Err(broken("prev does not match the previous line's hash"));
        }
        if hash_value(&prev, &value) != stated {
            return Err(broken("hash mismatch: the line was altered"));
        }
        seq = line_seq;
        prev = stated;
    }
    Ok((seq, prev))
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
}
