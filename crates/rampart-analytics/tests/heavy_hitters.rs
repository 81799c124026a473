//! Heavy hitters in a skewed stream with a million distinct clients, and
//! memory that stays at its cap.

use rampart_analytics::{Aggregator, AggregatorConfig, MinuteBucket, RequestEvent};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

const T0: i64 = 1_767_225_600_000;
const HEAVY: u32 = 5;
const HEAVY_EACH: u32 = 100_000;
const ZIPF_KEYS: u32 = 10_000;
const ZIPF_SCALE: u32 = 50_000;
const SINGLETONS: u32 = 1_000_000;

fn ip(id: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(id))
}

/// Client ids of a shuffled stream: 5 clients with about 5% of the requests
/// each, 10,000 with Zipf-distributed counts (rank r sends 50,000 / r), and a
/// million that send one request each.
fn stream() -> Vec<u32> {
    let mut ids = Vec::new();
    for h in 0..HEAVY {
        ids.extend(std::iter::repeat_n(h, HEAVY_EACH as usize));
    }
    for r in 1..=ZIPF_KEYS {
        ids.extend(std::iter::repeat_n(
            0x0100_0000 + r,
            (ZIPF_SCALE / r) as usize,
        ));
    }
    ids.extend((0..SINGLETONS).map(|i| 0x1000_0000 + i));
    // Fisher-Yates with xorshift: deterministic, no dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..ids.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids.swap(i, (x % (i as u64 + 1)) as usize);
    }
    ids
}

fn true_counts(ids: &[u32]) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(ip(*id).to_string()).or_insert(0) += 1;
    }
    counts
}

fn check(bucket: &MinuteBucket, truth: &HashMap<String, u64>, n: u64, tracked_keys: u64) {
    let bound = n / tracked_keys;
    assert_eq!(bucket.counters.requests, n);
    let top: Vec<&str> = bucket
        .top_ips
        .iter()
        .take(5)
        .map(|(k, _)| k.as_str())
        .collect();
    let mut heavy: Vec<String> = (0..HEAVY).map(|h| ip(h).to_string()).collect();
    heavy.sort();
    let mut found: Vec<String> = top.iter().map(|s| s.to_string()).collect();
    found.sort();
    assert_eq!(found, heavy, "the five 5% clients lead the list");
    for (key, count) in &bucket.top_ips {
        let t = truth[key];
        assert!(
            count.abs_diff(t) <= bound,
            "{key}: reported {count}, true {t}, bound {bound}"
        );
    }
    // Zipf rank 1 (2.5%) and 2 (1.25%) are above N / k and must follow.
    let next: Vec<&str> = bucket.top_ips[5..7]
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert!(
        next.contains(&"1.0.0.1") && next.contains(&"1.0.0.2"),
        "{next:?}"
    );
}

#[test]
fn heavy_hitters_in_a_million_distinct_clients() {
    let ids = stream();
    let truth = true_counts(&ids);
    let n = ids.len() as u64;
    let site: Arc<str> = Arc::from("big");
    let config = AggregatorConfig {
        shards: 1,
        ..AggregatorConfig::default()
    };
    let tracked = config.tracked_keys as u64;
    let agg = Aggregator::new(config);
    for id in &ids {
        agg.record(
            &site,
            &RequestEvent {
                client_ip: ip(*id),
                unix_ms: T0,
                ..RequestEvent::default()
            },
        );
    }
    let stats = agg.stats();
    // One site-minute: 256 addresses, the one path, no country or rule.
    assert_eq!(stats.tracked_entries, 256 + 1);
    let bucket = agg.drain_all().remove(0);
    check(&bucket, &truth, n, tracked);
    // Space-Saving never under-counts within one sketch.
    for (key, count) in &bucket.top_ips {
        assert!(*count >= truth[key]);
    }
}

