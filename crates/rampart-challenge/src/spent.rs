//! Single use: the set of challenge nonces and captcha token ids already
//! redeemed.
//!
//! [`SpentSet`] is the seam for shared state: one node uses
//! [`LocalSpentSet`]; several nodes behind one address need a shared
//! implementation (e.g. Redis `SET id 1 NX EXAT expires_at`), or a token
//! redeemed on one node could be redeemed again on another.

use std::sync::{Mutex, PoisonError};

use crate::expiring::{ExpiringMap, Insert};

/// Records redeemed ids until they expire.
pub trait SpentSet: Send + Sync {
    /// Marks `id` spent until `expires_at` (unix seconds). Returns `true`
    /// only for the first use of a live id. Implementations must fail
    /// closed: when they cannot record the id (full, unreachable) they
    /// return `false`, since forgetting an id would allow its replay.
    fn spend(&self, id: [u8; 16], expires_at: u64, now: u64) -> bool;
}

/// An in-memory [`SpentSet`] with a fixed number of entries, in sharded
/// mutexes so concurrent verifications rarely wait on each other.
///
/// Expired ids are dropped as room is needed. When a shard is full of ids
/// that have not expired, `spend` returns `false`: new challenges fail until
/// old ones expire, rather than old ones becoming replayable. Size the
/// capacity above (redemptions per second × token lifetime).
pub struct LocalSpentSet {
    map: ExpiringMap<()>,
}

impl LocalSpentSet {
    /// A set holding at most about `capacity` ids (rounded up to a whole
    /// number per shard).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: ExpiringMap::new(capacity),
        }
    }

    /// Ids held, including expired ones not yet dropped.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most ids the set holds.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }
}

impl SpentSet for LocalSpentSet {
    fn spend(&self, id: [u8; 16], expires_at: u64, now: u64) -> bool {
        // Something already expired cannot be redeemed anyway; refusing it
        // keeps a caller that checks expiry late from being wrong.
        if expires_at <= now {
            return false;
        }
        matches!(
            self.map.insert_if_absent(id, expires_at, now, ()),
            Insert::Inserted
        )
    }
}

impl std::fmt::Debug for LocalSpentSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSpentSet")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// A [`SpentSet`] that remembers the id it accepted, so that a caller can
/// confirm the redemption with a shared set (asynchronously, e.g. Redis)
/// after a synchronous check such as [`crate::pow::verify`] passed.
///
/// The checks redeem at most one id per call; `taken` is the last one.
pub struct Recorded<'a, S: ?Sized> {
    inner: &'a S,
    taken: Mutex<Option<([u8; 16], u64)>>,
}

impl<'a, S: SpentSet + ?Sized> Recorded<'a, S> {
    /// Wraps `inner`, which still decides.
    pub fn new(inner: &'a S) -> Self {
        Self {
            inner,
            taken: Mutex::new(None),
        }
    }

    /// The id `inner` accepted and its expiry, if any.
    pub fn taken(&self) -> Option<([u8; 16], u64)> {
        *self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: SpentSet + ?Sized> SpentSet for Recorded<'_, S> {
    fn spend(&self, id: [u8; 16], expires_at: u64, now: u64) -> bool {
        let first = self.inner.spend(id, expires_at, now);
        if first {
            *self.taken.lock().unwrap_or_else(PoisonError::into_inner) = Some((id, expires_at));
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        id
    }

    #[test]
    fn recorded_remembers_only_what_was_accepted() {
        let s = LocalSpentSet::new(100);
        let r = Recorded::new(&s);
        assert_eq!(r.taken(), None);
        assert!(r.spend(id(1), 100, 0));
        assert_eq!(r.taken(), Some((id(1), 100)));
        let again = Recorded::new(&s);
        assert!(!again.spend(id(1), 100, 0));
        assert_eq!(again.taken(), None);
    }

    #[test]
    fn first_use_only() {
        let s = LocalSpentSet::new(100);
        assert!(s.spend(id(1), 100, 0));
        assert!(!s.spend(id(1), 100, 50));
        assert!(s.spend(id(2), 100, 50));
        assert!(!s.spend(id(3), 100, 100), "already expired");
    }

    #[test]
    fn full_of_live_ids_fails_closed() {
        let s = LocalSpentSet::new(64);
        let mut accepted = Vec::new();
        for n in 0..10_000 {
            if s.spend(id(n), 1_000, 0) {
                accepted.push(n);
            }
        }
        assert!(accepted.len() <= s.capacity());
        // Nothing accepted is forgotten while it lives.
        for &n in &accepted {
            assert!(!s.spend(id(n), 1_000, 999));
        }
        // New ids are refused while the set is full of live ids...
        assert!((20_000..20_100).all(|n| !s.spend(id(n), 2_000, 999)));
        // ...and accepted once the old ones have expired.
        assert!(s.spend(id(20_000), 2_000, 1_000));
        assert!(s.len() <= s.capacity());
    }
}
