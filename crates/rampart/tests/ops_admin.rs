//! The admin listener: `/healthz` JSON and the Prometheus `/metrics` families
//! that operators alert on (requests by site and status, open connections,
//! origin health).

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use support::Rampart;
use support::client::{Proto, get, send};
use support::ops::{http_call, read_one_response, wait_until};
use support::origin;

/// The value of the series `series` (name and labels exactly as exposed).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l.as_bytes().get(series.len()) == Some(&b' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn wait_metric(rampart: &Rampart, series: &str, expected: f64) {
    let ok = wait_until(Duration::from_secs(10), || {
        metric(&rampart.metrics(), series) == Some(expected)
    });
    assert!(
        ok,
        "{series} never became {expected}; last value {:?}; exposition:\n{}",
        metric(&rampart.metrics(), series),
        rampart.metrics()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_reports_status_version_and_sites() {
    let shop = origin::start("shop").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{0}\"]\n\n[[site]]\nname = \"blog\"\nhosts = [\"blog.test\"]\norigins = [\"{0}\"]\n",
        shop.url()
    ));
    let reply = send(rampart.admin, Proto::Http1, get("admin", "/healthz")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let health = reply.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["sites"], 2);
    assert_eq!(health["store"], "connected");
    assert!(
        health["snapshot_version"].as_u64().is_some_and(|v| v >= 1),
        "{health}"
    );
    // The admin listener speaks HTTP/2 (prior knowledge) as well.
    let reply = send(rampart.admin, Proto::Http2, get("admin", "/healthz")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "ok");

    let (status, body) =
        http_call(rampart.admin, "GET", "/nope").unwrap_or_else(|| panic!("admin"));
    assert_eq!(status, 404);
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_connections_and_origin_health() {
    let shop = origin::start("shop").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\nhealth = {{ path = \"/healthz\", interval = \"100ms\", timeout = \"100ms\", rise = 1, fall = 1 }}\n",
        shop.url()
    ));
    let reply = send(rampart.admin, Proto::Http1, get("admin", "/metrics")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let exposition = reply.text();
    for family in [
        "# TYPE rampart_requests_total counter",
        "# TYPE rampart_connections_open gauge",
        "# TYPE rampart_origin_healthy gauge",
        "# TYPE rampart_request_duration_seconds histogram",
        "# TYPE rampart_config_reloads_total counter",
    ] {
        assert!(
            exposition.contains(family),
            "{family} missing:\n{exposition}"
        );
    }
    assert_eq!(
        metric(
            &exposition,
            "rampart_requests_total{site=\"shop\",status=\"200\"}"
        ),
        None,
        "no traffic yet"
    );

    // Traffic: three answered by the origin, one for an unknown host.
    for _ in 0..3 {
        assert_eq!(
            send(rampart.http, Proto::Http1, get("shop.test", "/"))
                .await
                .status,
            200
        );
    }
    assert_eq!(
        send(rampart.http, Proto::Http1, get("other.test", "/"))
            .await
            .status,
        404
    );
    wait_metric(
        &rampart,
        "rampart_requests_total{site=\"shop\",status=\"200\"}",
        3.0,
    );
    wait_metric(
        &rampart,
        "rampart_requests_total{site=\"_unrouted\",status=\"404\"}",
        1.0,
    );
    wait_metric(
        &rampart,
        "rampart_request_duration_seconds_count{site=\"shop\"}",
        3.0,
    );
    let text = rampart.metrics();
    assert!(
        metric(
            &text,
            "rampart_connections_accepted_total{listener=\"http\"}"
        )
        .is_some_and(|n| n >= 4.0),
        "{text}"
    );

    // Open connections: two kept alive, then closed.
    wait_metric(&rampart, "rampart_connections_open{listener=\"http\"}", 0.0);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream =
            TcpStream::connect(rampart.http).unwrap_or_else(|e| panic!("connect: {e}"));
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n")
            .unwrap_or_else(|e| panic!("write: {e}"));
        let reply = read_one_response(&mut stream, Duration::from_secs(10));
        assert_eq!(reply.map(|r| r.status), Some(200));
        held.push(stream);
    }
    wait_metric(&rampart, "rampart_connections_open{listener=\"http\"}", 2.0);
    wait_metric(
        &rampart,
        "rampart_requests_total{site=\"shop\",status=\"200\"}",
        5.0,
    );
    drop(held);
    wait_metric(&rampart, "rampart_connections_open{listener=\"http\"}", 0.0);

    // Origin health follows the health checks.
    let series = format!(
        "rampart_origin_healthy{{site=\"shop\",origin=\"{}\"}}",
        shop.url()
    );
    wait_metric(&rampart, &series, 1.0);
    shop.healthy.store(false, Ordering::Relaxed);
    wait_metric(&rampart, &series, 0.0);
    assert_eq!(
        send(rampart.http, Proto::Http1, get("shop.test", "/"))
            .await
            .status,
        503
    );
    wait_metric(
        &rampart,
        "rampart_requests_total{site=\"shop\",status=\"503\"}",
        1.0,
    );
    shop.healthy.store(true, Ordering::Relaxed);
    wait_metric(&rampart, &series, 1.0);
    assert_eq!(
        send(rampart.http, Proto::Http1, get("shop.test", "/"))
            .await
            .status,
        200
    );
}
