//! Verified good bots on the real binary against a real DNS server:
//! dnsmasq on a free loopback port serves the PTR and A/AAAA records, the
//! edge asks it through `[dns] servers`. A crawler whose address's PTR
//! name is under the bot's domain and resolves back to the address gets
//! through a challenge-everything site and is seen by rules as
//! `rampart.bot.verified`; a spoofer whose PTR says the same but whose
//! forward record points elsewhere, an address without PTR, and a plain
//! browser are challenged. The `list` (published ranges) path is checked
//! on the same sites. dnsmasq's query log shows that answers are cached
//! and shared, and that clients not claiming a bot cost no lookup.
//!
//! Clients are told apart by X-Forwarded-For: the edge trusts loopback as
//! a proxy in these tests. Their addresses are documentation ones
//! (192.0.2.0/24, 2001:db8::/32), not loopback: the resolver answers
//! 127.0.0.0/8's reverse names itself ("localhost", RFC 6761) without
//! asking any server.

mod support;

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use support::Rampart;
use support::client::{Proto, Reply, send};
use support::origin::{self, full};

const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const PINGBOT: &str = "PingBot/1.0 (uptime monitor)";
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0";

/// The crawler: PTR → crawl-….googlebot.example → A back to itself.
const CRAWLER: &str = "192.0.2.2";
/// PTR says googlebot.example, but that name's A record is another address.
const SPOOFER: &str = "192.0.2.3";
/// Never claims a bot: never looked up.
const PLAIN: &str = "192.0.2.4";
/// Claims Googlebot from an address without PTR.
const NO_PTR: &str = "192.0.2.6";
/// In the pingbot's published ranges (a [[lists]] entry), no PTR.
const LISTED: &str = "192.0.2.5";
/// Another real crawler, asked for by several requests at once.
const CRAWLER_BURST: &str = "192.0.2.7";
/// A crawler on IPv6: PTR under ip6.arpa, AAAA back.
const CRAWLER_V6: &str = "2001:db8::2";

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// A foreground dnsmasq with only the records given on its command line,
/// logging queries to a file; killed on drop.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Dnsmasq {
    fn start(records: &[String]) -> Dnsmasq {
        let binary = std::env::var_os("RAMPART_TEST_DNSMASQ")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DNSMASQ));
        assert!(
            binary.is_file(),
            "dnsmasq is not installed, and this test runs a real DNS server. Install it \
             (Debian/Ubuntu: `apt-get install -y dnsmasq-base`, no system service; \
             scripts/test.sh does this for CI), or point RAMPART_TEST_DNSMASQ at a dnsmasq binary."
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let log = dir.path().join("queries.log");
        // dnsmasq needs the port free for both UDP and TCP.
        let port = loop {
            let port = support::free_port();
            if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
                break port;
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", stderr_path.display()));
        let mut cmd = Command::new(&binary);
        cmd.arg("--no-daemon")
            .arg("--conf-file=/dev/null")
            .arg(format!("--port={port}"))
            .arg("--listen-address=127.0.0.1")
            .arg("--bind-interfaces")
            .arg("--no-resolv")
            .arg("--no-hosts")
            .arg("--pid-file=")
            .arg("--log-queries")
            .arg(format!("--log-facility={}", log.display()))
            // Authoritative "no such name" for everything else under these,
            // instead of REFUSED for want of an upstream.
            .arg("--local=/googlebot.example/")
            .arg("--local=/in-addr.arpa/")
            .arg("--local=/ip6.arpa/")
            .args(records)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // In the foreground dnsmasq also echoes every log line to
            // stderr; a pipe nobody reads would fill and stall it.
            .stderr(stderr);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                panic!("dnsmasq exited ({status}): {err}");
            }
            assert!(
                Instant::now() < deadline,
                "dnsmasq did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Dnsmasq {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many PTR queries for `reverse` the server has received.
    fn ptr_queries(&self, reverse: &str) -> usize {
        let needle = format!("query[PTR] {reverse} ");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn records() -> Vec<String> {
    vec![
        // A and PTR both ways.
        format!("--host-record=crawl-192-0-2-2.googlebot.example,{CRAWLER}"),
        format!("--host-record=crawl-192-0-2-7.googlebot.example,{CRAWLER_BURST}"),
        format!("--host-record=crawl-v6.googlebot.example,{CRAWLER_V6}"),
        // The spoofer controls its reverse zone, not googlebot.example: its
        // PTR names a real crawler's host, whose A record is not the spoofer.
        "--ptr-record=3.2.0.192.in-addr.arpa,crawl-192-0-2-2.googlebot.example".to_string(),
        // A name outside the bot's domain that does resolve back: still no.
        "--host-record=crawler.elsewhere.example,192.0.2.8".to_string(),
    ]
}

fn config(dns: SocketAddr, origin: &str) -> (String, String) {
    let tables = format!(
        r#"
[dns]
servers = ["{dns}"]

[[lists]]
name = "pingbot_ranges"
items = ["{LISTED}/32"]

[[verified_bots]]
name = "googlebot"
user_agent = "Googlebot"
rdns = ["googlebot.example"]

[[verified_bots]]
name = "pingbot"
user_agent = "PingBot"
list = "pingbot_ranges"
"#
    );
    let sites = format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["{origin}"]

[[site.rules]]
id = "everyone"
expression = "true"
action = "challenge"

[[site]]
name = "nobots"
hosts = ["nobots.test"]
origins = ["{origin}"]

[[site.rules]]
id = "no-verified-bots"
expression = "rampart.bot.verified"
action = "block"

[[site]]
name = "botsonly"
hosts = ["botsonly.test"]
origins = ["{origin}"]

[[site.rules]]
id = "verified-bots"
expression = "rampart.bot.verified"
action = "allow"

[[site.rules]]
id = "nobody-else"
expression = "true"
action = "block"
"#
    );
    (tables, sites)
}

async fn get(rampart: &Rampart, host: &str, ip: &str, ua: &str) -> Reply {
    let request = Request::get("/page")
        .header("host", host)
        .header("user-agent", ua)
        .header("x-forwarded-for", ip)
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    send(rampart.http, Proto::Http1, request).await
}

fn assert_origin(reply: &Reply, who: &str) {
    assert_eq!(reply.status, 200, "{who}: {}", reply.text());
    assert_eq!(reply.text(), "origin /page", "{who}");
}

fn assert_challenged(reply: &Reply, who: &str) {
    assert_eq!(reply.status, 403, "{who}: {}", reply.text());
    assert_eq!(reply.header("rampart-challenge"), Some("1"), "{who}");
}

fn assert_blocked(reply: &Reply, who: &str) {
    assert_eq!(reply.status, 403, "{who}: {}", reply.text());
    assert!(reply.header("rampart-challenge").is_none(), "{who}");
    assert!(!reply.text().contains("origin /page"), "{who}");
}

/// Polls until `check` holds (dnsmasq writes its log asynchronously).
fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_bots_by_reverse_dns_and_by_published_ranges() {
    let dns = Dnsmasq::start(&records());
    let origin = origin::builder("shop")
        .handler(|req: Request<Incoming>| async move {
            Response::new(full(format!("origin {}", req.uri().path())))
        })
        .start()
        .await;
    let (tables, sites) = config(dns.addr, &origin.url());
    let rampart = Rampart::builder()
        .proxy(r#"trusted_proxies = ["127.0.0.1"]"#)
        .tables(&tables)
        .sites(&sites)
        .start();

    // A site that challenges everybody lets the crawler through, and
    // challenges those who only say they are one.
    let crawler = get(&rampart, "shop.test", CRAWLER, GOOGLEBOT).await;
    assert_origin(&crawler, "crawler, forward-confirmed");
    let crawler_v6 = get(&rampart, "shop.test", CRAWLER_V6, GOOGLEBOT).await;
    assert_origin(&crawler_v6, "crawler on IPv6 (AAAA)");
    let spoofer = get(&rampart, "shop.test", SPOOFER, GOOGLEBOT).await;
    assert_challenged(&spoofer, "spoofer: PTR says googlebot, A does not agree");
    let no_ptr = get(&rampart, "shop.test", NO_PTR, GOOGLEBOT).await;
    assert_challenged(&no_ptr, "Googlebot UA from an address without PTR");
    let elsewhere = get(&rampart, "shop.test", "192.0.2.8", GOOGLEBOT).await;
    assert_challenged(&elsewhere, "PTR outside the bot's domain");
    let plain = get(&rampart, "shop.test", PLAIN, BROWSER).await;
    assert_challenged(&plain, "plain browser");
    // The crawler's address with a browser's User-Agent is nobody special.
    let crawler_as_browser = get(&rampart, "shop.test", CRAWLER, BROWSER).await;
    assert_challenged(&crawler_as_browser, "crawler's address, browser UA");

    // Published ranges: the list decides, no DNS involved.
    let listed = get(&rampart, "shop.test", LISTED, PINGBOT).await;
    assert_origin(&listed, "pingbot inside its published ranges");
    let unlisted = get(&rampart, "shop.test", PLAIN, PINGBOT).await;
    assert_challenged(&unlisted, "pingbot outside its published ranges");
    // One bot's proof is not another's: the pingbot's range is not
    // Googlebot's, and Googlebot's reverse DNS is not the pingbot's.
    let wrong_list = get(&rampart, "shop.test", LISTED, GOOGLEBOT).await;
    assert_challenged(&wrong_list, "Googlebot UA from the pingbot's range");
    let wrong_rdns = get(&rampart, "shop.test", CRAWLER, PINGBOT).await;
    assert_challenged(&wrong_rdns, "PingBot UA from Googlebot's address");

    // Rules see `rampart.bot.verified`.
    for (ip, ua, who) in [
        (CRAWLER, GOOGLEBOT, "crawler"),
        (LISTED, PINGBOT, "listed pingbot"),
    ] {
        assert_blocked(&get(&rampart, "nobots.test", ip, ua).await, who);
        assert_origin(&get(&rampart, "botsonly.test", ip, ua).await, who);
    }
    for (ip, ua, who) in [
        (SPOOFER, GOOGLEBOT, "spoofer"),
        (PLAIN, BROWSER, "plain browser"),
        (PLAIN, PINGBOT, "unlisted pingbot"),
    ] {
        assert_origin(&get(&rampart, "nobots.test", ip, ua).await, who);
        assert_blocked(&get(&rampart, "botsonly.test", ip, ua).await, who);
    }

    // Answers are cached: the crawler and the spoofer were asked about once
    // each, however many requests they sent since.
    eventually("the crawler's PTR query in dnsmasq's log", || {
        dns.ptr_queries("2.2.0.192.in-addr.arpa") > 0
    });
    assert_eq!(
        dns.ptr_queries("2.2.0.192.in-addr.arpa"),
        1,
        "{}",
        dns.log()
    );
    assert_eq!(
        dns.ptr_queries("3.2.0.192.in-addr.arpa"),
        1,
        "{}",
        dns.log()
    );
    assert_eq!(
        dns.ptr_queries("6.2.0.192.in-addr.arpa"),
        1,
        "{}",
        dns.log()
    );
    // Clients that claim no rdns-verified bot (a browser, the list-proved
    // pingbot) cost no lookup at all.
    assert_eq!(
        dns.ptr_queries("4.2.0.192.in-addr.arpa"),
        0,
        "{}",
        dns.log()
    );

    // A burst from a new crawler address shares one lookup.
    let burst = (0..8).map(|_| {
        let rampart = &rampart;
        async move { get(rampart, "shop.test", CRAWLER_BURST, GOOGLEBOT).await }
    });
    for reply in futures_util::future::join_all(burst).await {
        assert_origin(&reply, "crawler burst");
    }
    eventually("the burst's PTR query", || {
        dns.ptr_queries("7.2.0.192.in-addr.arpa") > 0
    });
    assert_eq!(
        dns.ptr_queries("7.2.0.192.in-addr.arpa"),
        1,
        "{}",
        dns.log()
    );

    assert!(
        !rampart.stderr().contains("panicked"),
        "{}",
        rampart.stderr()
    );
}
