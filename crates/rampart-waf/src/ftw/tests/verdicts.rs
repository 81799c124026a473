//! The emulated backend, the judgement and the report.

use super::*;

// ---- the backend ----

fn post(target: &str, body: &str) -> ParsedRequest {
    ParsedRequest {
        method: "POST".to_owned(),
        target: target.to_owned(),
        version: "HTTP/1.1".to_owned(),
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

#[test]
fn albedo_reflects() {
    let resp = backend::respond(&post(
        "/reflect",
        r#"{"status": 201, "headers": {"X-A": "b"}, "body": "<html><body>hi"}"#,
    ));
    assert_eq!(resp.status, 201);
    assert_eq!(resp.body, b"<html><body>hi");
    assert_eq!(header(&resp.headers, "x-a"), Some(&b"b"[..]));
    assert_eq!(
        header(&resp.headers, "content-type"),
        Some(&b"text/html; charset=utf-8"[..])
    );
    assert_eq!(header(&resp.headers, "content-length"), Some(&b"14"[..]));

    let plain = backend::respond(&post("/reflect/", r#"{"body": "ORA-01756: quoted"}"#));
    assert_eq!(plain.status, 200);
    assert_eq!(
        header(&plain.headers, "content-type"),
        Some(&b"text/plain; charset=utf-8"[..])
    );

    let encoded = backend::respond(&post("/reflect", r#"{"encodedBody": "aGk="}"#));
    assert_eq!(encoded.body, b"hi");

    assert_eq!(backend::respond(&post("/reflect", "not json")).status, 400);
    assert_eq!(
        backend::respond(&post("/reflect", r#"{"status": 42}"#)).status,
        400
    );
    let other = backend::respond(&post("/post", r#"{"status": 500}"#));
    assert_eq!((other.status, other.body.len()), (200, 0));
}

// ---- judging ----

fn output(yaml: &str) -> Output {
    serde_norway::from_str(yaml).unwrap()
}

fn seen(ids: &[u64]) -> Observation {
    Observation {
        status: 200,
        logged_ids: ids.iter().copied().collect(),
        ..Observation::default()
    }
}

#[test]
fn judge_ids() {
    let expected = output("log: {expect_ids: [1, 2], no_expect_ids: [3]}");
    assert!(judge(&expected, &seen(&[1, 2, 4])).is_empty());
    assert_eq!(
        judge(&expected, &seen(&[1])),
        vec![Failure::MissingIds(vec![2])]
    );
    assert_eq!(
        judge(&expected, &seen(&[1, 2, 3])),
        vec![Failure::UnexpectedIds(vec![3])]
    );
    // Nothing asserted: passes whatever happened.
    assert!(judge(&Output::default(), &seen(&[9])).is_empty());
}

#[test]
fn judge_status_and_refusals() {
    let expected = output("status: 400");
    assert_eq!(
        judge(&expected, &seen(&[])),
        vec![Failure::Status {
            expected: vec![400],
            actual: 200
        }]
    );
    let refused = |status| Observation {
        status,
        rejected: Some(crate::ftw::http1::Rejection {
            status,
            reason: "bad".to_owned(),
        }),
        ..Observation::default()
    };
    assert!(judge(&expected, &refused(400)).is_empty());
    assert!(
        judge(&expected, &refused(431)).is_empty(),
        "refused is refused"
    );
    let wants_id = output("log: {expect_ids: [920430]}");
    assert_eq!(
        judge(&wants_id, &refused(400)),
        vec![Failure::Rejected {
            status: 400,
            reason: "bad".to_owned(),
            missing: vec![920430]
        }]
    );
    let wants_error = output("expect_error: true\nlog: {expect_ids: [920430]}");
    assert!(judge(&wants_error, &refused(400)).is_empty());
    // A 200 is not refused alike: the status check still fails.
    assert_eq!(judge(&output("status: 200"), &refused(400)).len(), 1);
}

#[test]
fn judge_log_regexes_on_synthesised_lines() {
    let rule = MatchedRule {
        id: 922130,
        phase: 2,
        message: "Multipart header contains characters outside of valid range".to_owned(),
        data: "Matched Data: \u{e} found within MULTIPART_PART_HEADERS:file".to_owned(),
        severity: Some(2),
        tags: vec!["attack-protocol".to_owned()],
        logged: true,
    };
    let observed = Observation {
        status: 200,
        logged_ids: [922130].into_iter().collect(),
        log: log_line(&rule, "/post", "u1") + "\n",
        ..Observation::default()
    };
    let expected = output(
        r#"log: {match_regex: 'Invalid part header|\[id "922130"\].*\[msg "Multipart header contains characters outside of valid range"\]'}"#,
    );
    assert!(judge(&expected, &observed).is_empty());
    assert!(
        judge(
            &output("log: {match_regex: 'found within MULTIPART_PART_HEADERS:file'}"),
            &observed
        )
        .is_empty()
    );
    assert_eq!(
        judge(
            &output(r#"log: {no_match_regex: '\[id "\d+"\]'}"#),
            &observed
        ),
        vec![Failure::LogRegexFound(r#"\[id "\d+"\]"#.to_owned())]
    );
    assert!(judge(&output(r#"log_contains: 'id "922130"'"#), &observed).is_empty());
    assert!(matches!(
        judge(&output("log: {match_regex: '('}"), &observed).as_slice(),
        [Failure::BadRegex(_)]
    ));
}

// ---- the report ----

fn outcome(rule_id: u64, test_id: u64, result: TestResult) -> TestOutcome {
    TestOutcome {
        file: Path::new("x.yaml").to_owned(),
        rule_id,
        test_id,
        result,
        overridden: None,
        details: Vec::new(),
    }
}

#[test]
fn report_counts_and_last_line() {
    let report = SuiteReport {
        outcomes: vec![
            outcome(1, 1, TestResult::Passed),
            outcome(
                1,
                2,
                TestResult::Failed(vec![(1, Failure::MissingIds(vec![1]))]),
            ),
            outcome(
                1,
                3,
                TestResult::Failed(vec![(1, Failure::MissingIds(vec![1]))]),
            ),
            outcome(
                2,
                1,
                TestResult::Failed(vec![(2, Failure::UnexpectedIds(vec![5]))]),
            ),
            outcome(3, 1, TestResult::Skipped("known".to_owned())),
        ],
        ..SuiteReport::default()
    };
    assert_eq!(
        (report.passed(), report.failed(), report.skipped()),
        (1, 3, 1)
    );
    let causes = report.causes();
    assert_eq!(causes[0], ((1, "missing 1".to_owned()), 2));
    assert_eq!(report.failing_rules()[0], (1, 2));
    let printed = report.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.last(), Some(&"1 passed, 3 failed"));
    assert_eq!(lines.get(lines.len() - 2), Some(&"1 skipped"));
    assert!(printed.contains("FAIL 1-2: expected ids not logged: 1"));
    assert!(printed.contains("FAIL 2-1 (stage 2): unexpected ids logged: 5"));
}
