//! Exact counters, minutes, draining, the caps and odd input.

use rampart_analytics::{
    Aggregator, AggregatorConfig, CacheStatus, MinuteBucket, OTHER_SITE, RequestEvent, Verdict,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

const MINUTE_MS: i64 = 60_000;
/// 2026-01-01T00:00:00Z, a minute start.
const T0: i64 = 1_767_225_600_000;

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

fn event(unix_ms: i64) -> RequestEvent<'static> {
    RequestEvent {
        unix_ms,
        client_ip: ip(0x0a00_0001),
        ..RequestEvent::default()
    }
}

fn one_shard() -> Aggregator {
    Aggregator::new(AggregatorConfig {
        shards: 1,
        ..AggregatorConfig::default()
    })
}

fn only(buckets: Vec<MinuteBucket>) -> MinuteBucket {
    assert_eq!(buckets.len(), 1, "{buckets:#?}");
    buckets.into_iter().next().unwrap()
}

#[test]
fn counters_are_exact() {
    let agg = one_shard();
    let site: Arc<str> = Arc::from("shop");
    let statuses = [101, 200, 204, 301, 304, 404, 429, 500, 503, 0, 999];
    let verdicts = [
        Verdict::Passed,
        Verdict::Blocked,
        Verdict::Challenged,
        Verdict::RateLimited,
    ];
    let caches = [
        CacheStatus::None,
        CacheStatus::Hit,
        CacheStatus::Miss,
        CacheStatus::Bypass,
    ];
    let mut n = 0u64;
    for (i, status) in statuses.iter().enumerate() {
        for (j, verdict) in verdicts.iter().enumerate() {
            for (k, cache) in caches.iter().enumerate() {
                n += 1;
                agg.record(
                    &site,
                    &RequestEvent {
                        status: *status,
                        bytes_in: 10,
                        bytes_out: 1000 + n,
                        verdict: *verdict,
                        cache: *cache,
                        unix_ms: T0 + (i * 16 + j * 4 + k) as i64,
                        ..event(T0)
                    },
                );
            }
        }
    }
    let b = only(agg.drain_all());
    assert_eq!(b.site, "shop");
    assert_eq!(b.minute, T0 / 1000);
    assert_eq!(b.counters.requests, n);
    assert_eq!(b.counters.bytes_in, 10 * n);
    assert_eq!(b.counters.bytes_out, 1000 * n + n * (n + 1) / 2);
    let per_status = 16;
    assert_eq!(b.counters.status_1xx, per_status);
    assert_eq!(b.counters.status_2xx, 2 * per_status);
    assert_eq!(b.counters.status_3xx, 2 * per_status);
    assert_eq!(b.counters.status_4xx, 2 * per_status);
    assert_eq!(b.counters.status_5xx, 2 * per_status);
    let per_verdict = statuses.len() as u64 * 4;
    assert_eq!(
        (
            b.counters.passed,
            b.counters.blocked,
            b.counters.challenged,
            b.counters.rate_limited
        ),
        (per_verdict, per_verdict, per_verdict, per_verdict)
    );
    assert_eq!(
        (
            b.counters.cache_hit,
            b.counters.cache_miss,
            b.counters.cache_bypass
        ),
        (per_verdict, per_verdict, per_verdict),
        "CacheStatus::None counts in none of them"
    );
}

#[test]
fn top_lists_name_ips_countries_paths_and_rules() {
    let agg = one_shard();
    let site: Arc<str> = Arc::from("shop");
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    for (client_ip, country, path, rules, times) in [
        (
            mapped,
            Some(*b"de"),
            "/login?user=a",
            &["sqli", "xss"][..],
            3,
        ),
        (
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            Some(*b"DE"),
            "/login?user=b",
            &["sqli"][..],
            2,
        ),
        (v6, Some(*b"FR"), "/", &[][..], 4),
        (v6, None, "/", &[][..], 1),
    ] {
        for _ in 0..times {
            agg.record(
                &site,
                &RequestEvent {
                    client_ip,
                    country,
                    path,
                    rules_hit: rules,
                    ..event(T0)
                },
            );
        }
    }
    let b = only(agg.drain_all());
    let s = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    assert_eq!(b.top_ips, s(&[("192.0.2.7", 5), ("2001:db8::1", 5)]));
    assert_eq!(b.top_countries, s(&[("DE", 5), ("FR", 4)]));
    assert_eq!(b.top_paths, s(&[("/", 5), ("/login", 5)]));
    assert_eq!(b.top_rules, s(&[("sqli", 5), ("xss", 3)]));
}

