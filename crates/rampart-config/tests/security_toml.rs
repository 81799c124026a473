//! Security settings in the TOML file: site rules, rate limits, request
//! limits, automatic under-attack mode, operator rules, lists, `[geoip]`
//! and `[dos]`. Good values come out as written; every mistake is one
//! diagnostic at the offending text that says what to write instead.

mod support;

use std::time::Duration;

use rampart_config::*;
use support::{MIN_SITE, TempDir, assert_has, assert_single, errors, pos, pos_nth};

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

/// The message format of an expression error, and its column mapped into
/// the file whatever string form the expression is written in.
#[test]
fn expression_errors_point_inside_the_string() {
    let dir = TempDir::new();
    let text = format!(
        "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = \"http.host contains 3\"\naction = \"block\"\n"
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "3\""),
        &[
            "site.rules[0].expression: column 20: expected a string after `contains`, found integer 3",
        ],
    );

    // A literal string, and a multi-line one: still exact.
    let text = format!(
        "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = 'http.hots eq \"x\"'\naction = \"log\"\n"
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "http.hots"),
        &["column 1", "http.hots", "did you mean"],
    );
    let text = format!(
        "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = '''\nhttp.host eq \"x\"\n  and ssl eq \"yes\"'''\naction = \"log\"\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!((errs[0].0, errs[0].1), pos(&text, "\"yes\""), "{errs:#?}");

    // Escapes: the column cannot be mapped, so the string is pointed at and
    // the column named.
    let text = format!(
        "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = \"http.host eq \\\"x\\\" and len(3)\"\naction = \"log\"\n"
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "\"http.host"),
        &[
            "site.rules[0].expression: column 26 of the expression: expected a field or a function, found integer 3",
        ],
    );
}

#[test]
fn lists_are_in_scope_only_when_declared() {
    let dir = TempDir::new();
    let rule =
        "[[site.rules]]\nid = \"r\"\nexpression = \"ip.src in $offise\"\naction = \"allow\"\n";
    let text = format!("[[lists]]\nname = \"office\"\nitems = []\n{MIN_SITE}{rule}");
    assert_single(
        &dir,
        &text,
        pos(&text, "$offise"),
        &["list `$offise` does not exist", "did you mean `$office`?"],
    );
    // A list with errors still declares its name: one error, not two.
    let text = format!("[[lists]]\nname = \"offise\"\nitems = [\"10.0.0.300\"]\n{MIN_SITE}{rule}");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"10.0.0.300"),
        &["`lists[0].items`"],
    );
    // Counting expressions see lists and the response code; plain ones do not see the code.
    let text = format!(
        "[[lists]]\nname = \"office\"\nitems = []\n{MIN_SITE}[[site.rate_limits]]\nid = \"x\"\nperiod = \"1m\"\nrequests = 5\nexpression = \"http.response.code eq 404\"\ncounting_expression = \"not ip.src in $office and http.response.code eq 404\"\n"
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "http.response.code eq 404\"\ncounting"),
        &["site.rate_limits[0].expression: column 1:"],
    );
}

