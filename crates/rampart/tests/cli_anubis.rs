//! `rampart bots import-anubis` on the real binary: a fixture policy in
//! Anubis's format becomes a `[site.bots]` fragment that rampart-config
//! loads, and an edge serving it blocks what the policy DENYs, challenges
//! what it CHALLENGEs (and what its thresholds do), and lets a plain
//! browser through; a file that is not a policy exits 65 with its
//! line:column.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use rampart_config::{BotAction, ThreatLevel};
use support::client::{Proto, Reply, send};
use support::origin::{self, full};
use support::{BIN, Rampart};

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/anubis/botPolicies.yaml")
}

fn import(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(BIN)
        .args(["bots", "import-anubis"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn site(origin: &str, fragment: &str) -> String {
    format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{origin}\"]\n\n\
         [site.challenge]\ndifficulty = {{ low = 4, medium = 8, high = 10 }}\n\n{fragment}"
    )
}

async fn get(rampart: &Rampart, ua: &str, ip: &str, extra: &[(&str, &str)]) -> Reply {
    let mut builder = Request::get("/page")
        .header("host", "shop.test")
        .header("user-agent", ua)
        .header("x-forwarded-for", ip);
    if !extra.iter().any(|(k, _)| *k == "accept") {
        builder = builder.header("accept", "text/html");
    }
    for (k, v) in extra {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    send(rampart.http, Proto::Http1, request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_anubis_policy_blocks_challenges_and_allows() {
    let out = import(&[fixture().as_os_str(), "--site".as_ref(), "shop".as_ref()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");

    // The summary names what was skipped and why.
    for expected in [
        "imported bots[2] \"Bad Bots\": rule \"bad-bots\", weight 1000",
        "skipped  bots[0]: `import: (data)/crawlers/_allow-good.yaml`",
        "skipped  bots[7] \"no-user-agent\": its CEL `expression`",
        "skipped  bots[8] \"lookahead\": user_agent_regex",
        "look-around",
        "`status_codes`: ignored",
        "6 rules and 4 thresholds imported, 3 items skipped",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in:\n{stderr}");
    }
    assert!(stdout.contains("[site.bots]"), "{stdout}");
    assert!(stdout.contains(r#"[[site]] named "shop""#), "{stdout}");

    // rampart-config loads it inside a site, and decides as the policy says.
    let config = rampart_config::parse_str(
        &site("http://127.0.0.1:9", &stdout),
        Path::new("rampart.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{stdout}"));
    let bots = &config.sites[0].security.bots;
    assert!(bots.enabled);
    let ids: Vec<&str> = bots.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "office-monitoring",
            "bad-bots",
            "suspicious-crawler",
            "hint-header",
            "wp-login",
            "quoted-note"
        ]
    );
    assert_eq!(bots.decide(0), BotAction::Allow);
    assert_eq!(bots.decide(5), BotAction::Challenge(ThreatLevel::Low));
    assert_eq!(bots.decide(10), BotAction::Challenge(ThreatLevel::Medium));
    assert_eq!(bots.decide(1000), BotAction::Block);

    // The real edge with that site.
    let origin = origin::builder("shop")
        .handler(|req: Request<Incoming>| async move {
            Response::new(full(format!("origin {}", req.uri().path())))
        })
        .start()
        .await;
    let rampart = Rampart::builder()
        .proxy(r#"trusted_proxies = ["127.0.0.1"]"#)
        .sites(&site(&origin.url(), &stdout))
        .start();

    // A plain browser weighs 0: through to the origin.
    let browser = get(&rampart, BROWSER, "203.0.113.7", &[]).await;
    assert_eq!(browser.status, 200, "{}", browser.text());
    assert_eq!(browser.text(), "origin /page");

    // DENY: Rampart's block page, naming the rule.
    let bad = get(
        &rampart,
        "Mozilla/5.0 (compatible; BadBot/2.1)",
        "203.0.113.8",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(bad.status, 403, "{}", bad.text());
    assert_eq!(bad.json()["error"]["code"], "blocked");
    assert_eq!(bad.json()["error"]["rule_id"], "bad-bots");
    assert_eq!(bad.header("rampart-challenge"), None);

    // CHALLENGE: the interstitial, not the origin.
    let crawler = get(&rampart, "SuspiciousCrawler/3", "203.0.113.9", &[]).await;
    assert_eq!(crawler.status, 403);
    assert_eq!(crawler.header("rampart-challenge"), Some("1"));
    assert!(!crawler.text().contains("origin /page"));

    // WEIGH +10 reaches the file's `weight >= 10` threshold: challenged.
    let hinted = get(
        &rampart,
        BROWSER,
        "203.0.113.10",
        &[("x-scraper-hint", "yes")],
    )
    .await;
    assert_eq!(hinted.status, 403);
    assert_eq!(hinted.header("rampart-challenge"), Some("1"));

    // A path regex with an escaped dot.
    let login = Request::get("/wp-login.php")
        .header("host", "shop.test")
        .header("user-agent", BROWSER)
        .header("accept", "application/json")
        .header("x-forwarded-for", "203.0.113.11")
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let login = send(rampart.http, Proto::Http1, login).await;
    assert_eq!(login.status, 403, "{}", login.text());
    assert_eq!(login.json()["error"]["rule_id"], "wp-login");
    let other = get(&rampart, BROWSER, "203.0.113.11", &[]).await;
    assert_eq!(other.status, 200, "{}", other.text());

    // Quotes and a backslash class in a header regex still mean themselves.
    let json = ("accept", "application/json");
    let noted = get(
        &rampart,
        BROWSER,
        "203.0.113.12",
        &[json, ("x-note", "\"quoted\"7")],
    )
    .await;
    assert_eq!(noted.status, 403, "{}", noted.text());
    assert_eq!(noted.json()["error"]["rule_id"], "quoted-note");
    let unnoted = get(
        &rampart,
        BROWSER,
        "203.0.113.12",
        &[json, ("x-note", "quoted7")],
    )
    .await;
    assert_eq!(unnoted.status, 200, "{}", unnoted.text());

    // ALLOW comes first in the file and wins over the DENY, as in Anubis.
    let office = get(
        &rampart,
        "BadBot/2.1",
        "192.0.2.44",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(office.status, 200, "{}", office.text());
}

#[test]
fn a_file_that_is_not_a_policy_exits_65_with_its_position() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.path().join("botPolicies.yaml");
    std::fs::write(&bad, "bots:\n  - name: a\n    action: [DENY\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = import(&[bad.as_os_str()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(out.stdout.is_empty());
    let prefix = format!("{}:4:1:", bad.display());
    assert!(
        stderr.starts_with(&prefix),
        "{prefix} not at the start of:\n{stderr}"
    );
    assert!(stderr.contains("fix:"), "{stderr}");

    let missing = dir.path().join("nope.yaml");
    let out = import(&[missing.as_os_str()]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        text(&out.stderr).contains("cannot open it"),
        "{}",
        text(&out.stderr)
    );

    // A policy of nothing but built-in imports: nothing to print, 65.
    let imports = dir.path().join("imports.yaml");
    std::fs::write(
        &imports,
        "bots:\n  - import: (data)/meta/default-config.yaml\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = import(&[imports.as_os_str()]);
    assert_eq!(out.status.code(), Some(65));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("nothing in"), "{stderr}");
    assert!(stderr.contains("--extract-resources"), "{stderr}");
}
