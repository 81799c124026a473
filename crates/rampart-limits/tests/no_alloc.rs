//! The request path allocates nothing once the tables are warm: building a
//! key, a rate-limit check (with hits, window changes, evictions, penalty
//! box entries) and a connection acquire/release.
//!
//! A counting global allocator sees every allocation of this process, so this
//! file runs without the libtest harness (`harness = false`): its main thread
//! is the only thread, and nothing else allocates while it measures (libtest's
//! own thread was seen allocating mid-measurement in another crate's test).
#![forbid(unsafe_code)]

use rampart_limits::{
    Action, ConcurrencyConfig, ConcurrencyLimiter, CountersConfig, Counting, Decision, Delta,
    KeyHasher, LimitRule, LocalCounters, Millis, RateLimiter,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const T0: u64 = 1_767_225_600_000;

fn main() {
    the_request_path_does_not_allocate_in_steady_state();
    println!("no_alloc: the request path allocates nothing in steady state: ok");
}

fn the_request_path_does_not_allocate_in_steady_state() {
    let hasher = KeyHasher::from_seed([4; 16]);
    let config = CountersConfig {
        max_keys: 4_096,
        shards: 4,
        record_deltas: true,
    };
    let limiter =
        RateLimiter::new(LocalCounters::new(config, &hasher).unwrap(), 256, &hasher).unwrap();
    let rule = LimitRule {
        period: Duration::from_secs(10),
        requests: 5,
        mitigation_timeout: Duration::from_secs(30),
        action: Action::Block,
        counting: Counting::EveryRequest,
    };
    let conns =
        Arc::new(ConcurrencyLimiter::new(ConcurrencyConfig::default(), hasher.clone()).unwrap());
    let mut deltas: Vec<Delta> = Vec::new();

    let round = |from: u32, now: u64, deltas: &mut Vec<Delta>| {
        let mut limited = 0;
        for i in from..from + 20_000 {
            // Half the requests from 100 busy addresses (limited, penalty
            // box), half from 10,000 others: more keys than the store holds,
            // so the warm path includes evictions.
            let n = if i % 2 == 0 {
                i % 100
            } else {
                1_000 + i % 10_000
            };
            let ip = IpAddr::from(n.to_be_bytes());
            let key = hasher
                .key()
                .site("site")
                .rule("rule")
                .client_ip(ip)
                .header(b"user-agent", Some(b"curl/8"))
                .path(b"/login")
                .finish();
            if limiter.check(&rule, &key, Millis(now + u64::from(i))) != Decision::Allow {
                limited += 1;
            }
            let g = conns.try_acquire(ip).ok();
            drop(g);
        }
        deltas.clear();
        limiter.store().drain_deltas(deltas);
        limited
    };

    // Warm up: tables, dirty lists and the deltas buffer reach their size.
    for r in 0..6 {
        round(r * 7, T0 + u64::from(r) * 20_000, &mut deltas);
    }
    let region = Region::new(GLOBAL);
    let mut limited = 0;
    for r in 6..12 {
        limited += round(r * 7, T0 + u64::from(r) * 20_000, &mut deltas);
    }
    let stats = region.change();
    assert!(limited > 0, "the rounds must exercise the limited path");
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
}