#[test]
fn top_n_cuts_the_lists() {
    let agg = Aggregator::new(AggregatorConfig {
        top_n: 3,
        shards: 1,
        ..AggregatorConfig::default()
    });
    let site: Arc<str> = Arc::from("a");
    for i in 0..10u32 {
        for _ in 0..=i {
            agg.record(
                &site,
                &RequestEvent {
                    client_ip: ip(i),
                    ..event(T0)
                },
            );
        }
    }
    let b = only(agg.drain_all());
    assert_eq!(
        b.top_ips,
        vec![
            ("0.0.0.9".to_owned(), 10),
            ("0.0.0.8".to_owned(), 9),
            ("0.0.0.7".to_owned(), 8)
        ]
    );
}

#[test]
fn minutes_roll_over_and_drain_closed_keeps_the_open_one() {
    let agg = one_shard();
    let a: Arc<str> = Arc::from("a");
    let b: Arc<str> = Arc::from("b");
    agg.record(&a, &event(T0));
    agg.record(&a, &event(T0 + MINUTE_MS - 1));
    agg.record(&b, &event(T0 + 30_000));
    // Nothing is closed before the first minute ends.
    assert_eq!(agg.drain_closed(T0 + MINUTE_MS - 1), vec![]);

    agg.record(&a, &event(T0 + MINUTE_MS));
    let closed = agg.drain_closed(T0 + MINUTE_MS + 10);
    let keys: Vec<_> = closed
        .iter()
        .map(|b| (b.site.as_str(), b.minute, b.counters.requests))
        .collect();
    assert_eq!(keys, vec![("a", T0 / 1000, 2), ("b", T0 / 1000, 1)]);
    // Draining again returns nothing new.
    assert_eq!(agg.drain_closed(T0 + MINUTE_MS + 10), vec![]);

    // The open minute kept accumulating; a request that ended just after
    // the drainer read its clock belongs to the next minute, which stays open.
    agg.record(&a, &event(T0 + MINUTE_MS + 20_000));
    agg.record(&a, &event(T0 + 2 * MINUTE_MS + 5));
    assert_eq!(agg.drain_closed(T0 + 2 * MINUTE_MS - 1), vec![]);
    let closed = agg.drain_closed(T0 + 2 * MINUTE_MS);
    assert_eq!(closed.len(), 1);
    assert_eq!(
        (closed[0].minute, closed[0].counters.requests),
        (T0 / 1000 + 60, 2)
    );

    let rest = agg.drain_all();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        (rest[0].minute, rest[0].counters.requests),
        (T0 / 1000 + 120, 1)
    );
    assert_eq!(agg.drain_all(), vec![]);
    assert_eq!(agg.stats().open_buckets, 0);
}

#[test]
fn next_minute_stays_open_far_future_is_flushed() {
    let agg = one_shard();
    let a: Arc<str> = Arc::from("a");
    // A request that ended just after the drainer read its clock.
    agg.record(&a, &event(T0 + MINUTE_MS));
    // A clock that stepped back an hour left this one far ahead.
    agg.record(&a, &event(T0 + 60 * MINUTE_MS));
    let closed = agg.drain_closed(T0 + 1);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].minute, (T0 + 60 * MINUTE_MS) / 1000);
    assert_eq!(agg.drain_all()[0].minute, (T0 + MINUTE_MS) / 1000);
}

#[test]
fn a_reloaded_site_name_is_one_bucket() {
    // A reload builds a new snapshot, so the same name arrives as another Arc.
    let agg = one_shard();
    let old: Arc<str> = Arc::from("shop");
    let new: Arc<str> = Arc::from("shop");
    agg.record(&old, &event(T0));
    drop(old);
    agg.record(&new, &event(T0));
    let b = only(agg.drain_all());
    assert_eq!((b.site.as_str(), b.counters.requests), ("shop", 2));
}

