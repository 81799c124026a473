//! Slow HTTP attacks with the real slowhttptest (Debian package
//! `slowhttptest`): slowloris (-H), slow body / R-U-Dead-Yet (-B) and slow
//! read (-X), each with 1,000 connections, plus slowloris against the per-IP
//! connection cap. In each, a normal client asks for a page every 100 ms for
//! the whole attack and must get 200 within 2 s every time, and Rampart must
//! close the attack connections itself, seen from outside: the kernel's
//! socket table (/proc/net/tcp) shows Rampart's side of them gone while
//! slowhttptest still runs, slowhttptest itself reports them closed (or, for
//! slow readers, its kernel has dropped them as reset), and Rampart's
//! `rampart_connections_open` falls back. See docs/dos-testing.md.
//!
//! Addresses: slowhttptest cannot choose its source address, so the attack
//! comes from 127.0.0.1. The normal client binds 127.9.0.1 (all of 127/8 is
//! local on Linux), outside the attacker's /24, because the per-prefix cap
//! counts a /24 as one client. Where a test is about a timeout, the caps are
//! set above the attack's size so that the timeout, not the cap, is what
//! ends the connections; the cap has its own test.
//!
//! The tests in this file run one at a time (a lock), so two attacks never
//! share the two CPU cores.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use support::attack::{
    OUTSIDER, Prober, SlowHttpTest, SlowReport, assert_all_served, client_sockets_open,
    connections_open, ensure_fd_limit, held_by_state, held_to, metric_sum,
};
use support::origin::{self, TestOrigin, full};
use support::{Rampart, RampartBuilder};

/// Attack connections per run.
const CONNECTIONS: usize = 1_000;
/// A normal request must be answered within this during an attack.
const SERVED_WITHIN: Duration = Duration::from_secs(2);
/// Size of `/big` (2.5 MiB): more than the kernel buffers for a stalled
/// reader on loopback (about 1.7 MB with its 64 KiB MSS) plus Rampart's own
/// buffers, so a slow reader really stalls Rampart's writes. (If it did
/// not, the connection would sit idle after the response and the 60 s idle
/// timeout, not `send_timeout`, would apply: the test would fail.)
const BIG: usize = 5 << 19;

/// One attack at a time (tests in a file run in parallel by default). An
/// async lock: each test holds it across its awaits.
static ONE_ATTACK_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An origin answering `/big` with `BIG` bytes and everything else with "ok"
/// once it has read the whole request body (as an upload handler would, so
/// a slow body holds the request open).
async fn shop_origin() -> TestOrigin {
    let big = Bytes::from(vec![b'x'; BIG]);
    origin::builder("shop")
        .handler(move |req| {
            let big = big.clone();
            async move {
                if req.uri().path() == "/big" {
                    return Response::new(full(big));
                }
                let _ = req.into_body().collect().await;
                Response::new(full("ok"))
            }
        })
        .start()
        .await
}

/// Rampart with one site answering for `shop.test` and for the Host header
/// slowhttptest sends (`127.0.0.1:PORT`), plus the given `[proxy]` keys and
/// `[dos]` table.
fn rampart(origin: &TestOrigin, proxy: &str, dos: &str) -> Rampart {
    ensure_fd_limit(4 * CONNECTIONS as u64 + 1_000);
    RampartBuilder::default()
        .proxy(proxy)
        .tables(&format!("[dos]\n{dos}"))
        .sites(&format!(
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\", \"127.0.0.1\"]\norigins = [\"{}\"]\n",
            origin.url()
        ))
        .start()
}

/// What one attack run showed.
struct Observed {
    report: SlowReport,
    /// Most attack connections Rampart's side held at once (kernel view).
    peak: usize,
    /// Since the tool started, when Rampart's side held at most `LEFT`
    /// attack connections, after the peak and after Rampart had accepted
    /// all of them.
    drained_at: Option<Duration>,
    /// Whether slowhttptest still ran at that moment (so the connections
    /// were closed by Rampart, not by the tool exiting).
    tool_alive_at_drain: bool,
    /// The attacker's sockets still open on its side at that moment.
    attacker_open_at_drain: Option<usize>,
    /// `rampart_connections_open` after the attack.
    open_after: i64,
    /// What Rampart's side held, by TCP state, when watching stopped.
    held_at_end: std::collections::BTreeMap<&'static str, usize>,
}

