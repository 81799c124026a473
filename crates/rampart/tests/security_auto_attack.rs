//! Automatic under-attack mode on the real binary, with timings short
//! enough to watch: a steady trickle through the warm-up is learned as the
//! baseline and changes nothing; a flood switches the site into the mode
//! within seconds (metric, log line, switch counter) and gets 429 with
//! Retry-After from the strict per-address limit; once the flood stops and
//! the trickle goes on, the mode switches back off after `hold`.
//!
//! The load is paced (that is what the detector measures); everything else
//! polls with a deadline, generous because this runs on small, busy
//! machines.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use support::Rampart;
use support::attack::strip_ansi;
use support::origin::{self, full};
use support::wire::metric_value;
use tokio::net::TcpStream;

const SITE: &str = "surge";
const SWITCHED: &str = "automatic under-attack mode switched";

/// What one load generator saw.
#[derive(Default)]
struct Stats {
    ok: AtomicU64,
    limited: AtomicU64,
    /// 429s whose Retry-After was a whole number of seconds, 1 to 10.
    limited_with_retry_after: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
}

impl Stats {
    fn answered(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.limited.load(Ordering::Relaxed)
            + self.other.load(Ordering::Relaxed)
    }

    fn summary(&self) -> String {
        format!(
            "200: {}, 429: {} ({} with Retry-After), other: {}, failed: {}",
            self.ok.load(Ordering::Relaxed),
            self.limited.load(Ordering::Relaxed),
            self.limited_with_retry_after.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// Sends `rps` requests a second (at most; missed ticks are skipped, not
/// caught up in a burst) over a kept-alive HTTP/1.1 connection, opening a
/// new one whenever the edge closes it, until `stop`.
fn spawn_load(
    addr: SocketAddr,
    rps: u32,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1) / rps);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut sender = None;
        while !stop.load(Ordering::Relaxed) {
            every.tick().await;
            if sender.is_none() {
                sender = connect(addr).await;
            }
            let Some(s) = sender.as_mut() else {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if s.ready().await.is_err() {
                sender = None;
                continue;
            }
            let request = Request::get("/")
                .header("host", "surge.test")
                .body(Full::new(Bytes::new()))
                .unwrap_or_else(|e| panic!("request: {e}"));
            let response = match s.send_request(request).await {
                Ok(r) => r,
                Err(_) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    sender = None;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if response.into_body().collect().await.is_err() {
                sender = None;
            }
            match status {
                200 => stats.ok.fetch_add(1, Ordering::Relaxed),
                429 => {
                    if retry_after.is_some_and(|s| (1..=10).contains(&s)) {
                        stats
                            .limited_with_retry_after
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    stats.limited.fetch_add(1, Ordering::Relaxed)
                }
                _ => stats.other.fetch_add(1, Ordering::Relaxed),
            };
        }
    })
}

async fn connect(addr: SocketAddr) -> Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

/// `rampart_site_under_attack_auto` for the site and the switch counter.
fn attack_metrics(rampart: &Rampart) -> (Option<i64>, Option<i64>) {
    let metrics = rampart.metrics();
    (
        metric_value(
            &metrics,
            &format!("rampart_site_under_attack_auto{{site=\"{SITE}\"}}"),
        ),
        metric_value(&metrics, "rampart_under_attack_switches_total"),
    )
}

/// Polls `check` every 100 ms until it gives a value or `timeout` passes.
async fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The switch log lines for the site, in order: `true` for on.
fn switch_lines(rampart: &Rampart) -> Vec<bool> {
    strip_ansi(&rampart.stderr())
        .lines()
        .filter(|l| l.contains(SWITCHED) && l.contains(&format!("site={SITE}")))
        .map(|l| l.contains("direction=\"on\""))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_switches_the_mode_on_and_calm_switches_it_off() {
    let origin = origin::builder("surge")
        .handler(|_| async { http::Response::new(full("ok")) })
        .start()
        .await;
    let rampart = Rampart::start(&format!(
        r#"
[[site]]
name = "{SITE}"
hosts = ["surge.test"]
origins = ["{}"]
auto_under_attack = {{ enabled = true, factor = 4.0, min_rps = 5, warmup = "3s", window = "2s", hold = "2s" }}
"#,
        origin.url()
    ));
    let started = Instant::now();

    // A steady 8 requests a second, from now to the end: the baseline.
    let stop_calm = Arc::new(AtomicBool::new(false));
    let calm = Arc::new(Stats::default());
    let calm_task = spawn_load(rampart.http, 8, stop_calm.clone(), calm.clone());

    // Through the warm-up (3 s) and a few buckets past it: never on. The
    // gauge is set by the detector's first tick, within a second or so.
    let seen = poll(Duration::from_secs(5), || attack_metrics(&rampart).0).await;
    assert_eq!(seen, Some(0), "gauge for the site:\n{}", rampart.metrics());
    let calm_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < calm_until {
        let (auto, switches) = attack_metrics(&rampart);
        assert_eq!(
            (auto, switches),
            (Some(0), Some(0)),
            "the trickle switched the mode on; calm: {}\n{}",
            calm.summary(),
            rampart.stderr()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        calm.ok.load(Ordering::Relaxed) >= 20 && calm.answered() == calm.ok.load(Ordering::Relaxed),
        "the trickle was served: {}",
        calm.summary()
    );

    // A flood: 8 connections at 40 requests a second each, about 40 times
    // the baseline.
    let stop_flood = Arc::new(AtomicBool::new(false));
    let flood = Arc::new(Stats::default());
    let flood_tasks: Vec<_> = (0..8)
        .map(|_| spawn_load(rampart.http, 40, stop_flood.clone(), flood.clone()))
        .collect();
    let flood_started = Instant::now();
    let on = poll(Duration::from_secs(12), || {
        (attack_metrics(&rampart) == (Some(1), Some(1))).then_some(())
    })
    .await;
    assert!(
        on.is_some(),
        "not switched on {:?} into the flood: {:?}; flood: {}\n{}",
        flood_started.elapsed(),
        attack_metrics(&rampart),
        flood.summary(),
        rampart.stderr()
    );
    let switched_on_after = flood_started.elapsed();
    // Under attack, one address gets 20 requests per 10 s: the flood is
    // answered 429 with Retry-After.
    let limited = poll(Duration::from_secs(5), || {
        (flood.limited_with_retry_after.load(Ordering::Relaxed) >= 50).then_some(())
    })
    .await;
    assert!(limited.is_some(), "flood: {}", flood.summary());
    let logged = poll(Duration::from_secs(5), || {
        (switch_lines(&rampart) == [true]).then_some(())
    })
    .await;
    assert!(
        logged.is_some(),
        "one 'on' switch logged for {SITE}:\n{}",
        rampart.stderr()
    );

    // The flood stops; the trickle goes on. The recent rate falls below
    // the release threshold within a few seconds, then `hold` (2 s) later
    // the mode is off again.
    stop_flood.store(true, Ordering::Relaxed);
    for task in flood_tasks {
        task.await.unwrap_or_else(|e| panic!("flood task: {e}"));
    }
    let flood_stopped = Instant::now();
    let off = poll(Duration::from_secs(25), || {
        (attack_metrics(&rampart) == (Some(0), Some(2))).then_some(())
    })
    .await;
    assert!(
        off.is_some(),
        "not switched off {:?} after the flood: {:?}; calm: {}\n{}",
        flood_stopped.elapsed(),
        attack_metrics(&rampart),
        calm.summary(),
        rampart.stderr()
    );
    let switched_off_after = flood_stopped.elapsed();
    let logged = poll(Duration::from_secs(5), || {
        (switch_lines(&rampart) == [true, false]).then_some(())
    })
    .await;
    assert!(
        logged.is_some(),
        "'on' then 'off' logged for {SITE}:\n{}",
        rampart.stderr()
    );
    // Off means off: the trickle is not switched on again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(attack_metrics(&rampart), (Some(0), Some(2)));

    stop_calm.store(true, Ordering::Relaxed);
    calm_task.await.unwrap_or_else(|e| panic!("calm task: {e}"));
    eprintln!(
        "on {switched_on_after:?} into the flood, off {switched_off_after:?} after it, \
         {:?} in all; flood: {}; calm: {}",
        started.elapsed(),
        flood.summary(),
        calm.summary()
    );
}
