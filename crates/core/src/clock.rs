//! Time as a parameter, so expiry, purge and rotation can be reasoned about (and tested) in one place.

use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    /// Unix seconds.
    fn now(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// A clock tests move by hand.
#[cfg(test)]
pub(crate) struct FakeClock(pub std::sync::atomic::AtomicI64);

#[cfg(test)]
impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// Unix seconds as RFC 3339 (`2026-01-02T03:04:05Z`), the one spelling of a time in Azure's bodies,
/// audit records and error bodies; out-of-range times become an empty string rather than an error,
/// since a timestamp is never worth failing a response for.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses an RFC 3339 time (`2027-01-02T03:04:05Z`, with or without a fraction or an offset) into
/// unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// The current wall-clock time in RFC 3339, with its fraction of a second (audit records are ordered
/// by it within a second).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
