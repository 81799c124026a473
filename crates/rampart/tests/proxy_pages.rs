//! Pages Rampart answers itself when the origin side fails: 504 on an origin
//! response timeout, 503 when no origin is healthy, 502 when none can be
//! reached, as HTML with the ray id or as JSON, and per-site templates.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use support::client::{Proto, Reply, get, send};
use support::origin::{self, full};
use support::wire::metric_value;
use support::{Rampart, free_addr};

fn get_json(host: &str, path: &str) -> Request<Full<Bytes>> {
    let mut request = get(host, path);
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    request
}

fn assert_html_page(reply: &Reply, status: u16, title: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        reply.headers
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let ray = reply.ray();
    assert_eq!(ray.len(), 16);
    let html = reply.text();
    assert!(html.contains(&ray), "page shows the ray id {ray}: {html}");
    assert!(html.contains(&format!("Error {status}: {title}")), "{html}");
}

fn assert_json_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let json = reply.json();
    assert_eq!(json["error"]["status"], status);
    assert_eq!(json["error"]["code"], code);
    assert_eq!(json["error"]["ray_id"], reply.ray());
    assert!(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_origin_gets_a_504_page_after_the_response_timeout() {
    let origin = origin::builder("slow")
        .handler(|req: Request<Incoming>| async move {
            if req.uri().path() == "/slow" {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Response::new(full("done"))
        })
        .start()
        .await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"slow\"\nhosts = [\"slow.test\"]\norigins = [\"{}\"]\n\
         timeouts = {{ origin_response = \"300ms\" }}\n",
        origin.url()
    ));

    let started = Instant::now();
    let reply = send(rampart.http, Proto::Http1, get("slow.test", "/slow")).await;
    let elapsed = started.elapsed();
    assert_html_page(&reply, 504, "Origin timed out");
    assert!(
        elapsed >= Duration::from_millis(300),
        "answered before the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "did not wait for the origin: {elapsed:?}"
    );
    let line = rampart.log_line_of(&reply);
    assert_eq!(line["status"], 504);
    assert_eq!(line["error"], "origin response timeout");
    assert_eq!(line["origin_status"], serde_json::Value::Null);
    assert_eq!(line["attempts"], 1, "a timeout is not retried");

    // Same over HTTP/2, as JSON for an API client.
    let reply = send(rampart.http, Proto::Http2, get_json("slow.test", "/slow")).await;
    assert_json_error(&reply, 504, "origin_timeout");

    // Fast answers are unaffected.
    let reply = send(rampart.http, Proto::Http1, get("slow.test", "/fast")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "done");

    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(
            &metrics,
            &format!(
                "rampart_origin_timeouts_total{{site=\"slow\",origin=\"{}\"}}",
                origin.url()
            )
        ),
        Some(2),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_healthy_origin_gets_a_503_page() {
    let a = origin::start("a").await;
    let b = origin::start("b").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\", \"{}\"]\n\
         health = {{ path = \"/healthz\", interval = \"200ms\", timeout = \"150ms\", rise = 1, fall = 1 }}\n",
        a.url(),
        b.url()
    ));
    let series = |o: &origin::TestOrigin| {
        format!(
            "rampart_origin_healthy{{site=\"shop\",origin=\"{}\"}}",
            o.url()
        )
    };
    let wait = |value: i64| {
        let rampart = &rampart;
        let series = [series(&a), series(&b)];
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let metrics = rampart.metrics();
                if series
                    .iter()
                    .all(|s| metric_value(&metrics, s) == Some(value))
                {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "origins never became {value}:\n{metrics}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    a.healthy.store(false, std::sync::atomic::Ordering::Relaxed);
    b.healthy.store(false, std::sync::atomic::Ordering::Relaxed);
    wait(0).await;

    let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
    assert_html_page(&reply, 503, "Service unavailable");
    assert!(reply.text().contains("shop.test"), "page names the host");
    let line = rampart.log_line_of(&reply);
    assert_eq!(line["status"], 503);
    assert_eq!(line["error"], "no healthy origin");
    assert_eq!(line["attempts"], 0);
    assert_eq!(line["origin"], serde_json::Value::Null);

    let reply = send(rampart.http, Proto::Http1, get_json("shop.test", "/api")).await;
    assert_json_error(&reply, 503, "no_healthy_origin");

    // Browsers list HTML first even when they accept JSON too.
    let mut browser = get("shop.test", "/");
    browser.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static(
            "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8",
        ),
    );
    let reply = send(rampart.http, Proto::Http1, browser).await;
    assert_html_page(&reply, 503, "Service unavailable");

    a.healthy.store(true, std::sync::atomic::Ordering::Relaxed);
    b.healthy.store(true, std::sync::atomic::Ordering::Relaxed);
    wait(1).await;
    let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
    assert_eq!(reply.status, 200, "back in service");
}

#[tokio::test(flavor = "multi_thread")]
async fn site_templates_replace_the_generated_pages() {
    let dead = free_addr();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::create_dir(dir.path().join("pages")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let template = "<!doctype html><title>{{status}}</title><h1>Custom {{status}}: {{title}}</h1>\
                    <p>Quote {{ray_id}} to support ({{ray_id}}) about {{host}}.</p>\n";
    support::write(&dir.path().join("pages/502.html"), template);
    let rampart = Rampart::builder()
        .dir(dir)
        .sites(&format!(
            "[[site]]\nname = \"custom\"\nhosts = [\"custom.test\"]\norigins = [\"http://{dead}\"]\n\
             pages = {{ bad_gateway = \"pages/502.html\" }}\n\n\
             [[site]]\nname = \"stock\"\nhosts = [\"stock.test\"]\norigins = [\"http://{dead}\"]\n"
        ))
        .start();

    let reply = send(rampart.http, Proto::Http1, get("custom.test", "/checkout")).await;
    assert_eq!(reply.status, 502);
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    let ray = reply.ray();
    let expected = template
        .replace("{{status}}", "502")
        .replace("{{title}}", "Origin unreachable")
        .replace("{{ray_id}}", &ray)
        .replace("{{host}}", "custom.test");
    assert_eq!(reply.text(), expected, "the site's template, filled in");
    assert_eq!(rampart.log_line_of(&reply)["status"], 502);

    // API clients still get JSON, not the template.
    let reply = send(rampart.http, Proto::Http1, get_json("custom.test", "/api")).await;
    assert_json_error(&reply, 502, "origin_unreachable");

    // Other sites keep the generated page.
    let reply = send(rampart.http, Proto::Http1, get("stock.test", "/")).await;
    assert_html_page(&reply, 502, "Origin unreachable");
    assert!(!reply.text().contains("Custom"));
}
