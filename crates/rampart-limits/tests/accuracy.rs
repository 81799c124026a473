//! The sliding-window estimate against an exact sliding count kept as a log
//! of every hit.
//!
//! * Any trace: the store's `previous` and `current` are exactly the hits in
//!   those windows, so the estimate lies between the exact count since the
//!   window start and the exact count since one period before it.
//! * Steady load (a constant rate, jittered timestamps): the estimate is
//!   within 2% of the exact count over the last period.

use proptest::prelude::*;
use rampart_limits::{CounterStore, CountersConfig, KeyHasher, LocalCounters, Millis};
use std::time::Duration;

const T0: u64 = 1_767_225_600_000;

fn store() -> LocalCounters {
    LocalCounters::new(
        CountersConfig {
            max_keys: 64,
            shards: 1,
            record_deltas: false,
        },
        &KeyHasher::from_seed([1; 16]),
    )
    .unwrap()
}

/// Every hit ever made, for exact counts over any interval.
struct ExactLog(Vec<(u64, u32)>);

impl ExactLog {
    /// Hits with `from <= t <= to`.
    fn count(&self, from: u64, to: u64) -> u64 {
        self.0
            .iter()
            .filter(|&&(t, _)| t >= from && t <= to)
            .map(|&(_, c)| u64::from(c))
            .sum()
    }
}

/// A constant rate of `per_period` hits per `period_ms`, each timestamp
/// moved by up to `jitter` of the gap between hits.
fn steady_trace(period_ms: u64, per_period: u64, periods: u64, jitter: f64, seed: u64) -> Vec<u64> {
    let gap = period_ms as f64 / per_period as f64;
    let mut rng = seed | 1;
    let mut times: Vec<u64> = (0..per_period * periods)
        .map(|i| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let u = (rng >> 11) as f64 / (1u64 << 53) as f64 - 0.5; // -0.5 .. 0.5
            let t = (i as f64 + 0.5 + u * 2.0 * jitter) * gap;
            T0 + t.max(0.0) as u64
        })
        .collect();
    times.sort_unstable();
    times
}

/// Worst relative error of the estimate over a steady trace, measured at
/// every hit after the first two periods (before that there is no previous
/// window to weigh).
fn worst_steady_error(period_ms: u64, per_period: u64, jitter: f64, seed: u64) -> f64 {
    let s = store();
    let key = KeyHasher::from_seed([1; 16]).key().finish();
    let period = Duration::from_millis(period_ms);
    let times = steady_trace(period_ms, per_period, 6, jitter, seed);
    let mut worst = 0.0f64;
    // The trace is sorted, so the exact sliding count is the distance to
    // the oldest hit still inside the period.
    let mut oldest = 0;
    for (n, &t) in times.iter().enumerate() {
        let c = s.hit(&key, Millis(t), period, 1);
        while times.get(oldest).is_some_and(|&o| o + period_ms <= t) {
            oldest += 1;
        }
        if t >= T0 + 2 * period_ms {
            let exact = (n + 1 - oldest) as f64;
            let err = (c.estimate() as f64 - exact).abs() / exact;
            worst = worst.max(err);
        }
    }
    worst
}

#[test]
fn steady_load_is_within_two_percent() {
    for (period_ms, per_period, jitter) in [
        (60_000, 1_000, 0.5),
        (10_000, 500, 0.3),
        (1_000, 2_000, 0.5),
        (3_600_000, 600, 0.5),
    ] {
        let worst = worst_steady_error(period_ms, per_period, jitter, 42);
        assert!(
            worst <= 0.02,
            "period {period_ms} ms, {per_period}/period: worst error {:.2}%",
            worst * 100.0
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn steady_random_traces_are_within_two_percent(
        period_ms in 1_000u64..120_000,
        per_period in 500u64..3_000,
        jitter in 0.0f64..0.5,
        seed in any::<u64>(),
    ) {
        let worst = worst_steady_error(period_ms, per_period, jitter, seed);
        prop_assert!(worst <= 0.02, "worst error {:.2}%", worst * 100.0);
    }

    #[test]
    fn any_trace_counts_windows_exactly_and_bounds_the_estimate(
        period_ms in 1u64..5_000,
        steps in proptest::collection::vec((0u64..3_000, 0u32..20, any::<bool>()), 1..300),
    ) {
        let s = store();
        let key = KeyHasher::from_seed([1; 16]).key().finish();
        let period = Duration::from_millis(period_ms);
        let mut log = ExactLog(Vec::new());
        let mut now = T0;
        for (gap, cost, peek) in steps {
            now += gap;
            let c = if peek {
                s.peek(&key, Millis(now), period)
            } else {
                log.0.push((now, cost));
                s.hit(&key, Millis(now), period, cost)
            };
            let ws = now - now % period_ms;
            prop_assert_eq!(c.window_start, Millis(ws));
            prop_assert_eq!(c.current, log.count(ws, now));
            prop_assert_eq!(c.previous, log.count(ws.saturating_sub(period_ms), ws - 1));
            let e = c.estimate();
            prop_assert!(c.current <= e && e <= c.previous + c.current);
            // And so it brackets the exact sliding count's possible values.
            prop_assert!(e <= log.count(ws.saturating_sub(period_ms), now));
        }
    }
}
