//! Unit tests of the Anubis import: each matcher, each action, the
//! threshold forms, skipped entries and their reasons, escaping, parse
//! errors, and never panicking on any input.

use http::HeaderMap;
use proptest::prelude::*;
use rampart_config::{BotAction, BotPolicy, ThreatLevel};
use rampart_rules::{EvalScratch, Lists, RequestFields, Scheme};

use super::policy::Format;
use super::*;

fn import(yaml: &str) -> Result<Output, Failure> {
    import_text(yaml, Format::Yaml, "policy.yaml", None)
}

fn ok(yaml: &str) -> Output {
    import(yaml).unwrap_or_else(|e| panic!("import failed: {e:?}\n{yaml}"))
}

/// The one imported rule of a policy.
fn only_rule(yaml: &str) -> Rule {
    let out = ok(yaml);
    assert_eq!(out.import.rules.len(), 1, "{:?}", out.import.report);
    out.import.rules[0].clone()
}

/// The reason the entry named `what` was skipped.
fn skip_reason(import: &Import, what: &str) -> String {
    import
        .report
        .iter()
        .find(|i| i.status == Status::Skipped && i.what.contains(what))
        .map(|i| i.detail.clone())
        .unwrap_or_else(|| panic!("{what} was not skipped: {:?}", import.report))
}

fn report(r: &Result<Output, Failure>) -> &Import {
    match r {
        Ok(out) => &out.import,
        Err(Failure::Nothing(import)) => import,
        Err(other) => panic!("not a policy: {other:?}"),
    }
}

/// What Rampart makes of the printed fragment.
fn loaded(out: &Output) -> BotPolicy {
    emit::check(&out.toml, None).unwrap_or_else(|e| panic!("{e}\n{}", out.toml))
}

/// Whether `expression` matches a request with these fields.
fn matches(expression: &str, ua: &str, path: &str, headers: &[(&str, &str)], ip: &str) -> bool {
    let rule = rampart_rules::compile(expression, &Scheme::new())
        .unwrap_or_else(|e| panic!("{expression}: {e}"));
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
            v.parse().unwrap_or_else(|e| panic!("{e}")),
        );
    }
    map.insert(
        http::header::USER_AGENT,
        ua.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let fields = RequestFields {
        path,
        uri: path,
        ip: ip.parse().unwrap_or_else(|e| panic!("{e}")),
        ..RequestFields::empty(&map)
    };
    rule.matches(&fields, &Lists::default(), &mut EvalScratch::new())
}

// --- matchers ---

