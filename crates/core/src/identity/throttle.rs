//! Failure throttling on the token endpoint, per (client, source address). Client ids are not secret,
//! so a throttle keyed on the client alone would let anyone lock a service principal out; this one
//! never refuses a correct credential (see [`super::Identity::client_credentials`]) and only makes
//! one source's run of wrong ones answer 429 for a while.

use std::{collections::HashMap, net::IpAddr, sync::Mutex};

use crate::AuthError;

/// Where a token request came from; `None` when the listener could not say.
pub type Source = Option<IpAddr>;

/// Entries kept at most: a flood of distinct (client, source) pairs cannot grow memory without bound.
const MAX_ENTRIES: usize = 100_000;

pub(super) struct Throttle {
    max: u32,
    window: i64,
    failures: Mutex<HashMap<(String, Source), (i64, u32)>>,
}

impl Throttle {
    pub(super) fn new(max: u32, window_secs: i64) -> Self {
        Self {
            max,
            window: window_secs,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure; `Err(Throttled)` once this source has failed `max` times in the window.
    pub(super) fn fail(&self, client: &str, source: Source, now: i64) -> Result<(), AuthError> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (start, _)| now - *start < self.window);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let entry = map.entry((client.to_ascii_lowercase(), source)).or_insert((now, 0));
        if now - entry.0 >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 > self.max {
            Err(AuthError::Throttled {
                retry_after_secs: (self.window - (now - entry.0)).max(1) as u64,
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_one_source_of_failures_until_the_window_ends() {
        let t = Throttle::new(3, 60);
        let a: Source = Some([10, 0, 0, 1].into());
        let b: Source = Some([10, 0, 0, 2].into());
        for _ in 0..3 {
            assert!(t.fail("c", a, 100).is_ok());
        }
        assert!(matches!(
            t.fail("c", a, 110),
            Err(AuthError::Throttled { retry_after_secs: 50 })
        ));
        assert!(t.fail("c", b, 110).is_ok(), "another source is not affected");
        assert!(t.fail("other", a, 110).is_ok(), "another client is not affected");
        assert!(t.fail("c", a, 161).is_ok(), "the window ends");
    }
}
