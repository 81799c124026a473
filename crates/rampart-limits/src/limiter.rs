//! Rate-limit decisions: a rule's threshold over a [`CounterStore`], and a
//! penalty box that keeps a key limited for the mitigation timeout.
//!
//! # Which request is limited
//!
//! In both counting modes a request is limited when the key's sliding count
//! of counted requests, before it, has reached `requests`. With
//! [`Counting::EveryRequest`] the check counts each admitted request, so for
//! a limit of 10 the 11th request in a period is the first limited; limited
//! requests are not counted (a throttled client gets the full rate, not half
//! of it, as the window slides). With
//! [`Counting::OnResponse`] the check only reads the count and the caller
//! counts afterwards, when the response matched the counting expression
//! (e.g. a 401 on `/login`): after 10 failed logins the next request, of any
//! outcome, is limited.
//!
//! # Retry-After
//!
//! A limited key goes into the penalty box until
//! `now + max(mitigation_timeout, recovery)`, where `recovery` is when the
//! sliding count will have fallen far enough to admit one more request. The
//! `retry_after` returned is exactly that wait, so a client that honours it
//! is admitted (unless it is counted again meanwhile). Requests limited by
//! the penalty box are not counted: a client that keeps hammering is not
//! kept out longer than the rule says, and the counters do not fill up with
//! traffic that never reached the origin.
//!
//! The penalty box has a bounded number of entries. When it is full, the
//! entry closest to expiry goes; its key then falls back on its counts,
//! which usually still exceed the limit, so it is limited again.

use crate::counters::{CounterStore, LocalCounters};
use crate::error::LimitsError;
use crate::key::{KeyHasher, LimitKey};
use crate::slab::Slab;
use crate::time::Millis;
use crate::window::WindowCount;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// What the edge does with a limited request. The limiter only decides
/// "limited"; the action is carried with the rule for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer 429 with `Retry-After`.
    Block,
    /// Serve a challenge instead.
    Challenge,
    /// Let the request through and log that it would have been limited.
    Log,
}

/// Which requests a rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counting {
    /// Every request the rule matches, counted by [`RateLimiter::check`].
    EveryRequest,
    /// Only requests whose response matched the counting expression, counted
    /// by [`RateLimiter::count`] after the response.
    OnResponse,
}

/// The limiting part of a rate-limit rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitRule {
    /// Window length (1 ms to 49 days).
    pub period: Duration,
    /// Counted requests allowed per period.
    pub requests: u32,
    /// How long a key stays limited once it crossed the limit (zero: only
    /// until its count admits requests again).
    pub mitigation_timeout: Duration,
    /// What to do with limited requests.
    pub action: Action,
    /// Which requests count.
    pub counting: Counting,
}

impl LimitRule {
    /// Checks the values the limiter needs to make sense.
    pub fn validate(&self) -> Result<(), LimitsError> {
        if self.requests == 0 {
            return Err(LimitsError::Zero { field: "requests" });
        }
        let ms = self.period.as_millis();
        if ms == 0 || ms > u128::from(u32::MAX) {
            return Err(LimitsError::OutOfRange {
                field: "period",
                min: 1,
                max: u64::from(u32::MAX),
            });
        }
        Ok(())
    }
}

/// The outcome of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Under the limit.
    Allow,
    /// Over the limit: apply the rule's action. `retry_after` is when the key
    /// will be admitted again (round up to whole seconds for the header).
    Limit {
        /// Time until the key is admitted again.
        retry_after: Duration,
    },
}

/// Keys currently limited, each with the time it is released.
struct PenaltyBox {
    shards: Box<[Mutex<Slab<u64>>]>,
    /// Entries across all shards: lets the common case (nobody limited)
    /// skip the lock entirely.
    occupied: AtomicUsize,
}

const PENALTY_SHARDS: usize = 16;

impl PenaltyBox {
    fn new(capacity: usize, hasher: &KeyHasher) -> Self {
        let shards = PENALTY_SHARDS.min(capacity).max(1);
        let per_shard = capacity.div_ceil(shards);
        Self {
            shards: (0..shards)
                .map(|i| Mutex::new(Slab::new(per_shard, hasher.derive_u64(0x80 | i as u8))))
                .collect(),
            occupied: AtomicUsize::new(0),
        }
    }

