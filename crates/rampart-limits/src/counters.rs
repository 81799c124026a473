//! Sliding-window counters: the [`CounterStore`] trait and the in-process
//! [`LocalCounters`].
//!
//! # Bounded memory and eviction
//!
//! `LocalCounters` holds at most [`LocalCounters::capacity`] keys, spread over
//! shards by the key's upper bits, each shard a mutex over a [`Slab`]. A new
//! key in a full shard replaces the cheapest of eight sampled keys, where
//! "cheap" is the key's sliding-window estimate now: keys whose windows have
//! both passed score zero and go first, then the keys with the lowest counts.
//! A slot is 48 bytes plus about 6 bytes of hash index, so one million keys
//! take about 60 MB.
//!
//! Under a flood of distinct keys (an attacker rotating addresses or header
//! values) the flood's own keys, each with a count of one, are the cheapest
//! in almost every sample, so they replace each other and the keys that
//! carry real counts stay. To get its own counter evicted an attacker has to
//! make a whole sample of keys count higher than it, i.e. spend more requests
//! than the counter it wants to reset holds: eviction never makes a reset
//! cheaper than waiting for the window to pass. What the flood does cost is
//! the count of light, legitimate keys (far below any limit anyway).
//!
//! # A shared tier, later
//!
//! With [`CountersConfig::record_deltas`] on, each shard also remembers which
//! keys were hit since the last [`LocalCounters::drain_deltas`], and by how
//! much per window. A syncer (a Redis tier, later) drains the deltas every
//! few milliseconds, adds them to the shared totals, and hands the totals
//! back with [`LocalCounters::merge_remote`]. Requests never wait for it:
//! they always read the local counts, which are the local hits plus the last
//! known remote totals.
//!
//! The price is staleness: between syncs a node does not see the others'
//! hits, so under a load far above the limit the nodes together overshoot
//! by roughly `(nodes − 1) × staleness / period`, where staleness is the
//! sync interval plus the reply's delay. `tests/cluster.rs` simulates three
//! nodes: a 50 ms sync on a 10 s period holds the limit within 2%; the
//! syncer should keep staleness under about 1/100 of the shortest period.

use crate::error::LimitsError;
use crate::key::{KeyHasher, LimitKey};
use crate::slab::Slab;
use crate::time::{Millis, duration_ms};
use crate::window::WindowCount;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A place that counts hits per key in sliding windows.
///
/// Implementations must be cheap enough for the request path: no I/O, no
/// waiting on a network. A shared tier keeps a local store in front and
/// synchronises in the background (see the module documentation).
pub trait CounterStore: Send + Sync {
    /// Adds `cost` hits to `key` at `now` and returns the counts including
    /// them. `period` is the rule's window length; one key is always used
    /// with one period (the rule id is part of the key).
    fn hit(&self, key: &LimitKey, now: Millis, period: Duration, cost: u32) -> WindowCount;

    /// The counts of `key` at `now`, without adding a hit.
    fn peek(&self, key: &LimitKey, now: Millis, period: Duration) -> WindowCount;

    /// Adds `cost` hits only if the estimate with them stays at most
    /// `limit`: `Ok` with the counts including them, or `Err` with the
    /// counts as they are. A limiter counts only the requests it admits;
    /// counting refused ones too would halve a throttled client's rate.
    ///
    /// The provided version peeks then hits, which two concurrent callers
    /// can both pass; stores that can should do it under one lock.
    fn try_hit(
        &self,
        key: &LimitKey,
        now: Millis,
        period: Duration,
        cost: u32,
        limit: u64,
    ) -> Result<WindowCount, WindowCount> {
        let c = self.peek(key, now, period);
        if c.estimate().saturating_add(u64::from(cost)) > limit {
            return Err(c);
        }
        Ok(self.hit(key, now, period, cost))
    }
}

impl<T: CounterStore + ?Sized> CounterStore for Arc<T> {
    fn hit(&self, key: &LimitKey, now: Millis, period: Duration, cost: u32) -> WindowCount {
        (**self).hit(key, now, period, cost)
    }