#[test]
fn sites_past_the_cap_go_to_other() {
    let agg = Aggregator::new(AggregatorConfig {
        max_sites: 2,
        shards: 1,
        ..AggregatorConfig::default()
    });
    let sites: Vec<Arc<str>> = (0..5).map(|i| Arc::from(format!("s{i}"))).collect();
    for site in &sites {
        agg.record(site, &event(T0));
        agg.record(site, &event(T0));
    }
    assert_eq!(agg.stats().open_buckets, 3);
    let out = agg.drain_all();
    let keys: Vec<_> = out
        .iter()
        .map(|b| (b.site.as_str(), b.counters.requests))
        .collect();
    assert_eq!(keys, vec![(OTHER_SITE, 6), ("s0", 2), ("s1", 2)]);
}

#[test]
fn minutes_are_capped_when_nobody_drains() {
    let agg = Aggregator::new(AggregatorConfig {
        max_open_minutes: 3,
        shards: 1,
        ..AggregatorConfig::default()
    });
    let a: Arc<str> = Arc::from("a");
    for m in 0..100 {
        for _ in 0..10 {
            agg.record(&a, &event(T0 + m * MINUTE_MS));
        }
        assert!(agg.stats().open_buckets <= 3);
    }
    // Too late for any open minute.
    agg.record(&a, &event(T0));
    let stats = agg.stats();
    assert_eq!(stats.dropped_events, 97 * 10 + 1);
    let kept: u64 = agg.drain_all().iter().map(|b| b.counters.requests).sum();
    assert_eq!(kept, 30);
}

#[test]
fn odd_input_does_not_panic() {
    let agg = Aggregator::new(AggregatorConfig {
        max_key_bytes: 8,
        max_open_minutes: 5,
        ..AggregatorConfig::default()
    });
    let site: Arc<str> = Arc::from("odd");
    let huge = "é".repeat(1 << 20);
    let rules = [huge.as_str(), ""];
    for unix_ms in [i64::MIN, -1, 0, 1, i64::MAX] {
        for path in ["", "?", "/a?b?c", huge.as_str()] {
            for status in [0, 99, 600, 999, u16::MAX] {
                agg.record(
                    &site,
                    &RequestEvent {
                        status,
                        bytes_in: u64::MAX,
                        bytes_out: u64::MAX,
                        path,
                        rules_hit: &rules,
                        country: Some([0xff, 0]),
                        unix_ms,
                        ..event(0)
                    },
                );
            }
        }
    }
    let out = agg.drain_closed(i64::MIN);
    let out = [out, agg.drain_closed(i64::MAX), agg.drain_all()].concat();
    assert_eq!(
        out.iter().map(|b| b.counters.requests).sum::<u64>(),
        5 * 4 * 5
    );
    for b in &out {
        assert_eq!(
            b.counters.bytes_in,
            u64::MAX,
            "saturates instead of wrapping"
        );
        assert_eq!(
            b.counters.status_1xx + b.counters.status_2xx + b.counters.status_5xx,
            0
        );
        for (path, _) in &b.top_paths {
            assert!(path.len() <= 8, "{path:?}");
        }
        assert!(b.top_paths.iter().any(|(p, _)| p == "éééé"));
        assert!(b.top_paths.iter().any(|(p, _)| p == "/a"));
        assert!(b.top_rules.iter().all(|(r, _)| r.len() <= 8));
    }
    let minutes: Vec<i64> = out.iter().map(|b| b.minute).collect();
    assert!(minutes.contains(&0) && minutes.contains(&-60));
}

#[test]
fn buckets_survive_json() {
    let agg = one_shard();
    let site: Arc<str> = Arc::from("a");
    agg.record(
        &site,
        &RequestEvent {
            rules_hit: &["r1"],
            ..event(T0)
        },
    );
    let b = only(agg.drain_all());
    let json = serde_json::to_string(&b).unwrap();
    let back: MinuteBucket = serde_json::from_str(&json).unwrap();
    assert_eq!(back, b);
}