/// Attack connections that may remain for "all closed" (stragglers that
/// slowhttptest opens last).
const LEFT: usize = 10;

/// Runs slowhttptest with `args` while the normal client probes; watches
/// Rampart's side of the attack connections (`held_to`) until, after at
/// least `min_peak` were held at once and Rampart accepted `CONNECTIONS`,
/// at most `LEFT` remain, or `window` passes. Asserts the normal client was
/// served throughout.
async fn attack(rampart: &Rampart, args: &[&str], min_peak: usize, window: Duration) -> Observed {
    let attacker = Some(std::net::IpAddr::from([127, 0, 0, 1]));
    assert_eq!(held_to(rampart.http, attacker), 0);
    let accepted = || metric_sum(&rampart.metrics(), "rampart_connections_accepted_total");
    let accepted_before = accepted();
    let prober = Prober::start(
        OUTSIDER,
        rampart.http,
        "shop.test",
        "/",
        Duration::from_millis(100),
        SERVED_WITHIN,
    );
    let mut tool = SlowHttpTest::spawn(rampart.dir.path(), args);
    let mut peak = 0;
    let mut drained_at = None;
    let mut tool_alive_at_drain = false;
    let mut attacker_open_at_drain = None;
    while tool.started.elapsed() < window {
        let now = held_to(rampart.http, attacker);
        peak = peak.max(now);
        if peak >= min_peak && now <= LEFT && accepted() - accepted_before >= CONNECTIONS as i64 {
            drained_at = Some(tool.started.elapsed());
            tool_alive_at_drain = tool.running();
            attacker_open_at_drain = Some(client_sockets_open(rampart.http));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held_at_end = held_by_state(rampart.http, attacker);
    // The tool ends by itself once the server has closed every connection.
    let report = tokio::task::block_in_place(|| tool.finish(Duration::from_secs(3)));
    let probes = prober.finish().await;
    assert_all_served(
        &probes,
        20,
        SERVED_WITHIN,
        &format!("slowhttptest {args:?}"),
    );
    let open_after = support::attack::poll_until(Duration::from_secs(5), || {
        let open = connections_open(&rampart.metrics());
        (open <= LEFT as i64).then_some(open)
    })
    .await
    .unwrap_or_else(|| connections_open(&rampart.metrics()));
    Observed {
        report,
        peak,
        drained_at,
        tool_alive_at_drain,
        attacker_open_at_drain,
        open_after,
        held_at_end,
    }
}

/// How the attacker's side shows that Rampart closed its connections.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ToolSees {
    /// slowhttptest notices every close and ends with "No open connections
    /// left" (slowloris, slow body: it reads whatever arrives).
    AllClosed,
    /// A slow reader reads 32 bytes every few seconds and reaches the reset
    /// only after its receive buffer, minutes later; its kernel, though,
    /// has already dropped the reset sockets (`client_sockets_open`).
    Reset,
}

/// The assertions shared by the timeout modes.
fn assert_closed_by_rampart(
    what: &str,
    seen: &Observed,
    min_peak: usize,
    closed_by: Duration,
    tool_sees: ToolSees,
) {
    let report = &seen.report;
    let context = format!(
        "{what}: peak {} attack connections held on Rampart's side, drained at {:?} \
         (tool alive: {}, attacker sockets open: {:?}), held by state at the end {:?}, \
         tool exit {:?}, last CSV row {:?}\n{}",
        seen.peak,
        seen.drained_at,
        seen.tool_alive_at_drain,
        seen.attacker_open_at_drain,
        seen.held_at_end,
        report.exit_status,
        report.last(),
        report.tail(12)
    );
    assert!(
        seen.peak >= min_peak,
        "the attack never held {min_peak} connections on Rampart; {context}"
    );
    let drained_at = seen
        .drained_at
        .unwrap_or_else(|| panic!("Rampart did not let go of the attack connections; {context}"));
    assert!(
        drained_at <= closed_by,
        "Rampart took {drained_at:?} to close the attack connections (wanted ≤ {closed_by:?}); {context}"
    );
    assert!(
        seen.open_after <= LEFT as i64,
        "rampart_connections_open is still {} after the attack; {context}",
        seen.open_after
    );
    match tool_sees {
        ToolSees::AllClosed => {
            assert!(
                seen.tool_alive_at_drain || report.exit_status == "No open connections left",
                "the connections went because slowhttptest stopped, not because Rampart closed them; {context}"
            );
            assert_tool_saw_all_closed(report);
        }
        ToolSees::Reset => {
            assert!(
                seen.tool_alive_at_drain,
                "slowhttptest had stopped before Rampart dropped its connections; {context}"
            );
            assert!(
                seen.attacker_open_at_drain.is_some_and(|n| n <= LEFT),
                "the attacker's sockets were not reset; {context}"
            );
        }
    }
}

/// slowhttptest's own verdict: it ends with "No open connections left" once
/// the server has closed every one of them (its CSV is written once a
/// second, so the last row can predate the last closes).
fn assert_tool_saw_all_closed(report: &SlowReport) {
    let closed = report.last().map_or(0, |r| r.closed as usize);
    assert!(
        report.exit_status == "No open connections left" || closed >= CONNECTIONS - LEFT,
        "slowhttptest did not see its connections closed: exit {:?}, last CSV row {:?}",
        report.exit_status,
        report.last()
    );
}

/// Slowloris: 1,000 connections that send a header line per second and never
/// finish the head. `timeouts.request_header = "2s"` must close each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slowloris_connections_are_closed_at_the_header_timeout() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let shop = shop_origin().await;
    let rampart = rampart(
        &shop,
        "timeouts = { request_header = \"2s\" }",
        // Caps above the attack: this test is about the header timeout.
        "max_connections_per_ip = 4096\nmax_connections_per_prefix = 4096\n",
    );
    let url = format!("http://127.0.0.1:{}/", rampart.http.port());
    let started = Instant::now();
    let seen = attack(
        &rampart,
        &[
            "-H", "-c", "1000", "-r", "1000", "-i", "1", "-x", "24", "-l", "30", "-u", &url,
        ],
        CONNECTIONS / 2,
        Duration::from_secs(25),
    )
    .await;
    assert_closed_by_rampart(
        "slowloris",
        &seen,
        CONNECTIONS / 2,
        Duration::from_secs(12),
        ToolSees::AllClosed,
    );
    eprintln!(
        "slowloris: peak {}, drained at {:?}, {:?} in all",
        seen.peak,
        seen.drained_at,
        started.elapsed()
    );
}

