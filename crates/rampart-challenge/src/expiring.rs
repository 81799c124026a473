//! A bounded map of 16-byte ids to expiring values, in mutex-guarded shards:
//! the storage under [`crate::spent::LocalSpentSet`] and
//! [`crate::captcha::IdempotencyCache`].
//!
//! Bounded means a fixed number of entries, never more: when a shard is full
//! of live entries an insert is refused, and the caller decides what refusal
//! means (the spent set fails closed).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

const MAX_SHARDS: usize = 16;

pub(crate) struct ExpiringMap<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    per_shard: usize,
}

struct Shard<V> {
    map: HashMap<[u8; 16], (u64, V)>,
    /// A lower bound on the earliest expiry in `map`: while `now` is below
    /// it, nothing can be purged, so a full shard refuses without scanning.
    earliest: u64,
}

/// The outcome of [`ExpiringMap::insert_if_absent`].
pub(crate) enum Insert<V> {
    Inserted,
    /// A live entry with this id exists; its value.
    Present(V),
    /// The shard is full of live entries; nothing was stored.
    Full,
}

impl<V: Clone> ExpiringMap<V> {
    /// Room for `capacity` entries (at least one per shard).
    pub(crate) fn new(capacity: usize) -> Self {
        let shards = capacity.clamp(1, MAX_SHARDS);
        let per_shard = capacity.div_ceil(shards).max(1);
        Self {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        earliest: u64::MAX,
                    })
                })
                .collect(),
            per_shard,
        }
    }

    /// Total entries the map will hold.
    pub(crate) fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    fn shard(&self, id: &[u8; 16]) -> Option<MutexGuard<'_, Shard<V>>> {
        // Ids are random (nonces, token ids) or hashes, so their first
        // bytes spread evenly and cannot be aimed at one shard.
        let index = usize::from(u16::from_le_bytes([id[0], id[1]])) % self.shards.len();
        // A panic while holding the lock leaves a map that is still a valid
        // map; keep serving rather than poison every later request.
        self.shards
            .get(index)
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Stores `value` under `id` until `expires_at` unless a live entry
    /// (expiring after `now`) holds the id.
    pub(crate) fn insert_if_absent(
        &self,
        id: [u8; 16],
        expires_at: u64,
        now: u64,
        value: V,
    ) -> Insert<V> {
        let Some(mut shard) = self.shard(&id) else {
            return Insert::Full;
        };
        if let Some((exp, v)) = shard.map.get(&id)
            && *exp > now
        {
            return Insert::Present(v.clone());
        }
        let replacing = shard.map.contains_key(&id);
        if !replacing && shard.map.len() >= self.per_shard {
            if now < shard.earliest {
                return Insert::Full;
            }
            shard.purge(now);
            if shard.map.len() >= self.per_shard {
                return Insert::Full;
            }
        }
        shard.earliest = shard.earliest.min(expires_at);
        shard.map.insert(id, (expires_at, value));
        Insert::Inserted
    }

    /// The live value under `id`.
    pub(crate) fn get(&self, id: &[u8; 16], now: u64) -> Option<V> {
        let shard = self.shard(id)?;
        shard
            .map
            .get(id)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, v)| v.clone())
    }

    /// Entries held, expired ones not yet purged included.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }
}

impl<V> Shard<V> {
    fn purge(&mut self, now: u64) {
        self.map.retain(|_, (exp, _)| *exp > now);
        self.earliest = self
            .map
            .values()
            .map(|(exp, _)| *exp)
            .min()
            .unwrap_or(u64::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> [u8; 16] {
        let mut id = [0u8; 16];
        // Spread over shards like random ids do.
        id[..4].copy_from_slice(&n.wrapping_mul(0x9E37_79B9).to_le_bytes());
        id[4..8].copy_from_slice(&n.to_le_bytes());
        id
    }

    #[test]
    fn never_holds_more_than_capacity() {
        let m = ExpiringMap::new(100);
        let mut inserted = 0;
        for n in 0..1000 {
            if matches!(m.insert_if_absent(id(n), 1_000, 0, ()), Insert::Inserted) {
                inserted += 1;
            }
        }
        assert!(inserted <= m.capacity());
        assert!(m.len() <= m.capacity());
        assert!(m.capacity() >= 100 && m.capacity() < 120);
    }

    #[test]
    fn expired_entries_make_room() {
        let m = ExpiringMap::new(64);
        for n in 0..1000 {
            let _ = m.insert_if_absent(id(n), 10, 0, n);
        }
        let full = m.len();
        assert!(matches!(
            m.insert_if_absent(id(5000), 20, 9, 0),
            Insert::Full
        ));
        // At t = 10 every earlier entry has expired.
        assert!(matches!(
            m.insert_if_absent(id(5000), 20, 10, 7),
            Insert::Inserted
        ));
        assert!(m.len() < full);
        assert_eq!(m.get(&id(5000), 19), Some(7));
        assert_eq!(m.get(&id(5000), 20), None);
        // An expired entry under the same id is replaced, not reported.
        assert!(matches!(
            m.insert_if_absent(id(5000), 30, 20, 8),
            Insert::Inserted
        ));
        assert!(matches!(
            m.insert_if_absent(id(5000), 30, 21, 9),
            Insert::Present(8)
        ));
    }
}
