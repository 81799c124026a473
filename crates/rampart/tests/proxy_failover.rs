//! Failover without client-visible errors: active health checks take an
//! origin out of rotation; a dead origin is retried around (bodiless
//! idempotent requests only) and passively ejected.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use support::client::{Proto, get, send};
use support::wire::metric_value;
use support::{Rampart, killable, origin};

const HEALTH: &str = "health = { path = \"/healthz\", interval = \"200ms\", timeout = \"150ms\", rise = 1, fall = 1 }";

fn healthy_series(site: &str, origin_url: &str) -> String {
    format!("rampart_origin_healthy{{site=\"{site}\",origin=\"{origin_url}\"}}")
}

/// Polls the metrics endpoint until `series` has `value` (at most 10 s).
async fn wait_metric(rampart: &Rampart, series: &str, value: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = rampart.metrics();
        if metric_value(&metrics, series) == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never became {value}; metrics:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Clients sending GETs back to back until stopped; every reply is kept.
struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<Vec<(u16, String)>>>,
}

impl Load {
    fn start(addr: std::net::SocketAddr, host: &'static str, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..workers)
            .map(|_| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let reply = send(addr, Proto::Http1, get(host, "/load")).await;
                        let origin = reply.header("x-origin").unwrap_or("-").to_string();
                        seen.push((reply.status.as_u16(), origin));
                    }
                    seen
                })
            })
            .collect();
        Self { stop, workers }
    }

    async fn finish(self) -> Vec<(u16, String)> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for worker in self.workers {
            all.extend(worker.await.unwrap_or_else(|e| panic!("load worker: {e}")));
        }
        all
    }
}

