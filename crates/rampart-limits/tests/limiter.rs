//! `RateLimiter`: which request is limited, Retry-After, the mitigation
//! timeout, counting on the response, and the penalty box's bound.

use rampart_limits::{
    Action, Clock, CountersConfig, Counting, Decision, KeyHasher, LimitKey, LimitRule, LimitsError,
    LocalCounters, ManualClock, Millis, RateLimiter,
};
use std::time::Duration;

const T0: u64 = 1_767_225_600_000;

fn hasher() -> KeyHasher {
    KeyHasher::from_seed([9; 16])
}

fn limiter(penalty_capacity: usize) -> RateLimiter {
    let store = LocalCounters::new(
        CountersConfig {
            max_keys: 100_000,
            shards: 8,
            record_deltas: false,
        },
        &hasher(),
    )
    .unwrap();
    RateLimiter::new(store, penalty_capacity, &hasher()).unwrap()
}

fn rule(requests: u32, period_s: u64, timeout_s: u64, counting: Counting) -> LimitRule {
    LimitRule {
        period: Duration::from_secs(period_s),
        requests,
        mitigation_timeout: Duration::from_secs(timeout_s),
        action: Action::Block,
        counting,
    }
}

fn key(i: u32) -> LimitKey {
    let ip = std::net::IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
    hasher().key().site("s").rule("r").client_ip(ip).finish()
}

fn limited(d: Decision) -> Duration {
    match d {
        Decision::Limit { retry_after } => retry_after,
        Decision::Allow => panic!("expected a limit"),
    }
}

#[test]
fn the_request_after_the_limit_is_the_first_limited() {
    let l = limiter(100);
    let r = rule(10, 60, 0, Counting::EveryRequest);
    let clock = ManualClock::new(Millis(T0));
    for n in 1..=10 {
        assert_eq!(
            l.check(&r, &key(1), clock.now()),
            Decision::Allow,
            "request {n}"
        );
        clock.advance(Duration::from_millis(100));
    }
    limited(l.check(&r, &key(1), clock.now()));
    // Other keys are not affected.
    assert_eq!(l.check(&r, &key(2), clock.now()), Decision::Allow);
}

/// Without a mitigation timeout, Retry-After is the moment the sliding count
/// admits one more request: a client that waits exactly that long gets in,
/// one that comes back a millisecond early does not.
#[test]
fn retry_after_is_exact() {
    let r = rule(10, 60, 0, Counting::EveryRequest);
    // Ten requests at the start of a window, the 11th 30 s in: only the
    // next window's fading share can admit it again.
    let l = limiter(100);
    for _ in 0..10 {
        l.check(&r, &key(1), Millis(T0));
    }
    let now = Millis(T0 + 30_000);
    let wait = limited(l.check(&r, &key(1), now));
    // 10 counted (the limited request is not): the estimate
    // ceil(10 × (60 − e)/60) is 9 or less from e = 6 s into the next window,
    // i.e. 36 s from now; then one more request makes 10, the limit.
    assert_eq!(wait, Duration::from_secs(36));
    let early = now.saturating_add(wait - Duration::from_millis(1));
    limited(l.check(&r, &key(1), early));
    let on_time = now.saturating_add(wait);
    assert_eq!(l.check(&r, &key(1), on_time), Decision::Allow);
    // The penalty box was not what made the early one wait: the counts are.
    let l = limiter(100);
    for _ in 0..10 {
        l.check(&r, &key(1), Millis(T0));
    }
    limited(l.check(&r, &key(1), early));

    // Requests spread out: the answer is within the current window.
    let l = limiter(100);
    for i in 0..10 {
        l.check(&r, &key(2), Millis(T0 + 50_000 + i * 1_000));
    }
    // Ten in the previous window, 5 s into the next one: the estimate is
    // ceil(10 × 55/60) = 10, full. 9 or less from e = 6 s, then 8 or less
    // (room for the 2nd request of this window) from e = 12 s.
    let wait = limited(l.check(&r, &key(2), Millis(T0 + 65_000)));
    assert_eq!(wait, Duration::from_secs(1));
    assert_eq!(l.check(&r, &key(2), Millis(T0 + 66_000)), Decision::Allow);
    let wait = limited(l.check(&r, &key(2), Millis(T0 + 66_000)));
    assert_eq!(wait, Duration::from_secs(6));
    assert_eq!(l.check(&r, &key(2), Millis(T0 + 72_000)), Decision::Allow);
}

