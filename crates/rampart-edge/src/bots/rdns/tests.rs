use super::cache::SHARDS;
use super::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

fn key(last: u8) -> Key {
    Key {
        ip: IpAddr::from([192, 0, 2, last]),
        suffixes: 7,
    }
}

fn suffixes() -> Vec<String> {
    vec!["googlebot.com".into(), "google.com".into()]
}

#[test]
fn names_must_be_under_a_suffix() {
    let s = suffixes();
    assert!(under("crawl-66-249-66-1.googlebot.com.", &s));
    assert!(under("CRAWL-1.GoogleBot.Com", &s));
    assert!(under("google.com", &s));
    assert!(!under("evilgooglebot.com", &s));
    assert!(!under("googlebot.com.evil.test", &s));
    assert!(!under("com", &s));
    assert!(!under("", &s));
    assert!(!under("é.googlebot.co", &s));
}

#[test]
fn answers_live_for_their_ttl() {
    let cache = Cache::new(100, 10);
    let t0 = Instant::now();
    for (last, outcome) in [
        (1, Outcome::Verified),
        (2, Outcome::Refuted),
        (3, Outcome::Failed),
    ] {
        let k = key(last);
        let Probe::Start(tx, _permit) = cache.probe(k, t0) else {
            panic!("first probe must start a lookup");
        };
        assert!(matches!(cache.probe(k, t0), Probe::Wait(..)));
        cache.settle(k, outcome, t0);
        drop(tx);
        let verified = outcome == Outcome::Verified;
        let before = t0 + outcome.ttl() - Duration::from_secs(1);
        assert!(matches!(cache.probe(k, before), Probe::Known(v) if v == verified));
        let after = t0 + outcome.ttl();
        assert!(matches!(cache.probe(k, after), Probe::Start(..)));
    }
    assert_eq!(cache.in_flight(), 0, "permits are returned when dropped");
}

#[test]
fn keys_differ_by_suffix_set() {
    let cache = Cache::new(100, 10);
    let now = Instant::now();
    let a = key(1);
    let b = Key {
        suffixes: 8,
        ..key(1)
    };
    let _start = cache.probe(a, now);
    cache.settle(a, Outcome::Verified, now);
    assert!(matches!(cache.probe(a, now), Probe::Known(true)));
    assert!(matches!(cache.probe(b, now), Probe::Start(..)));
}

#[test]
fn lookups_in_flight_are_bounded() {
    let cache = Cache::new(100, 2);
    let now = Instant::now();
    let first = cache.probe(key(1), now);
    let second = cache.probe(key(2), now);
    assert!(matches!(cache.probe(key(3), now), Probe::Busy));
    // Busy is not cached: once a lookup ends, the address is tried.
    drop(first);
    assert!(matches!(cache.probe(key(3), now), Probe::Start(..)));
    drop(second);
}

#[test]
fn a_lost_lookup_is_started_again() {
    let cache = Cache::new(100, 10);
    let now = Instant::now();
    let lost = cache.probe(key(1), now);
    drop(lost);
    assert!(matches!(cache.probe(key(1), now), Probe::Wait(..)));
    let later = now + BUDGET + Duration::from_secs(1);
    assert!(matches!(cache.probe(key(1), later), Probe::Start(..)));
}

#[test]
fn full_cache_drops_expired_then_refuted_and_keeps_crawlers() {
    // One shard's worth per shard: 16 × 8.
    let cache = Cache::new(SHARDS * 8, 1_000_000);
    let now = Instant::now();
    let good: Vec<Key> = (0..16).map(key).collect();
    for k in &good {
        let _ = cache.probe(*k, now);
        cache.settle(*k, Outcome::Verified, now);
    }
    // A flood of spoofers from many addresses.
    for i in 0..5000u32 {
        let k = Key {
            ip: IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]),
            suffixes: 7,
        };
        let _ = cache.probe(k, now);
        cache.settle(k, Outcome::Refuted, now);
    }
    assert!(cache.len() <= SHARDS * 8, "bounded: {}", cache.len());
    for k in &good {
        assert!(
            matches!(cache.probe(*k, now), Probe::Known(true)),
            "{k:?} evicted"
        );
    }
}

#[test]
fn full_of_crawlers_still_takes_new_ones() {
    let cache = Cache::new(SHARDS * 8, 1_000_000);
    let now = Instant::now();
    for i in 0..2000u32 {
        let k = Key {
            ip: IpAddr::from([10, 0, (i >> 8) as u8, i as u8]),
            suffixes: 7,
        };
        let _ = cache.probe(k, now);
        cache.settle(k, Outcome::Verified, now);
        assert!(matches!(cache.probe(k, now), Probe::Known(true)));
    }
    assert!(cache.len() <= SHARDS * 8);
}

/// PTR and forward records in memory; counts PTR lookups.
#[derive(Default)]
struct FakeDns {
    ptr: HashMap<IpAddr, Result<Vec<String>, DnsFail>>,
    forward: HashMap<String, Result<Vec<IpAddr>, DnsFail>>,
    ptr_calls: AtomicUsize,
    delay: Duration,
}

impl Lookups for FakeDns {
    async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsFail> {
        self.ptr_calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.ptr
            .get(&ip)
            .cloned()
            .unwrap_or(Err(DnsFail::NoRecords))
    }