#[test]
fn heavy_hitters_merged_across_two_threads() {
    let ids = stream();
    let truth = true_counts(&ids);
    let n = ids.len() as u64;
    let site: Arc<str> = Arc::from("big");
    let config = AggregatorConfig {
        shards: 2,
        ..AggregatorConfig::default()
    };
    let tracked = config.tracked_keys as u64;
    let agg = Aggregator::new(config);
    std::thread::scope(|s| {
        for half in ids.chunks(ids.len().div_ceil(2)) {
            let (agg, site) = (&agg, &site);
            s.spawn(move || {
                for id in half {
                    agg.record(
                        site,
                        &RequestEvent {
                            client_ip: ip(*id),
                            unix_ms: T0,
                            ..RequestEvent::default()
                        },
                    );
                }
            });
        }
    });
    let buckets = agg.drain_all();
    assert_eq!(buckets.len(), 1);
    check(&buckets[0], &truth, n, tracked);
}

#[test]
fn memory_stays_at_the_cap_with_a_million_distinct_keys() {
    let config = AggregatorConfig {
        shards: 1,
        ..AggregatorConfig::default()
    };
    let k = config.tracked_keys;
    let worst = config.worst_case_bytes();
    let agg = Aggregator::new(config);
    let site: Arc<str> = Arc::from("attacked");
    let padding = "x".repeat(300);
    let mut bytes_at = Vec::new();
    for i in 0..1_000_000u32 {
        // Every dimension gets a new key on every request, paths longer than
        // the key limit.
        let path = format!("/{i}/{padding}");
        let rule = format!("rule-{i}");
        let rules = [rule.as_str()];
        let c = (i % 676) as u8;
        agg.record(
            &site,
            &RequestEvent {
                client_ip: IpAddr::V6(std::net::Ipv6Addr::from(u128::from(i) << 64)),
                country: Some([b'A' + c / 26, b'A' + c % 26]),
                path: &path,
                rules_hit: &rules,
                unix_ms: T0,
                ..RequestEvent::default()
            },
        );
        if i + 1 == 10_000 || i + 1 == 500_000 || i + 1 == 1_000_000 {
            let stats = agg.stats();
            assert_eq!(stats.open_buckets, 1);
            assert_eq!(
                stats.tracked_entries,
                4 * k,
                "every sketch is full, none larger"
            );
            bytes_at.push(stats.approx_bytes);
        }
    }
    // Whatever grew (slot arrays, key buffers, the index) stopped growing long
    // before the millionth distinct key.
    assert_eq!(bytes_at[1], bytes_at[2], "{bytes_at:?}");
    assert!(bytes_at[2] <= worst, "{bytes_at:?} > {worst}");
    eprintln!("one attacked site-minute: {bytes_at:?} bytes; bound for the whole config {worst}");
}

#[test]
fn memory_bound_holds_over_many_sites_and_minutes() {
    let config = AggregatorConfig {
        tracked_keys: 16,
        max_key_bytes: 32,
        max_sites: 8,
        max_open_minutes: 3,
        shards: 2,
        ..AggregatorConfig::default()
    };
    let worst = config.worst_case_bytes();
    let agg = Aggregator::new(config);
    let sites: Vec<Arc<str>> = (0..50).map(|i| Arc::from(format!("site{i}"))).collect();
    let mut peak = 0;
    std::thread::scope(|s| {
        for t in 0..2u32 {
            let (agg, sites) = (&agg, &sites);
            s.spawn(move || {
                for minute in 0..20i64 {
                    for (i, site) in sites.iter().enumerate() {
                        for j in 0..40u32 {
                            let path = format!("/{t}/{i}/{j}/{}", "y".repeat(j as usize));
                            agg.record(
                                site,
                                &RequestEvent {
                                    client_ip: ip(t << 30 | (i as u32) << 8 | j),
                                    path: &path,
                                    unix_ms: T0 + minute * 60_000,
                                    ..RequestEvent::default()
                                },
                            );
                        }
                    }
                    if minute % 5 == 4 {
                        // Only now and then: minutes pile up to the cap.
                        agg.drain_closed(T0 + minute * 60_000);
                    }
                }
            });
        }
        for _ in 0..200 {
            peak = peak.max(agg.stats().approx_bytes);
            std::thread::yield_now();
        }
    });
    let stats = agg.stats();
    peak = peak.max(stats.approx_bytes);
    assert!(stats.open_buckets <= 2 * 3 * 9, "{stats:?}");
    assert!(stats.spare_buckets <= 2 * 9, "{stats:?}");
    assert!(peak <= worst, "peak {peak} > bound {worst}");
}
