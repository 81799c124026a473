//! Traffic analytics: flushed minutes, merging, queries, retention.

use rampart_analytics::{Counters, MinuteBucket};
use rampart_store::{AuditFilter, Store, TrafficMinute, TrafficTop};

use crate::fixture::{Fixture, admin, site};

const T0: i64 = 1_700_000_040; // a minute start

fn list(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

/// A bucket of `requests` requests, all 2xx and passed, from one address to
/// one path.
fn bucket(site: &str, minute: i64, requests: u64, ip: &str, path: &str) -> MinuteBucket {
    MinuteBucket {
        site: site.to_owned(),
        minute,
        counters: counts(requests),
        top_ips: list(&[(ip, requests)]),
        top_paths: list(&[(path, requests)]),
        ..MinuteBucket::default()
    }
}

fn minute(minute: i64, requests: u64) -> TrafficMinute {
    TrafficMinute {
        minute,
        counters: counts(requests),
    }
}

/// `requests` requests, all 2xx and passed.
fn counts(requests: u64) -> Counters {
    Counters {
        requests,
        bytes_in: requests * 10,
        bytes_out: requests * 100,
        status_2xx: requests,
        passed: requests,
        ..Counters::default()
    }
}

async fn two_sites(store: &Store) -> (String, String) {
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let shop = store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let blog = store
        .create_site(&actor, &acme.id, site("blog", &["blog.test"]), false)
        .await
        .unwrap();
    (shop.id, blog.id)
}

async fn audit_len(store: &Store) -> usize {
    store
        .list_audit(&AuditFilter {
            account_id: None,
            before_id: None,
            limit: 500,
        })
        .await
        .unwrap()
        .len()
}

pub async fn analytics_series_and_top_sum_nodes(fx: Fixture) {
    let store = fx.open().await;
    let (shop, blog) = two_sites(&store).await;
    let revision = store.revision().await.unwrap();
    let audited = audit_len(&store).await;

    let mut every_kind = bucket("shop", T0, 4, "10.0.0.1", "/a");
    every_kind.counters.status_2xx = 1;
    every_kind.counters.status_1xx = 1;
    every_kind.counters.status_3xx = 1;
    every_kind.counters.status_4xx = 1;
    every_kind.counters.passed = 1;
    every_kind.counters.blocked = 1;
    every_kind.counters.challenged = 1;
    every_kind.counters.rate_limited = 1;
    every_kind.counters.cache_hit = 3;
    every_kind.counters.cache_miss = 1;
    every_kind.top_countries = list(&[("DE", 3), ("FR", 1)]);
    every_kind.top_rules = list(&[("sqli", 2)]);
    let written = store
        .record_minutes(
            "node-a",
            &[
                every_kind.clone(),
                bucket("shop", T0 + 60, 5, "10.0.0.2", "/b"),
                bucket("blog", T0, 7, "10.0.0.9", "/"),
                // No such site (deleted, or the aggregator's overflow bucket).
                bucket("_other", T0, 100, "10.0.0.3", "/x"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written, 3);
    let mut from_b = bucket("shop", T0 + 60, 2, "10.0.0.1", "/b");
    from_b.counters.status_2xx = 1;
    from_b.counters.status_5xx = 1;
    from_b.top_rules = list(&[("sqli", 1), ("xss", 1)]);
    assert_eq!(
        store
            .record_minutes("node-b", std::slice::from_ref(&from_b))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.record_minutes("node-b", &[]).await.unwrap(), 0);

    // Telemetry changes neither the configuration revision nor the audit log.
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(audit_len(&store).await, audited);

    let series = store.traffic_series(&shop, T0, T0 + 120).await.unwrap();
    let mut first = minute(T0, 4);
    first.counters.status_1xx = 1;
    first.counters.status_2xx = 1;
    first.counters.status_3xx = 1;
    first.counters.status_4xx = 1;
    first.counters.passed = 1;
    first.counters.blocked = 1;
    first.counters.challenged = 1;
    first.counters.rate_limited = 1;
    first.counters.cache_hit = 3;
    first.counters.cache_miss = 1;
    let mut second = minute(T0 + 60, 7);
    second.counters.status_2xx = 6;
    second.counters.status_5xx = 1;
    assert_eq!(series, vec![first.clone(), second]);

    // Ranges are half-open and need not be minute-aligned at the end.
    assert_eq!(
        store.traffic_series(&shop, T0, T0 + 60).await.unwrap(),
        vec![first.clone()]
    );
    assert_eq!(
        store.traffic_series(&shop, T0 + 60, T0 + 61).await.unwrap()[0]
            .counters
            .requests,
        7
    );
    assert!(
        store
            .traffic_series(&shop, T0 + 120, T0 + 3600)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.traffic_series(&blog, T0, T0 + 120).await.unwrap(),
        vec![minute(T0, 7)]
    );

    let top = store.traffic_top(&shop, T0, T0 + 120, 10).await.unwrap();
    assert_eq!(
        top,
        TrafficTop {
            ips: list(&[("10.0.0.1", 6), ("10.0.0.2", 5)]),
            countries: list(&[("DE", 3), ("FR", 1)]),
            paths: list(&[("/b", 7), ("/a", 4)]),
            rules: list(&[("sqli", 3), ("xss", 1)]),
        }
    );
    let top1 = store.traffic_top(&shop, T0, T0 + 120, 1).await.unwrap();
    assert_eq!(top1.paths, list(&[("/b", 7)]));
    assert_eq!(top1.rules, list(&[("sqli", 3)]));
    assert_eq!(
        store
            .traffic_top(&shop, T0 + 60, T0 + 120, 10)
            .await
            .unwrap()
            .ips,
        list(&[("10.0.0.2", 5), ("10.0.0.1", 2)])
    );
    assert_eq!(
        store
            .traffic_top("site_missing", T0, T0 + 120, 10)
            .await
            .unwrap(),
        TrafficTop::default()
    );
}

/// A node writing the same minute twice (a restart within the minute, the
/// early flush at shutdown) adds both halves into its one row.
pub async fn analytics_same_minute_merges(fx: Fixture) {
    let store = fx.open().await;
    let (shop, _) = two_sites(&store).await;
    store
        .record_minutes("node-a", &[bucket("shop", T0, 3, "10.0.0.1", "/a")])
        .await
        .unwrap();
    store
        .record_minutes(
            "node-a",
            &[
                bucket("shop", T0, 2, "10.0.0.2", "/a"),
                // The same row twice in one batch merges as well.
                bucket("shop", T0, 1, "10.0.0.1", "/c"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.traffic_series(&shop, T0, T0 + 60).await.unwrap(),
        vec![minute(T0, 6)]
    );
    let top = store.traffic_top(&shop, T0, T0 + 60, 10).await.unwrap();
    assert_eq!(top.ips, list(&[("10.0.0.1", 4), ("10.0.0.2", 2)]));
    assert_eq!(top.paths, list(&[("/a", 5), ("/c", 1)]));

    let mut raw = fx.raw().await;
    let rows: i64 = sqlx::Row::try_get(
        &sqlx::query("SELECT COUNT(*) AS n FROM analytics_minutes")
            .fetch_one(&mut raw)
            .await
            .unwrap(),
        "n",
    )
    .unwrap();
    assert_eq!(rows, 1, "one row per site, minute and node");
}

pub async fn analytics_purge_and_cascade(fx: Fixture) {
    let store = fx.open().await;
    let (shop, blog) = two_sites(&store).await;
    let buckets: Vec<MinuteBucket> = (0..5)
        .flat_map(|i| {
            [
                bucket("shop", T0 + 60 * i, 1, "10.0.0.1", "/"),
                bucket("blog", T0 + 60 * i, 1, "10.0.0.1", "/"),
            ]
        })
        .collect();
    assert_eq!(store.record_minutes("n", &buckets).await.unwrap(), 10);

    assert_eq!(store.purge_analytics(T0 + 120).await.unwrap(), 4);
    assert_eq!(store.purge_analytics(T0 + 120).await.unwrap(), 0);
    let left: Vec<i64> = store
        .traffic_series(&shop, 0, i64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|m| m.minute)
        .collect();
    assert_eq!(left, vec![T0 + 120, T0 + 180, T0 + 240]);

    // A deleted site takes its minutes with it.
    store.delete_site(&admin(), &blog).await.unwrap();
    assert!(
        store
            .traffic_series(&blog, 0, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.purge_analytics(i64::MAX).await.unwrap(), 3);
}
