//! Request limits and the node's L7 DoS limits on the real binary:
//! 414/431/413, the origin in-flight cap (503), the per-address
//! connection cap, slow request bodies (408), clients that stop reading
//! (send timeout) and HTTP/2 stream and idle limits. Rate limits and
//! under-attack mode are in `security_rate_limits.rs`.
//!
//! Where clients must differ, the edge trusts loopback's X-Forwarded-For;
//! the connection-cap test runs without that trust, since trusted proxies
//! are exempt from the cap.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::Value;
use support::limits::{call, limited_site, start_trusting_loopback, test_origin};
use support::wire::{metric_value, raw_exchange, read_until_close};
use support::{Rampart, ops::wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_header_and_body_limits() {
    let origin = test_origin(Arc::new(tokio::sync::Semaphore::new(0))).await;
    let rampart = start_trusting_loopback(&origin.url(), "");

    let long = format!("/{}", "a".repeat(64));
    let r = call(&rampart, "shop.test", &long, "203.0.113.1", &[]).await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
    assert_eq!(rampart.log_line_of(&r)["origin"], Value::Null);
    let fits = format!("/{}", "a".repeat(63));
    assert_eq!(
        call(&rampart, "shop.test", &fits, "203.0.113.1", &[])
            .await
            .status,
        200
    );

    // host + x-forwarded-for + 10 = 12 fields fit; 13 do not.
    let ten: Vec<(String, &str)> = (0..10).map(|i| (format!("x-h{i}"), "v")).collect();
    let ten: Vec<(&str, &str)> = ten.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        call(&rampart, "shop.test", "/", "203.0.113.1", &ten)
            .await
            .status,
        200
    );
    let mut eleven = ten.clone();
    eleven.push(("x-one-more", "v"));
    let r = call(&rampart, "shop.test", "/", "203.0.113.1", &eleven).await;
    assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // Declared too large: refused before any body byte is read.
    let mut stream = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = raw_exchange(
        &mut stream,
        b"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 1001\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    // Exactly the limit is fine.
    let mut stream = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut request =
        b"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
            .to_vec();
    request.extend_from_slice(&[b'b'; 1000]);
    assert_eq!(raw_exchange(&mut stream, &request).await.status, 200);
    // Chunked past the limit: cut off while streaming, 413, connection closed.
    let mut stream = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut request =
        b"POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..5 {
        request.extend_from_slice(b"3e8\r\n");
        request.extend_from_slice(&[b'c'; 1000]);
        request.extend_from_slice(b"\r\n");
    }
    let reply = raw_exchange(&mut stream, &request).await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_eq!(reply.header("connection"), Some("close"));
    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(
            &metrics,
            r#"rampart_request_bodies_aborted_total{reason="too_large"}"#
        ),
        Some(1),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_in_flight_cap_answers_503_instead_of_queueing() {
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let origin = test_origin(release.clone()).await;
    let rampart = Arc::new(start_trusting_loopback(
        &origin.url(),
        "max_origin_requests_per_site = 2",
    ));
    let mut slow = Vec::new();
    for i in 0..2 {
        let rampart = rampart.clone();
        slow.push(tokio::spawn(async move {
            call(
                &rampart,
                "shop.test",
                "/slow",
                &format!("203.0.113.{i}"),
                &[],
            )
            .await
            .status
        }));
    }
    // Both are at the origin once it has seen them (a readiness probe).
    let hits = origin.hits.clone();
    assert!(
        tokio::task::spawn_blocking(move || wait_until(Duration::from_secs(10), || {
            hits.load(std::sync::atomic::Ordering::Relaxed) >= 2
        }))
        .await
        .unwrap_or(false)
    );
    let over = call(
        &rampart,
        "shop.test",
        "/",
        "203.0.113.9",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(
        over.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        over.text()
    );
    assert_eq!(over.header("retry-after"), Some("1"));
    assert_eq!(over.json()["error"]["code"], "site_overloaded");
    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(&metrics, r#"rampart_site_overloaded_total{site="shop"}"#),
        Some(1)
    );
    assert_eq!(
        metric_value(
            &metrics,
            r#"rampart_site_origin_requests_in_flight{site="shop"}"#
        ),
        Some(2)
    );
    release.add_permits(2);
    for task in slow {
        assert_eq!(task.await.unwrap_or_default(), 200);
    }
    // Slots are given back when responses end.
    assert_eq!(
        call(&rampart, "shop.test", "/", "203.0.113.9", &[])
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_cap_are_closed_at_accept() {
    let origin = test_origin(Arc::new(tokio::sync::Semaphore::new(0))).await;
    let rampart = Rampart::builder()
        .tables("[dos]\nmax_connections_per_ip = 2\n")
        .sites(&limited_site(&origin.url()))
        .start();
    let first = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _second = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The third is accepted by the kernel, then closed by Rampart at once.
    let mut third = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let _ = third
        .write_all(b"GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        .await;
    let bytes = read_until_close(&mut third).await;
    assert!(
        bytes.is_empty(),
        "no response: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(
            &metrics,
            r#"rampart_connections_refused_per_ip_total{listener="http"}"#
        ),
        Some(1),
        "{metrics}"
    );
    // Closing one frees its place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(rampart.http)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let reply = read_reply(&mut stream).await;
        if reply.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was never given back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
    let _ = stream
        .write_all(b"GET / HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n")
        .await;
    read_until_close(stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_bodies_get_408_and_the_connection_closes() {
    let origin = test_origin(Arc::new(tokio::sync::Semaphore::new(0))).await;
    let rampart = start_trusting_loopback(
        &origin.url(),
        "min_body_rate = 1000\nbody_rate_grace = \"1s\"",
    );
    let mut stream = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    // 900 bytes declared, 100 sent, then nothing: below 1000 B/s after 1 s.
    let mut head =
        b"POST /upload HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 900\r\n\r\n".to_vec();
    head.extend_from_slice(&[b'd'; 100]);
    stream
        .write_all(&head)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let raw = read_until_close(&mut stream).await;
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(
            &metrics,
            r#"rampart_request_bodies_aborted_total{reason="too_slow"}"#
        ),
        Some(1),
        "{metrics}"
    );
    // A body at a normal pace is not affected.
    let mut stream = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut request =
        b"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 900\r\nConnection: close\r\n\r\n"
            .to_vec();
    request.extend_from_slice(&[b'd'; 900]);
    assert_eq!(raw_exchange(&mut stream, &request).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_after_the_send_timeout() {
    let origin = test_origin(Arc::new(tokio::sync::Semaphore::new(0))).await;
    let rampart = start_trusting_loopback(&origin.url(), "send_timeout = \"1s\"");
    let mut stream = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Never read: the kernel buffers fill, writes stop making progress.
    let series = r#"rampart_connections_send_timeouts_total{listener="http"}"#;
    let admin = rampart.admin;
    let closed = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(20), || {
            support::http_get_body(admin, "/metrics")
                .and_then(|m| metric_value(&m, series))
                .is_some_and(|n| n >= 1)
        })
    })
    .await
    .unwrap_or(false);
    assert!(closed, "{}", rampart.metrics());
    // Reset, not closed: a FIN would wait behind the unsent bytes (and keep
    // them in Rampart's kernel buffers) until the client reads them.
    let reset = loop {
        let mut buf = vec![0u8; 1 << 20];
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) => break false,
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => break e.kind() == std::io::ErrorKind::ConnectionReset,
            Err(_) => break false,
        }
    };
    assert!(reset, "the edge resets a connection it gives up sending to");
    drop(stream);
    // Everyone else is served as usual.
    assert_eq!(
        call(&rampart, "shop.test", "/", "203.0.113.1", &[])
            .await
            .status,
        200
    );
}

/// Reads HTTP/2 frames until a SETTINGS frame from the server; returns its
/// parameters.
async fn server_settings(stream: &mut TcpStream) -> Vec<(u16, u32)> {
    loop {
        let mut head = [0u8; 9];
        stream
            .read_exact(&mut head)
            .await
            .unwrap_or_else(|e| panic!("frame head: {e}"));
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let mut payload = vec![0u8; len];
        stream
            .read_exact(&mut payload)
            .await
            .unwrap_or_else(|e| panic!("frame payload: {e}"));
        if head[3] == 4 && head[4] & 1 == 0 {
            return payload
                .chunks_exact(6)
                .map(|p| {
                    (
                        u16::from_be_bytes([p[0], p[1]]),
                        u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
                    )
                })
                .collect();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_come_from_config_and_silent_connections_are_closed() {
    let origin = test_origin(Arc::new(tokio::sync::Semaphore::new(0))).await;
    let rampart = Rampart::builder()
        .proxy(r#"timeouts = { request_header = "1s" }"#)
        .tables("[dos]\nmax_streams_per_connection = 7\n")
        .sites(&limited_site(&origin.url()))
        .start();

    // h2c: the preface and an empty SETTINGS frame, then nothing.
    let mut h2 = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let settings = server_settings(&mut h2).await;
    // SETTINGS_MAX_CONCURRENT_STREAMS (0x3).
    assert!(settings.contains(&(3, 7)), "{settings:?}");
    // No request within the header timeout: the connection is closed (after
    // a GOAWAY or not), it does not live on until the idle timeout.
    let started = Instant::now();
    let _ = read_until_close(&mut h2).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // TLS: a client that never finishes (here: never starts) its handshake.
    let mut tls = TcpStream::connect(rampart.https)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let _ = read_until_close(&mut tls).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(
            &metrics,
            r#"rampart_http2_head_timeouts_total{listener="http"}"#
        ),
        Some(1),
        "{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            r#"rampart_tls_handshake_failures_total{listener="https"}"#
        ),
        Some(1),
        "{metrics}"
    );
}