#[test]
fn user_agent_regex_becomes_http_user_agent_matches() {
    let r = only_rule("bots:\n- name: a\n  user_agent_regex: (?i)scrapy\n  action: DENY\n");
    assert_eq!(r.expression, r#"http.user_agent matches "(?i)scrapy""#);
    assert!(matches(
        &r.expression,
        "Scrapy/2.11",
        "/",
        &[],
        "198.51.100.1"
    ));
    assert!(!matches(
        &r.expression,
        "Mozilla/5.0",
        "/",
        &[],
        "198.51.100.1"
    ));
}

#[test]
fn path_regex_becomes_uri_path_matches() {
    let r = only_rule("bots:\n- name: a\n  path_regex: ^/api/\n  action: ALLOW\n");
    assert_eq!(r.expression, r#"http.request.uri.path matches "^/api/""#);
    assert!(matches(&r.expression, "x", "/api/v1", &[], "198.51.100.1"));
    assert!(!matches(
        &r.expression,
        "x",
        "/web/api/",
        &[],
        "198.51.100.1"
    ));
}

#[test]
fn headers_regex_becomes_any_header_value_matches() {
    let r = only_rule(
        "bots:\n- name: a\n  headers_regex:\n    CF-Worker: .*\n    Accept: ^text/\n  action: DENY\n",
    );
    assert_eq!(
        r.expression,
        r#"any(http.request.headers["accept"][*] matches "^text/") and any(http.request.headers["cf-worker"][*] matches ".*")"#
    );
    let both = [("cf-worker", "example.com"), ("accept", "text/html")];
    assert!(matches(&r.expression, "x", "/", &both, "198.51.100.1"));
    // `.*` on an absent header: Anubis's "the header is present".
    assert!(!matches(
        &r.expression,
        "x",
        "/",
        &[("accept", "text/html")],
        "198.51.100.1"
    ));
}

#[test]
fn remote_addresses_become_ip_src_in_a_set() {
    let r = only_rule(
        "bots:\n- name: a\n  remote_addresses: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7]\n  action: ALLOW\n",
    );
    assert_eq!(
        r.expression,
        "ip.src in {10.0.0.0/8 2001:db8::/32 192.0.2.7}"
    );
    assert!(matches(&r.expression, "x", "/", &[], "10.1.2.3"));
    assert!(matches(&r.expression, "x", "/", &[], "2001:db8::1"));
    assert!(matches(&r.expression, "x", "/", &[], "192.0.2.7"));
    assert!(!matches(&r.expression, "x", "/", &[], "192.0.2.8"));
}

#[test]
fn geoip_and_asns_become_country_and_asnum_sets() {
    let out = ok(
        "bots:\n- name: a\n  geoip: {countries: [br, CN]}\n  asns: {match: [13335, 45102]}\n  action: WEIGH\n",
    );
    assert_eq!(
        out.import.rules[0].expression,
        r#"ip.src.country in {"BR" "CN"} and ip.src.asnum in {13335 45102}"#
    );
    assert!(
        out.import
            .report
            .iter()
            .any(|i| i.detail.contains("[geoip]")),
        "the geoip databases are asked for: {:?}",
        out.import.report
    );
}

#[test]
fn several_matchers_are_anded() {
    let r = only_rule(
        "bots:\n- name: a\n  user_agent_regex: bot\n  remote_addresses: [192.0.2.0/24]\n  action: ALLOW\n",
    );
    assert_eq!(
        r.expression,
        r#"http.user_agent matches "bot" and ip.src in {192.0.2.0/24}"#
    );
    assert!(matches(&r.expression, "bot", "/", &[], "192.0.2.1"));
    assert!(!matches(&r.expression, "bot", "/", &[], "198.51.100.1"));
    assert!(!matches(&r.expression, "person", "/", &[], "192.0.2.1"));
}

// --- escaping ---

#[test]
fn quotes_and_backslashes_in_regexes_survive_both_languages() {
    // YAML single quotes keep backslashes as they are.
    let r = only_rule(
        r#"bots:
- name: a
  user_agent_regex: '"quoted" \+https\://help\.example\.com/bot/ C:\\dir'
  action: DENY
"#,
    );
    assert_eq!(
        r.expression,
        r#"http.user_agent matches "\"quoted\" \\+https\\://help\\.example\\.com/bot/ C:\\\\dir""#
    );
    assert!(matches(
        &r.expression,
        r#"x "quoted" +https://help.example.com/bot/ C:\dir"#,
        "/",
        &[],
        "198.51.100.1"
    ));
    assert!(!matches(
        &r.expression,
        r#"x "quoted" +httpsX//help.example.com/bot/ C:\dir"#,
        "/",
        &[],
        "198.51.100.1"
    ));
    // And the TOML around it loads to the same expression.
    let out = ok(r#"bots:
- name: a
  user_agent_regex: '"quoted" \+https\://help\.example\.com/bot/ C:\\dir'
  action: DENY
"#);
    assert_eq!(loaded(&out).rules[0].expression, r.expression);
}

#[test]
fn single_quotes_and_control_characters_are_escaped() {
    let out = ok("bots:\n- name: a\n  path_regex: \"it's\\ta\\x01b\"\n  action: DENY\n");
    let r = &out.import.rules[0];
    assert_eq!(
        r.expression,
        r#"http.request.uri.path matches "it's\ta\x01b""#
    );
    // A `'` forces a basic TOML string; it still loads verbatim.
    assert!(
        out.toml
            .contains(r#"expression = "http.request.uri.path matches \"it's\\ta\\x01b\"""#),
        "{}",
        out.toml
    );
    assert_eq!(loaded(&out).rules[0].expression, r.expression);
    assert!(matches(
        &r.expression,
        "x",
        "/it's\ta\u{1}b",
        &[],
        "198.51.100.1"
    ));
    assert!(!matches(
        &r.expression,
        "x",
        "/it's ta\u{1}b",
        &[],
        "198.51.100.1"
    ));
}

#[test]
fn rules_strings_escape_what_the_lexer_needs() {
    assert_eq!(rules::rules_string(r#"a"b\c"#), r#""a\"b\\c""#);
    assert_eq!(rules::rules_string("\n\r\t\u{7f}é"), "\"\\n\\r\\t\\x7fé\"");
}

// --- actions ---

#[test]
fn each_action_gets_its_weight_and_threshold() {
    let out = ok(r#"bots:
- {name: allow, user_agent_regex: Good, action: ALLOW}
- {name: deny, user_agent_regex: Bad, action: DENY}
- {name: reroute, user_agent_regex: Poison, action: DENY_AND_REROUTE, reroute_to: "http://x/"}
- {name: c1, user_agent_regex: C1, action: CHALLENGE, challenge: {difficulty: 2, algorithm: fast}}
- {name: c3, user_agent_regex: C3, action: CHALLENGE, challenge: {difficulty: 3}}
- {name: c4, user_agent_regex: C4, action: CHALLENGE}
- {name: c5, user_agent_regex: C5, action: CHALLENGE, challenge: {difficulty: 5}}
- {name: weigh, user_agent_regex: W, action: WEIGH, weight: {adjust: -7}}
- {name: weigh-default, user_agent_regex: D, action: WEIGH}
"#);
    let weights: Vec<(&str, i32)> = out
        .import
        .rules
        .iter()
        .map(|r| (r.id.as_str(), r.weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("allow", -1000),
            ("deny", 1000),
            ("reroute", 1000),
            ("c1", 150),
            ("c3", 250),
            ("c4", 250),
            ("c5", 350),
            ("weigh", -7),
            ("weigh-default", 5),
        ]
    );
    let policy = loaded(&out);
    let decide = |w: i32| policy.decide(w);
    assert_eq!(decide(-1000), BotAction::Allow);
    assert_eq!(decide(-1000 + 50), BotAction::Allow);
    assert_eq!(decide(1000), BotAction::Block);
    assert_eq!(
        decide(1000 - 50),
        BotAction::Block,
        "negative WEIGH keeps a DENY"
    );
    for (w, level) in [
        (150, ThreatLevel::Low),
        (250, ThreatLevel::Medium),
        (350, ThreatLevel::High),
    ] {
        assert_eq!(decide(w), BotAction::Challenge(level));
        assert_eq!(decide(w - 50), BotAction::Challenge(level));
        assert_eq!(decide(w + 49), BotAction::Challenge(level));
    }
    // Two CHALLENGE rules on one request stay a challenge.
    assert_eq!(
        decide(350 + 350 + 50),
        BotAction::Challenge(ThreatLevel::High)
    );
    assert!(
        out.import
            .report
            .iter()
            .any(|i| i.detail.contains("DENY_AND_REROUTE becomes a block")),
        "{:?}",
        out.import.report
    );
}

#[test]
fn weigh_rules_use_the_files_thresholds() {
    let out = ok(r#"bots:
- {name: browser, user_agent_regex: Mozilla, action: WEIGH, weight: {adjust: 10}}
- {name: kind, headers_regex: {Accept-Language: .+}, action: WEIGH, weight: {adjust: -5}}
thresholds:
- {name: fine, expression: weight <= 0, action: ALLOW}
- name: light
  expression: {all: [weight > 0, weight < 10]}
  action: CHALLENGE
  challenge: {algorithm: metarefresh, difficulty: 1}
- {name: heavy, expression: weight >= 10, action: CHALLENGE, challenge: {difficulty: 4}}
"#);
    let policy = loaded(&out);
    assert_eq!(policy.decide(0), BotAction::Allow);
    assert_eq!(policy.decide(-5), BotAction::Allow);
    assert_eq!(policy.decide(5), BotAction::Challenge(ThreatLevel::Low));
    assert_eq!(policy.decide(10), BotAction::Challenge(ThreatLevel::Medium));
    // No CHALLENGE or DENY rules: no bands.
    assert!(policy.thresholds.iter().all(|t| t.min_weight <= 99));
}

#[test]
fn weigh_adjust_outside_the_weight_range_is_skipped() {
    let r = import(
        "bots:\n- {name: big, user_agent_regex: x, action: WEIGH, weight: {adjust: 5000}}\n- {name: ok, user_agent_regex: y, action: DENY}\n",
    );
    assert!(skip_reason(report(&r), "big").contains("-1000..1000"));
}

#[test]
fn too_much_weigh_is_cautioned() {
    let out = ok(r#"bots:
- {name: a, user_agent_regex: a, action: WEIGH, weight: {adjust: 40}}
- {name: b, user_agent_regex: b, action: WEIGH, weight: {adjust: 40}}
- {name: d, user_agent_regex: d, action: DENY}
"#);
    assert!(
        out.import
            .report
            .iter()
            .any(|i| i.status == Status::Note && i.detail.contains("+80")),
        "{:?}",
        out.import.report
    );
}

// --- thresholds ---

fn policy_with(thresholds: &str) -> BotPolicy {
    let yaml = format!(
        "bots:\n- {{name: w, user_agent_regex: w, action: WEIGH}}\nthresholds:\n{thresholds}"
    );
    loaded(&ok(&yaml))
}

#[test]
fn threshold_comparisons_in_every_form() {
    let cases: &[(&str, &[(i32, BotAction)])] = &[
        (
            "- {name: t, expression: weight < 5, action: DENY}\n",
            &[
                (4, BotAction::Block),
                (5, BotAction::Allow),
                (-900, BotAction::Block),
            ],
        ),
        (
            "- {name: t, expression: weight <= 5, action: DENY}\n",
            &[(5, BotAction::Block), (6, BotAction::Allow)],
        ),
        (
            "- {name: t, expression: weight > 5, action: DENY}\n",
            &[
                (5, BotAction::Allow),
                (6, BotAction::Block),
                (99, BotAction::Block),
            ],
        ),
        (
            "- {name: t, expression: weight >= 5, action: DENY}\n",
            &[(4, BotAction::Allow), (5, BotAction::Block)],
        ),
        (
            "- {name: t, expression: 5 <= weight, action: DENY}\n",
            &[(4, BotAction::Allow), (5, BotAction::Block)],
        ),
        (
            "- {name: t, expression: weight == 3, action: DENY}\n",
            &[
                (2, BotAction::Allow),
                (3, BotAction::Block),
                (4, BotAction::Allow),
            ],
        ),
        (
            "- {name: t, expression: 'weight >= 2 && (weight < 4 || weight > 8)', action: DENY}\n",
            &[
                (1, BotAction::Allow),
                (3, BotAction::Block),
                (5, BotAction::Allow),
                (9, BotAction::Block),
            ],
        ),
        (
            "- {name: t, expression: {all: [weight >= 2, weight < 4]}, action: DENY}\n",
            &[
                (1, BotAction::Allow),
                (2, BotAction::Block),
                (4, BotAction::Allow),
            ],
        ),
        (
            "- {name: t, expression: {any: [weight < -2, weight > 2]}, action: DENY}\n",
            &[
                (-3, BotAction::Block),
                (0, BotAction::Allow),
                (3, BotAction::Block),
            ],
        ),
        (
            "- {name: t, expression: 'true', action: CHALLENGE, challenge: {difficulty: 5}}\n",
            &[
                (-900, BotAction::Challenge(ThreatLevel::High)),
                (99, BotAction::Challenge(ThreatLevel::High)),
                (-1000, BotAction::Allow),
            ],
        ),
    ];
    for (thresholds, expect) in cases {
        let policy = policy_with(thresholds);
        for &(w, action) in *expect {
            assert_eq!(policy.decide(w), action, "weight {w} with {thresholds}");
        }
    }
}

#[test]
fn the_first_matching_threshold_wins_as_in_anubis() {
    let policy = policy_with(
        "- {name: a, expression: weight >= 10, action: DENY}\n\
         - {name: b, expression: weight >= 0, action: CHALLENGE, challenge: {difficulty: 1}}\n\
         - {name: c, expression: weight >= 20, action: ALLOW}\n",
    );
    assert_eq!(policy.decide(-1), BotAction::Allow);
    assert_eq!(policy.decide(0), BotAction::Challenge(ThreatLevel::Low));
    assert_eq!(policy.decide(10), BotAction::Block);
    assert_eq!(policy.decide(25), BotAction::Block, "c is never reached");
}

#[test]
fn gaps_between_thresholds_allow() {
    let policy = policy_with(
        "- {name: a, expression: {all: [weight >= 1, weight < 5]}, action: CHALLENGE, challenge: {difficulty: 1}}\n\
         - {name: b, expression: weight >= 10, action: DENY}\n",
    );
    assert_eq!(policy.decide(3), BotAction::Challenge(ThreatLevel::Low));
    assert_eq!(policy.decide(7), BotAction::Allow);
    assert_eq!(policy.decide(10), BotAction::Block);
}

#[test]
fn no_thresholds_means_anubis_defaults() {
    let out = ok("bots:\n- {name: w, user_agent_regex: w, action: WEIGH, weight: {adjust: 10}}\n");
    let policy = loaded(&out);
    assert_eq!(policy.decide(0), BotAction::Allow);
    assert_eq!(policy.decide(1), BotAction::Challenge(ThreatLevel::Low));
    assert_eq!(policy.decide(29), BotAction::Challenge(ThreatLevel::Low));
    assert_eq!(policy.decide(30), BotAction::Challenge(ThreatLevel::Medium));
    assert!(
        out.import
            .report
            .iter()
            .any(|i| i.detail.contains("Anubis's defaults"))
    );
}

#[test]
fn unreadable_and_unreachable_thresholds_are_skipped_with_reasons() {
    let r = import(
        r#"bots:
- {name: w, user_agent_regex: w, action: DENY}
thresholds:
- {name: cel, expression: 'weight.size() > 3', action: DENY}
- {name: float, expression: weight > 1.5, action: DENY}
- {name: far, expression: weight > 5000, action: DENY}
- {name: first, expression: weight > 0, action: DENY}
- {name: shadowed, expression: weight > 10, action: CHALLENGE, challenge: {difficulty: 1}}
- {name: weigh, expression: weight > 0, action: WEIGH}
- {name: both, expression: {all: [weight > 0], any: [weight < 3]}, action: DENY}
- {name: noexpr, action: DENY}
"#,
    );
    let import = report(&r);
    assert!(skip_reason(import, "\"cel\"").contains("not understood"));
    assert!(skip_reason(import, "\"float\"").contains("only integers"));
    assert!(skip_reason(import, "\"far\"").contains("matches no weight"));
    assert!(skip_reason(import, "\"shadowed\"").contains("earlier thresholds"));
    assert!(skip_reason(import, "\"weigh\"").contains("WEIGH"));
    assert!(skip_reason(import, "\"both\"").contains("exactly one"));
    assert!(skip_reason(import, "\"noexpr\"").contains("no `expression`"));
}

#[test]
fn threshold_expressions_parse() {
    use thresholds::{Cond, Op, parse_expr};
    assert_eq!(parse_expr("weight < 0"), Ok(Cond::Cmp(Op::Lt, 0)));
    assert_eq!(
        parse_expr(" ( weight >= -10 ) "),
        Ok(Cond::Cmp(Op::Ge, -10))
    );
    assert_eq!(parse_expr("10 > weight"), Ok(Cond::Cmp(Op::Lt, 10)));
    assert_eq!(parse_expr("false"), Ok(Cond::Const(false)));
    for bad in [
        "",
        "weight",
        "weight <",
        "(weight < 1",
        "weight < 1 &&",
        "weight < 99999999999999999999",
        "weight ~ 1",
        "load_1m >= 10.0",
        "weight < 1 weight",
    ] {
        assert!(parse_expr(bad).is_err(), "{bad:?} parsed");
    }
    let deep = format!("{}weight < 1{}", "(".repeat(100), ")".repeat(100));
    assert!(parse_expr(&deep).is_err());
}

// --- skipped bot entries ---

#[test]
fn untranslatable_entries_are_skipped_with_the_reason() {
    let r = import(
        r#"bots:
- import: (data)/bots/_deny-pathological.yaml
- import: /etc/anubis/mine.yaml
- {name: cel, expression: 'userAgent == ""', action: DENY}
- {name: cel-and-ua, user_agent_regex: x, expression: {all: ['path.startsWith("/a")']}, action: DENY}
- {name: lookahead, user_agent_regex: '(?=a)b', action: DENY}
- {name: backref, path_regex: '(a)\1', action: DENY}
- {name: newline, user_agent_regex: "bot\n", action: DENY}
- {name: cidr, remote_addresses: [10.0.0.0/33], action: ALLOW}
- {name: header, headers_regex: {"bad header": x}, action: DENY}
- {name: country, geoip: {countries: [Brazil]}, action: DENY}
- {name: unknown, user_agent_regex: x, user_agent_regexes: [y], action: DENY}
- {user_agent_regex: x, action: DENY}
- {name: lower, user_agent_regex: x, action: deny}
- {name: bench, user_agent_regex: x, action: DEBUG_BENCHMARK}
- {name: nothing, action: DENY}
- {name: noaction, user_agent_regex: x}
- just a string
- {name: good, user_agent_regex: fine, action: DENY}
"#,
    );
    let import = report(&r);
    assert!(skip_reason(import, "bots[0]").contains("built into Anubis"));
    assert!(skip_reason(import, "bots[0]").contains("--extract-resources"));
    assert!(skip_reason(import, "bots[1]").contains("/etc/anubis/mine.yaml"));
    assert!(skip_reason(import, "\"cel\"").contains("CEL"));
    assert!(skip_reason(import, "\"cel-and-ua\"").contains("CEL"));
    assert!(skip_reason(import, "\"lookahead\"").contains("look-around"));
    assert!(skip_reason(import, "\"backref\"").contains("backreferences are not supported"));
    assert!(skip_reason(import, "\"newline\"").contains(">-"));
    assert!(skip_reason(import, "\"cidr\"").contains("10.0.0.0/33"));
    assert!(skip_reason(import, "\"header\"").contains("not a valid header name"));
    assert!(skip_reason(import, "\"country\"").contains("two-letter"));
    assert!(skip_reason(import, "\"unknown\"").contains("user_agent_regexes"));
    assert!(skip_reason(import, "bots[11]").contains("no `name`"));
    assert!(skip_reason(import, "\"lower\"").contains("upper-case: DENY"));
    assert!(skip_reason(import, "\"bench\"").contains("benchmark"));
    assert!(skip_reason(import, "\"nothing\"").contains("no matcher"));
    assert!(skip_reason(import, "\"noaction\"").contains("no `action`"));
    assert!(skip_reason(import, "bots[16]").contains("not an Anubis bot rule"));
    let out = r.as_ref().unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(out.import.rules.len(), 1);
    assert_eq!(out.import.rules[0].id, "good");
}

#[test]
fn a_rule_rampart_refuses_is_skipped_with_ramparts_reason() {
    // 33 header regexes: more `matches` than one Rampart expression holds.
    let mut headers = String::new();
    for i in 0..33 {
        headers.push_str(&format!("    x-h{i}: a\n"));
    }
    let r = import(&format!(
        "bots:\n- name: many\n  action: DENY\n  headers_regex:\n{headers}- {{name: ok, user_agent_regex: y, action: DENY}}\n"
    ));
    let why = skip_reason(report(&r), "\"many\"");
    assert!(
        why.contains("Rampart refuses") && why.contains("32"),
        "{why}"
    );
}

#[test]
fn a_policy_with_nothing_translatable_is_a_failure_with_the_report() {
    let r = import("bots:\n- import: (data)/meta/default-config.yaml\n");
    let Err(Failure::Nothing(import)) = &r else {
        panic!("expected nothing imported: {r:?}");
    };
    assert_eq!(import.skipped().count(), 1);
}

#[test]
fn rule_ids_are_sanitised_and_unique() {
    let out = ok(r#"bots:
- {name: "Deny: Scrapy (v2)", user_agent_regex: a, action: DENY}
- {name: "deny-scrapy-v2", user_agent_regex: b, action: DENY}
- {name: "---", user_agent_regex: c, action: DENY}
- {name: "_x_", user_agent_regex: d, action: DENY}
- {name: "ÄÖÜ long name that goes on and on and on and on and on and on and on", user_agent_regex: e, action: DENY}
"#);
    let ids: Vec<&str> = out.import.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids[0], "deny-scrapy-v2");
    assert_eq!(ids[1], "deny-scrapy-v2-2");
    assert_eq!(ids[2], "anubis-2");
    assert_eq!(ids[3], "x");
    assert!(
        ids[4].len() <= 63 && ids[4].starts_with("long-name"),
        "{}",
        ids[4]
    );
    loaded(&out);
}

#[test]
fn anubis_settings_that_are_not_the_policy_are_reported_as_ignored() {
    let out = ok(
        "bots:\n- {name: a, user_agent_regex: a, action: DENY}\ndnsbl: false\nstatus_codes: {CHALLENGE: 200, DENY: 200}\n",
    );
    for key in ["`dnsbl`", "`status_codes`"] {
        assert!(
            out.import
                .report
                .iter()
                .any(|i| i.what == key && i.detail.contains("ignored")),
            "{key}: {:?}",
            out.import.report
        );
    }
}

#[test]
fn the_fragment_names_the_site_and_refuses_a_bad_site_name() {
    let yaml = "bots:\n- {name: a, user_agent_regex: a, action: DENY}\n";
    let out =
        import_text(yaml, Format::Yaml, "p.yaml", Some("shop")).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        out.toml.contains(r#"[[site]] named "shop""#),
        "{}",
        out.toml
    );
    assert!(matches!(
        import_text(yaml, Format::Yaml, "p.yaml", Some("Not A Name!")),
        Err(Failure::Site(_))
    ));
}

// --- files that are not policies ---

fn parse_error(text: &str, format: Format) -> ParseError {
    match import_text(text, format, "p", None) {
        Err(Failure::Parse(e)) => e,
        other => panic!("expected a parse error for {text:?}: {other:?}"),
    }
}

#[test]
fn yaml_syntax_errors_have_line_and_column() {
    let e = parse_error("bots:\n  - name: a\n   action: [DENY\n", Format::Yaml);
    assert_eq!(e.at.map(|(l, _)| l), Some(3), "{e:?}");
    assert!(!e.message.contains("line 3 column 4"), "{e:?}");
    assert!(e.hint.contains("YAML"));
}

#[test]
fn duplicate_keys_are_refused_with_their_position() {
    let e = parse_error(
        "bots:\n- {name: a, user_agent_regex: a, action: DENY}\nbots: []\n",
        Format::Yaml,
    );
    assert!(e.message.contains("duplicate"), "{e:?}");
    assert!(e.at.is_some());
}

#[test]
fn wrong_shapes_are_refused_with_their_position() {
    let e = parse_error("dnsbl: false\nbots: yes please\n", Format::Yaml);
    assert_eq!(e.at.map(|(l, _)| l), Some(2), "{e:?}");
    assert!(e.hint.contains("`bots:`"));
    let e = parse_error("- name: a\n", Format::Yaml);
    assert!(e.message.contains("mapping"), "{e:?}");
    let e = parse_error("", Format::Yaml);
    assert!(e.message.contains("mapping"), "{e:?}");
    let e = parse_error("dnsbl: true\n", Format::Yaml);
    assert!(e.message.contains("no `bots:`"), "{e:?}");
}

#[test]
fn json_policies_are_read_and_json_errors_positioned() {
    let out = import_text(
        r#"{"bots": [{"name": "a", "user_agent_regex": "a\\.b", "action": "DENY"}],
            "thresholds": [{"name": "t", "expression": "weight >= 1", "action": "CHALLENGE", "challenge": {"difficulty": 1}}]}"#,
        Format::Json,
        "p.json",
        None,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        out.import.rules[0].expression,
        r#"http.user_agent matches "a\\.b""#
    );
    let e = parse_error("{\"bots\": [\n  {\"name\": }\n]}", Format::Json);
    assert_eq!(e.at.map(|(l, _)| l), Some(2), "{e:?}");
}

// --- never panic ---

/// A bot entry built from pieces, some valid and some not.
fn entry() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        "[a-zA-Z0-9 .*+?()\\[\\]|^$\\\\\"'/:-]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ];
    let action = prop_oneof![
        Just("ALLOW"),
        Just("DENY"),
        Just("CHALLENGE"),
        Just("WEIGH"),
        Just("DENY_AND_REROUTE"),
        Just("deny"),
        Just("WHAT"),
    ];
    let key = prop_oneof![
        Just("user_agent_regex"),
        Just("path_regex"),
        Just("expression"),
        Just("import"),
    ];
    (
        text.clone(),
        action,
        key,
        text.clone(),
        proptest::option::of(text.clone()),
        proptest::option::of(-2000i64..2000),
        proptest::option::of(-3i64..70),
        proptest::collection::vec(text, 0..3),
    )
        .prop_map(
            |(name, action, key, value, header, adjust, difficulty, cidrs)| {
                let q = |s: &str| serde_json::Value::from(s).to_string();
                let mut e = format!(
                    "{{\"name\": {}, \"action\": {}, {}: {}",
                    q(&name),
                    q(action),
                    q(key),
                    q(&value)
                );
                if let Some(h) = header {
                    e.push_str(&format!(", \"headers_regex\": {{{}: {}}}", q(&h), q(&h)));
                }
                if let Some(a) = adjust {
                    e.push_str(&format!(", \"weight\": {{\"adjust\": {a}}}"));
                }
                if let Some(d) = difficulty {
                    e.push_str(&format!(", \"challenge\": {{\"difficulty\": {d}}}"));
                }
                if !cidrs.is_empty() {
                    let list: Vec<String> = cidrs.iter().map(|c| q(c)).collect();
                    e.push_str(&format!(", \"remote_addresses\": [{}]", list.join(", ")));
                }
                e.push('}');
                e
            },
        )
}

fn threshold() -> impl Strategy<Value = String> {
    let cmp = (
        prop_oneof![
            Just("<"),
            Just("<="),
            Just(">"),
            Just(">="),
            Just("=="),
            Just("!=")
        ],
        -1200i64..1200,
    )
        .prop_map(|(op, n)| format!("weight {op} {n}"));
    let expr = prop_oneof![
        cmp.clone()
            .prop_map(|c| serde_json::Value::from(c).to_string()),
        proptest::collection::vec(cmp.clone(), 1..3)
            .prop_map(|v| { serde_json::json!({ "all": v }).to_string() }),
        proptest::collection::vec(cmp, 1..3)
            .prop_map(|v| serde_json::json!({ "any": v }).to_string()),
        "[a-z<>=&|() 0-9.-]{0,20}".prop_map(|s| serde_json::Value::from(s).to_string()),
    ];
    (
        expr,
        prop_oneof![
            Just("ALLOW"),
            Just("DENY"),
            Just("CHALLENGE"),
            Just("WEIGH")
        ],
        proptest::option::of(0i64..10),
    )
        .prop_map(|(expr, action, d)| {
            let challenge = d
                .map(|d| format!(", \"challenge\": {{\"difficulty\": {d}}}"))
                .unwrap_or_default();
            format!(
                "{{\"name\": \"t\", \"expression\": {expr}, \"action\": \"{action}\"{challenge}}}"
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), json in any::<bool>()) {
        let format = if json { Format::Json } else { Format::Yaml };
        let _ = import_text(&text, format, "p", None);
    }

    #[test]
    fn yaml_looking_text_never_panics(text in "(bots:|thresholds:|- |name: |action: |  |\n|[a-zA-Z0-9{}\\[\\],:\"'&*!|>-]){0,60}") {
        let _ = import_text(&text, Format::Yaml, "p", None);
    }

    /// Structured policies: never a panic, and whatever comes out loads in
    /// Rampart and decides pure-WEIGH totals as Anubis would.
    #[test]
    fn structured_policies_import_or_explain(
        bots in proptest::collection::vec(entry(), 0..6),
        thresholds in proptest::option::of(proptest::collection::vec(threshold(), 0..5)),
    ) {
        let mut json = format!("{{\"bots\": [{}]", bots.join(", "));
        if let Some(t) = &thresholds {
            json.push_str(&format!(", \"thresholds\": [{}]", t.join(", ")));
        }
        json.push('}');
        match import_text(&json, Format::Json, "p.json", None) {
            Ok(out) => {
                let policy = emit::check(&out.toml, None);
                prop_assert!(policy.is_ok(), "{:?}\n{}", policy, out.toml);
                for item in &out.import.report {
                    prop_assert!(!item.detail.is_empty());
                }
            }
            Err(Failure::Nothing(import)) => prop_assert!(import.rules.is_empty()),
            Err(other) => prop_assert!(false, "{json}: {other:?}"),
        }
    }

    /// Rampart's thresholds decide each weight of the policy range as
    /// Anubis's ordered list would (first match; none: allow).
    #[test]
    fn thresholds_decide_like_anubis(list in proptest::collection::vec(
        (prop_oneof![Just("<"), Just("<="), Just(">"), Just(">=")], -20i64..40,
         prop_oneof![Just("ALLOW"), Just("DENY"), Just("CHALLENGE")], 1i64..7),
        1..6,
    )) {
        let mut yaml = String::from("bots:\n- {name: w, user_agent_regex: w, action: WEIGH}\nthresholds:\n");
        for (op, n, action, d) in &list {
            yaml.push_str(&format!(
                "- {{name: t, expression: 'weight {op} {n}', action: {action}, challenge: {{difficulty: {d}}}}}\n"
            ));
        }
        let policy = loaded(&ok(&yaml));
        for w in -30i32..50 {
            let anubis = list.iter().find(|(op, n, _, _)| {
                let w = i64::from(w);
                match *op { "<" => w < *n, "<=" => w <= *n, ">" => w > *n, _ => w >= *n }
            }).map_or(BotAction::Allow, |(_, _, action, d)| match *action {
                "ALLOW" => BotAction::Allow,
                "DENY" => BotAction::Block,
                _ => BotAction::Challenge(level_of(Some(*d))),
            });
            prop_assert_eq!(policy.decide(w), anubis, "weight {} in {}", w, yaml);
        }
    }
}
