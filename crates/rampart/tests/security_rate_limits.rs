//! Rate limits on the real binary: exact counts and 429 + Retry-After,
//! a `log` limit, a limit that counts only failed logins, and manual
//! under-attack mode holding each address to a strict limit. Request
//! limits and the node's L7 DoS limits are in `security_limits.rs`.
//!
//! Clients differ by X-Forwarded-For, which the edge trusts from loopback.

mod support;

use std::sync::Arc;

use http::StatusCode;
use support::limits::{call, start_trusting_loopback, test_origin};
use support::wire::metric_value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_count_exactly_and_answer_429_with_retry_after() {
    let origin = test_origin(Arc::new(tokio::sync::Semaphore::new(0))).await;
    let rampart = start_trusting_loopback(&origin.url(), "");

    for i in 1..=5 {
        let r = call(
            &rampart,
            "shop.test",
            &format!("/api/{i}"),
            "203.0.113.1",
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    let limited = call(&rampart, "shop.test", "/api/6", "203.0.113.1", &[]).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text()
    );
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in whole seconds: {:?}", limited.headers));
    assert!((1..=7200).contains(&retry), "{retry}");
    assert!(limited.text().contains("api"), "{}", limited.text());
    let line = rampart.log_line_of(&limited);
    assert_eq!(
        (line["rule"].as_str(), line["action"].as_str()),
        (Some("api"), Some("rate_limit"))
    );
    // Other paths and other clients have their own counts.
    assert_eq!(
        call(&rampart, "shop.test", "/other", "203.0.113.1", &[])
            .await
            .status,
        200
    );
    assert_eq!(
        call(&rampart, "shop.test", "/api/1", "203.0.113.2", &[])
            .await
            .status,
        200
    );
    // Limited requests are not forwarded and not counted: still limited.
    assert_eq!(
        call(&rampart, "shop.test", "/api/7", "203.0.113.1", &[])
            .await
            .status,
        429
    );

    // A "log" limit lets the request through and records the hit.
    assert_eq!(
        call(&rampart, "shop.test", "/watched", "203.0.113.3", &[])
            .await
            .status,
        200
    );
    let over = call(&rampart, "shop.test", "/watched", "203.0.113.3", &[]).await;
    assert_eq!(over.status, 200);
    let line = rampart.log_line_of(&over);
    assert_eq!(
        (line["rule"].as_str(), line["action"].as_str()),
        (Some("watch"), Some("log"))
    );

    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(
            &metrics,
            r#"rampart_security_verdicts_total{site="shop",verdict="rate_limited"}"#
        ),
        Some(2),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_counted_on_the_response() {
    let origin = test_origin(Arc::new(tokio::sync::Semaphore::new(0))).await;
    let rampart = start_trusting_loopback(&origin.url(), "");
    let wrong = [("x-password", "wrong")];
    let right = [("x-password", "right")];

    // Successful logins never count.
    for _ in 0..6 {
        assert_eq!(
            call(&rampart, "shop.test", "/login", "203.0.113.7", &right)
                .await
                .status,
            200
        );
    }
    // Three failures are answered by the origin; then the address is out,
    // even with the right password.
    for _ in 0..3 {
        assert_eq!(
            call(&rampart, "shop.test", "/login", "203.0.113.8", &wrong)
                .await
                .status,
            401
        );
    }
    let blocked = call(&rampart, "shop.test", "/login", "203.0.113.8", &right).await;
    assert_eq!(blocked.status, 429, "{}", blocked.text());
    assert!(blocked.header("retry-after").is_some());
    assert_eq!(rampart.log_line_of(&blocked)["rule"], "brute-force");
    // Another address still gets through, and its failures still reach the origin.
    assert_eq!(
        call(&rampart, "shop.test", "/login", "203.0.113.9", &wrong)
            .await
            .status,
        401
    );
    assert_eq!(
        call(&rampart, "shop.test", "/login", "203.0.113.9", &right)
            .await
            .status,
        200
    );
    // The first address's successes earlier did not use up its allowance.
    assert_eq!(
        call(&rampart, "shop.test", "/login", "203.0.113.7", &right)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_attack_challenges_everyone_and_caps_each_address() {
    let origin = test_origin(Arc::new(tokio::sync::Semaphore::new(0))).await;
    let rampart = start_trusting_loopback(&origin.url(), "");
    // Every client without a clearance gets the interstitial, never the
    // origin; one address may ask for it only so often.
    for i in 0..20 {
        let r = call(&rampart, "besieged.test", "/", "198.51.100.1", &[]).await;
        assert_eq!(r.status, 403, "request {i}");
        assert_eq!(r.header("rampart-challenge"), Some("1"), "request {i}");
    }
    let limited = call(&rampart, "besieged.test", "/", "198.51.100.1", &[]).await;
    assert_eq!(limited.status, 429);
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(rampart.log_line_of(&limited)["rule"], "under_attack");
    let other = call(&rampart, "besieged.test", "/", "198.51.100.2", &[]).await;
    assert_eq!(
        (other.status.as_u16(), other.header("rampart-challenge")),
        (403, Some("1"))
    );
    assert_eq!(rampart.log_line_of(&other)["action"], "challenge");
    // The other site is not under attack.
    for _ in 0..25 {
        assert_eq!(
            call(&rampart, "shop.test", "/", "198.51.100.1", &[])
                .await
                .status,
            200
        );
    }
    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(&metrics, r#"rampart_site_under_attack{site="besieged"}"#),
        Some(1)
    );
}
