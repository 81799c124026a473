//! Whole-file import: settings that are not the policy, the site name,
//! files that are not policies, and never panicking on any input.

use super::*;

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
}
