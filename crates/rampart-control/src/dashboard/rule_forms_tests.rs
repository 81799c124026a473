//! Unit tests of the rule and limits form helpers (rule_forms.rs).
use super::*;
use crate::api::error::FieldProblem;
use http::StatusCode;

#[test]
fn rule_forms_round_trip_and_drop_fields_of_other_actions() {
    let form = RuleForm {
        id: " wp ".into(),
        expression: "true".into(),
        action: "block".into(),
        status: "451".into(),
        redirect_url: "/elsewhere".into(),
        ..RuleForm::default()
    };
    let (spec, problems) = form.to_spec();
    assert!(problems.is_empty());
    assert_eq!(spec.id, "wp");
    assert_eq!(spec.status, Some(451));
    assert_eq!(spec.redirect_url, None);
    assert_eq!(spec.enabled, Some(false));
    let again = RuleForm::from_spec(&spec);
    assert_eq!(again.original, "wp");
    assert_eq!(again.enabled, None);
    let (_, problems) = RuleForm {
        status: "4o3".into(),
        ..form
    }
    .to_spec();
    assert_eq!(problems.first().map(|p| p.field), Some("status"));
}

#[test]
fn auto_attack_timings_are_kept_as_typed() {
    let mut spec = SiteSpec::default();
    let form = LimitsForm {
        auto_warmup: " 2m ".into(),
        auto_hold: "1h".into(),
        ..LimitsForm::default()
    };
    assert!(form.merge_into(&mut spec).is_empty());
    let auto = spec.auto_under_attack.clone().unwrap_or_default();
    assert_eq!(
        (auto.warmup.as_deref(), auto.window, auto.hold.as_deref()),
        (Some("2m"), None, Some("1h"))
    );
    let again = LimitsForm::from_spec(&spec);
    assert_eq!(
        (again.auto_warmup.as_str(), again.auto_window.as_str()),
        ("2m", "")
    );
    assert_eq!(
        form_field("auto_under_attack.hold", None),
        Some(("auto_hold", "Hold"))
    );
}

#[test]
fn rules_are_replaced_in_place_and_moved() {
    let rule = |id: &str| {
        RuleForm {
            id: id.to_owned(),
            expression: "true".to_owned(),
            action: "log".to_owned(),
            ..RuleForm::default()
        }
        .to_spec()
        .0
    };
    let mut rules = vec![rule("a"), rule("b")];
    assert_eq!(upsert_rule(&mut rules, "a", rule("c")), 0);
    assert_eq!(upsert_rule(&mut rules, "", rule("d")), 2);
    assert_eq!(move_rule_in(&mut rules, "d", "up"), Some(true));
    assert_eq!(move_rule_in(&mut rules, "c", "up"), Some(false));
    assert_eq!(move_rule_in(&mut rules, "zz", "up"), None);
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["c", "d", "b"]);
}

#[test]
fn errors_of_the_edited_item_land_on_its_fields() {
    let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "x");
    error.detail.details = vec![
        FieldProblem {
            code: "invalid".into(),
            message: "`rules[2].expression`: column 7: expected a value".into(),
            field: "rules[2].expression".into(),
        },
        FieldProblem {
            code: "invalid".into(),
            message: "bad".into(),
            field: "rules[0].action".into(),
        },
    ];
    let (fields, general) = place_errors(&error, Some(2));
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].field, "expression");
    assert!(
        fields[0].message.contains("column 7"),
        "{}",
        fields[0].message
    );
    assert_eq!(general, ["rules[0].action: bad"]);
}