fn tally(replies: &[(u16, String)]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for (_, origin) in replies {
        *counts.entry(origin.clone()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn unhealthy_origin_leaves_rotation_without_client_errors() {
    let a = origin::start("a").await;
    let b = origin::start("b").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\", \"{}\"]\n{HEALTH}\n",
        a.url(),
        b.url()
    ));
    let a_series = healthy_series("shop", &a.url());
    let b_series = healthy_series("shop", &b.url());
    wait_metric(&rampart, &a_series, 1).await;
    wait_metric(&rampart, &b_series, 1).await;

    let load = Load::start(rampart.http, "shop.test", 4);
    // Traffic reaches both while both are healthy.
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.hits.load(Ordering::Relaxed) < 10 || b.hits.load(Ordering::Relaxed) < 10 {
        assert!(
            Instant::now() < deadline,
            "load does not reach both origins"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    a.healthy.store(false, Ordering::Relaxed);
    wait_metric(&rampart, &a_series, 0).await;
    let before_out = load.finish().await;

    // From now on, everything goes to b.
    let after = Load::start(rampart.http, "shop.test", 4);
    let deadline = Instant::now() + Duration::from_secs(10);
    let b_start = b.hits.load(Ordering::Relaxed);
    while b.hits.load(Ordering::Relaxed) < b_start + 50 {
        assert!(Instant::now() < deadline, "load stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let while_out = after.finish().await;
    assert!(while_out.len() >= 40, "{}", while_out.len());
    assert_eq!(
        tally(&while_out).get("b").copied(),
        Some(while_out.len()),
        "every request went to the healthy origin: {:?}",
        tally(&while_out)
    );
    assert_eq!(metric_value(&rampart.metrics(), &b_series), Some(1));

    // a comes back: it rejoins the rotation.
    let load = Load::start(rampart.http, "shop.test", 4);
    a.healthy.store(true, Ordering::Relaxed);
    wait_metric(&rampart, &a_series, 1).await;
    let a_back = a.hits.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.hits.load(Ordering::Relaxed) < a_back + 20 {
        assert!(Instant::now() < deadline, "a never got traffic again");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let back_in = load.finish().await;

    let all: Vec<_> = before_out
        .iter()
        .chain(&while_out)
        .chain(&back_in)
        .collect();
    let failures: Vec<_> = all.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        failures.is_empty(),
        "client-visible errors: {failures:?} of {}",
        all.len()
    );
    eprintln!(
        "{} requests, all 200: before {:?}, while a was out {:?}, after {:?}",
        all.len(),
        tally(&before_out),
        tally(&while_out),
        tally(&back_in)
    );
}

fn post(host: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::post("/orders")
        .header(http::header::HOST, host)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_else(|e| panic!("request: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_origin_is_retried_for_gets_but_not_for_posts() {
    let a = killable::start("a").await;
    let b = origin::start("b").await;
    // Two sites over the same origins: separate rotation and ejection state.
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"reads\"\nhosts = [\"reads.test\"]\norigins = [\"{a}\", \"{b}\"]\n\n\
         [[site]]\nname = \"writes\"\nhosts = [\"writes.test\"]\norigins = [\"{a}\", \"{b}\"]\n",
        a = a.url(),
        b = b.url()
    ));

    // Warm up: both origins serve, and Rampart pools connections to both.
    let mut seen = HashMap::new();
    for _ in 0..6 {
        let reply = send(rampart.http, Proto::Http1, get("reads.test", "/warm")).await;
        assert_eq!(reply.status, 200);
        *seen
            .entry(reply.header("x-origin").unwrap_or("-").to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(seen.get("a"), Some(&3), "{seen:?}");
    assert_eq!(seen.get("b"), Some(&3), "{seen:?}");

    // a dies: listener and pooled connections gone, connections refused.
    a.kill().await;
    assert!(
        std::net::TcpStream::connect(a.addr).is_err(),
        "a still accepts"
    );

    // GETs keep succeeding: the request that picks a is retried on b.
    let load = Load::start(rampart.http, "reads.test", 4);
    let b_start = b.hits.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.hits.load(Ordering::Relaxed) < b_start + 60 {
        assert!(Instant::now() < deadline, "load stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let replies = load.finish().await;
    let failures: Vec<_> = replies.iter().filter(|(s, _)| *s != 200).collect();
    assert!(failures.is_empty(), "client-visible errors: {failures:?}");
    assert!(
        replies.iter().all(|(_, o)| o == "b"),
        "{:?}",
        tally(&replies)
    );

    let lines = rampart
        .access_log_until(|l| l.iter().filter(|l| l["path"] == "/load").count() >= replies.len());
    let load_lines: Vec<_> = lines.iter().filter(|l| l["path"] == "/load").collect();
    let retried: Vec<_> = load_lines.iter().filter(|l| l["attempts"] == 2).collect();
    assert!(!retried.is_empty(), "no retried request in {load_lines:?}");
    for line in &retried {
        assert_eq!(line["status"], 200);
        assert_eq!(
            line["origin"],
            b.url(),
            "answered by the origin tried second"
        );
    }
    // Without ejection round robin would retry about half of them (30+); with
    // it, only requests already in flight when a failed (4 workers, plus one
    // that may have found a stale pooled connection) are retried.
    assert_eq!(load_lines.len(), replies.len(), "one log line per request");
    assert!(load_lines.len() >= 60, "{}", load_lines.len());
    assert!(
        retried.len() <= 8,
        "a was passively ejected after failing, not retried over and over: {} retries",
        retried.len()
    );
    // Passive ejection shows in the metrics.
    let metrics = rampart.metrics();
    assert_eq!(
        metric_value(&metrics, &healthy_series("reads", &a.url())),
        Some(0),
        "{metrics}"
    );
    assert!(
        metric_value(
            &metrics,
            &format!(
                "rampart_origin_retries_total{{site=\"reads\",origin=\"{}\"}}",
                a.url()
            )
        )
        .unwrap_or(0)
            >= 1,
        "{metrics}"
    );

    // POST with a body: never replayed. The site "writes" has not used a yet,
    // so round robin sends one of the first two POSTs there.
    let mut refused = None;
    for _ in 0..2 {
        let reply = send(
            rampart.http,
            Proto::Http1,
            post("writes.test", "{\"item\":42}"),
        )
        .await;
        if reply.status == 502 {
            refused = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["body_len"], 11, "the body reached b");
    }
    let refused = refused.unwrap_or_else(|| panic!("no POST went to the dead origin"));
    assert!(
        refused.text().contains(&refused.ray()),
        "502 page with the ray id"
    );
    assert!(
        refused
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    let line = rampart.log_line_of(&refused);
    assert_eq!(line["status"], 502);
    assert_eq!(
        line["attempts"], 1,
        "POST with a body is not retried: {line}"
    );
    assert_eq!(line["origin"], a.url());
    assert_eq!(line["method"], "POST");

    // The same kind of request without a body is retried instead. a is now
    // ejected from "writes" (round robin skips it), so show that on a fresh
    // edge that has never seen a fail.
    let fresh = Rampart::start(&format!(
        "[[site]]\nname = \"fresh\"\nhosts = [\"fresh.test\"]\norigins = [\"{}\", \"{}\"]\n",
        a.url(),
        b.url()
    ));
    // Round robin sends one of the first two GETs to a.
    let mut attempts = Vec::new();
    for _ in 0..2 {
        let reply = send(fresh.http, Proto::Http1, get("fresh.test", "/first")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-origin"), Some("b"));
        attempts.push(fresh.log_line_of(&reply)["attempts"].clone());
    }
    assert!(
        attempts.contains(&serde_json::json!(2)),
        "the GET that picked the dead a was retried on b: attempts {attempts:?}"
    );
    let reply = send(fresh.http, Proto::Http1, post("fresh.test", "{}")).await;
    assert_eq!(reply.status, 200, "a is ejected: the POST goes to b");
    assert_eq!(fresh.log_line_of(&reply)["attempts"], 1);
}