#[test]
fn mitigation_timeout_is_honoured_and_not_extended_by_hammering() {
    let l = limiter(100);
    let r = rule(5, 10, 300, Counting::EveryRequest);
    let clock = ManualClock::new(Millis(T0));
    for _ in 0..5 {
        assert_eq!(l.check(&r, &key(1), clock.now()), Decision::Allow);
    }
    assert_eq!(
        limited(l.check(&r, &key(1), clock.now())),
        Duration::from_secs(300)
    );
    // Hammering during the timeout: limited, with a shrinking Retry-After,
    // and not counted.
    for s in 1..300 {
        clock.set(Millis(T0 + s * 1_000));
        let wait = limited(l.check(&r, &key(1), clock.now()));
        assert_eq!(wait, Duration::from_secs(300 - s));
    }
    assert_eq!(l.penalized(), 1);
    clock.set(Millis(T0 + 300_000));
    assert_eq!(l.check(&r, &key(1), clock.now()), Decision::Allow);
    assert_eq!(
        l.penalized(),
        0,
        "an expired penalty is forgotten when seen"
    );
}

/// Brute-force protection: only failed logins count (the caller counts after
/// a 401/403 response); after `requests` failures every request is limited.
#[test]
fn counting_on_the_response_limits_after_the_counted_ones() {
    let l = limiter(100);
    let r = rule(5, 60, 600, Counting::OnResponse);
    let k = key(7);
    let mut now = T0;
    // Successful requests are checked but never counted.
    for _ in 0..100 {
        assert_eq!(l.check(&r, &k, Millis(now)), Decision::Allow);
        now += 10;
    }
    // Five failures.
    for n in 1..=5 {
        assert_eq!(l.check(&r, &k, Millis(now)), Decision::Allow, "attempt {n}");
        let c = l.count(&r, &k, Millis(now));
        assert_eq!(c.estimate(), n);
        now += 10;
    }
    assert_eq!(
        limited(l.check(&r, &k, Millis(now))),
        Duration::from_secs(600)
    );
    // `count` on an every-request rule does not count twice.
    let every = rule(1, 60, 0, Counting::EveryRequest);
    assert_eq!(l.check(&every, &key(8), Millis(now)), Decision::Allow);
    assert_eq!(l.count(&every, &key(8), Millis(now)).estimate(), 1);
    // One request in this window keeps a share of the estimate until the
    // end of the next one.
    let retry_after = Millis(T0 + 120_000).saturating_since(Millis(now));
    assert_eq!(
        l.check(&every, &key(8), Millis(now)),
        Decision::Limit { retry_after }
    );
}

/// A sustained flood against a rule without timeout is throttled to the
/// limit: limited requests are not counted, so the key gets its share back
/// as the window slides.
#[test]
fn a_flood_is_throttled_to_the_rate() {
    let l = limiter(100);
    let r = rule(100, 10, 0, Counting::EveryRequest);
    let mut allowed = 0u64;
    // 1,000 requests a second for 100 s: 10× the rate.
    for ms in 0..100_000u64 {
        if l.check(&r, &key(1), Millis(T0 + ms)) == Decision::Allow {
            allowed += 1;
        }
    }
    // 100 per 10 s over 100 s is 1,000, give or take a window's edge.
    assert!((980..=1_020).contains(&allowed), "{allowed} allowed");
}

#[test]
fn the_penalty_box_is_bounded_and_evicted_keys_stay_limited_by_their_counts() {
    let l = limiter(16);
    let r = rule(1, 60, 600, Counting::EveryRequest);
    let now = Millis(T0);
    for i in 0..1_000 {
        l.check(&r, &key(i), now);
        limited(l.check(&r, &key(i), now));
    }
    assert!(l.penalized() <= 16, "{} penalized", l.penalized());
    // Key 0 was evicted from the box long ago, but its count is still over.
    assert!(matches!(l.check(&r, &key(0), now), Decision::Limit { .. }));
}

#[test]
fn configuration_is_checked() {
    let store = LocalCounters::new(CountersConfig::default(), &hasher()).unwrap();
    assert_eq!(
        RateLimiter::new(store, 0, &hasher()).unwrap_err(),
        LimitsError::Zero {
            field: "penalty_capacity"
        }
    );
    assert!(rule(0, 60, 0, Counting::EveryRequest).validate().is_err());
    assert!(rule(1, 0, 0, Counting::EveryRequest).validate().is_err());
    assert!(
        rule(1, 60 * 60 * 24 * 50, 0, Counting::EveryRequest)
            .validate()
            .is_err()
    );
    assert!(rule(1, 60, 0, Counting::OnResponse).validate().is_ok());
}
