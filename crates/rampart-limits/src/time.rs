//! Time as the limiters see it: milliseconds on a timeline the caller owns.
//!
//! Nothing in this crate reads a clock by itself. Every operation takes `now`
//! as an argument, so tests drive a [`ManualClock`] without sleeping and the
//! logic stays deterministic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in milliseconds since an epoch chosen by the caller.
///
/// Use Unix time ([`SystemClock`]) when counters are shared between nodes:
/// sliding windows start at multiples of the period on this timeline, so two
/// nodes agree on which window a request belongs to only if they share the
/// epoch. A clock that steps backwards is tolerated (hits land in the newest
/// window already seen), it is never a reason to panic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + d`, saturating at the end of the timeline.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Millis {
        Millis(self.0.saturating_add(duration_ms(d)))
    }

    /// `self - earlier`, or zero when `earlier` is later.
    #[must_use]
    pub fn saturating_since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// A duration in whole milliseconds, rounded up so that a non-zero duration
/// never becomes zero (a zero period would be a division by zero later).
pub(crate) fn duration_ms(d: Duration) -> u64 {
    let ms = d.as_millis();
    let rounded = if d.subsec_nanos().is_multiple_of(1_000_000) {
        ms
    } else {
        ms.saturating_add(1)
    };
    u64::try_from(rounded).unwrap_or(u64::MAX)
}

/// Where the caller gets `now` from. The limiters never call it themselves;
/// it exists so the edge and the tests can hold "a clock" as one value.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Millis;
}

/// Unix time in milliseconds: shared by every node with a synchronised clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        // Before 1970 only on a broken clock; the limiters cope with any value.
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        Millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `start`.
    #[must_use]
    pub fn new(start: Millis) -> Self {
        Self(AtomicU64::new(start.0))
    }

    /// Moves the clock to `t` (backwards too, to test clock steps).
    pub fn set(&self, t: Millis) {
        self.0.store(t.0, Ordering::Relaxed);
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(duration_ms(d), Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(self.0.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_milliseconds() {
        assert_eq!(duration_ms(Duration::from_millis(5)), 5);
        assert_eq!(duration_ms(Duration::from_micros(5_001)), 6);
        assert_eq!(duration_ms(Duration::from_nanos(1)), 1);
        assert_eq!(duration_ms(Duration::ZERO), 0);
        assert_eq!(duration_ms(Duration::MAX), u64::MAX);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Millis(10));
        assert_eq!(c.now(), Millis(10));
        c.advance(Duration::from_secs(1));
        assert_eq!(c.now(), Millis(1_010));
        c.set(Millis(3));
        assert_eq!(c.now(), Millis(3));
        assert_eq!(
            Millis(5).saturating_since(Millis(9)),
            Duration::ZERO,
            "a later start is zero, not a panic"
        );
    }
}
