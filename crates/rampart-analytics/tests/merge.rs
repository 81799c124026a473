//! `merge`: retried flushes and several nodes' buckets of one site-minute.

use rampart_analytics::{Counters, MinuteBucket, merge};

fn list(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

fn bucket(requests: u64, ips: &[(&str, u64)], paths: &[(&str, u64)]) -> MinuteBucket {
    MinuteBucket {
        site: "shop".into(),
        minute: 1_767_225_600,
        counters: Counters {
            requests,
            bytes_in: requests * 10,
            bytes_out: requests * 100,
            status_2xx: requests - 1,
            status_5xx: 1,
            passed: requests - 1,
            blocked: 1,
            cache_miss: requests,
            ..Counters::default()
        },
        top_ips: list(ips),
        top_paths: list(paths),
        top_countries: list(&[("DE", requests)]),
        top_rules: vec![],
    }
}

#[test]
fn counters_add_and_lists_sum_per_key() {
    let mut a = bucket(10, &[("1.1.1.1", 6), ("2.2.2.2", 4)], &[("/", 10)]);
    let b = bucket(20, &[("2.2.2.2", 15), ("3.3.3.3", 5)], &[("/x", 20)]);
    merge(&mut a, &b, 20);
    assert_eq!(a.site, "shop");
    assert_eq!(a.minute, 1_767_225_600);
    assert_eq!(
        (
            a.counters.requests,
            a.counters.bytes_in,
            a.counters.bytes_out
        ),
        (30, 300, 3000)
    );
    assert_eq!((a.counters.status_2xx, a.counters.status_5xx), (28, 2));
    assert_eq!(
        (a.counters.passed, a.counters.blocked, a.counters.cache_miss),
        (28, 2, 30)
    );
    assert_eq!(
        a.top_ips,
        list(&[("2.2.2.2", 19), ("1.1.1.1", 6), ("3.3.3.3", 5)])
    );
    assert_eq!(a.top_paths, list(&[("/x", 20), ("/", 10)]));
    assert_eq!(a.top_countries, list(&[("DE", 30)]));
    assert_eq!(a.top_rules, vec![]);
}

#[test]
fn lists_are_cut_to_top_n_with_ties_by_key() {
    let mut a = bucket(3, &[("b", 2), ("c", 1)], &[]);
    let b = bucket(3, &[("a", 2), ("d", 1)], &[]);
    merge(&mut a, &b, 2);
    assert_eq!(a.top_ips, list(&[("a", 2), ("b", 2)]));
}

#[test]
fn merging_with_empty_changes_nothing_and_order_does_not_matter() {
    let a = bucket(10, &[("1.1.1.1", 6), ("2.2.2.2", 4)], &[("/", 10)]);
    let empty = MinuteBucket {
        site: a.site.clone(),
        minute: a.minute,
        ..MinuteBucket::default()
    };
    let mut x = a.clone();
    merge(&mut x, &empty, 20);
    assert_eq!(x, a);

    let b = bucket(7, &[("2.2.2.2", 7)], &[("/y", 7)]);
    let mut ab = a.clone();
    merge(&mut ab, &b, 20);
    let mut ba = b.clone();
    merge(&mut ba, &a, 20);
    assert_eq!(ab, ba);
}

#[test]
fn counters_saturate() {
    let mut a = bucket(2, &[("k", u64::MAX)], &[]);
    a.counters.bytes_out = u64::MAX;
    let b = bucket(2, &[("k", 5)], &[]);
    merge(&mut a, &b, 20);
    assert_eq!(a.counters.bytes_out, u64::MAX);
    assert_eq!(a.top_ips, list(&[("k", u64::MAX)]));
}