    fn peek(&self, key: &LimitKey, now: Millis, period: Duration) -> WindowCount {
        (**self).peek(key, now, period)
    }

    fn try_hit(
        &self,
        key: &LimitKey,
        now: Millis,
        period: Duration,
        cost: u32,
        limit: u64,
    ) -> Result<WindowCount, WindowCount> {
        (**self).try_hit(key, now, period, cost, limit)
    }
}

/// Sizing of a [`LocalCounters`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountersConfig {
    /// Most keys held at once (rounded up to a multiple of `shards`).
    pub max_keys: usize,
    /// Independent locks. More shards, less contention between cores; each
    /// shard should hold at least a few hundred keys for eviction to sample
    /// well.
    pub shards: usize,
    /// Remember per-key deltas for [`LocalCounters::drain_deltas`]. Off when
    /// no shared tier drains them.
    pub record_deltas: bool,
}

impl Default for CountersConfig {
    fn default() -> Self {
        Self {
            max_keys: 1_000_000,
            shards: 64,
            record_deltas: false,
        }
    }
}

/// Hits of one key in one window not yet handed to the shared tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta {
    /// The key.
    pub key: LimitKey,
    /// Start of the window the hits belong to.
    pub window_start: Millis,
    /// The window length, e.g. to set the shared entry's expiry.
    pub period: Duration,
    /// Hits since the last drain.
    pub count: u32,
}

/// Longest period a counter holds (the period is kept in 32 bits): 49 days.
const MAX_PERIOD_MS: u64 = u32::MAX as u64;

fn period_ms(period: Duration) -> u64 {
    duration_ms(period).clamp(1, MAX_PERIOD_MS)
}

/// One key's counts. `pending_*` are the hits not yet drained; `listed` says
/// the slot is in its shard's dirty list (exactly when it is there, so the
/// list never holds a slot twice and stays within the shard's capacity).
#[derive(Clone, Copy, Debug)]
struct Counter {
    window_start: u64,
    period_ms: u32,
    previous: u32,
    current: u32,
    pending_previous: u32,
    pending_current: u32,
    listed: bool,
}

impl Counter {
    fn new(window_start: u64, p: u64) -> Self {
        Self {
            window_start,
            period_ms: u32::try_from(p).unwrap_or(u32::MAX),
            previous: 0,
            current: 0,
            pending_previous: 0,
            pending_current: 0,
            listed: false,
        }
    }

    /// Moves to the window starting at `ws` if that is newer. A clock that
    /// stepped back keeps counting into the newest window seen.
    fn advance(&mut self, ws: u64, p: u64) {
        if u64::from(self.period_ms) != p {
            // The rule's period changed: old counts do not compare.
            *self = Counter {
                listed: self.listed,
                ..Counter::new(ws, p)
            };
        } else if ws == self.window_start.saturating_add(p) {
            self.previous = self.current;
            self.current = 0;
            self.pending_previous = self.pending_current;
            self.pending_current = 0;
            self.window_start = ws;
        } else if ws > self.window_start {
            *self = Counter {
                listed: self.listed,
                ..Counter::new(ws, p)
            };
        }
    }

    fn view(&self, now: Millis) -> WindowCount {
        WindowCount {
            now,
            window_start: Millis(self.window_start),
            period_ms: u64::from(self.period_ms),
            previous: u64::from(self.previous),
            current: u64::from(self.current),
        }
    }

    /// The counts as they stand at `now`, without changing the counter.
    fn view_at(&self, now: Millis) -> WindowCount {
        let p = u64::from(self.period_ms).max(1);
        let mut c = *self;
        c.advance(now.0 - now.0 % p, p);
        c.view(now)
    }

    /// Eviction score: what would be lost by forgetting this key now.
    fn score(&self, now: u64) -> u64 {
        self.view_at(Millis(now)).estimate()
    }
}

struct Shard {
    slab: Slab<Counter>,
    /// Slots with pending deltas, each at most once.
    dirty: Vec<u32>,
    /// Latest `now` seen, to score evictions when a call has no `now`.
    latest: u64,
}