#[test]
fn rule_mistakes() {
    let dir = TempDir::new();
    let rule = |body: &str| format!("{MIN_SITE}[[site.rules]]\n{body}\n");
    let base = "id = \"r\"\nexpression = \"ssl\"\n";

    let text = rule("expression = \"ssl\"\naction = \"block\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rules]]"),
        &["`site.rules[0]` is missing `id`"],
    );
    let text = rule("id = \"r\"\naction = \"block\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rules]]"),
        &["missing `expression`"],
    );
    let text = rule(base);
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rules]]"),
        &["needs an `action`", "\"block\""],
    );
    let text = rule(&format!("{base}action = \"deny\""));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"deny\""),
        &["unknown action \"deny\"", "\"challenge\""],
    );
    let text = rule(&format!("{base}action = \"block\"\nstatuss = 403"));
    assert_single(
        &dir,
        &text,
        pos(&text, "statuss"),
        &[
            "unknown key \"statuss\" in [[site.rules]]",
            "did you mean \"status\"?",
        ],
    );
    let text = rule(&format!("{base}action = \"block\"\nstatus = 302"));
    assert_single(
        &dir,
        &text,
        pos(&text, "302"),
        &["`site.rules[0].status` must be between 400 and 599, found 302"],
    );
    let text = rule(&format!(
        "{base}action = \"block\"\nstatus = 99999999999999999999"
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "999"),
        &["`site.rules[0].status` must be between 100 and 999"],
    );
    let text = rule(&format!(
        "{base}action = \"redirect\"\nredirect_url = \"/x\"\nstatus = 404"
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "404"),
        &["301, 302, 303, 307 or 308"],
    );
    let text = rule(&format!("{base}action = \"redirect\""));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"redirect\""),
        &["needs a `redirect_url`"],
    );
    let text = rule(&format!(
        "{base}action = \"redirect\"\nredirect_url = \"example.com\""
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"example.com"),
        &["absolute http:// or https:// URL"],
    );
    let text = rule(&format!("{base}action = \"log\"\nstatus = 403"));
    assert_single(
        &dir,
        &text,
        pos(&text, "403"),
        &[
            "`site.rules[0].status` only applies to action \"block\" or \"redirect\", not \"log\"; remove it",
        ],
    );
    let text = rule(&format!(
        "{base}action = \"challenge\"\nchallenge = \"captcha\""
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"captcha"),
        &["unknown challenge \"captcha\"", "\"managed\""],
    );
    let text = rule(&format!("{base}action = \"skip\""));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"skip\""),
        &["needs `skip_phases`", "`skip_rules`"],
    );
    let text = rule(&format!(
        "{base}action = \"skip\"\nskip_phases = [\"rules\", \"ratelimits\", \"rules\"]"
    ));
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"ratelimits"),
        &["unknown phase \"ratelimits\"", "\"rate_limits\""],
    );
    assert_has(
        &errs,
        pos_nth(&text, "\"rules\"", 1),
        &["lists \"rules\" twice"],
    );
    let text = rule(&format!(
        "{base}action = \"log\"\nskip_rules = [\"nobody\"]"
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "[\"nobody"),
        &["`site.rules[0].skip_rules` only applies to action \"skip\", not \"log\""],
    );
    let text = rule(&format!("{base}action = \"block\"\nenabled = \"yes\""));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"yes\""),
        &["expected a boolean", "`site.rules[0].enabled`"],
    );
    let text = rule("id = \"Bad Id\"\nexpression = \"ssl\"\naction = \"log\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"Bad Id"),
        &["`site.rules[0].id` \"Bad Id\" is not valid"],
    );
    let text = rule(&format!(
        "{base}action = \"log\"\ndescription = \"{}\"",
        "x".repeat(501)
    ));
    assert_single(&dir, &text, pos(&text, "\"xxx"), &["at most 500"]);
}

#[test]
fn rule_ids_and_skip_targets() {
    let dir = TempDir::new();
    let r = |id: &str, extra: &str| {
        format!("[[site.rules]]\nid = \"{id}\"\nexpression = \"ssl\"\naction = \"log\"\n{extra}")
    };
    let text = format!("{MIN_SITE}{}{}", r("a", ""), r("a", ""));
    assert_single(
        &dir,
        &text,
        pos_nth(&text, "\"a\"", 2),
        &["rule id \"a\" is already used by the rule at line 6"],
    );

    let skip = |targets: &str| {
        r("s", &format!("action = \"skip\"\nskip_rules = {targets}\n"))
            .replace("action = \"log\"\n", "")
    };
    let text = format!(
        "{MIN_SITE}{}{}{}",
        r("before", ""),
        skip("[\"before\", \"s\", \"after\", \"nobody\"]"),
        r("after", "")
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"before\", "),
        &["rule \"before\" comes before this one", "move this rule up"],
    );
    assert_has(&errs, pos(&text, "\"s\", "), &["cannot skip itself"]);
    assert_has(
        &errs,
        pos(&text, "\"nobody\""),
        &["no rule with id \"nobody\""],
    );

    // Operator rules are their own list: a site rule id is not a target.
    let text = format!(
        "[[rules]]\nid = \"o\"\nexpression = \"ssl\"\naction = \"skip\"\nskip_rules = [\"a\"]\n{MIN_SITE}{}",
        r("a", "")
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "\"a\"]"),
        &["`rules[0].skip_rules`: no rule with id \"a\""],
    );
}

