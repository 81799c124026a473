//! `LocalCounters`: window arithmetic, bounded memory, the eviction policy,
//! exact sums under threads, and the delta hooks for a shared tier.

use rampart_limits::{
    CounterStore, CountersConfig, Delta, KeyHasher, LimitKey, LocalCounters, Millis,
};
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_767_225_600_000; // a multiple of every period used here
const MIN: Duration = Duration::from_secs(60);

fn hasher() -> KeyHasher {
    KeyHasher::from_seed([3; 16])
}

fn key(i: u64) -> LimitKey {
    hasher().key().bytes(&i.to_le_bytes()).finish()
}

fn store(max_keys: usize, shards: usize, record_deltas: bool) -> LocalCounters {
    let config = CountersConfig {
        max_keys,
        shards,
        record_deltas,
    };
    LocalCounters::new(config, &hasher()).unwrap()
}

#[test]
fn hits_accumulate_and_windows_slide() {
    let s = store(1_000, 4, false);
    let k = key(1);
    for _ in 0..10 {
        s.hit(&k, Millis(T0 + 1_000), MIN, 1);
    }
    let c = s.hit(&k, Millis(T0 + 2_000), MIN, 5);
    assert_eq!((c.previous, c.current, c.estimate()), (0, 15, 15));
    assert_eq!(c.window_start, Millis(T0));
    // Halfway into the next window, half of the previous window still counts.
    let c = s.peek(&k, Millis(T0 + 90_000), MIN);
    assert_eq!(
        (c.previous, c.current, c.estimate()),
        (15, 0, 8),
        "7.5 rounds up"
    );
    let c = s.hit(&k, Millis(T0 + 90_000), MIN, 1);
    assert_eq!((c.previous, c.current, c.estimate()), (15, 1, 9));
    // Two windows later nothing is left.
    assert_eq!(s.peek(&k, Millis(T0 + 180_000), MIN).estimate(), 0);
    // Peeking never counts, and an unknown key is zero.
    assert_eq!(s.peek(&k, Millis(T0 + 90_000), MIN).estimate(), 9);
    assert_eq!(s.peek(&key(2), Millis(T0), MIN).estimate(), 0);
    assert_eq!(s.len(), 1);
}

#[test]
fn a_clock_stepping_back_counts_into_the_newest_window() {
    let s = store(1_000, 1, false);
    let k = key(1);
    s.hit(&k, Millis(T0 + 61_000), MIN, 3);
    let c = s.hit(&k, Millis(T0 + 59_000), MIN, 1);
    assert_eq!(c.window_start, Millis(T0 + 60_000));
    assert_eq!((c.previous, c.current, c.estimate()), (0, 4, 4));
}

#[test]
fn a_changed_period_starts_over() {
    let s = store(1_000, 1, false);
    let k = key(1);
    s.hit(&k, Millis(T0), MIN, 7);
    assert_eq!(
        s.peek(&k, Millis(T0), Duration::from_secs(10)).estimate(),
        0
    );
    assert_eq!(
        s.hit(&k, Millis(T0), Duration::from_secs(10), 1).estimate(),
        1
    );
}

#[test]
fn configuration_is_checked() {
    let bad = |max_keys, shards| {
        LocalCounters::new(
            CountersConfig {
                max_keys,
                shards,
                record_deltas: false,
            },
            &hasher(),
        )
        .is_err()
    };
    assert!(bad(0, 4));
    assert!(bad(100, 0));
    assert!(bad(100, 5_000));
    assert!(!bad(1, 1));
    assert_eq!(store(1_000, 64, false).capacity(), 1_024);
}

