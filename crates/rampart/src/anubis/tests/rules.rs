//! Bot-rule translation: each matcher, escaping into both languages,
//! each action's weight, and bot entries skipped with their reasons.

use super::*;

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
    assert_eq!(
        crate::anubis::rules::rules_string(r#"a"b\c"#),
        r#""a\"b\\c""#
    );
    assert_eq!(
        crate::anubis::rules::rules_string("\n\r\t\u{7f}é"),
        "\"\\n\\r\\t\\x7fé\""
    );
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