    fn lock(&self, key: &LimitKey) -> Option<MutexGuard<'_, Slab<u64>>> {
        let n = self.shards.len() as u128;
        let i = ((u128::from(key.shard_bits()) * n) >> 64) as usize;
        self.shards
            .get(i)
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// When `key` is released, if it is limited at `now`.
    fn until(&self, key: &LimitKey, now: Millis) -> Option<Millis> {
        if self.occupied.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut slab = self.lock(key)?;
        let until = *slab.get(*key)?;
        if until > now.0 {
            return Some(Millis(until));
        }
        // Served its time: forget it now rather than waiting for eviction.
        if slab.remove(*key).is_some() {
            self.occupied.fetch_sub(1, Ordering::Relaxed);
        }
        None
    }

    fn insert(&self, key: &LimitKey, until: Millis, now: Millis) {
        let Some(mut slab) = self.lock(key) else {
            return;
        };
        if let Some(i) = slab.find(*key) {
            if let Some(v) = slab.value_mut(i) {
                *v = (*v).max(until.0);
            }
            return;
        }
        let (_, evicted) = slab.insert(*key, until.0, |&u| u.saturating_sub(now.0));
        if evicted.is_none() {
            self.occupied.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn len(&self) -> usize {
        self.occupied.load(Ordering::Relaxed)
    }
}

/// Decides whether a request is over its rule's rate.
///
/// One limiter serves every rule of a process: the rule is passed with each
/// call and the key (which includes the rule id) keeps rules apart.
pub struct RateLimiter<S = LocalCounters> {
    store: S,
    penalty: PenaltyBox,
}

impl<S> core::fmt::Debug for RateLimiter<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("penalized", &self.penalty.len())
            .finish_non_exhaustive()
    }
}

impl<S: CounterStore> RateLimiter<S> {
    /// A limiter counting in `store`, with room for `penalty_capacity`
    /// limited keys at once.
    pub fn new(store: S, penalty_capacity: usize, hasher: &KeyHasher) -> Result<Self, LimitsError> {
        if penalty_capacity == 0 {
            return Err(LimitsError::Zero {
                field: "penalty_capacity",
            });
        }
        Ok(Self {
            store,
            penalty: PenaltyBox::new(penalty_capacity, hasher),
        })
    }

    /// The counter store (e.g. to drain deltas for a shared tier).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Keys in the penalty box, including ones whose time is up but that
    /// have not been seen since.
    pub fn penalized(&self) -> usize {
        self.penalty.len()
    }

    /// Decides on a request before it is forwarded. With
    /// [`Counting::EveryRequest`] this also counts it.
    pub fn check(&self, rule: &LimitRule, key: &LimitKey, now: Millis) -> Decision {
        if let Some(until) = self.penalty.until(key, now) {
            return Decision::Limit {
                retry_after: until.saturating_since(now),
            };
        }
        let limit = u64::from(rule.requests);
        let counts = match rule.counting {
            Counting::EveryRequest => match self.store.try_hit(key, now, rule.period, 1, limit) {
                Ok(_) => return Decision::Allow,
                Err(c) => c,
            },
            Counting::OnResponse => {
                let c = self.store.peek(key, now, rule.period);
                if c.estimate() < limit {
                    return Decision::Allow;
                }
                c
            }
        };
        let recovery = counts.time_until_at_most(limit.saturating_sub(1));
        let retry_after = recovery.max(rule.mitigation_timeout);
        self.penalty
            .insert(key, now.saturating_add(retry_after), now);
        Decision::Limit { retry_after }
    }

    /// Counts a request after its response matched the rule's counting
    /// expression ([`Counting::OnResponse`]). For an
    /// [`Counting::EveryRequest`] rule the check already counted, so this
    /// only reads. Returns the counts, e.g. for logging.
    pub fn count(&self, rule: &LimitRule, key: &LimitKey, now: Millis) -> WindowCount {
        match rule.counting {
            Counting::OnResponse => self.store.hit(key, now, rule.period, 1),
            Counting::EveryRequest => self.store.peek(key, now, rule.period),
        }
    }
}
