//! Per-client failure throttling on the token endpoint: after `max` failed authentications within a
//! window, the client is refused until the window ends, so a secret cannot be guessed online.

use std::{collections::HashMap, sync::Mutex};

use crate::AuthError;

pub(super) struct Throttle {
    max: u32,
    window: i64,
    failures: Mutex<HashMap<String, (i64, u32)>>,
}

impl Throttle {
    pub(super) fn new(max: u32, window_secs: i64) -> Self {
        Self {
            max,
            window: window_secs,
            failures: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn check(&self, client: &str, now: i64) -> Result<(), AuthError> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(client) {
            Some(&(start, count)) if count >= self.max && now - start < self.window => Err(AuthError::Throttled {
                retry_after_secs: (self.window - (now - start)).max(1) as u64,
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn fail(&self, client: &str, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now - *start < self.window);
        }
        let entry = map.entry(client.to_owned()).or_insert((now, 0));
        if now - entry.0 >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_until_window_ends() {
        let t = Throttle::new(3, 60);
        for _ in 0..3 {
            assert!(t.check("c", 100).is_ok());
            t.fail("c", 100);
        }
        assert!(matches!(
            t.check("c", 110),
            Err(AuthError::Throttled { retry_after_secs: 50 })
        ));
        assert!(t.check("other", 110).is_ok());
        assert!(t.check("c", 161).is_ok());
    }
}