#[test]
fn too_many_rules() {
    let dir = TempDir::new();
    let mut text = MIN_SITE.to_owned();
    for i in 0..1001 {
        text.push_str(&format!(
            "[[site.rules]]\nid = \"r{i}\"\nexpression = \"ssl\"\naction = \"log\"\n"
        ));
    }
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rules]]\nid = \"r1000\""),
        &["`site.rules` has 1001 entries; at most 1000"],
    );
}

#[test]
fn too_many_rate_limits() {
    let dir = TempDir::new();
    let mut text = MIN_SITE.to_owned();
    for i in 0..101 {
        text.push_str(&format!(
            "[[site.rate_limits]]\nid = \"l{i}\"\nperiod = \"1m\"\nrequests = 1\n"
        ));
    }
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rate_limits]]\nid = \"l100\""),
        &["`site.rate_limits` has 101 entries; at most 100"],
    );
}

#[test]
fn rate_limit_mistakes() {
    let dir = TempDir::new();
    let rl = |body: &str| format!("{MIN_SITE}[[site.rate_limits]]\nid = \"x\"\n{body}\n");
    let text = rl("requests = 5");
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rate_limits]]"),
        &["missing `period`", "\"1m\""],
    );
    let text = rl("period = \"1m\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rate_limits]]"),
        &["missing `requests`"],
    );
    let text = rl("period = \"2d\"\nrequests = 5");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"2d\""),
        &["`site.rate_limits[0].period`", "at most 1day"],
    );
    let text = rl("period = \"1m\"\nrequests = 0");
    assert_single(
        &dir,
        &text,
        pos(&text, "0\n"),
        &["between 1 and 1000000000"],
    );
    let text = rl("period = \"1m\"\nrequests = 5\naction = \"redirect\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"redirect"),
        &["unknown rate-limit action \"redirect\""],
    );
    let text = rl("period = \"1m\"\nrequests = 5\ncharacteristics = []");
    assert_single(
        &dir,
        &text,
        pos(&text, "[]"),
        &["at least one characteristic"],
    );
    let text = rl("period = \"1m\"\nrequests = 5\ncharacteristics = [\"ip\", \"ua\", \"ip\"]");
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"ua\""),
        &["unknown characteristic \"ua\"", "\"header:NAME\""],
    );
    assert_has(&errs, pos_nth(&text, "\"ip\"", 1), &["lists \"ip\" twice"]);
    let text = rl("period = \"1m\"\nrequests = 5\nmitigation_timeout = \"forever\"");
    assert_single(&dir, &text, pos(&text, "\"forever"), &["invalid duration"]);
    let text = rl(
        "period = \"1m\"\nrequests = 5\ncounting_expression = \"http.response.code eq \\\"x\\\"\"",
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "\"http.response"),
        &["counting_expression: column 23 of the expression"],
    );
    let text = rl("period = \"1m\"\nrequests = 5\nburst = 3");
    assert_single(
        &dir,
        &text,
        pos(&text, "burst"),
        &["unknown key \"burst\" in [[site.rate_limits]]"],
    );
    let text = format!(
        "{}[[site.rate_limits]]\nid = \"x\"\nperiod = \"1s\"\nrequests = 1\n",
        rl("period = \"1m\"\nrequests = 5")
    );
    assert_single(
        &dir,
        &text,
        pos_nth(&text, "\"x\"", 1),
        &["rate limit id \"x\" is already used"],
    );
}

