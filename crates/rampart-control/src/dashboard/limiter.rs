//! Failed sign-ins per key (a client address, an email) in a sliding window,
//! in memory: enough to make guessing passwords or tokens through the
//! dashboard slow, without a store write per attempt.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per key within [`LOGIN_WINDOW`].
pub(crate) const LOGIN_ATTEMPTS: usize = 10;
pub(crate) const LOGIN_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Keys remembered at once. Beyond it the key idle longest is forgotten:
/// the memory stays bounded whatever an attacker sends, and a forgotten key
/// is one that has not failed for the longest time.
const MAX_KEYS: usize = 10_000;

pub(crate) struct Limiter {
    limit: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long until `key` may try again; `None` when it may now.
    pub fn blocked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let times = failures.get_mut(key)?;
        self.forget_old(times, now);
        if times.len() < self.limit {
            return None;
        }
        let oldest = times.front().copied()?;
        Some(
            (oldest + self.window)
                .saturating_duration_since(now)
                .max(Duration::from_secs(1)),
        )
    }

    pub fn record_failure(&self, key: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if !failures.contains_key(key) && failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.saturating_duration_since(*last) < self.window)
            });
            if failures.len() >= MAX_KEYS {
                let idlest = failures
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(key, _)| key.clone());
                if let Some(idlest) = idlest {
                    failures.remove(&idlest);
                }
            }
        }
        let times = failures.entry(key.to_owned()).or_default();
        self.forget_old(times, now);
        times.push_back(now);
        // Only the newest `limit` matter for the decision.
        while times.len() > self.limit {
            times.pop_front();
        }
    }

    fn forget_old(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_passes() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(limiter.blocked_for("ip", t0), None, "attempt {i}");
            limiter.record_failure("ip", t0 + Duration::from_secs(i));
        }
        let wait = limiter.blocked_for("ip", t0 + Duration::from_secs(10));
        assert_eq!(wait, Some(Duration::from_secs(50)));
        assert_eq!(limiter.blocked_for("other", t0), None);
        // The first failure leaves the window: one more try.
        assert_eq!(
            limiter.blocked_for("ip", t0 + Duration::from_secs(60)),
            None
        );
    }

    #[test]
    fn memory_is_bounded() {
        let limiter = Limiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS + 50) {
            limiter.record_failure(&format!("k{i}"), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(limiter.keys(), MAX_KEYS);
        // The newest keys are the ones kept.
        limiter.record_failure(&format!("k{}", MAX_KEYS + 49), t0 + Duration::from_secs(1));
        assert!(
            limiter
                .blocked_for(&format!("k{}", MAX_KEYS + 49), t0 + Duration::from_secs(1))
                .is_some()
        );
    }
}
