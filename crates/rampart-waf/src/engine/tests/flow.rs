//! Evaluation: chains, skips, actions, ctl, disruptive actions and phases.

use super::*;

#[test]
fn deny_interrupts_with_status_and_records_message() {
    let rs = build(
        "SecRule REQUEST_HEADERS:X-Test \"@rx ^evil$\" \
         \"id:100,phase:1,deny,status:418,msg:'bad %{MATCHED_VAR_NAME}',logdata:'%{MATCHED_VAR}',severity:CRITICAL,tag:t1\"",
    );
    let r = run(&rs, &request("/", &[("x-TEST", "evil")]));
    let i = r.interrupted.expect("interrupted");
    assert_eq!(
        (i.rule_id, i.status, i.action),
        (100, 418, InterruptAction::Deny)
    );
    let m = &r.tx.matched_rules()[0];
    assert_eq!(m.message, "bad REQUEST_HEADERS:x-TEST");
    assert_eq!(m.data, "evil");
    assert_eq!(m.severity, Some(2));
    assert_eq!(m.tags, vec!["t1".to_owned()]);
    assert!(m.logged);
    let r = run(&rs, &request("/", &[("X-Test", "fine")]));
    assert!(r.interrupted.is_none());
    assert!(ids(&r).is_empty());
}

#[test]
fn detection_only_records_but_does_not_interrupt() {
    let text =
        "SecRuleEngine DetectionOnly\nSecRule REQUEST_URI \"@rx attack\" \"id:1,phase:1,deny\"";
    let rs = build(text);
    let r = run(&rs, &request("/attack", &[]));
    assert!(r.interrupted.is_none());
    assert_eq!(ids(&r), vec![1]);
    let rs = build(
        "SecAction \"id:1,phase:1,pass,nolog,ctl:ruleEngine=DetectionOnly\"\n\
         SecRule REQUEST_URI \"@rx attack\" \"id:2,phase:1,deny\"",
    );
    let r = run(&rs, &request("/attack", &[]));
    assert!(r.interrupted.is_none());
    assert_eq!(ids(&r), vec![1, 2]);
    assert!(!r.tx.matched_rules()[0].logged);
}

#[test]
fn chain_needs_every_link_and_runs_link_setvars() {
    let rs = build(
        "SecRule REQUEST_METHOD \"@streq GET\" \"id:1,phase:1,pass,chain,msg:'m %{MATCHED_VAR}'\"\n\
         \tSecRule REQUEST_HEADERS:A \"@streq yes\" \"setvar:tx.hits=+1,chain\"\n\
         \tSecRule REQUEST_HEADERS:B \"@streq yes\" \"setvar:tx.full=1\"",
    );
    let r = run(&rs, &request("/", &[("A", "yes"), ("B", "yes")]));
    assert_eq!(ids(&r), vec![1]);
    assert_eq!(r.tx.matched_rules()[0].message, "m yes");
    assert_eq!(r.tx.tx_var("hits").as_deref(), Some("1"));
    assert_eq!(r.tx.tx_var("tx.full").as_deref(), Some("1"));
    let r = run(&rs, &request("/", &[("A", "yes"), ("B", "no")]));
    assert!(ids(&r).is_empty());
    // The link that matched still ran its setvar (ModSecurity v3 order).
    assert_eq!(r.tx.tx_var("hits").as_deref(), Some("1"));
    assert_eq!(r.tx.tx_var("full"), None);
}

#[test]
fn skip_after_jumps_to_the_marker_and_skip_counts_rules() {
    let rs = build(
        "SecAction \"id:1,phase:1,pass,skipAfter:END\"\n\
         SecAction \"id:2,phase:1,pass\"\n\
         SecAction \"id:3,phase:2,pass\"\n\
         SecMarker END\n\
         SecAction \"id:4,phase:1,pass,skip:1\"\n\
         SecAction \"id:5,phase:1,pass\"\n\
         SecAction \"id:6,phase:1,pass\"",
    );
    let r = run(&rs, &request("/", &[]));
    // Phase 1: 1 jumps past END, 4 skips 5; phase 2 still runs 3.
    assert_eq!(ids(&r), vec![1, 4, 6, 3]);
}

#[test]
fn setvar_arithmetic_delete_and_macros() {
    let rs = build(
        "SecAction \"id:1,phase:1,pass,setvar:tx.a=10,setvar:tx.a=+5,setvar:tx.a=-3,setvar:'tx.name_%{tx.a}=%{request_headers.host}',setvar:tx.gone=1,setvar:!tx.gone,setvar:TX.Mixed=x\"\n\
         SecRule TX:name_12 \"@streq example.org\" \"id:2,phase:1,pass,setvar:tx.seen=%{tx.mixed}-%{rule.id}\"",
    );
    let r = run(&rs, &request("/", &[("Host", "example.org")]));
    assert_eq!(r.tx.tx_var("a").as_deref(), Some("12"));
    assert_eq!(r.tx.tx_var("name_12").as_deref(), Some("example.org"));
    assert_eq!(r.tx.tx_var("gone"), None);
    assert_eq!(r.tx.tx_var("seen").as_deref(), Some("x-2"));
}

