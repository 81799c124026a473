//! Threshold translation: every comparison form, Anubis's first-match
//! order, defaults, skipped thresholds, the expression parser, and the
//! property that the weight bands decide as Anubis would.

use super::*;

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
    use crate::anubis::thresholds::expr::{Cond, Op, parse_expr};
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

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
