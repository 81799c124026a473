//! The request-path costs: a rate-limit decision (build the key from the
//! characteristics, count, decide) with 100,000 live keys, its variants
//! (a flood of new keys evicting, a key in the penalty box, two threads),
//! and a connection acquire/release.
//!
//! Target from the spec: a decision in 300 ns or less on one thread.
#![forbid(unsafe_code)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_limits::{
    Action, ConcurrencyConfig, ConcurrencyLimiter, CountersConfig, Counting, KeyHasher, LimitKey,
    LimitRule, LocalCounters, Millis, RateLimiter,
};
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: u64 = 1_767_225_600_000;
const LIVE_KEYS: u32 = 100_000;

fn rule() -> LimitRule {
    LimitRule {
        period: Duration::from_secs(60),
        requests: 1_000,
        mitigation_timeout: Duration::from_secs(60),
        action: Action::Block,
        counting: Counting::EveryRequest,
    }
}

/// The `i`-th client: a scrambled walk over `n` addresses, so consecutive
/// decisions touch unrelated memory as real traffic does.
fn client(i: u32, n: u32) -> IpAddr {
    let x = i.wrapping_mul(2_654_435_761) % n;
    IpAddr::from((0x0a00_0000 | x).to_be_bytes())
}

/// What the edge would do per request for a rule counting by site, rule,
/// client address and user agent.
fn build_key(h: &KeyHasher, ip: IpAddr) -> LimitKey {
    h.key()
        .site("3f2c9a1e-site")
        .rule("api-burst")
        .client_ip(ip)
        .header(b"user-agent", Some(b"Mozilla/5.0 (X11; Linux x86_64)"))
        .finish()
}

fn limiter(h: &KeyHasher, max_keys: usize) -> RateLimiter {
    let config = CountersConfig {
        max_keys,
        shards: 64,
        record_deltas: false,
    };
    RateLimiter::new(LocalCounters::new(config, h).unwrap(), 100_000, h).unwrap()
}

/// A limiter holding `LIVE_KEYS` keys, each hit once.
fn warm_limiter(h: &KeyHasher, max_keys: usize) -> RateLimiter {
    let l = limiter(h, max_keys);
    let r = rule();
    for i in 0..LIVE_KEYS {
        l.check(&r, &build_key(h, client(i, LIVE_KEYS)), Millis(T0));
    }
    l
}

fn decisions(c: &mut Criterion) {
    let h = KeyHasher::random();
    let r = rule();
    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(1));

    group.bench_function("key_build_only", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(build_key(&h, client(i, LIVE_KEYS)))
        })
    });

    // The spec's case: 100,000 live keys in a store with room for a million.
    let l = warm_limiter(&h, 1_000_000);
    group.bench_function("key_hit_decide_100k_live", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            // Time moves 1 ms every 1,000 decisions: windows roll now and then.
            let now = Millis(T0 + u64::from(i / 1_000));
            black_box(l.check(&r, &build_key(&h, client(i, LIVE_KEYS)), now))
        })
    });

    // Every request from a never-seen client, into a full store: each one
    // samples eight slots and evicts.
    let full = warm_limiter(&h, LIVE_KEYS as usize);
    group.bench_function("key_hit_decide_new_key_evicting", |b| {
        let mut i = LIVE_KEYS;
        b.iter(|| {
            i = i.wrapping_add(1);
            let ip = IpAddr::from(i.wrapping_mul(2_654_435_761).to_be_bytes());
            black_box(full.check(&r, &build_key(&h, ip), Millis(T0 + 1)))
        })
    });

    // A client in the penalty box: the cheapest path, no counting.
    let boxed = limiter(&h, 1_000);
    let strict = LimitRule {
        requests: 1,
        ..rule()
    };
    let k = build_key(&h, client(1, 1));
    boxed.check(&strict, &k, Millis(T0));
    boxed.check(&strict, &k, Millis(T0));
    group.bench_function("key_check_penalized", |b| {
        b.iter(|| black_box(boxed.check(&strict, &build_key(&h, client(1, 1)), Millis(T0 + 1))))
    });

    // Two threads deciding at once on the 100k-key store: time per decision
    // per thread, throughput of both together.
    group.throughput(Throughput::Elements(2));
    group.bench_function("key_hit_decide_100k_live_2_threads", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..2u32 {
                    let (l, h, r) = (&l, &h, &r);
                    s.spawn(move || {
                        for n in 0..iters as u32 {
                            let i = n.wrapping_mul(2).wrapping_add(t);
                            let now = Millis(T0 + u64::from(i / 1_000));
                            black_box(l.check(r, &build_key(h, client(i, LIVE_KEYS)), now));
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    group.finish();
}

fn connections(c: &mut Criterion) {
    let h = KeyHasher::random();
    let mut group = c.benchmark_group("concurrency");
    group.throughput(Throughput::Elements(1));
    let config = ConcurrencyConfig {
        per_ip: 1_000,
        per_prefix: 10_000,
        ..ConcurrencyConfig::default()
    };
    let conns = Arc::new(ConcurrencyLimiter::new(config, h.clone()).unwrap());
    // 10,000 clients already connected, so the table has a working size.
    let held: Vec<_> = (0..10_000)
        .map(|i| conns.try_acquire(client(i, 10_000)).unwrap())
        .collect();
    group.bench_function("acquire_release_10k_open", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            let g = conns.try_acquire(black_box(client(i, 10_000)));
            drop(black_box(g));
        })
    });
    group.bench_function("acquire_release_new_address", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            // Addresses outside the held ones: insert and remove each time.
            let ip = IpAddr::from((0xc000_0000 | (i & 0xffff)).to_be_bytes());
            drop(black_box(conns.try_acquire(ip)));
        })
    });
    drop(held);
    group.finish();
}

criterion_group!(benches, decisions, connections);
criterion_main!(benches);