#[test]
fn limits_and_auto_under_attack_mistakes() {
    let dir = TempDir::new();
    let text = format!("{MIN_SITE}limits = {{ max_uri_bytes = 8, max_headers = 3 }}\n");
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "8,"),
        &["`site.limits.max_uri_bytes` must be between 16 and 1048576, found 8"],
    );
    assert_has(
        &errs,
        pos(&text, "max_headers"),
        &["unknown key \"max_headers\"", "max_header_count"],
    );
    let text =
        format!("{MIN_SITE}auto_under_attack = {{ factor = 1.0, min_rps = 0, on = true }}\n");
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "1.0"),
        &["`site.auto_under_attack.factor` must be between 1.5 and 1000, found 1"],
    );
    assert_has(
        &errs,
        pos(&text, "0, on"),
        &["`site.auto_under_attack.min_rps` must be between 1 and 10000000"],
    );
    let text = format!(
        "{MIN_SITE}auto_under_attack = {{ warmup = \"0s\", window = \"2h\", hold = \"soon\" }}\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"0s\""),
        &["`site.auto_under_attack.warmup`"],
    );
    assert_has(
        &errs,
        pos(&text, "\"2h\""),
        &["`site.auto_under_attack.window`"],
    );
    assert_has(
        &errs,
        pos(&text, "\"soon\""),
        &["`site.auto_under_attack.hold`"],
    );
    let text = format!("{MIN_SITE}auto_under_attack = {{ hold = 5 }}\n");
    assert_single(&dir, &text, pos(&text, "5 }"), &["duration string"]);
    let text = format!("{MIN_SITE}auto_under_attack = {{ factor = \"4\" }}\n");
    assert_single(&dir, &text, pos(&text, "\"4\""), &["expected a number"]);
    let text = format!("{MIN_SITE}auto_under_attack = {{ factor = 8 }}\n");
    assert_eq!(
        dir.parse(&text).unwrap().sites[0]
            .security
            .auto_under_attack
            .factor,
        8.0
    );
    let text = format!("{MIN_SITE}auto_under_attack = {{ factor = nan }}\n");
    assert_single(&dir, &text, pos(&text, "nan"), &["between 1.5 and 1000"]);
}

#[test]
fn list_mistakes() {
    let dir = TempDir::new();
    dir.write("bad.txt", "10.0.0.0/8\nnot-an-ip\n\n::1/129\n");
    let text = "[[lists]]\nname = \"a\"\nfile = \"bad.txt\"\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    let bad = dir.path().join("bad.txt").display().to_string();
    assert_has(
        &errs,
        pos(text, "\"bad.txt"),
        &["`lists[0].file`", &format!("{bad}:2:"), "not-an-ip"],
    );
    assert_has(&errs, pos(text, "\"bad.txt"), &[&format!("{bad}:4:")]);

    let text = "[[lists]]\nname = \"a\"\nfile = \"missing.txt\"\n";
    assert_single(
        &dir,
        text,
        pos(text, "\"missing"),
        &["`lists[0].file`: cannot read"],
    );
    let text = "[[lists]]\nname = \"a\"\nfile = \"x\"\nitems = []\n";
    assert_single(&dir, text, pos(text, "[]"), &["both `file` and `items`"]);
    let text = "[[lists]]\nname = \"a\"\n";
    assert_single(&dir, text, (1, 1), &["`lists[0]` needs its entries"]);
    let text = "[[lists]]\nitems = []\n";
    assert_single(&dir, text, (1, 1), &["missing `name`"]);
    let text = "[[lists]]\nname = \"my-list\"\nitems = []\n";
    assert_single(
        &dir,
        text,
        pos(text, "\"my-list"),
        &["`lists[0].name` \"my-list\" is not valid", "'_'"],
    );
    let text = "[[lists]]\nname = \"a\"\nitems = []\n[[lists]]\nname = \"a\"\nitems = []\n";
    assert_single(
        &dir,
        text,
        pos_nth(text, "\"a\"", 1),
        &["list name \"a\" is already used by the list at line 2"],
    );
    let text = "[[lists]]\nname = \"a\"\nitems = [\"10.0.0.1\", 7, \"x\\ny\"]\n";
    assert_single(
        &dir,
        text,
        pos(text, "7"),
        &["expected a string for `lists[0].items`"],
    );
    let text = "[lists]\nname = \"a\"\n";
    assert_single(&dir, text, (1, 1), &["write each entry as [[lists]]"]);
}

