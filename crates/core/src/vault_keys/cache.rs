//! Parsed private keys of recently used versions, so that a sign (or decrypt) does not unseal the PKCS#8
//! and parse it again (RSA parsing validates the key, which costs about as much as a signature).
//!
//! **Held in clear:** at most [`CAPACITY`] parsed key pairs (aws-lc-rs's `RsaKeyPair`/`EcdsaKeyPair` and
//! the PKCS#8 DER beside them, zeroized on drop), each for at most [`TTL`] after it was parsed; an entry
//! past its TTL is dropped at the next key operation on this node, the least recently used one when the
//! cache is full, and a name's entries when it is deleted or purged here. The cache lives in
//! `VaultKeys`, which exists only while the seal is open.
//!
//! It never decides whether an operation may run: the caller has already checked the permission against
//! the current policy and read the version's current row (enabled, `nbf`/`exp`, `key_ops`). An entry is
//! keyed by (vault, name, version) and used only if the row's sealed bytes are exactly the ones it was
//! parsed from, so a re-sealed, restored or replaced version misses it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use keyhold_crypto::{Sealed, vault_key::PrivateKey};
use keyhold_store::KeyVersionRecord;

/// How many parsed keys one node holds at most.
pub const CAPACITY: usize = 64;
/// How long a parsed key is held at most after it was parsed.
pub const TTL: Duration = Duration::from_secs(300);

type Id = (String, String, String);

struct Entry {
    sealed: Sealed,
    key: Arc<PrivateKey>,
    parsed_at: Instant,
    used: u64,
}

#[derive(Default)]
struct State {
    map: HashMap<Id, Entry>,
    tick: u64,
}

#[derive(Default)]
pub struct KeyCache {
    state: Mutex<State>,
}

fn id(r: &KeyVersionRecord) -> Id {
    (r.vault.clone(), r.name.clone(), r.version.clone())
}

impl KeyCache {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The parsed key of `r`, if it was parsed from exactly `r.private` less than [`TTL`] ago.
    pub fn get(&self, r: &KeyVersionRecord) -> Option<Arc<PrivateKey>> {
        let mut s = self.lock();
        s.map.retain(|_, e| e.parsed_at.elapsed() < TTL);
        s.tick += 1;
        let tick = s.tick;
        let id = id(r);
        match s.map.get_mut(&id) {
            Some(e) if e.sealed == r.private => {
                e.used = tick;
                Some(e.key.clone())
            }
            Some(_) => {
                s.map.remove(&id);
                None
            }
            None => None,
        }
    }

    /// Keeps `key`, parsed from `r.private`, evicting the least recently used entry when full.
    pub fn insert(&self, r: &KeyVersionRecord, key: Arc<PrivateKey>) {
        let mut s = self.lock();
        s.tick += 1;
        let id = id(r);
        if s.map.len() >= CAPACITY
            && !s.map.contains_key(&id)
            && let Some(oldest) = s.map.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone())
        {
            s.map.remove(&oldest);
        }
        let used = s.tick;
        s.map.insert(
            id,
            Entry {
                sealed: r.private.clone(),
                key,
                parsed_at: Instant::now(),
                used,
            },
        );
    }

    /// Drops every version of `name` (after a delete or purge on this node).
    pub fn forget(&self, vault: &str, name: &str) {
        self.lock().map.retain(|(v, n, _), _| !(v == vault && n == name));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use keyhold_crypto::vault_key::{Curve, KeySpec};

    use super::*;

    fn record(version: &str, sealed: &[u8]) -> KeyVersionRecord {
        let mut bytes = vec![1u8; 33];
        bytes.extend_from_slice(sealed);
        KeyVersionRecord {
            vault: "v".into(),
            name: "k".into(),
            version: version.into(),
            kty: "EC".into(),
            public_jwk: serde_json::Value::Null,
            private: Sealed::from_stored(bytes).unwrap(),
            key_ops: vec![],
            enabled: true,
            nbf: None,
            exp: None,
            exportable: false,
            tags: None,
            created: 0,
            updated: 0,
            seq: 0,
            managed: false,
        }
    }

    fn key() -> Arc<PrivateKey> {
        Arc::new(PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap())
    }

    #[test]
    fn other_sealed_bytes_miss_and_the_size_is_bounded() {
        let cache = KeyCache::default();
        let r = record("1", b"sealed-a");
        cache.insert(&r, key());
        assert!(cache.get(&r).is_some());
        // The same version re-sealed (or replaced by a restore): not served, and dropped.
        assert!(cache.get(&record("1", b"sealed-b")).is_none());
        assert!(cache.get(&r).is_none());

        for i in 0..CAPACITY + 10 {
            cache.insert(&record(&i.to_string(), b"s"), key());
        }
        assert_eq!(cache.len(), CAPACITY);
        // The most recently inserted survive.
        assert!(cache.get(&record(&(CAPACITY + 9).to_string(), b"s")).is_some());
        assert!(cache.get(&record("0", b"s")).is_none());

        cache.forget("v", "k");
        assert_eq!(cache.len(), 0);
    }
}