/// The in-process [`CounterStore`]: sharded, bounded, evicting. See the
/// module documentation for the eviction policy.
pub struct LocalCounters {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    record_deltas: bool,
}

impl core::fmt::Debug for LocalCounters {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalCounters")
            .field("shards", &self.shards.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl LocalCounters {
    /// An empty store. `hasher` seeds the eviction sampler (so that which
    /// keys get sampled is not predictable); it need not be the one that
    /// builds the keys.
    pub fn new(config: CountersConfig, hasher: &KeyHasher) -> Result<Self, LimitsError> {
        if config.shards == 0 || config.shards > 4096 {
            return Err(LimitsError::OutOfRange {
                field: "shards",
                min: 1,
                max: 4096,
            });
        }
        if config.max_keys == 0 {
            return Err(LimitsError::Zero { field: "max_keys" });
        }
        let per_shard = config.max_keys.div_ceil(config.shards);
        if per_shard > u32::MAX as usize {
            return Err(LimitsError::OutOfRange {
                field: "max_keys",
                min: 1,
                max: u64::from(u32::MAX),
            });
        }
        let shards = (0..config.shards)
            .map(|i| {
                Mutex::new(Shard {
                    slab: Slab::new(per_shard, hasher.derive_u64(i as u8) ^ i as u64),
                    dirty: Vec::new(),
                    latest: 0,
                })
            })
            .collect();
        Ok(Self {
            shards,
            per_shard,
            record_deltas: config.record_deltas,
        })
    }

    /// Most keys held at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    /// Keys held now (takes every shard's lock in turn).
    #[must_use]
    pub fn len(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock_index(i).map_or(0, |s| s.slab.len()))
            .sum()
    }

    /// Whether no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock_index(&self, i: usize) -> Option<MutexGuard<'_, Shard>> {
        // A panic while holding a shard cannot leave it half-updated in a
        // way that matters (counts only), so a poisoned lock is still used.
        self.shards
            .get(i)
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn lock(&self, key: &LimitKey) -> Option<MutexGuard<'_, Shard>> {
        // Multiply-shift maps the upper 64 bits onto any shard count.
        let n = self.shards.len() as u128;
        let i = ((u128::from(key.shard_bits()) * n) >> 64) as usize;
        self.lock_index(i)
    }

    /// Appends the hits recorded since the last drain to `out` (at most two
    /// deltas per key: previous and current window) and forgets them. Pass
    /// the same `Vec` every time and this allocates nothing once warm.
    ///
    /// Hits of a key evicted before the drain are lost to the shared tier;
    /// eviction takes the coldest keys, so this is rare and small.
    pub fn drain_deltas(&self, out: &mut Vec<Delta>) {
        for i in 0..self.shards.len() {
            let Some(mut guard) = self.lock_index(i) else {
                continue;
            };
            let Shard { slab, dirty, .. } = &mut *guard;
            for slot_index in dirty.drain(..) {
                let slot_index = slot_index as usize;
                let Some(key) = slab.slot(slot_index).map(|s| s.key) else {
                    continue;
                };
                let Some(c) = slab.value_mut(slot_index) else {
                    continue;
                };
                let period = Duration::from_millis(u64::from(c.period_ms));
                let p = u64::from(c.period_ms);
                if c.pending_previous > 0 {
                    out.push(Delta {
                        key,
                        window_start: Millis(c.window_start.saturating_sub(p)),
                        period,
                        count: c.pending_previous,
                    });
                }
                if c.pending_current > 0 {
                    out.push(Delta {
                        key,
                        window_start: Millis(c.window_start),
                        period,
                        count: c.pending_current,
                    });
                }
                c.pending_previous = 0;
                c.pending_current = 0;
                c.listed = false;
            }
        }
    }

