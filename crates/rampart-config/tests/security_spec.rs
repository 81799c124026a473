//! Security fields of site specs: the same checks as the TOML file, each
//! problem addressed by its JSON path, and a lossless way through
//! `SiteSpec::from_config`.

mod support;

use std::time::Duration;

use rampart_config::*;
use serde_json::json;
use support::{MIN_SITE, TempDir, spec, with};

fn compile(v: serde_json::Value) -> Result<SiteConfig, Vec<FieldError>> {
    compile_site(&spec(v), &Timeouts::default())
}

fn errs(v: serde_json::Value) -> Vec<FieldError> {
    match compile(v) {
        Ok(_) => panic!("spec was accepted"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_field(errs: &[FieldError], field: &str, code: &str, fragments: &[&str]) {
    let found = errs.iter().any(|e| {
        e.field == field && e.code == code && fragments.iter().all(|f| e.message.contains(f))
    });
    assert!(
        found,
        "no error at {field} ({code}) containing {fragments:?}; got {errs:#?}"
    );
}

#[track_caller]
fn assert_single(v: serde_json::Value, field: &str, code: &str, fragments: &[&str]) {
    let errs = errs(v);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_field(&errs, field, code, fragments);
}

fn rule(id: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut r = json!({"id": id, "expression": "ssl", "action": "log"});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

#[test]
fn a_full_spec_compiles_into_the_values_written() {
    let v = json!({
        "name": "a", "hosts": ["a.test"], "origins": ["http://127.0.0.1:9001"],
        "rules": [
            {"id": "skip-admin", "expression": "ssl", "action": "skip",
             "skip_phases": ["rules"], "skip_rules": ["admin"]},
            {"id": "admin", "description": "d", "expression": "http.host eq \"x\"",
             "action": "block", "status": 451, "enabled": false},
            {"id": "go", "expression": "ssl", "action": "redirect", "redirect_url": "https://x.test/"},
        ],
        "rate_limits": [{
            "id": "api", "period": "10s", "requests": 20,
            "characteristics": ["header:X-Key", "ip"], "action": "log",
            "counting_expression": "http.response.code ge 500",
        }],
        "limits": {"max_header_count": 10, "max_body_bytes": "off"},
        "auto_under_attack": {"enabled": true, "min_rps": 5, "window": "5s", "hold": "1m"},
    });
    let site = compile(v).unwrap_or_else(|e| panic!("{e:#?}"));
    let s = &site.security;
    assert_eq!(s.rules.len(), 3);
    assert_eq!(
        s.rules[0].action,
        RuleAction::Skip {
            phases: vec![SecurityPhase::Rules],
            rules: vec!["admin".into()]
        }
    );
    assert_eq!(
        s.rules[1],
        FirewallRule {
            id: "admin".into(),
            description: "d".into(),
            expression: "http.host eq \"x\"".into(),
            action: RuleAction::Block { status: 451 },
            enabled: false,
        }
    );
    assert_eq!(
        s.rules[2].action,
        RuleAction::Redirect {
            url: "https://x.test/".into(),
            status: 302
        }
    );
    let rl = &s.rate_limits[0];
    assert_eq!(
        rl.characteristics,
        vec![Characteristic::Header("x-key".into()), Characteristic::Ip]
    );
    assert_eq!(
        (rl.period, rl.mitigation_timeout),
        (Duration::from_secs(10), Duration::from_secs(10))
    );
    assert_eq!((rl.requests, rl.action), (20, LimitAction::Log));
    assert_eq!(rl.expression, DEFAULT_RATE_LIMIT_EXPRESSION);
    assert_eq!(
        s.limits,
        RequestLimits {
            max_header_count: 10,
            max_body_bytes: None,
            ..RequestLimits::default()
        }
    );
    assert_eq!(
        s.auto_under_attack,
        AutoUnderAttack {
            enabled: true,
            factor: 4.0,
            min_rps: 5,
            window: Duration::from_secs(5),
            hold: Duration::from_secs(60),
            ..AutoUnderAttack::default()
        }
    );
}

#[test]
fn expression_errors_name_the_field_and_the_column() {
    let v = with(
        "rules",
        json!([
            rule("a", json!({})),
            rule("b", json!({})),
            rule("c", json!({"expression": "http.host contains 3"}))
        ]),
    );
    assert_single(
        v,
        "rules[2].expression",
        "invalid",
        &["column 20: expected a string after `contains`, found integer 3"],
    );
    let v = with(
        "rate_limits",
        json!([{"id": "x", "period": "1m", "requests": 1, "counting_expression": "http.response.code eq \"x\""}]),
    );
    assert_single(
        v,
        "rate_limits[0].counting_expression",
        "invalid",
        &["column 23"],
    );
    let v = with(
        "rate_limits",
        json!([{"id": "x", "period": "1m", "requests": 1, "expression": "http.response.code eq 1"}]),
    );
    assert_single(v, "rate_limits[0].expression", "invalid", &["column 1"]);
}

#[test]
fn lists_come_from_the_caller() {
    let v = with(
        "rules",
        json!([rule("a", json!({"expression": "ip.src in $office"}))]),
    );
    assert_single(
        v.clone(),
        "rules[0].expression",
        "unknown_list",
        &["column 11", "list `$office` does not exist"],
    );
    let known = |name: &str| name == "office";
    let site = compile_site_with_lists(&spec(v), &Timeouts::default(), &known).unwrap();
    assert_eq!(site.security.rules[0].expression, "ip.src in $office");
    let v = with(
        "rate_limits",
        json!([{"id": "x", "period": "1m", "requests": 1, "counting_expression": "ip.src in $office"}]),
    );
    assert!(compile_site_with_lists(&spec(v), &Timeouts::default(), &known).is_ok());
}

#[test]
fn rule_mistakes_carry_their_paths() {
    assert_single(
        with("rules", json!([rule("a", json!({"action": "deny"}))])),
        "rules[0].action",
        "invalid",
        &["unknown action \"deny\""],
    );
    assert_single(
        with("rules", json!([rule("a", json!({"action": ""}))])),
        "rules[0].action",
        "required",
        &["needs an `action`"],
    );
    assert_single(
        with(
            "rules",
            json!([rule("a", json!({"action": "block", "status": 200}))]),
        ),
        "rules[0].status",
        "out_of_range",
        &["`rules[0].status` must be between 400 and 599, found 200"],
    );
    assert_single(
        with("rules", json!([rule("a", json!({"status": 403}))])),
        "rules[0].status",
        "invalid",
        &["only applies to action \"block\" or \"redirect\""],
    );
    assert_single(
        with("rules", json!([rule("a", json!({"action": "redirect"}))])),
        "rules[0].redirect_url",
        "required",
        &["needs a `redirect_url`"],
    );
    assert_single(
        with(
            "rules",
            json!([rule(
                "a",
                json!({"action": "skip", "skip_phases": ["bots", "wat"]})
            )]),
        ),
        "rules[0].skip_phases[1]",
        "invalid",
        &["unknown phase \"wat\""],
    );
    assert_single(
        with(
            "rules",
            json!([rule("a", json!({"action": "skip", "skip_phases": []}))]),
        ),
        "rules[0].action",
        "required",
        &["needs `skip_phases`"],
    );
    assert_single(
        with("rules", json!([rule("A", json!({}))])),
        "rules[0].id",
        "invalid",
        &["`rules[0].id` \"A\" is not valid"],
    );
    assert_single(
        with("rules", json!([rule("a", json!({})), rule("a", json!({}))])),
        "rules[1].id",
        "duplicate",
        &["already used by the rule at rules[0]"],
    );
    assert_single(
        with(
            "rules",
            json!([rule("a", json!({"description": "x".repeat(501)}))]),
        ),
        "rules[0].description",
        "too_long",
        &["at most 500"],
    );
    let errs = errs(with(
        "rules",
        json!([
            rule("a", json!({})),
            rule(
                "b",
                json!({"action": "skip", "skip_rules": ["a", "c", "zz"]})
            ),
            rule("c", json!({})),
        ]),
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_field(
        &errs,
        "rules[1].skip_rules[0]",
        "invalid",
        &["comes before this one"],
    );
    assert_field(
        &errs,
        "rules[1].skip_rules[2]",
        "invalid",
        &["no rule with id \"zz\""],
    );

    let many: Vec<_> = (0..1001)
        .map(|i| rule(&format!("r{i}"), json!({})))
        .collect();
    assert_single(
        with("rules", json!(many)),
        "rules",
        "too_long",
        &["at most 1000"],
    );
}

#[test]
fn rate_limit_and_limit_mistakes_carry_their_paths() {
    let rl = |extra: serde_json::Value| {
        let mut r = json!({"id": "x", "period": "1m", "requests": 1});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        with("rate_limits", json!([r]))
    };
    assert_single(
        rl(json!({"period": "2d"})),
        "rate_limits[0].period",
        "out_of_range",
        &["at most 1day"],
    );
    assert_single(
        rl(json!({"period": "soon"})),
        "rate_limits[0].period",
        "invalid",
        &["invalid duration"],
    );
    assert_single(
        rl(json!({"requests": 0})),
        "rate_limits[0].requests",
        "out_of_range",
        &["between 1 and"],
    );
    assert_single(
        rl(json!({"action": "allow"})),
        "rate_limits[0].action",
        "invalid",
        &["unknown rate-limit action"],
    );
    assert_single(
        rl(json!({"mitigation_timeout": "2d"})),
        "rate_limits[0].mitigation_timeout",
        "out_of_range",
        &["at most"],
    );
    assert_single(
        rl(json!({"characteristics": []})),
        "rate_limits[0].characteristics",
        "required",
        &["at least one"],
    );
    assert_single(
        rl(json!({"characteristics": ["ip", "cookie:"]})),
        "rate_limits[0].characteristics[1]",
        "invalid",
        &["needs a name"],
    );
    assert_single(
        rl(json!({"characteristics": ["path", "path"]})),
        "rate_limits[0].characteristics[1]",
        "duplicate",
        &["twice"],
    );
    assert_single(
        with("limits", json!({"max_uri_bytes": 1})),
        "limits.max_uri_bytes",
        "out_of_range",
        &["between 16 and"],
    );
    assert_single(
        with("limits", json!({"max_body_bytes": "lots"})),
        "limits.max_body_bytes",
        "invalid",
        &["\"10MiB\""],
    );
    assert_single(
        with("auto_under_attack", json!({"factor": 1.2})),
        "auto_under_attack.factor",
        "out_of_range",
        &["between 1.5 and 1000"],
    );
    assert_single(
        with("auto_under_attack", json!({"min_rps": 0})),
        "auto_under_attack.min_rps",
        "out_of_range",
        &[],
    );
    assert_single(
        with("auto_under_attack", json!({"window": "2h"})),
        "auto_under_attack.window",
        "out_of_range",
        &["`auto_under_attack.window`"],
    );
    assert_single(
        with("auto_under_attack", json!({"warmup": "0s"})),
        "auto_under_attack.warmup",
        "out_of_range",
        &[],
    );
    assert_single(
        with("auto_under_attack", json!({"hold": "soon"})),
        "auto_under_attack.hold",
        "invalid",
        &[],
    );
}

#[test]
fn unknown_fields_are_refused_by_name() {
    for (key, value) in [
        ("rules", json!([rule("a", json!({"statuss": 403}))])),
        (
            "rate_limits",
            json!([{"id": "x", "period": "1m", "requests": 1, "burst": 2}]),
        ),
        ("limits", json!({"max_headers": 1})),
        ("auto_under_attack", json!({"on": true})),
    ] {
        let err = serde_json::from_value::<SiteSpec>(with(key, value)).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{key}: {err}");
    }
    let err = serde_json::from_value::<SiteSpec>(with("limits", json!({"max_body_bytes": true})))
        .unwrap_err();
    assert!(err.to_string().contains("\"off\""), "{err}");
}

/// The TOML file's security settings survive `from_config` and compile
/// back to the same site; the spec also survives JSON.
#[test]
fn round_trip_through_a_spec() {
    let dir = TempDir::new();
    let text = format!(
        r#"[[lists]]
name = "office"
items = ["192.0.2.0/24"]
{MIN_SITE}limits = {{ max_body_bytes = "off", max_uri_bytes = 100 }}
auto_under_attack = {{ enabled = true, factor = 2.5, hold = "90s" }}

[[site.rules]]
id = "a"
description = "first"
expression = "ip.src in $office"
action = "skip"
skip_phases = ["waf", "rules"]
skip_rules = ["c"]

[[site.rules]]
id = "b"
expression = "ssl"
action = "challenge"
enabled = false

[[site.rules]]
id = "c"
expression = "not ssl"
action = "redirect"
redirect_url = "/tls"
status = 308

[[site.rules]]
id = "d"
expression = "ssl"
action = "block"

[[site.rules]]
id = "e"
expression = "ssl"
action = "allow"

[[site.rules]]
id = "f"
expression = "ssl"
action = "log"

[[site.rate_limits]]
id = "r"
period = "90s"
requests = 7
mitigation_timeout = "0s"
characteristics = ["query_arg:q", "cookie:c", "ip_prefix", "site"]
counting_expression = "http.response.code in {{400..499}}"
enabled = false

[[site.rate_limits]]
id = "s"
period = "1h"
requests = 1000000
"#
    );
    let config = dir.parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let site = &config.sites[0];
    let spec = SiteSpec::from_config(site);
    let json = serde_json::to_value(&spec).unwrap();
    let back: SiteSpec = serde_json::from_value(json).unwrap();
    assert_eq!(back, spec);
    let known = |name: &str| name == "office";
    let compiled = compile_site_with_lists(&back, &Timeouts::default(), &known)
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(compiled, *site);

    // A site without security settings gets a spec without them.
    let plain = SiteSpec::from_config(&dir.parse(MIN_SITE).unwrap().sites[0]);
    assert!(plain.rules.is_none() && plain.rate_limits.is_none());
    assert!(plain.limits.is_none() && plain.auto_under_attack.is_none());
}

/// The same verdict whichever front end a value comes through.
#[test]
fn toml_and_spec_agree() {
    let dir = TempDir::new();
    for (action, extra_toml, extra_json) in [
        ("block", "status = 499", json!({"status": 499})),
        ("block", "status = 600", json!({"status": 600})),
        (
            "redirect",
            "redirect_url = \"/x\"\nstatus = 307",
            json!({"redirect_url": "/x", "status": 307}),
        ),
        (
            "redirect",
            "redirect_url = \"//evil.test\"",
            json!({"redirect_url": "//evil.test"}),
        ),
        (
            "redirect",
            "redirect_url = \"ftp://x\"",
            json!({"redirect_url": "ftp://x"}),
        ),
        (
            "challenge",
            "challenge = \"interactive\"",
            json!({"challenge": "interactive"}),
        ),
        ("allow", "challenge = \"js\"", json!({"challenge": "js"})),
        ("skip", "skip_rules = []", json!({"skip_rules": []})),
    ] {
        let toml = format!(
            "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = \"ssl\"\naction = \"{action}\"\n{extra_toml}\n"
        );
        let json = with("rules", json!([rule("r", json!({"action": action}))]));
        let mut json = json;
        for (k, v) in extra_json.as_object().unwrap() {
            json["rules"][0][k] = v.clone();
        }
        assert_eq!(
            dir.parse(&toml).is_ok(),
            compile(json).is_ok(),
            "{action} {extra_toml}"
        );
    }
    for size in ["\"1KiB\"", "\"off\"", "\"1TB\"", "\"1 MB\"", "0"] {
        let toml = format!("{MIN_SITE}limits = {{ max_body_bytes = {size} }}\n");
        let json = with(
            "limits",
            json!({"max_body_bytes": serde_json::from_str::<serde_json::Value>(size).unwrap()}),
        );
        assert_eq!(dir.parse(&toml).is_ok(), compile(json).is_ok(), "{size}");
    }
}
