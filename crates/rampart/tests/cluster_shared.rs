//! Cluster mode's shared tier: three real `rampart serve` nodes on one
//! PostgreSQL and one real redis-server (`[shared] url`). A captcha token
//! verified on one node is refused on another; a site-wide rate limit holds
//! across the nodes in total; Redis killed mid-load costs no 5xx, shows as
//! degraded in /metrics, and its return is noticed by itself; a per-address
//! limit holds across the nodes under wrk from several source addresses.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_testkit::redis::RedisServer;
use serde_json::{Value, json};
use support::client::{Proto, Reply, get, send};
use support::cluster::Cluster;
use support::ops::wait_until;
use support::origin;

/// Each test runs three nodes, PostgreSQL and Redis: one at a time, so the
/// limit's accuracy is not measured on a machine the other test saturates.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SECRET: &str = "rs_cluster-secret-0123456789abcdefghijklm";
const SITEKEY: &str = "rk_cluster_contact";

fn sites(origin: &str, period: &str, requests: u32) -> String {
    format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["{origin}"]

[site.challenge]
difficulty = {{ low = 6, medium = 8, high = 10 }}

[[site.captcha]]
sitekey = "{SITEKEY}"
secret = "{SECRET}"
hostnames = ["shop.test"]

[[site.rate_limits]]
id = "api"
expression = 'starts_with(http.request.uri.path, "/api")'
period = "{period}"
requests = {requests}
mitigation_timeout = "0s"
"#
    )
}

fn cluster(redis: &RedisServer, sites: &str) -> Cluster {
    let shared = format!("[shared]\nurl = \"{}\"\n", redis.url());
    Cluster::builder(3).sites(sites).tables(&shared).start()
}

/// `rampart_shared_state{state="…"}` is 1 for `state` on node `i`.
fn shared_state_is(cluster: &Cluster, i: usize, state: &str) -> bool {
    cluster
        .node(i)
        .metrics()
        .contains(&format!("rampart_shared_state{{state=\"{state}\"}} 1"))
}