    /// Takes the shared tier's total for `key` in the window starting at
    /// `window_start`: the sum over all nodes, including the deltas this
    /// node drained before the total was read.
    ///
    /// The local count becomes the larger of what it was and `total` plus
    /// the hits recorded here since the last drain, so a stale or reordered
    /// answer never lowers a count. Totals for windows older than the
    /// previous one are ignored; a key not held is added (it may evict).
    pub fn merge_remote(&self, key: &LimitKey, window_start: Millis, period: Duration, total: u64) {
        let p = period_ms(period);
        let ws = window_start.0 - window_start.0 % p;
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        let Some(mut guard) = self.lock(key) else {
            return;
        };
        let shard = &mut *guard;
        if let Some(i) = shard.slab.find(*key) {
            if let Some(c) = shard.slab.value_mut(i) {
                c.advance(ws, p);
                if ws == c.window_start {
                    c.current = c.current.max(total.saturating_add(c.pending_current));
                } else if ws.saturating_add(p) == c.window_start {
                    c.previous = c.previous.max(total.saturating_add(c.pending_previous));
                }
            }
            return;
        }
        let mut c = Counter::new(ws, p);
        c.current = total;
        let latest = shard.latest;
        let (i, evicted) = shard.slab.insert(*key, c, |v| v.score(latest));
        keep_listed(shard, i, evicted);
    }
}

/// A new key took slot `i`; if the slot was listed as dirty it still is.
fn keep_listed(shard: &mut Shard, i: usize, evicted: Option<Counter>) {
    if evicted.is_some_and(|e| e.listed)
        && let Some(c) = shard.slab.value_mut(i)
    {
        c.listed = true;
    }
}

impl LocalCounters {
    /// `hit` and `try_hit` in one: adds `cost` unless `limit` is given and
    /// the estimate would pass it, all under the shard's lock.
    fn add(
        &self,
        key: &LimitKey,
        now: Millis,
        period: Duration,
        cost: u32,
        limit: Option<u64>,
    ) -> Result<WindowCount, WindowCount> {
        let p = period_ms(period);
        let ws = now.0 - now.0 % p;
        let Some(mut guard) = self.lock(key) else {
            return Err(WindowCount::empty(now, p));
        };
        let shard = &mut *guard;
        shard.latest = shard.latest.max(now.0);
        let over = |c: &WindowCount| {
            limit.is_some_and(|l| c.estimate().saturating_add(u64::from(cost)) > l)
        };
        let index = match shard.slab.find(*key) {
            Some(i) => {
                let Some(c) = shard.slab.value_mut(i) else {
                    return Err(WindowCount::empty(now, p));
                };
                c.advance(ws, p);
                let before = c.view(now);
                if over(&before) {
                    return Err(before);
                }
                c.current = c.current.saturating_add(cost);
                i
            }
            None => {
                let empty = WindowCount::empty(now, p);
                if over(&empty) {
                    return Err(empty);
                }
                let mut c = Counter::new(ws, p);
                c.current = cost;
                let (i, evicted) = shard.slab.insert(*key, c, |v| v.score(now.0));
                keep_listed(shard, i, evicted);
                i
            }
        };
        let Some(c) = shard.slab.value_mut(index) else {
            return Err(WindowCount::empty(now, p));
        };
        if self.record_deltas && cost > 0 {
            c.pending_current = c.pending_current.saturating_add(cost);
            if !c.listed {
                c.listed = true;
                shard.dirty.push(index as u32);
            }
        }
        Ok(c.view(now))
    }
}

impl CounterStore for LocalCounters {
    fn hit(&self, key: &LimitKey, now: Millis, period: Duration, cost: u32) -> WindowCount {
        self.add(key, now, period, cost, None)
            .unwrap_or_else(|counts| counts)
    }

    fn try_hit(
        &self,
        key: &LimitKey,
        now: Millis,
        period: Duration,
        cost: u32,
        limit: u64,
    ) -> Result<WindowCount, WindowCount> {
        self.add(key, now, period, cost, Some(limit))
    }

    fn peek(&self, key: &LimitKey, now: Millis, period: Duration) -> WindowCount {
        let p = period_ms(period);
        let Some(mut shard) = self.lock(key) else {
            return WindowCount::empty(now, p);
        };
        shard.latest = shard.latest.max(now.0);
        match shard.slab.get(*key) {
            Some(c) if u64::from(c.period_ms) == p => c.view_at(now),
            _ => WindowCount::empty(now, p),
        }
    }
}