/// Slow body (R-U-Dead-Yet): 1,000 POSTs that announce 64 KiB and send a few
/// bytes a second. `min_body_rate = 1000` after a 2 s grace must close each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_bodies_are_closed_below_the_minimum_body_rate() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let shop = shop_origin().await;
    let rampart = rampart(
        &shop,
        "",
        "max_connections_per_ip = 4096\nmax_connections_per_prefix = 4096\n\
         min_body_rate = 1000\nbody_rate_grace = \"2s\"\n",
    );
    let url = format!("http://127.0.0.1:{}/upload", rampart.http.port());
    let started = Instant::now();
    let seen = attack(
        &rampart,
        &[
            "-B", "-c", "1000", "-r", "1000", "-i", "1", "-x", "10", "-s", "65536", "-l", "30",
            "-u", &url,
        ],
        CONNECTIONS / 2,
        Duration::from_secs(25),
    )
    .await;
    assert_closed_by_rampart(
        "slow body",
        &seen,
        CONNECTIONS / 2,
        Duration::from_secs(14),
        ToolSees::AllClosed,
    );
    eprintln!(
        "slow body: peak {}, drained at {:?}, {:?} in all",
        seen.peak,
        seen.drained_at,
        started.elapsed()
    );
}

/// Slow read: 1,000 connections ask for a `BIG` page with a tiny receive
/// window and read 32 bytes every 5 s. `send_timeout = "2s"` must drop each.
///
/// Dropping means letting go in the kernel too: a graceful close leaves the
/// unsent part of the response (about 1.7 MB per connection on loopback)
/// queued behind the FIN, still trickling to the attacker, so 1,000 slow
/// readers would pin about 2 GB of kernel memory, reach the host's TCP
/// memory limit and stall every other connection (the normal client's
/// included). Only an abortive close (RST) ends the attack, and `held_to`
/// counts FIN_WAIT1 for that reason.
///
/// The connections arrive at 50 a second: each stalled one holds about
/// 4 MB of socket buffers (client and origin side) until it is dropped, so
/// about 150 in flight stay well under `net.ipv4.tcp_mem` even on a small
/// CI machine, whereas 1,000 at once would measure the host's memory rather
/// than Rampart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_readers_are_dropped_at_the_send_timeout() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let shop = shop_origin().await;
    let rampart = rampart(
        &shop,
        "",
        "max_connections_per_ip = 4096\nmax_connections_per_prefix = 4096\nsend_timeout = \"2s\"\n",
    );
    let url = format!("http://127.0.0.1:{}/big", rampart.http.port());
    let started = Instant::now();
    let seen = attack(
        &rampart,
        &[
            "-X", "-c", "1000", "-r", "50", "-w", "512", "-y", "1024", "-n", "5", "-z", "32", "-k",
            "1", "-l", "50", "-u", &url,
        ],
        50,
        Duration::from_secs(45),
    )
    .await;
    assert_closed_by_rampart(
        "slow read",
        &seen,
        50,
        Duration::from_secs(38),
        ToolSees::Reset,
    );
    // Rampart's own account: it was the send timeout.
    let timeouts = metric_sum(
        &rampart.metrics(),
        "rampart_connections_send_timeouts_total",
    );
    assert!(
        timeouts >= (CONNECTIONS - LEFT) as i64,
        "rampart_connections_send_timeouts_total is {timeouts} after {CONNECTIONS} slow readers"
    );
    eprintln!(
        "slow read: peak {}, drained at {:?}, {:?} in all",
        seen.peak,
        seen.drained_at,
        started.elapsed()
    );
}

