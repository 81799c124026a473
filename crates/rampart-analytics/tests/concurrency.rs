//! Many threads record into one aggregator; totals must be exact.

use rampart_analytics::{Aggregator, AggregatorConfig, MinuteBucket, RequestEvent, Verdict};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const T0: i64 = 1_767_225_600_000;
const THREADS: usize = 8;
const PER_THREAD: u64 = 40_000;

fn event(t: usize, i: u64) -> RequestEvent<'static> {
    RequestEvent {
        status: [200, 404, 503][(i % 3) as usize],
        bytes_in: 1,
        bytes_out: i % 1000,
        verdict: if i.is_multiple_of(10) {
            Verdict::Blocked
        } else {
            Verdict::Passed
        },
        client_ip: IpAddr::V4(Ipv4Addr::from((t as u32) << 24 | (i % 5000) as u32)),
        path: ["/", "/a", "/b"][(i % 3) as usize],
        // Ten minutes over the run, so minutes close while threads record.
        unix_ms: T0 + (i * 10 * 60_000 / PER_THREAD) as i64,
        ..RequestEvent::default()
    }
}

fn totals(buckets: &[MinuteBucket]) -> (u64, u64, u64, u64, u64, u64) {
    let sum = |f: fn(&MinuteBucket) -> u64| buckets.iter().map(f).sum::<u64>();
    (
        sum(|b| b.counters.requests),
        sum(|b| b.counters.bytes_in),
        sum(|b| b.counters.bytes_out),
        sum(|b| b.counters.status_2xx + b.counters.status_4xx + b.counters.status_5xx),
        sum(|b| b.counters.blocked),
        sum(|b| b.counters.passed),
    )
}

fn expected() -> (u64, u64, u64, u64, u64, u64) {
    let n = THREADS as u64 * PER_THREAD;
    let out: u64 = (0..PER_THREAD).map(|i| i % 1000).sum::<u64>() * THREADS as u64;
    let blocked = PER_THREAD.div_ceil(10) * THREADS as u64;
    (n, n, out, n, blocked, n - blocked)
}

fn run(shards: usize) {
    // Threads run at different paces, so one shard may see all ten minutes
    // open at once; room for them keeps this test about exact sums.
    let agg = Aggregator::new(AggregatorConfig {
        shards,
        max_open_minutes: 60,
        ..AggregatorConfig::default()
    });
    let sites: Vec<Arc<str>> = ["a", "b", "c"].into_iter().map(Arc::from).collect();
    let done = AtomicBool::new(false);
    let mut drained = Vec::new();
    std::thread::scope(|s| {
        let recorders: Vec<_> = (0..THREADS)
            .map(|t| {
                let (agg, sites) = (&agg, &sites);
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        agg.record(&sites[(i as usize + t) % 3], &event(t, i));
                    }
                })
            })
            .collect();
        // A flusher drains while the recorders run, with a clock that follows
        // theirs; events for a minute it already closed start a new bucket,
        // which the store merges.
        let drainer = s.spawn(|| {
            let mut out = Vec::new();
            let mut minute = 0;
            while !done.load(Ordering::Relaxed) {
                out.extend(agg.drain_closed(T0 + minute * 60_000));
                minute = (minute + 1) % 11;
                std::thread::yield_now();
            }
            out
        });
        for r in recorders {
            r.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        drained = drainer.join().unwrap();
    });
    drained.extend(agg.drain_all());
    assert_eq!(agg.stats().dropped_events, 0);
    assert_eq!(totals(&drained), expected());
    for b in &drained {
        assert!(["a", "b", "c"].contains(&b.site.as_str()));
        let ips: u64 = b.top_ips.iter().map(|(_, n)| n).sum();
        assert!(ips <= b.counters.requests);
    }
}

#[test]
fn eight_threads_one_shard() {
    run(1);
}

#[test]
fn eight_threads_two_shards() {
    run(2);
}

#[test]
fn eight_threads_eight_shards() {
    run(8);
}
