//! Security settings in the TOML file, read right: a full file with site
//! rules, rate limits, request limits, automatic under-attack mode,
//! operator rules, lists, `[geoip]` and `[dos]` comes out as written,
//! absent sections are defaults, and truncated or mangled copies of it
//! never panic. The mistakes and their diagnostics are in
//! `security_toml_mistakes.rs`.

mod support;

use std::time::Duration;

use rampart_config::*;
use support::{MIN_SITE, TempDir, assert_single, check_positions, mangled, pos};

const FULL: &str = r#"
[geoip]
country_db = "geo/country.mmdb"

[dos]
max_connections_per_ip = 64
max_connections_per_prefix = 512
min_body_rate = 0
body_rate_grace = "10s"
send_timeout = "1m"
max_streams_per_connection = 50
max_origin_requests_per_site = 100

[[lists]]
name = "office"
description = "HQ"
items = ["192.0.2.0/24", "2001:db8::1"]

[[lists]]
name = "blocked"
file = "lists/blocked.txt"

[[rules]]
id = "op-block"
expression = "ip.src in $blocked"
action = "block"

[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["http://127.0.0.1:9001"]
limits = { max_header_count = 50, max_uri_bytes = 4096, max_body_bytes = "10MiB" }
auto_under_attack = { enabled = true, factor = 3.5, min_rps = 20, warmup = "1m", window = "10s", hold = "90s" }

[[site.rules]]
id = "office"
description = "let the office in"
expression = "ip.src in $office"
action = "skip"
skip_phases = ["rate_limits", "waf"]
skip_rules = ["admin"]

[[site.rules]]
id = "admin"
expression = 'http.request.uri.path wildcard "/admin*"'
action = "challenge"
challenge = "js"

[[site.rules]]
id = "old"
expression = 'http.request.uri.path eq "/old"'
action = "redirect"
redirect_url = "/new"
status = 301
enabled = false

[[site.rules]]
id = "teapot"
expression = "http.request.method eq \"BREW\""
action = "block"
status = 418

[[site.rules]]
id = "allow-health"
expression = 'http.request.uri.path eq "/healthz"'
action = "allow"

[[site.rules]]
id = "watch"
expression = "http.user_agent contains \"curl\""
action = "log"

[[site.rate_limits]]
id = "login"
description = "brute force"
expression = 'http.request.uri.path eq "/login"'
characteristics = ["ip", "header:X-Api-Key", "cookie:sid", "query_arg:user", "path", "site", "ip_prefix"]
period = "1m"
requests = 10
action = "challenge"
mitigation_timeout = "10m"
counting_expression = "http.response.code eq 401"

[[site.rate_limits]]
id = "all"
period = "10s"
requests = 1000
"#;

fn full_dir() -> TempDir {
    let dir = TempDir::new();
    dir.write("geo/country.mmdb", b"not really a database");
    dir.write(
        "lists/blocked.txt",
        "# scanners\n198.51.100.0/24\n\n203.0.113.7 # one host\n",
    );
    dir
}

#[test]
fn a_full_file_parses_into_the_values_written() {
    let dir = full_dir();
    let c = dir.parse(FULL).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(
        c.geoip,
        GeoipConfig {
            country_db: Some(dir.path().join("geo/country.mmdb")),
            asn_db: None
        }
    );
    assert_eq!(
        c.dos,
        DosConfig {
            max_connections_per_ip: 64,
            max_connections_per_prefix: 512,
            min_body_rate: 0,
            body_rate_grace: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            max_streams_per_connection: 50,
            max_origin_requests_per_site: 100,
        }
    );

    assert_eq!(c.lists.len(), 2);
    let office = &c.lists[0];
    assert_eq!(
        (office.name.as_str(), office.description.as_str()),
        ("office", "HQ")
    );
    assert_eq!(office.scope, ListScope::Operator);
    assert!(office.entries.contains("192.0.2.9".parse().unwrap()));
    assert!(office.entries.contains("2001:db8::1".parse().unwrap()));
    assert!(!office.entries.contains("2001:db8::2".parse().unwrap()));
    let blocked = &c.lists[1];
    assert_eq!(blocked.entries.entries(), 2);
    assert!(blocked.entries.contains("203.0.113.7".parse().unwrap()));

    assert_eq!(
        c.rules,
        vec![FirewallRule {
            id: "op-block".into(),
            description: String::new(),
            expression: "ip.src in $blocked".into(),
            action: RuleAction::Block { status: 403 },
            enabled: true,
        }]
    );

    let s = &c.sites[0].security;
    assert_eq!(
        s.limits,
        RequestLimits {
            max_header_count: 50,
            max_uri_bytes: 4096,
            max_body_bytes: Some(10 << 20),
        }
    );
    assert_eq!(
        s.auto_under_attack,
        AutoUnderAttack {
            enabled: true,
            factor: 3.5,
            min_rps: 20,
            warmup: Duration::from_secs(60),
            window: Duration::from_secs(10),
            hold: Duration::from_secs(90),
        }
    );
    let actions: Vec<_> = s.rules.iter().map(|r| r.action.clone()).collect();
    assert_eq!(
        actions,
        vec![
            RuleAction::Skip {
                phases: vec![SecurityPhase::RateLimits, SecurityPhase::Waf],
                rules: vec!["admin".into()],
            },
            RuleAction::Challenge {
                kind: ChallengeKind::Js
            },
            RuleAction::Redirect {
                url: "/new".into(),
                status: 301
            },
            RuleAction::Block { status: 418 },
            RuleAction::Allow,
            RuleAction::Log,
        ]
    );
    assert_eq!(s.rules[0].description, "let the office in");
    assert_eq!(
        s.rules[1].expression,
        "http.request.uri.path wildcard \"/admin*\""
    );
    assert_eq!(s.rules[3].expression, "http.request.method eq \"BREW\"");
    assert!(!s.rules[2].enabled && s.rules[0].enabled);

    assert_eq!(
        s.rate_limits,
        vec![
            RateLimitRule {
                id: "login".into(),
                description: "brute force".into(),
                expression: "http.request.uri.path eq \"/login\"".into(),
                characteristics: vec![
                    Characteristic::Ip,
                    Characteristic::Header("x-api-key".into()),
                    Characteristic::Cookie("sid".into()),
                    Characteristic::QueryArg("user".into()),
                    Characteristic::Path,
                    Characteristic::Site,
                    Characteristic::IpPrefix,
                ],
                period: Duration::from_secs(60),
                requests: 10,
                action: LimitAction::Challenge,
                mitigation_timeout: Duration::from_secs(600),
                counting_expression: Some("http.response.code eq 401".into()),
                enabled: true,
            },
            RateLimitRule {
                id: "all".into(),
                description: String::new(),
                expression: DEFAULT_RATE_LIMIT_EXPRESSION.into(),
                characteristics: vec![Characteristic::Ip],
                period: Duration::from_secs(10),
                requests: 1000,
                action: LimitAction::Block,
                mitigation_timeout: Duration::from_secs(10),
                counting_expression: None,
                enabled: true,
            },
        ]
    );
}

#[test]
fn absent_sections_are_defaults() {
    let dir = TempDir::new();
    let c = dir.parse(MIN_SITE).unwrap();
    assert_eq!(c.dos, DosConfig::default());
    assert_eq!(c.geoip, GeoipConfig::default());
    assert!(c.rules.is_empty() && c.lists.is_empty());
    assert_eq!(c.sites[0].security, SiteSecurity::default());
}

#[test]
fn body_limit_spellings() {
    let dir = TempDir::new();
    for (written, bytes) in [
        ("0", Some(0)),
        ("1048576", Some(1 << 20)),
        ("\"off\"", None),
        ("\"512KiB\"", Some(512 << 10)),
        ("\"2GB\"", Some(2_000_000_000)),
    ] {
        let text = format!("{MIN_SITE}limits = {{ max_body_bytes = {written} }}\n");
        let c = dir
            .parse(&text)
            .unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(
            c.sites[0].security.limits.max_body_bytes, bytes,
            "{written}"
        );
    }
    let text = format!("{MIN_SITE}limits = {{ max_body_bytes = \"10 parsecs\" }}\n");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"10 parsecs"),
        &["`site.limits.max_body_bytes`", "\"10MiB\"", "\"off\""],
    );
    let text = format!("{MIN_SITE}limits = {{ max_body_bytes = -1 }}\n");
    assert_single(&dir, &text, pos(&text, "-1"), &["found -1"]);
}

/// Diagnostics point inside the text (or just past its end), whatever the
/// input: expression columns are mapped into strings, so this is where an
/// off-by-one would show.
#[test]
fn truncated_and_mangled_security_files_never_panic() {
    let dir = full_dir();
    for (i, _) in FULL.char_indices() {
        check_positions(&FULL[..i], dir.parse(&FULL[..i]));
    }
    let junk = [
        '"', '\'', '[', ']', '{', '}', '=', ',', '\n', '$', '#', '\\', '*', '(', '0', 'é', ' ',
    ];
    for text in mangled(FULL, &junk, 0x2545_F491_4F6C_DD1D, 2000) {
        check_positions(&text, dir.parse(&text));
    }
}
