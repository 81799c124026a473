//! Cost of `Aggregator::record` on the edge's hot path (target: < 1 µs).
//!
//! The realistic mix: 90% of requests from a pool of known clients (200) and
//! paths (100), 10% from never-seen ones (which replace a sketch's minimum), statuses,
//! verdicts and countries varied, a rule hit now and then. Two threads
//! record at once to show what sharding leaves of lock contention, and the
//! same on a single shard for comparison. "all_new" is an attack: every
//! request from a new address with a new path.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_analytics::{Aggregator, AggregatorConfig, CacheStatus, RequestEvent, Verdict};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: i64 = 1_767_225_600_000;
/// Fewer than the 256 tracked per sketch: a repeat is a hit, the common case.
const KNOWN_IPS: u32 = 200;
const COUNTRIES: [[u8; 2]; 6] = [*b"US", *b"DE", *b"FR", *b"BR", *b"IN", *b"JP"];

struct Mix {
    known_paths: Vec<String>,
    new_paths: Vec<String>,
}

impl Mix {
    fn new() -> Self {
        Self {
            known_paths: (0..100)
                .map(|i| format!("/shop/category/{i}/items"))
                .collect(),
            new_paths: (0..65_536)
                .map(|i| format!("/search/{i:08x}/results"))
                .collect(),
        }
    }

    /// The `i`-th request of thread `t`; `new_every` = 10 gives 10% new keys.
    fn record(&self, agg: &Aggregator, site: &Arc<str>, t: u32, i: u32, new_every: u32) {
        let new = i.is_multiple_of(new_every);
        let ip = if new {
            // Unique per thread and iteration: never seen before.
            0x4000_0000 | (t << 28) | (i & 0x0fff_ffff)
        } else {
            i.wrapping_mul(2_654_435_761) % KNOWN_IPS
        };
        let path = if new {
            self.new_paths.get(i as usize % self.new_paths.len())
        } else {
            self.known_paths.get(i as usize % self.known_paths.len())
        };
        let rule = ["sqli-001"];
        agg.record(
            site,
            &RequestEvent {
                status: [200, 200, 200, 304, 404, 200, 502, 200][(i % 8) as usize],
                bytes_in: 400,
                bytes_out: u64::from(i % 50_000),
                verdict: match i % 100 {
                    0 => Verdict::Blocked,
                    1 => Verdict::Challenged,
                    2 => Verdict::RateLimited,
                    _ => Verdict::Passed,
                },
                cache: CacheStatus::None,
                client_ip: IpAddr::V4(Ipv4Addr::from(ip)),
                country: Some(COUNTRIES[(i % 6) as usize]),
                path: path.map_or("/", String::as_str),
                rules_hit: if i.is_multiple_of(100) { &rule } else { &[] },
                unix_ms: T0 + i64::from(i % 60_000),
            },
        );
    }
}

fn aggregator(shards: usize) -> Aggregator {
    Aggregator::new(AggregatorConfig {
        shards,
        ..AggregatorConfig::default()
    })
}

/// Each of `threads` threads records `iters` events; the returned time is
/// the wall time, so it reads as the cost of one record per thread while all
/// of them record.
fn concurrent(agg: &Aggregator, mix: &Mix, site: &Arc<str>, threads: u32, iters: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..iters {
                    mix.record(agg, site, t, i as u32, 10);
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mix = Mix::new();
    let site: Arc<str> = Arc::from("shop");
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(1));

    let agg = aggregator(2);
    let mut i = 0u32;
    group.bench_function("mix_1_thread", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            mix.record(black_box(&agg), &site, 0, i, 10);
        })
    });

    let agg = aggregator(2);
    let mut i = 0u32;
    group.bench_function("all_new_1_thread", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            mix.record(black_box(&agg), &site, 0, i, 1);
        })
    });

    // Time is per iteration of each thread, so two records happen per
    // iteration: throughput counts both.
    group.throughput(Throughput::Elements(2));
    let agg = aggregator(2);
    group.bench_function("mix_2_threads_2_shards", |b| {
        b.iter_custom(|iters| concurrent(&agg, &mix, &site, 2, iters))
    });

    let agg = aggregator(1);
    group.bench_function("mix_2_threads_1_shard", |b| {
        b.iter_custom(|iters| concurrent(&agg, &mix, &site, 2, iters))
    });
    group.finish();

    // A flush: two shards' worth of one busy site-minute merged into a bucket.
    let mut group = c.benchmark_group("drain");
    let agg = aggregator(2);
    group.bench_function("one_full_site_minute_2_shards", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                concurrent(&agg, &mix, &site, 2, 5_000);
                let start = Instant::now();
                black_box(agg.drain_all());
                spent += start.elapsed();
            }
            spent
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