/// Ten million distinct keys through a store sized for 100,000: the number
/// of entries never exceeds the bound.
#[test]
fn memory_stays_bounded_under_ten_million_distinct_keys() {
    let s = Arc::new(store(100_000, 64, true));
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let h = hasher();
                for i in 0..5_000_000u64 {
                    let k = h.key().bytes(&(t << 40 | i).to_le_bytes()).finish();
                    s.hit(&k, Millis(T0 + i / 1_000), MIN, 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(s.len() <= s.capacity(), "{} > {}", s.len(), s.capacity());
    assert_eq!(s.len(), s.capacity(), "a full store stays full");
    // The dirty list is bounded too: one delta per held key at most (plus
    // one for the previous window).
    let mut out = Vec::new();
    s.drain_deltas(&mut out);
    assert!(out.len() <= 2 * s.capacity(), "{} deltas", out.len());
}

/// A flood of new keys, each hit once, replaces other light keys; the keys
/// carrying real counts survive it.
#[test]
fn eviction_keeps_heavy_keys_under_a_flood() {
    let s = store(2_000, 4, false);
    let now = Millis(T0 + 1_000);
    // 100 heavy keys at 50 hits each, 1,000 light keys at 1 hit.
    for i in 0..100 {
        s.hit(&key(i), now, MIN, 50);
    }
    for i in 1_000..2_000 {
        s.hit(&key(i), now, MIN, 1);
    }
    for i in 10_000..200_000 {
        s.hit(&key(i), now, MIN, 1);
    }
    let survivors = (0..100)
        .filter(|&i| s.peek(&key(i), now, MIN).estimate() == 50)
        .count();
    assert_eq!(survivors, 100, "heavy keys must not be evicted by a flood");
    assert!(s.len() <= s.capacity());
}

/// Keys whose windows have passed go first, even before light live keys.
#[test]
fn eviction_prefers_expired_keys() {
    let s = store(1_000, 1, false);
    // 500 keys with big counts two periods ago: expired.
    for i in 0..500 {
        s.hit(&key(i), Millis(T0), MIN, 1_000);
    }
    // 500 live keys with one hit each, now.
    let now = Millis(T0 + 3 * 60_000);
    for i in 500..1_000 {
        s.hit(&key(i), now, MIN, 1);
    }
    // 200 newcomers: each replaces the cheapest of its sample, and an
    // expired key is in almost every sample of eight.
    for i in 2_000..2_200 {
        s.hit(&key(i), now, MIN, 2);
    }
    let live_left = (500..1_000)
        .filter(|&i| s.peek(&key(i), now, MIN).estimate() == 1)
        .count();
    assert!(live_left >= 490, "only {live_left} of 500 live keys left");
    let newcomers = (2_000..2_200)
        .filter(|&i| s.peek(&key(i), now, MIN).estimate() == 2)
        .count();
    assert_eq!(newcomers, 200, "newcomers do not evict each other first");
}

/// Eight threads hitting overlapping keys: every hit is counted.
#[test]
fn eight_threads_sum_exactly() {
    let s = Arc::new(store(10_000, 16, false));
    let now = Millis(T0 + 5);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    s.hit(&key(i % 64), now, MIN, 1 + (t % 2) as u32);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Per key: its share of each thread's 20,000 hits, half the threads at
    // cost 2.
    for k in 0..64 {
        let hits_per_thread = (0..20_000u64).filter(|i| i % 64 == k).count() as u64;
        let want = hits_per_thread * (4 + 4 * 2);
        assert_eq!(s.peek(&key(k), now, MIN).current, want, "key {k}");
    }
}

#[test]
fn deltas_drain_once_per_window_and_remote_totals_only_raise_counts() {
    let s = store(1_000, 2, true);
    let (a, b) = (key(1), key(2));
    s.hit(&a, Millis(T0 + 10), MIN, 2);
    s.hit(&a, Millis(T0 + 20), MIN, 3);
    s.hit(&b, Millis(T0 + 30), MIN, 1);
    // `a` moves into the next window with its first window still undrained.
    s.hit(&a, Millis(T0 + 60_010), MIN, 4);
    let mut out = Vec::new();
    s.drain_deltas(&mut out);
    out.sort_by_key(|d| (d.key, d.window_start));
    let mut want = vec![
        Delta {
            key: a,
            window_start: Millis(T0),
            period: MIN,
            count: 5,
        },
        Delta {
            key: a,
            window_start: Millis(T0 + 60_000),
            period: MIN,
            count: 4,
        },
        Delta {
            key: b,
            window_start: Millis(T0),
            period: MIN,
            count: 1,
        },
    ];
    want.sort_by_key(|d| (d.key, d.window_start));
    assert_eq!(out, want);
    out.clear();
    s.drain_deltas(&mut out);
    assert!(out.is_empty(), "drained deltas are gone");

    // The shared tier says others added 100 to this window: local count is
    // the total plus what was hit here since the drain.
    s.hit(&a, Millis(T0 + 60_020), MIN, 1);
    s.merge_remote(&a, Millis(T0 + 60_000), MIN, 104);
    assert_eq!(s.peek(&a, Millis(T0 + 60_020), MIN).current, 105);
    // A stale, smaller total does not lower it.
    s.merge_remote(&a, Millis(T0 + 60_000), MIN, 50);
    assert_eq!(s.peek(&a, Millis(T0 + 60_020), MIN).current, 105);
    // The previous window's final total, and an unknown key from elsewhere.
    s.merge_remote(&a, Millis(T0), MIN, 40);
    assert_eq!(s.peek(&a, Millis(T0 + 60_020), MIN).previous, 40);
    let c = key(3);
    s.merge_remote(&c, Millis(T0 + 60_000), MIN, 9);
    assert_eq!(s.peek(&c, Millis(T0 + 60_020), MIN).current, 9);
    // Too old to matter: ignored.
    s.merge_remote(&a, Millis(T0 - 60_000), MIN, 1_000);
    assert_eq!(s.peek(&a, Millis(T0 + 60_020), MIN).estimate(), 105 + 40);
    // Only the local hit since the drain is a delta, not the merged totals.
    out.clear();
    s.drain_deltas(&mut out);
    assert_eq!(out.iter().map(|d| d.count).sum::<u32>(), 1);
}

#[test]
fn without_delta_recording_nothing_is_drained() {
    let s = store(1_000, 2, false);
    s.hit(&key(1), Millis(T0), MIN, 1);
    let mut out = Vec::new();
    s.drain_deltas(&mut out);
    assert!(out.is_empty());
}
