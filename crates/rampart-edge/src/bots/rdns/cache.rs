//! The per-address answer cache. Verification is slow (a PTR lookup and
//! forward lookups, up to [`BUDGET`]) and crawlers send bursts from the
//! same few addresses, so each answer is kept for its TTL, concurrent
//! requests share one running lookup, the number of lookups in flight is
//! bounded, and memory stays bounded by evicting expired, then refuted,
//! then arbitrary answers — all behind sharded locks so that crawlers on
//! many threads do not queue on one.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{BUDGET, Outcome};

pub(super) const SHARDS: usize = 16;

/// Cache key: the address and the bot's suffixes (a fingerprint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub ip: IpAddr,
    pub suffixes: u64,
}

enum Slot {
    Known {
        verified: bool,
        refuted: bool,
        until: Instant,
    },
    /// A lookup task is running; its answer arrives on the channel.
    Pending {
        deadline: Instant,
        answer: watch::Receiver<Option<bool>>,
    },
}

/// What the cache says about a key.
pub enum Probe {
    Known(bool),
    /// Another request's lookup is running: wait for its answer until the
    /// deadline.
    Wait(watch::Receiver<Option<bool>>, Instant),
    /// Start a lookup and announce its answer on the sender.
    Start(watch::Sender<Option<bool>>, Permit),
    /// Too many lookups running: not verified, not cached.
    Busy,
}

/// One running lookup, counted against
/// [`MAX_IN_FLIGHT`](super::MAX_IN_FLIGHT) until dropped.
pub struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers per address, in bounded memory, sharded so that crawlers on
/// many threads do not queue on one lock.
pub struct Cache {
    shards: Vec<Mutex<HashMap<Key, Slot>>>,
    per_shard: usize,
    hasher: RandomState,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
}

impl Cache {
    pub fn new(capacity: usize, max_in_flight: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight,
        }
    }

    fn shard(&self, key: &Key) -> MutexGuard<'_, HashMap<Key, Slot>> {
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        // A panic while holding a shard leaves a consistent map (every
        // change is one insert or remove), so the poison is ignored.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn permit(&self) -> Option<Permit> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_in_flight).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit(self.in_flight.clone()))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn probe(&self, key: Key, now: Instant) -> Probe {
        let mut shard = self.shard(&key);
        match shard.get(&key) {
            Some(Slot::Known {
                verified, until, ..
            }) if *until > now => return Probe::Known(*verified),
            Some(Slot::Pending { deadline, answer }) if *deadline > now => {
                return Probe::Wait(answer.clone(), *deadline);
            }
            // Expired, or a lookup that never reported (its task was lost
            // with a runtime shutting down): look up again.
            _ => {}
        }
        let Some(permit) = self.permit() else {
            return Probe::Busy;
        };
        let (tx, rx) = watch::channel(None);
        // The task's own timeout fires at BUDGET; the margin lets its
        // answer land before waiters give up on it.
        let deadline = now + BUDGET + Duration::from_millis(100);
        insert(
            &mut shard,
            self.per_shard,
            key,
            Slot::Pending {
                deadline,
                answer: rx,
            },
            now,
        );
        Probe::Start(tx, permit)
    }

    /// Records a finished lookup.
    pub fn settle(&self, key: Key, outcome: Outcome, now: Instant) {
        let slot = Slot::Known {
            verified: outcome == Outcome::Verified,
            refuted: outcome != Outcome::Verified,
            until: now + outcome.ttl(),
        };
        insert(&mut self.shard(&key), self.per_shard, key, slot, now);
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Inserts, making room first when the shard is full: expired answers,
/// then refuted ones, then (all verified or pending) an arbitrary eighth.
/// Each sweep frees room for many inserts, so the cost stays amortised.
fn insert(map: &mut HashMap<Key, Slot>, cap: usize, key: Key, slot: Slot, now: Instant) {
    if map.len() >= cap && !map.contains_key(&key) {
        map.retain(|_, s| match s {
            Slot::Known { until, .. } => *until > now,
            Slot::Pending { deadline, .. } => *deadline > now,
        });
        if map.len() >= cap {
            map.retain(|_, s| !matches!(s, Slot::Known { refuted: true, .. }));
        }
        if map.len() >= cap {
            let drop: Vec<Key> = map.keys().take(cap.div_ceil(8)).copied().collect();
            for k in drop {
                map.remove(&k);
            }
        }
    }
    map.insert(key, slot);
}
