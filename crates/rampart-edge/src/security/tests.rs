//! The security phases end to end inside the crate: a real `EdgeState` built
//! from configuration text, requests checked without a network.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use http::{Request, StatusCode};
use rampart_analytics::Verdict;
use rampart_config::{Config, ListScope, NamedList};
use rampart_limits::Millis;
use rampart_rules::IpList;

use super::respond::PageCtx;
use super::*;
use crate::access_log::AccessLog;
use crate::metrics::Metrics;
use crate::ray::RayId;
use crate::state::EdgeState;

const SITES: &str = r#"
[node]
data_dir = "data"

[[lists]]
name = "office"
items = ["192.0.2.0/24"]

[[rules]]
id = "op-office-only"
expression = 'http.request.uri.path eq "/op" and not ip.src in $office'
action = "block"
status = 451

[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["http://127.0.0.1:9"]
limits = { max_header_count = 3, max_uri_bytes = 32, max_body_bytes = 10 }

[[site.rules]]
id = "office-in"
expression = "ip.src in $office"
action = "skip"
skip_rules = ["no-admin"]
skip_phases = ["rate_limits"]

[[site.rules]]
id = "no-admin"
expression = 'http.request.uri.path eq "/admin"'
action = "block"

[[site.rules]]
id = "logged"
expression = 'http.request.uri.path eq "/logged"'
action = "log"

[[site.rate_limits]]
id = "two"
expression = 'http.request.uri.path eq "/limited"'
period = "1h"
requests = 2

[[site]]
name = "calm"
hosts = ["calm.test"]
origins = ["http://127.0.0.1:9"]
auto_under_attack = { enabled = true, factor = 4.0, min_rps = 5 }

[[site]]
name = "siege"
hosts = ["siege.test"]
origins = ["http://127.0.0.1:9"]
under_attack = true
"#;

fn config(extra: impl FnOnce(&mut Config)) -> Config {
    let mut config = rampart_config::parse_str(SITES, Path::new("/nonexistent/rampart.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    extra(&mut config);
    config
}

fn state(config: Config) -> Arc<EdgeState> {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .unwrap_or_else(|e| panic!("{e}"));
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
    let cert = crate::tls::certified_key(vec![generated.cert.der().clone()], &key, "test")
        .unwrap_or_else(|e| panic!("{e}"));
    let metrics = Arc::new(Metrics::default());
    let log = AccessLog::disabled(metrics.clone());
    EdgeState::new(config, cert, metrics, log).unwrap_or_else(|e| panic!("{e}"))
}

fn exchange(state: &Arc<EdgeState>, ip: &str) -> Box<Exchange> {
    let snapshot = state.snapshot();
    Box::new(Exchange {
        state: state.clone(),
        ray: RayId::generate(),
        start: Instant::now(),
        site: None,
        site_metrics: snapshot.unrouted_metrics.clone(),
        client_ip: ip.parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
        method: http::Method::GET,
        host: None,
        uri: http::Uri::from_static("/"),
        version: http::Version::HTTP_11,
        tls: false,
        user_agent: None,
        bytes_in: None,
        origin: None,
        origin_status: None,
        origin_duration: None,
        attempts: 0,
        status: 0,
        error: None,
        verdict: Verdict::Passed,
        security: RequestSecurity::default(),
        conn_in_flight: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    })
}

/// Runs the phases for `request` from `ip` on site `host`.
fn check(
    state: &Arc<EdgeState>,
    host: &str,
    ip: &str,
    request: Request<()>,
) -> (Option<http::Response<crate::body::EdgeBody>>, Box<Exchange>) {
    let snapshot = state.snapshot();
    let site = snapshot
        .site_for_host(host)
        .unwrap_or_else(|| panic!("no site for {host}"));
    let mut ex = exchange(state, ip);
    ex.uri = request.uri().clone();
    let page = PageCtx {
        ray: ex.ray,
        host,
        json: false,
        templates: None,
    };
    let response = check_request(site, &state.security, &request, host, false, &page, &mut ex);
    (response, ex)
}

fn get(path: &str) -> Request<()> {
    Request::get(path).body(()).unwrap_or_default()
}

fn status(r: &Option<http::Response<crate::body::EdgeBody>>) -> Option<u16> {
    r.as_ref().map(|r| r.status().as_u16())
}

#[test]
fn actions_and_order_of_phases() {
    let state = state(config(|_| {}));
    // Nothing matches: forwarded, nothing recorded.
    let (r, ex) = check(&state, "shop.test", "203.0.113.1", get("/"));
    assert!(r.is_none());
    assert!(ex.security.hits.is_empty());
    assert_eq!(ex.verdict, Verdict::Passed);

    // The operator rule comes first and sets its status.
    let (r, ex) = check(&state, "shop.test", "203.0.113.1", get("/op"));
    assert_eq!(status(&r), Some(451));
    assert_eq!(
        ex.security.hits.primary(),
        Some(("op-office-only", "block"))
    );
    assert_eq!(ex.verdict, Verdict::Blocked);
    let (r, _) = check(&state, "shop.test", "192.0.2.9", get("/op"));
    assert!(r.is_none(), "the office is on the operator's list");

    // skip_rules passes over a later rule; log records and goes on.
    let (r, _) = check(&state, "shop.test", "203.0.113.1", get("/admin"));
    assert_eq!(status(&r), Some(403));
    let (r, ex) = check(&state, "shop.test", "192.0.2.9", get("/admin"));
    assert!(r.is_none());
    assert_eq!(ex.security.hits.primary(), Some(("office-in", "skip")));
    let (r, ex) = check(&state, "shop.test", "203.0.113.1", get("/logged"));
    assert!(r.is_none());
    assert_eq!(ex.security.hits.primary(), Some(("logged", "log")));
    assert_eq!(ex.verdict, Verdict::Passed);
}

#[test]
fn rate_limits_count_exactly_and_skips_bypass_them() {
    let state = state(config(|_| {}));
    for _ in 0..2 {
        assert!(
            check(&state, "shop.test", "203.0.113.2", get("/limited"))
                .0
                .is_none()
        );
    }
    let (r, ex) = check(&state, "shop.test", "203.0.113.2", get("/limited"));
    assert_eq!(status(&r), Some(429));
    let retry = r
        .as_ref()
        .and_then(|r| r.headers().get(http::header::RETRY_AFTER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry.is_some_and(|s| (1..=7200).contains(&s)), "{retry:?}");
    assert_eq!(ex.verdict, Verdict::RateLimited);
    assert_eq!(ex.security.hits.primary(), Some(("two", "rate_limit")));
    // Another address has its own count; the office skips rate limits.
    assert!(
        check(&state, "shop.test", "203.0.113.3", get("/limited"))
            .0
            .is_none()
    );
    for _ in 0..5 {
        assert!(
            check(&state, "shop.test", "192.0.2.1", get("/limited"))
                .0
                .is_none()
        );
    }
}

#[test]
fn counts_survive_a_reload() {
    let state = state(config(|_| {}));
    for _ in 0..2 {
        assert!(
            check(&state, "shop.test", "203.0.113.4", get("/limited"))
                .0
                .is_none()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime
        .block_on(state.install(&config(|_| {})))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.snapshot().version, 2);
    let (r, _) = check(&state, "shop.test", "203.0.113.4", get("/limited"));
    assert_eq!(status(&r), Some(429));
}

#[test]
fn request_limits_come_first() {
    let state = state(config(|_| {}));
    let long = format!("/{}", "a".repeat(40));
    let (r, ex) = check(&state, "shop.test", "192.0.2.1", get(&long));
    assert_eq!(status(&r), Some(414));
    assert_eq!(ex.error, Some("URI too long"));
    let mut many = get("/");
    for name in ["a", "b", "c", "d"] {
        many.headers_mut()
            .insert(name, http::HeaderValue::from_static("1"));
    }
    assert_eq!(
        status(&check(&state, "shop.test", "192.0.2.1", many).0),
        Some(431)
    );
    let mut big = get("/");
    big.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from_static("11"),
    );
    assert_eq!(
        status(&check(&state, "shop.test", "192.0.2.1", big).0),
        Some(413)
    );
    let mut fits = get("/");
    fits.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from_static("10"),
    );
    assert!(check(&state, "shop.test", "192.0.2.1", fits).0.is_none());
}

#[test]
fn manual_under_attack_challenges_and_caps_each_address() {
    let state = state(config(|_| {}));
    for _ in 0..attack::IMPLICIT_REQUESTS {
        let (r, ex) = check(&state, "siege.test", "198.51.100.1", get("/"));
        assert!(is_interstitial(&r));
        assert_eq!(ex.verdict, Verdict::Challenged);
        assert_eq!(
            ex.security.hits.primary(),
            Some(("under_attack", "challenge"))
        );
    }
    let (r, ex) = check(&state, "siege.test", "198.51.100.1", get("/"));
    assert_eq!(status(&r), Some(429));
    assert_eq!(
        ex.security.hits.primary(),
        Some(("under_attack", "rate_limit"))
    );
    assert!(is_interstitial(
        &check(&state, "siege.test", "198.51.100.2", get("/")).0
    ));
    // Feed readers and ACME renewals cannot solve a challenge: they pass.
    for path in ["/.well-known/acme-challenge/token", "/feed.xml"] {
        assert!(
            check(&state, "siege.test", "198.51.100.3", get(path))
                .0
                .is_none(),
            "{path}"
        );
    }
    let status = state
        .under_attack_status("siege")
        .unwrap_or_else(|| panic!("siege has a status"));
    assert!(status.manual && status.active() && !status.auto_active);
    assert!(state.under_attack_status("nope").is_none());
}

#[test]
fn automatic_under_attack_switches_and_is_reported() {
    let state = state(config(|_| {}));
    let mut now = 1_767_225_600_000u64;
    let calm = || {
        state
            .snapshot()
            .site_named("calm")
            .map(|s| s.security.attack.clone())
            .unwrap_or_else(|| panic!("calm"))
    };
    let mut drive = |secs: u64, rps: u64| {
        for _ in 0..secs {
            for _ in 0..rps {
                calm().count_request();
            }
            now += 1_000;
            state.tick_attack_detection(Millis(now));
        }
    };
    drive(900, 10);
    assert!(state.recent_attack_switches().is_empty());
    drive(60, 200);
    let switches = state.recent_attack_switches();
    assert_eq!(switches.len(), 1, "{switches:?}");
    let on = switches
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("switch"));
    assert!(on.started && on.site == "calm" && on.current_rps > on.baseline_rps);
    let status = state
        .under_attack_status("calm")
        .unwrap_or_else(|| panic!("calm status"));
    assert!(status.auto_enabled && status.auto_active && status.since_unix_ms.is_some());
    assert!(
        state
            .metrics
            .render()
            .contains("rampart_site_under_attack_auto{site=\"calm\"} 1")
    );
    assert!(
        state
            .metrics
            .render()
            .contains("rampart_under_attack_switches_total 1")
    );
    // Now calm's clients are challenged, each address only so often.
    for _ in 0..attack::IMPLICIT_REQUESTS {
        assert!(is_interstitial(
            &check(&state, "calm.test", "198.51.100.7", get("/")).0
        ));
    }
    assert_eq!(
        status_of(check(&state, "calm.test", "198.51.100.7", get("/")).0),
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
}

/// The challenge page (not a 403 of another kind).
fn is_interstitial(r: &Option<http::Response<crate::body::EdgeBody>>) -> bool {
    r.as_ref().is_some_and(|r| {
        r.status() == StatusCode::FORBIDDEN && r.headers().contains_key("rampart-challenge")
    })
}

fn status_of(r: Option<http::Response<crate::body::EdgeBody>>) -> Option<StatusCode> {
    r.map(|r| r.status())
}

#[test]
fn account_lists_shadow_operator_lists_and_broken_rules_are_left_out() {
    let state = state(config(|c| {
        c.lists.push(NamedList {
            name: "office".into(),
            scope: ListScope::Account("acct-1".into()),
            description: String::new(),
            entries: Arc::new(IpList::from_text("198.18.0.0/15").unwrap_or_else(|e| panic!("{e}"))),
        });
        if let Some(shop) = c.sites.first_mut() {
            shop.account = Some("acct-1".into());
            // Names a list nobody has: left out, the rest of the site stays.
            shop.security.rules.insert(
                0,
                rampart_config::FirewallRule {
                    id: "ghost".into(),
                    description: String::new(),
                    expression: "ip.src in $deleted".into(),
                    action: rampart_config::RuleAction::Block { status: 403 },
                    enabled: true,
                },
            );
        }
    }));
    let snapshot = state.snapshot();
    let shop = snapshot
        .site_named("shop")
        .unwrap_or_else(|| panic!("shop"));
    assert_eq!(shop.security.rules.entries.len(), 3, "ghost left out");
    // The account's "office" (198.18/15) replaces the operator's for shop's
    // own rules; operator rules still see the operator's list.
    let (r, _) = check(&state, "shop.test", "198.18.0.1", get("/admin"));
    assert!(r.is_none(), "account office skips no-admin");
    let (r, _) = check(&state, "shop.test", "192.0.2.1", get("/admin"));
    assert_eq!(
        status(&r),
        Some(403),
        "the operator's office is not the account's"
    );
    let (r, _) = check(&state, "shop.test", "192.0.2.1", get("/op"));
    assert!(r.is_none(), "operator rule: operator list");
}