#[test]
fn geoip_and_dos_mistakes() {
    let dir = TempDir::new();
    let text = "[geoip]\ncountry_db = \"nowhere.mmdb\"\nasn = \"x\"\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "\"nowhere"),
        &[
            "`geoip.country_db`: cannot read",
            "nowhere.mmdb",
            "remove the key",
        ],
    );
    assert_has(
        &errs,
        pos(text, "asn "),
        &["unknown key \"asn\" in [geoip]", "asn_db"],
    );

    let text = "[dos]\nmax_connections_per_ip = 0\nsend_timeout = \"0s\"\nmax_streams_per_connection = 5000\nslowloris = true\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "0\n"),
        &["`dos.max_connections_per_ip` must be between 1 and 1000000"],
    );
    assert_has(&errs, pos(text, "\"0s\""), &["`dos.send_timeout`"]);
    assert_has(&errs, pos(text, "5000"), &["between 1 and 1000"]);
    assert_has(
        &errs,
        pos(text, "slowloris"),
        &["unknown key \"slowloris\" in [dos]"],
    );
}

/// Mistakes in several sections come back together, in file order.
#[test]
fn all_problems_at_once() {
    let dir = TempDir::new();
    let text = format!(
        "[dos]\nmin_body_rate = -1\n[[lists]]\nname = \"A\"\nitems = []\n[[rules]]\nid = \"o\"\nexpression = \"ssl eq\"\naction = \"log\"\n{MIN_SITE}limits = {{ max_header_count = 0 }}\n[[site.rules]]\nid = \"r\"\nexpression = \"ssl\"\naction = \"nope\"\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    let lines: Vec<usize> = errs.iter().map(|e| e.0).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

/// Diagnostics point inside the text (or just past its end), whatever the
/// input: expression columns are mapped into strings, so this is where an
/// off-by-one would show.
fn check_positions(text: &str, result: Result<Config, ConfigErrors>) {
    let Err(e) = result else { return };
    let lines: Vec<&str> = text.split('\n').collect();
    for d in &e.diagnostics {
        assert!(d.line >= 1 && d.line <= lines.len(), "{d}\n{text}");
        let len = lines[d.line - 1].chars().count();
        assert!(d.col >= 1 && d.col <= len + 1, "{d}\n{text}");
    }
}

#[test]
fn truncated_and_mangled_security_files_never_panic() {
    let dir = full_dir();
    for (i, _) in FULL.char_indices() {
        check_positions(&FULL[..i], dir.parse(&FULL[..i]));
    }
    let chars: Vec<char> = FULL.chars().collect();
    let junk = [
        '"', '\'', '[', ']', '{', '}', '=', ',', '\n', '$', '#', '\\', '*', '(', '0', 'é', ' ',
    ];
    // xorshift: deterministic, so a failure reproduces.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut mangled = chars.clone();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % mangled.len();
            match next() % 3 {
                0 => {
                    mangled.remove(at);
                }
                1 => mangled.insert(at, junk[(next() as usize) % junk.len()]),
                _ => mangled[at] = junk[(next() as usize) % junk.len()],
            }
        }
        let text: String = mangled.into_iter().collect();
        check_positions(&text, dir.parse(&text));
    }
}