fn metric(cluster: &Cluster, i: usize, name: &str) -> u64 {
    let text = cluster.node(i).metrics();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn siteverify(cluster: &Cluster, i: usize, token: &str) -> Value {
    let body = json!({ "secret": SECRET, "response": token }).to_string();
    let request = Request::post("/.rampart/captcha/v1/siteverify")
        .header("host", "shop.test")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let reply = send(cluster.http(i), Proto::Http1, request).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

async fn api_call(cluster: &Cluster, i: usize, n: u64) -> Reply {
    send(
        cluster.http(i),
        Proto::Http1,
        get("shop.test", &format!("/api/{n}")),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_single_use_and_a_limit_holds_across_nodes() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let origin = origin::start("shop").await;
    // 250 per 5 s for the whole site, whichever node a request reaches.
    let cluster = cluster(&redis, &sites(&origin.url(), "5s", 250));
    assert!(
        wait_until(Duration::from_secs(10), || (0..3)
            .all(|i| shared_state_is(&cluster, i, "ok"))),
        "not every node reached Redis:\n{}",
        cluster.node(0).stderr()
    );

    // A token won on node A and verified there is refused on node B, and
    // on node C; one verified on B first is refused on A.
    let token = support::widget::token(cluster.http(0), "shop.test", SITEKEY, "").await;
    let first = siteverify(&cluster, 0, &token).await;
    assert_eq!(first["success"], true, "{first}");
    for i in [1, 2, 0] {
        let again = siteverify(&cluster, i, &token).await;
        assert_eq!(again["success"], false, "node {i}: {again}");
        assert_eq!(
            again["error-codes"],
            json!(["timeout-or-duplicate"]),
            "{again}"
        );
    }
    let token = support::widget::token(cluster.http(2), "shop.test", SITEKEY, "").await;
    assert_eq!(siteverify(&cluster, 1, &token).await["success"], true);
    assert_eq!(siteverify(&cluster, 0, &token).await["success"], false);

    // Steady load on all three nodes, about ten times the limit in total.
    // The opening burst (a full allowance at once) takes two periods to
    // even out in the sliding estimate; the measure starts after them.
    let start = Instant::now();
    let run = Duration::from_secs(17);
    let cluster = Arc::new(cluster);
    let mut tasks = Vec::new();
    for i in 0..3 {
        for lane in 0..2u64 {
            let cluster = cluster.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                let mut n = lane;
                while start.elapsed() < run {
                    tick.tick().await;
                    n += 2;
                    let reply = api_call(&cluster, i, n).await;
                    seen.push((start.elapsed().as_millis() as u64, reply.status));
                }
                seen
            }));
        }
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.extend(t.await.unwrap_or_else(|e| panic!("load task: {e}")));
    }
    assert!(
        seen.iter().all(|(_, s)| *s == 200 || *s == 429),
        "unexpected statuses: {:?}",
        seen.iter()
            .filter(|(_, s)| *s != 200 && *s != 429)
            .take(5)
            .collect::<Vec<_>>()
    );
    let allowed: Vec<u64> = seen
        .iter()
        .filter(|(_, s)| *s == 200)
        .map(|(t, _)| *t)
        .collect();
    let (mut lo, mut hi) = (usize::MAX, 0);
    let mut t = 10_000;
    while t <= run.as_millis() as u64 {
        let n = allowed.iter().filter(|&&a| a + 5_000 > t && a <= t).count();
        lo = lo.min(n);
        hi = hi.max(n);
        t += 250;
    }
    let ops: u64 = (0..3)
        .map(|i| metric(&cluster, i, "rampart_shared_ops_total"))
        .sum();
    eprintln!(
        "{} requests, allowed per 5 s at steady load: {lo}..={hi} (limit 250); {ops} Redis commands ({:.3} per request)",
        seen.len(),
        ops as f64 / seen.len() as f64
    );
    assert!(seen.len() > 1_500, "only {} requests offered", seen.len());
    assert!(
        hi <= 263,
        "up to {hi} allowed per period across the nodes, limit 250"
    );
    assert!(
        lo >= 237,
        "down to {lo} allowed per period across the nodes, limit 250"
    );
    // Batched: far fewer commands than requests even at this modest load,
    // where most rounds carry one admitted request (refused ones cost no
    // command). The 0.1-per-request target at load is measured by
    // rampart-shared's tests and the cluster benchmark.
    assert!(
        (ops as f64) / (seen.len() as f64) <= 0.5,
        "{ops} Redis commands for {} requests",
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_load_costs_no_5xx_and_recovery_is_automatic() {
    let _serial = SERIAL.lock().await;
    let mut redis = RedisServer::start();
    let origin = origin::start("shop").await;
    let cluster = cluster(&redis, &sites(&origin.url(), "1m", 1_000_000));
    assert!(
        wait_until(Duration::from_secs(10), || (0..3)
            .all(|i| shared_state_is(&cluster, i, "ok"))),
        "not every node reached Redis:\n{}",
        cluster.node(0).stderr()
    );
    let cluster = Arc::new(cluster);
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..3 {
        let (cluster, stop) = (cluster.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let path = if n % 2 == 0 { "/" } else { "/api/x" };
                let reply = send(cluster.http(i), Proto::Http1, get("shop.test", path)).await;
                statuses.push(reply.status);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            statuses
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    redis.stop();
    assert!(
        wait_until(Duration::from_secs(10), || (0..3)
            .all(|i| shared_state_is(&cluster, i, "degraded"))),
        "the nodes did not report the shared tier degraded"
    );
    assert!(metric(&cluster, 0, "rampart_shared_errors_total") > 0);
    // Tokens still verify, on the node's own spent set.
    let token = support::widget::token(cluster.http(1), "shop.test", SITEKEY, "").await;
    assert_eq!(siteverify(&cluster, 1, &token).await["success"], true);
    assert_eq!(siteverify(&cluster, 1, &token).await["success"], false);
    tokio::time::sleep(Duration::from_millis(500)).await;

    redis.restart();
    assert!(
        wait_until(Duration::from_secs(15), || (0..3)
            .all(|i| shared_state_is(&cluster, i, "ok"))),
        "the nodes did not come back to ok by themselves"
    );
    // Single use across nodes again.
    let token = support::widget::token(cluster.http(0), "shop.test", SITEKEY, "").await;
    assert_eq!(siteverify(&cluster, 0, &token).await["success"], true);
    assert_eq!(siteverify(&cluster, 2, &token).await["success"], false);

    stop.store(true, Ordering::Relaxed);
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap_or_else(|e| panic!("load task: {e}")));
    }
    let errors = statuses.iter().filter(|s| s.is_server_error()).count();
    eprintln!(
        "{} requests through the outage, {errors} with 5xx",
        statuses.len()
    );
    assert!(statuses.len() > 100, "only {} requests", statuses.len());
    assert_eq!(errors, 0, "5xx answers during the Redis outage");
}

/// Per-client limits under wrk from several source addresses: each of three
/// addresses floods all three nodes at once (wrk through a relay that
/// connects from that address, so Rampart sees a real peer address). What
/// each address gets admitted across the cluster is its one limit, not one
/// limit per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_per_address_limit_holds_across_nodes_under_wrk() {
    const LIMIT: u64 = 100;
    const PERIOD_SECS: u64 = 2;
    let _serial = SERIAL.lock().await;
    support::attack::ensure_fd_limit(4096);
    let redis = RedisServer::start();
    let origin = origin::start("shop").await;
    let sites = format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n\n\
         [[site.rate_limits]]\nid = \"per-ip\"\ncharacteristics = [\"ip\"]\n\
         period = \"{PERIOD_SECS}s\"\nrequests = {LIMIT}\nmitigation_timeout = \"0s\"\n",
        origin.url()
    );
    let cluster = cluster(&redis, &sites);
    assert!(
        wait_until(Duration::from_secs(10), || (0..3)
            .all(|i| shared_state_is(&cluster, i, "ok"))),
        "not every node reached Redis"
    );
    let sources: [std::net::IpAddr; 3] = [
        [127, 0, 0, 2].into(),
        [127, 0, 0, 3].into(),
        [127, 0, 0, 4].into(),
    ];
    let run = Duration::from_secs(4 * PERIOD_SECS);
    let mut relays = Vec::new();
    let mut floods = Vec::new();
    for src in sources {
        for i in 0..3 {
            let relay = support::attack::Relay::start(src, cluster.http(i)).await;
            let url = format!("http://{}/", relay.addr);
            relays.push(relay);
            floods.push((
                src,
                tokio::spawn(
                    async move { support::attack::wrk(&url, "shop.test", 1, 4, run).await },
                ),
            ));
        }
    }
    let mut admitted = std::collections::BTreeMap::<std::net::IpAddr, u64>::new();
    let mut refused = std::collections::BTreeMap::<std::net::IpAddr, u64>::new();
    for (src, flood) in floods {
        let report = flood.await.unwrap_or_else(|e| panic!("wrk task: {e}"));
        let other: u64 = report
            .statuses
            .iter()
            .filter(|(code, _)| **code != 200 && **code != 429)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(other, 0, "statuses other than 200/429: {}", report.output);
        *admitted.entry(src).or_default() += report.statuses.get(&200).copied().unwrap_or(0);
        *refused.entry(src).or_default() += report.statuses.get(&429).copied().unwrap_or(0);
    }
    // Windows are aligned to the clock, so a run of four periods (the nine
    // wrk runs start a little apart) touches five of them, and at steady
    // overload the sliding estimate admits one limit per window: about 500
    // (measured 453–525). Without the shared tier each node would admit
    // that much by itself, about 1,500 in total. The 5 % accuracy at steady
    // load is asserted by the site-wide test above, which measures per
    // period rather than over a whole run with its edges.
    let periods = run.as_secs() / PERIOD_SECS;
    let ceiling = LIMIT * (periods + 1) * 115 / 100;
    let floor = LIMIT * (periods - 1);
    eprintln!(
        "admitted per address across 3 nodes: {admitted:?}; refused: {refused:?}; bounds {floor}..={ceiling}"
    );
    for src in sources {
        let (ok, limited) = (admitted[&src], refused[&src]);
        assert!(
            (floor..=ceiling).contains(&ok),
            "{src}: {ok} admitted across the nodes in {periods} periods of a {LIMIT} limit \
             (expected {floor}..={ceiling})"
        );
        assert!(
            limited > ok,
            "{src} was hardly limited: {ok} admitted, {limited} refused"
        );
    }
    drop(relays);
}