#[test]
fn count_and_exclusion_targets() {
    let rs = build(
        "SecRule &REQUEST_HEADERS:X-Missing \"@eq 0\" \"id:1,phase:1,pass\"\n\
         SecRule &REQUEST_HEADERS \"@eq 3\" \"id:2,phase:1,pass\"\n\
         SecRule REQUEST_HEADERS|!REQUEST_HEADERS:X-Skip \"@rx bad\" \"id:3,phase:1,pass\"\n\
         SecRule REQUEST_HEADERS|!REQUEST_HEADERS:/^x-/ \"@rx bad\" \"id:4,phase:1,pass\"",
    );
    let r = run(
        &rs,
        &request("/", &[("X-Skip", "bad"), ("X-Two", "ok"), ("Y", "ok")]),
    );
    assert_eq!(ids(&r), vec![1, 2]);
    let r = run(
        &rs,
        &request("/", &[("X-Skip", "ok"), ("X-Two", "bad"), ("Y", "ok")]),
    );
    assert_eq!(ids(&r), vec![1, 2, 3]);
}

#[test]
fn ctl_removes_rules_and_targets_for_this_transaction_only() {
    let rs = build(
        "SecRule REQUEST_URI \"@beginsWith /admin\" \"id:1,phase:1,pass,nolog,ctl:ruleRemoveById=10-11,ctl:ruleRemoveTargetById=20;REQUEST_HEADERS:X-A,ctl:ruleRemoveByTag=noisy\"\n\
         SecRule REQUEST_HEADERS \"@rx x\" \"id:10,phase:2,pass\"\n\
         SecRule REQUEST_HEADERS \"@rx x\" \"id:12,phase:2,pass,tag:noisy\"\n\
         SecRule REQUEST_HEADERS \"@rx x\" \"id:20,phase:2,pass\"",
    );
    let r = run(&rs, &request("/admin", &[("X-A", "x")]));
    assert_eq!(ids(&r), vec![1]);
    let r = run(&rs, &request("/admin", &[("X-A", "x"), ("X-B", "x")]));
    assert_eq!(ids(&r), vec![1, 20]);
    let r = run(&rs, &request("/", &[("X-A", "x")]));
    assert_eq!(ids(&r), vec![10, 12, 20]);
}

#[test]
fn capture_fills_tx_groups_and_operator_macros_expand() {
    let rs = build(
        "SecRule REQUEST_HEADERS:V \"@rx ^(\\d+)-(\\d+)$\" \"id:1,phase:1,pass,capture,setvar:tx.low=%{TX.1},setvar:tx.high=%{tx.2}\"\n\
         SecRule TX:low \"@lt %{tx.high}\" \"id:2,phase:1,pass\"",
    );
    let r = run(&rs, &request("/", &[("V", "3-9")]));
    assert_eq!(r.tx.tx_var("low").as_deref(), Some("3"));
    assert_eq!(r.tx.tx_var("0").as_deref(), Some("3-9"));
    assert_eq!(ids(&r), vec![1, 2]);
}

#[test]
fn allow_skips_the_remaining_request_phases() {
    let rs = build(
        "SecRule REMOTE_ADDR \"@ipMatch 198.51.100.0/24\" \"id:1,phase:1,allow\"\n\
         SecAction \"id:2,phase:1,deny\"\n\
         SecAction \"id:3,phase:2,deny\"",
    );
    let r = run(&rs, &request("/", &[]));
    assert!(r.interrupted.is_none());
    assert_eq!(ids(&r), vec![1]);
}

#[test]
fn multi_match_sees_intermediate_values() {
    let rs = build(
        "SecRule REQUEST_HEADERS:A \"@streq Ab\" \"id:1,phase:1,pass,t:lowercase,multiMatch\"\n\
         SecRule REQUEST_HEADERS:A \"@streq Ab\" \"id:2,phase:1,pass,t:lowercase\"",
    );
    let r = run(&rs, &request("/", &[("A", "Ab")]));
    assert_eq!(ids(&r), vec![1]);
}

#[test]
fn logging_phase_runs_after_an_interruption() {
    let rs = build(
        "SecAction \"id:1,phase:1,deny\"\n\
         SecAction \"id:2,phase:2,pass\"\n\
         SecAction \"id:3,phase:5,pass\"",
    );
    let req = request("/", &[]);
    let mut tx = rs.transaction("u");
    assert!(tx.process_request_headers(&req).is_some());
    assert!(tx.process_request_body(&req).is_some());
    tx.process_logging();
    let got: Vec<u64> = tx.matched_rules().iter().map(|m| m.id).collect();
    assert_eq!(got, vec![1, 3]);
}

#[test]
fn markers_are_shared_by_every_phase() {
    let rs = build(
        "SecAction \"id:1,phase:1,pass,skipAfter:END\"\n\
         SecAction \"id:2,phase:2,pass,skipAfter:END\"\n\
         SecAction \"id:3,phase:1,pass\"\n\
         SecAction \"id:4,phase:2,pass\"\n\
         SecMarker \"END\"\n\
         SecAction \"id:5,phase:2,pass\"",
    );
    let r = run(&rs, &request("/", &[]));
    assert_eq!(ids(&r), vec![1, 2, 5]);
}

#[test]
fn ctl_rule_engine_off_stops_evaluation() {
    let rs = build(
        "SecAction \"id:1,phase:1,pass,ctl:ruleEngine=Off\"\n\
         SecAction \"id:2,phase:1,deny\"\n\
         SecAction \"id:3,phase:2,deny\"",
    );
    let r = run(&rs, &request("/", &[]));
    assert!(r.interrupted.is_none());
    assert_eq!(ids(&r), vec![1]);
}
