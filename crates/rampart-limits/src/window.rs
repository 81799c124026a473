//! The sliding-window estimate and the arithmetic on it.
//!
//! Windows are aligned at multiples of the period on the caller's timeline.
//! The estimate at time `t`, `e = t - window_start` into the current window,
//! is
//!
//! ```text
//! previous × (period − e) / period + current
//! ```
//!
//! i.e. the previous window's count is assumed spread evenly over it, and the
//! part of it still inside `[t − period, t]` is added to the current count.
//! It always lies between the exact count since `window_start` (`current`)
//! and the exact count since `window_start − period` (`previous + current`),
//! and under a steady rate it matches the exact sliding count (see the
//! accuracy tests). Two integers per key instead of a log of timestamps.

use crate::time::Millis;
use std::time::Duration;

/// Counts of one key around `now`, as returned by a counter store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowCount {
    /// The time the counts are for.
    pub now: Millis,
    /// Start of the current window (the window holding `now`, or the newest
    /// window seen when the clock stepped back).
    pub window_start: Millis,
    /// Window length in milliseconds (at least 1).
    pub period_ms: u64,
    /// Count of the window before the current one.
    pub previous: u64,
    /// Count of the current window so far.
    pub current: u64,
}

impl WindowCount {
    /// Counts of a key never seen: zero in the window holding `now`.
    #[must_use]
    pub fn empty(now: Millis, period_ms: u64) -> Self {
        let period_ms = period_ms.max(1);
        Self {
            now,
            window_start: Millis(now.0 - now.0 % period_ms),
            period_ms,
            previous: 0,
            current: 0,
        }
    }

    /// Milliseconds into the current window, within `0 ..= period_ms`.
    fn elapsed(&self) -> u64 {
        self.now
            .0
            .saturating_sub(self.window_start.0)
            .min(self.period_ms)
    }

    /// The sliding-window estimate of the count over `[now − period, now]`.
    /// The previous window's share is rounded up: a limit is never passed
    /// because of rounding.
    #[must_use]
    pub fn estimate(&self) -> u64 {
        let p = self.period_ms.max(1);
        let remaining = p - self.elapsed();
        // Counts and periods held by the stores fit in 32 bits, so the
        // product fits in 64 and the division is a cheap one; the 128-bit
        // path is for values built by hand.
        let weighted = match self.previous.checked_mul(remaining) {
            Some(product) => product.div_ceil(p),
            None => {
                let w = (u128::from(self.previous) * u128::from(remaining)).div_ceil(u128::from(p));
                u64::try_from(w).unwrap_or(u64::MAX)
            }
        };
        weighted.saturating_add(self.current)
    }

    /// How long from `now` until the estimate drops to `target` or below,
    /// if no further hits arrive. Zero when it already is.
    ///
    /// A limiter admitting a request while `estimate + 1 <= limit` tells a
    /// limited client to retry after `time_until_at_most(limit − 1)`: a
    /// client that waits exactly that long is admitted.
    #[must_use]
    pub fn time_until_at_most(&self, target: u64) -> Duration {
        if self.estimate() <= target {
            return Duration::ZERO;
        }
        let p = self.period_ms.max(1);
        let window_end = self.window_start.0.saturating_add(p);
        // `ceil(count × m / p) <= bound` holds exactly while
        // `count × m <= bound × p`, i.e. for every m up to
        // `floor(bound × p / count)`; the wait is `p − m` into the window
        // whose old count is `count`.
        let largest_remaining = |count: u64, bound: u64| -> u64 {
            let m = u128::from(bound) * u128::from(p) / u128::from(count.max(1));
            u64::try_from(m).unwrap_or(u64::MAX).min(p)
        };
        let until = if self.current <= target {
            // Within this window, as the previous window's share fades.
            let m = largest_remaining(self.previous, target - self.current);
            self.window_start.0.saturating_add(p - m)
        } else {
            // Only the next window can get there, as this window's count fades.
            let m = largest_remaining(self.current, target);
            window_end.saturating_add(p - m)
        };
        Millis(until).saturating_since(self.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wc(now: u64, start: u64, previous: u64, current: u64) -> WindowCount {
        WindowCount {
            now: Millis(now),
            window_start: Millis(start),
            period_ms: 1_000,
            previous,
            current,
        }
    }

    #[test]
    fn estimate_weights_the_previous_window() {
        assert_eq!(wc(1_000, 1_000, 100, 0).estimate(), 100);
        assert_eq!(wc(1_250, 1_000, 100, 10).estimate(), 85);
        assert_eq!(wc(1_999, 1_000, 100, 10).estimate(), 11, "rounded up");
        assert_eq!(wc(1_999, 1_000, 0, 10).estimate(), 10);
        // Products past 64 bits take the wide path.
        let big = WindowCount {
            period_ms: u64::MAX,
            previous: u64::MAX,
            ..wc(0, 0, 0, 1)
        };
        assert_eq!(big.estimate(), u64::MAX);
        // A clock behind the window counts as its start.
        assert_eq!(wc(900, 1_000, 100, 10).estimate(), 110);
        assert_eq!(
            WindowCount::empty(Millis(2_345), 1_000).window_start,
            Millis(2_000)
        );
        assert_eq!(WindowCount::empty(Millis(7), 0).period_ms, 1);
    }

    /// The estimate at `now + d`, as a store would compute it then.
    fn later(c: &WindowCount, d: Duration) -> u64 {
        let t = c.now.saturating_add(d).0;
        let p = c.period_ms;
        let mut c = *c;
        while t >= c.window_start.0 + p {
            c.previous = c.current;
            c.current = 0;
            c.window_start = Millis(c.window_start.0 + p);
        }
        c.now = Millis(t);
        c.estimate()
    }

    #[test]
    fn time_until_at_most_is_the_first_moment_it_holds() {
        let cases = [
            wc(1_000, 1_000, 100, 0),
            wc(1_300, 1_000, 100, 20),
            wc(1_300, 1_000, 7, 60),
            wc(1_999, 1_000, 1_000_000, 3),
            wc(1_000, 1_000, 0, 5),
            wc(1_500, 1_000, 3, 3),
        ];
        for c in cases {
            for target in [0, 1, 2, 4, 9, 10, 19, 50, 99] {
                let d = c.time_until_at_most(target);
                assert!(later(&c, d) <= target, "{c:?} target {target} after {d:?}");
                if !d.is_zero() {
                    let before = d - Duration::from_millis(1);
                    assert!(
                        later(&c, before) > target,
                        "{c:?} target {target}: {d:?} is late"
                    );
                }
            }
        }
    }
}