    async fn forward(&self, name: &str, v6: bool) -> Result<Vec<IpAddr>, DnsFail> {
        let all = self
            .forward
            .get(name)
            .cloned()
            .unwrap_or(Err(DnsFail::NoRecords))?;
        Ok(all.into_iter().filter(|ip| ip.is_ipv6() == v6).collect())
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn fake() -> FakeDns {
    let mut dns = FakeDns::default();
    let ptr_map = &mut dns.ptr;
    let mut ptr = |a: &str, names: &[&str]| {
        ptr_map.insert(ip(a), Ok(names.iter().map(|s| s.to_string()).collect()));
    };
    ptr("66.249.66.1", &["crawl-66-249-66-1.googlebot.com."]);
    // Says googlebot, but googlebot.com does not point back.
    ptr("203.0.113.9", &["crawl-66-249-66-1.googlebot.com."]);
    // Not under the bot's domains (and would point back).
    ptr("198.51.100.7", &["crawler.example.net."]);
    // Several names, the second one proves it.
    ptr(
        "66.249.66.2",
        &["foo.example.", "x.googlebot.com.", "crawl-2.google.com."],
    );
    ptr("2001:4860:4801::1", &["crawl-v6.googlebot.com."]);
    ptr("192.0.2.51", &["flaky.googlebot.com."]);
    dns.ptr.insert(ip("192.0.2.50"), Err(DnsFail::Other));
    let mut fwd = |n: &str, r: Result<Vec<IpAddr>, DnsFail>| {
        dns.forward.insert(n.to_string(), r);
    };
    fwd(
        "crawl-66-249-66-1.googlebot.com.",
        Ok(vec![ip("66.249.66.1")]),
    );
    fwd("crawler.example.net.", Ok(vec![ip("198.51.100.7")]));
    fwd("x.googlebot.com.", Ok(vec![ip("66.249.66.99")]));
    fwd("crawl-2.google.com.", Ok(vec![ip("66.249.66.2")]));
    fwd(
        "crawl-v6.googlebot.com.",
        Ok(vec![ip("66.249.66.3"), ip("2001:4860:4801::1")]),
    );
    fwd("flaky.googlebot.com.", Err(DnsFail::Other));
    dns
}

#[tokio::test]
async fn forward_confirmation() {
    let dns = fake();
    let s = suffixes();
    let cases = [
        ("66.249.66.1", Outcome::Verified),
        ("203.0.113.9", Outcome::Refuted),
        ("198.51.100.7", Outcome::Refuted),
        ("66.249.66.2", Outcome::Verified),
        ("2001:4860:4801::1", Outcome::Verified),
        ("192.0.2.99", Outcome::Refuted),
        ("192.0.2.50", Outcome::Failed),
        ("192.0.2.51", Outcome::Failed),
    ];
    for (addr, want) in cases {
        assert_eq!(fcrdns(&dns, ip(addr), &s).await, want, "{addr}");
    }
}

#[tokio::test]
async fn concurrent_requests_share_one_lookup() {
    let dns = Arc::new(FakeDns {
        delay: Duration::from_millis(50),
        ..fake()
    });
    let cache = Arc::new(Cache::new(100, 10));
    let k = Key {
        ip: ip("66.249.66.1"),
        suffixes: 1,
    };
    let s = suffixes();
    let answers: Vec<Answer> = (0..20)
        .map(|_| verify_with(&cache, k, &s, || Some(dns.clone())))
        .collect();
    let mut verified = 0;
    for a in answers {
        let v = match a {
            Answer::Now(v) => v,
            Answer::Later(w) => w.await,
        };
        verified += usize::from(v);
    }
    assert_eq!(verified, 20);
    assert_eq!(dns.ptr_calls.load(Ordering::SeqCst), 1);
    // Later requests are answered from the cache, without waiting.
    assert!(matches!(
        verify_with(&cache, k, &s, || Some(dns.clone())),
        Answer::Now(true)
    ));
    assert_eq!(dns.ptr_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_slow_resolver_costs_at_most_the_budget() {
    let dns = Arc::new(FakeDns {
        delay: Duration::from_secs(30),
        ..fake()
    });
    let cache = Arc::new(Cache::new(100, 10));
    let k = Key {
        ip: ip("66.249.66.1"),
        suffixes: 1,
    };
    let started = tokio::time::Instant::now();
    let Answer::Later(w) = verify_with(&cache, k, &suffixes(), || Some(dns.clone())) else {
        panic!("a lookup must start");
    };
    assert!(!w.await);
    assert!(started.elapsed() <= BUDGET + Duration::from_millis(200));
    // Let the task record its failure.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(cache.in_flight(), 0);
}

#[tokio::test]
async fn no_resolver_is_a_failure_answered_at_once() {
    let cache = Arc::new(Cache::new(100, 10));
    let k = key(1);
    let answer = verify_with::<FakeDns, _>(&cache, k, &suffixes(), || None);
    assert!(matches!(answer, Answer::Now(false)));
    assert!(matches!(
        cache.probe(k, Instant::now()),
        Probe::Known(false)
    ));
    assert_eq!(cache.in_flight(), 0);
}