/// Slowloris against the per-IP connection cap: with a long header timeout,
/// only `max_connections_per_ip = 100` stands between 1,000 slow connections
/// and Rampart. It must never hold more than the cap from the attacker, close
/// the rest at accept, and keep serving a client from elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slowloris_beyond_the_per_ip_cap_is_closed_at_accept() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    const CAP: usize = 100;
    let shop = shop_origin().await;
    let rampart = rampart(
        &shop,
        "timeouts = { request_header = \"60s\" }",
        &format!("max_connections_per_ip = {CAP}\nmax_connections_per_prefix = 4096\n"),
    );
    let attacker = Some(std::net::IpAddr::from([127, 0, 0, 1]));
    let url = format!("http://127.0.0.1:{}/", rampart.http.port());
    let prober = Prober::start(
        OUTSIDER,
        rampart.http,
        "shop.test",
        "/",
        Duration::from_millis(100),
        SERVED_WITHIN,
    );
    // The tool's 6 s are the attack's length: the connections within the cap
    // are held until it ends.
    let mut tool = SlowHttpTest::spawn(
        rampart.dir.path(),
        &[
            "-H", "-c", "1000", "-r", "1000", "-i", "1", "-l", "6", "-u", &url,
        ],
    );
    let mut held_most = 0;
    let mut rampart_most = 0;
    while tool.running() && tool.started.elapsed() < Duration::from_secs(20) {
        // Rampart's own count: the kernel's table also shows connections that
        // wait in the accept queue before Rampart sees (and refuses) them.
        let metrics = rampart.metrics();
        rampart_most = rampart_most.max(connections_open(&metrics));
        held_most = held_most.max(held_to(rampart.http, attacker));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = tokio::task::block_in_place(|| tool.finish(Duration::from_secs(3)));
    let probes = prober.finish().await;
    assert_all_served(&probes, 20, SERVED_WITHIN, "slowloris against the cap");
    let context = format!(
        "kernel peak {held_most}, rampart_connections_open peak {rampart_most}, \
         tool exit {:?}, CSV {:?}\n{}",
        report.exit_status,
        report.rows,
        report.tail(12)
    );
    assert!(
        rampart_most <= (CAP + LEFT) as i64,
        "Rampart held more connections than the per-IP cap allows; {context}"
    );
    // Rampart's own account of the refusals.
    let refused = metric_sum(
        &rampart.metrics(),
        "rampart_connections_refused_per_ip_total",
    );
    assert!(
        refused >= (CONNECTIONS - CAP - 2 * LEFT) as i64,
        "rampart_connections_refused_per_ip_total is {refused}; {context}"
    );
    let closed = report.rows.iter().map(|r| r.closed).max().unwrap_or(0) as usize;
    assert!(
        closed >= CONNECTIONS - CAP - 2 * LEFT,
        "slowhttptest saw only {closed} connections closed (wanted ≥ {}); {context}",
        CONNECTIONS - CAP - 2 * LEFT
    );
    assert!(
        report.max_connected() as usize >= CAP / 2,
        "the connections within the cap were not held; {context}"
    );
}
