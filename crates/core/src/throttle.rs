//! Counting failures per key within a window, for the token endpoint (per client and source address)
//! and the unseal endpoint (per source address). Bounded in memory, so a flood of distinct keys cannot
//! grow it without end; what a caller does once a key is over its limit is the caller's rule.

use std::{collections::HashMap, hash::Hash, net::IpAddr, sync::Mutex};

/// Where a request came from; `None` when the listener could not say.
pub type Source = Option<IpAddr>;

pub(crate) struct Throttle<K> {
    max: u32,
    window: i64,
    max_keys: usize,
    failures: Mutex<HashMap<K, (i64, u32)>>,
}

impl<K: Hash + Eq> Throttle<K> {
    /// `max` failures per key within `window_secs`, for at most `max_keys` keys at once.
    pub(crate) fn new(max: u32, window_secs: i64, max_keys: usize) -> Self {
        Self {
            max,
            window: window_secs,
            max_keys,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds `key` must wait, once it has failed `max` times in the current window.
    pub(crate) fn blocked(&self, key: &K, now: i64) -> Option<u64> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some(&(start, count)) if count >= self.max && now - start < self.window => {
                Some((self.window - (now - start)).max(1) as u64)
            }
            _ => None,
        }
    }

    /// Records one failure of `key`.
    pub(crate) fn fail(&self, key: K, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max_keys {
            map.retain(|_, (start, _)| now - *start < self.window);
            if map.len() >= self.max_keys {
                map.clear();
            }
        }
        let entry = map.entry(key).or_insert((now, 0));
        if now - entry.0 >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_a_key_after_max_failures_until_the_window_ends() {
        let t = Throttle::new(3, 60, 100);
        let a: Source = Some([10, 0, 0, 1].into());
        let b: Source = Some([10, 0, 0, 2].into());
        for _ in 0..3 {
            assert_eq!(t.blocked(&("c", a), 100), None);
            t.fail(("c", a), 100);
        }
        assert_eq!(t.blocked(&("c", a), 110), Some(50));
        assert_eq!(t.blocked(&("c", b), 110), None, "another source is not affected");
        assert_eq!(t.blocked(&("other", a), 110), None, "another client is not affected");
        assert_eq!(t.blocked(&("c", a), 161), None, "the window ends");
    }

    #[test]
    fn memory_stays_bounded() {
        let t = Throttle::new(1, 60, 10);
        for i in 0..100u32 {
            t.fail(i, 100);
        }
        assert!(t.failures.lock().map(|m| m.len()).unwrap_or(0) <= 10);
    }
}
