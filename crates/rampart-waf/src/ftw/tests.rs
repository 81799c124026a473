use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::backend;
use super::http1::{ParsedRequest, Strictness, parse_request};
use super::judge::{Failure, Observation, judge, log_line};
use super::raw::{BuildError, assemble, build_request, encode_form, expand_template};
use super::report::{SuiteReport, TestOutcome, TestResult};
use super::runner::{load_overrides, parse_test_file, test_files};
use super::schema::{Input, Output, TestFile};
use crate::engine::MatchedRule;

const CRS: &str = "/work/shared/crs";

/// The shared CRS checkout, when this machine has it.
fn crs() -> Option<PathBuf> {
    let dir = PathBuf::from(CRS);
    dir.join("tests/regression/tests").is_dir().then_some(dir)
}

fn parse_yaml(text: &str) -> TestFile {
    parse_test_file(text).unwrap().unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---- YAML ----

const SAMPLE: &str = r#"
---
meta:
  author: "someone"
  description: "sample"
rule_id: 920160
tests:
  - test_id: 1
    desc: new style
    stages:
      - input:
          dest_addr: 127.0.0.1
          port: 8080
          method: POST
          headers:
            Host: localhost
            Content-Length: 7
            X-Flag: true
          data: |
            a=b
            c=d
        output:
          status: 200
          log:
            expect_ids: [920160, 920170]
            no_expect_ids: [949110]
  - desc: old style, no test_id, stage wrapper
    stages:
      - stage:
          input:
            encoded_request: "R0VUIC8g\nSFRUUC8xLjENCg0K"
            stop_magic: true
          output:
            log_contains: id "920160"
            status: [200, 403]
"#;

#[test]
fn yaml_new_and_old_styles() {
    let file = parse_yaml(SAMPLE);
    assert_eq!(file.rule_id, 920160);
    assert_eq!(file.tests.len(), 2);
    let first = &file.tests[0];
    assert_eq!(first.test_id, Some(1));
    let input = &first.stages[0].input;
    assert_eq!(input.port(), 8080);
    assert_eq!(input.method(), "POST");
    assert_eq!(input.uri(), "/");
    assert_eq!(input.version(), "HTTP/1.1");
    assert_eq!(
        input.headers.get("Content-Length").map(String::as_str),
        Some("7")
    );
    assert_eq!(
        input.headers.get("X-Flag").map(String::as_str),
        Some("true")
    );
    assert_eq!(input.data.as_deref(), Some("a=b\nc=d\n"));
    assert!(input.autocomplete());
    let output = &first.stages[0].output;
    assert_eq!(output.status, vec![200]);
    assert_eq!(output.log.expect_ids, vec![920160, 920170]);
    assert_eq!(output.log.no_expect_ids, vec![949110]);

    let second = &file.tests[1];
    assert_eq!(second.test_id, None);
    let stage = &second.stages[0];
    assert!(
        !stage.input.autocomplete(),
        "stop_magic: true disables completion"
    );
    assert_eq!(stage.output.log_contains.as_deref(), Some("id \"920160\""));
    assert_eq!(stage.output.status, vec![200, 403]);
}

#[test]
fn empty_test_file_is_none() {
    assert!(parse_test_file("---\n# nothing here\n").unwrap().is_none());
    assert!(parse_test_file("").unwrap().is_none());
}

#[test]
fn real_920100_file() {
    let Some(crs) = crs() else { return };
    let path = crs.join("tests/regression/tests/REQUEST-920-PROTOCOL-ENFORCEMENT/920100.yaml");
    let file = parse_yaml(&std::fs::read_to_string(path).unwrap());
    assert_eq!(file.rule_id, 920100);
    let test2 = file.tests.iter().find(|t| t.test_id == Some(2)).unwrap();
    assert_eq!(test2.stages[0].input.method(), "     GET");
    assert_eq!(test2.stages[0].output.status, vec![400]);
    let test10 = file.tests.iter().find(|t| t.test_id == Some(10)).unwrap();
    assert_eq!(test10.stages[0].output.log.expect_ids, vec![920100]);
}

#[test]
fn every_real_test_file_parses() {
    let Some(crs) = crs() else { return };
    let files = test_files(&crs).unwrap();
    assert!(files.len() > 300);
    let mut tests = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        match parse_test_file(&text) {
            Ok(Some(file)) => tests += file.tests.len(),
            Ok(None) => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    assert!(tests > 4000, "{tests}");
}

#[test]
fn real_overrides_files() {
    let Some(crs) = crs() else { return };
    let coraza = load_overrides(&crs.join("tests/regression/coraza-overrides.yaml")).unwrap();
    let o = coraza.find(920100, 4).unwrap();
    assert_eq!(o.output.as_ref().unwrap().status, vec![404]);
    let wip = coraza.find(932200, 13).unwrap();
    assert!(wip.output.is_none(), "an override without output");
    assert!(coraza.find(920100, 1).is_none());
    let nginx = load_overrides(&crs.join("tests/regression/nginx-overrides.yaml")).unwrap();
    let o = nginx.find(933110, 20).unwrap();
    assert_eq!(o.output.as_ref().unwrap().log.no_expect_ids, vec![933110]);
}

// ---- building requests ----

#[test]
fn go_ftw_completes_headers_and_sorts_them() {
    let bytes = assemble(
        "POST",
        "/post",
        "HTTP/1.1",
        headers(&[("User-Agent", "ua"), ("Host", "localhost")]),
        b"x=<a b>&y".to_vec(),
        true,
    );
    assert_eq!(
        text(&bytes),
        "POST /post HTTP/1.1\r\n\
         Connection: close\r\n\
         Content-Length: 13\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Host: localhost\r\n\
         User-Agent: ua\r\n\
         \r\n\
         x=%3Ca+b%3E&y"
    );
}

#[test]
fn no_completion_when_asked() {
    let bytes = assemble(
        "POST",
        "/",
        "HTTP/1.1",
        headers(&[("Host", "h")]),
        b"a b".to_vec(),
        false,
    );
    assert_eq!(text(&bytes), "POST / HTTP/1.1\r\nHost: h\r\n\r\na b");
}

#[test]
fn given_headers_win_and_bodyless_post_gets_length_zero() {
    let bytes = assemble(
        "POST",
        "/",
        "HTTP/1.1",
        headers(&[("Connection", "keep-alive"), ("Content-Length", "99")]),
        Vec::new(),
        true,
    );
    assert_eq!(
        text(&bytes),
        "POST / HTTP/1.1\r\nConnection: keep-alive\r\nContent-Length: 99\r\n\r\n"
    );
    let get = assemble("GET", "/", "HTTP/1.1", BTreeMap::new(), Vec::new(), true);
    assert_eq!(text(&get), "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
}

#[test]
fn form_encoding_matches_go_ftw() {
    assert_eq!(
        text(&encode_form(b"a=1 2&b=/etc/passwd&")),
        "a=1+2&b=%2Fetc%2Fpasswd"
    );
    assert_eq!(text(&encode_form(b"novalue&k=v=w")), "novalue&k=v%3Dw");
    // Already escaped data is left alone.
    assert_eq!(text(&encode_form(b"a=%3C&b=<")), "a=%3C&b=<");
    assert_eq!(text(&encode_form(b"a=1+1")), "a=1+1");
    // Another Content-Type: the body is sent as written.
    let json = assemble(
        "POST",
        "/",
        "HTTP/1.1",
        headers(&[("Content-Type", "application/json")]),
        b"{\"a\": 1}".to_vec(),
        true,
    );
    assert!(text(&json).ends_with("\r\n\r\n{\"a\": 1}"));
}

#[test]
fn multipart_lf_becomes_crlf() {
    let bytes = assemble(
        "POST",
        "/",
        "HTTP/1.1",
        headers(&[("Content-Type", "multipart/form-data; boundary=x")]),
        b"--x\nA: b\n\nv\n--x--".to_vec(),
        true,
    );
    let body = "--x\r\nA: b\r\n\r\nv\r\n--x--";
    assert!(text(&bytes).ends_with(&format!(
        "Content-Length: {}\r\nContent-Type: multipart/form-data; boundary=x\r\n\r\n{body}",
        body.len()
    )));
}

#[test]
fn encoded_request_is_sent_verbatim() {
    let input = Input {
        encoded_request: Some("R0VUIC8g\nSFRUUC8xLjENCg0K".to_owned()),
        headers: headers(&[("Host", "ignored")]),
        ..Input::default()
    };
    assert_eq!(build_request(&input).unwrap(), b"GET / HTTP/1.1\r\n\r\n");
    let both = Input {
        encoded_request: Some("R0VU".to_owned()),
        data: Some("x".to_owned()),
        ..Input::default()
    };
    assert_eq!(build_request(&both), Err(BuildError::Conflict));
    let broken = Input {
        encoded_request: Some("!!!".to_owned()),
        ..Input::default()
    };
    assert!(matches!(
        build_request(&broken),
        Err(BuildError::Base64 { .. })
    ));
}

#[test]
fn templates_in_data() {
    assert_eq!(
        expand_template("a{{ \"1\" | repeat 3 }}b").unwrap(),
        "a111b"
    );
    assert_eq!(expand_template("{{ repeat 2 \"xy\" }}").unwrap(), "xyxy");
    assert_eq!(expand_template("plain { text }").unwrap(), "plain { text }");
    assert!(expand_template("{{ .Foo }}").is_err());
    assert!(expand_template("{{ \"1\" | repeat 999999999999 }}").is_err());
}

#[test]
fn odd_methods_follow_go_ftw_body_regex() {
    // `^POST|PUT|PATCH|DELETE$` is an alternation without grouping.
    for (method, gets_length) in [
        ("XPUTX", true),
        ("POSTX", true),
        ("XDELETE", true),
        ("DELETEX", false),
        ("GET", false),
    ] {
        let bytes = assemble(method, "/", "HTTP/1.1", BTreeMap::new(), Vec::new(), true);
        assert_eq!(
            text(&bytes).contains("Content-Length: 0"),
            gets_length,
            "{method}"
        );
    }
}

// ---- reading requests back ----

fn parse(raw: &str) -> Result<ParsedRequest, u16> {
    parse_request(raw.as_bytes(), Strictness::Hyper).map_err(|r| r.status)
}

#[test]
fn parses_a_plain_post() {
    let req = parse("POST /p?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX:  v \r\n\r\nabcdef")
        .unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.target, "/p?q=1");
    assert_eq!(req.version, "HTTP/1.1");
    assert_eq!(req.body, b"abc");
    assert_eq!(req.headers[2], ("X".to_owned(), b"v".to_vec()));
}

#[test]
fn chunked_bodies_and_transfer_encoding_precedence() {
    let req = parse(
        "POST / HTTP/1.1\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nfoo\r\n4\r\n=bar\r\n0\r\nTrailer: x\r\n\r\n",
    )
    .unwrap();
    assert_eq!(req.body, b"foo=bar");
    assert_eq!(
        req.headers.len(),
        1,
        "Content-Length is dropped when chunked"
    );
    assert_eq!(req.headers[0].0, "Transfer-Encoding");
    assert_eq!(
        parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        Err(400)
    );
    assert_eq!(
        parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Err(400)
    );
    assert_eq!(
        parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        Err(400)
    );
}

#[test]
fn content_length_rules() {
    assert_eq!(
        parse("GET / HTTP/1.1\r\nContent-Length: NotDigits\r\n\r\n"),
        Err(400)
    );
    assert_eq!(
        parse("GET / HTTP/1.1\r\nContent-Length: 3;\r\n\r\nabc"),
        Err(400)
    );
    assert_eq!(
        parse("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
        Err(400)
    );
    assert_eq!(
        parse("GET / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nab"),
        Err(400)
    );
    let twice = parse("GET / HTTP/1.1\r\nContent-Length: 2\r\nA: b\r\ncontent-length: 2\r\n\r\nab")
        .unwrap();
    assert_eq!(twice.body, b"ab");
    assert_eq!(
        twice.headers.len(),
        2,
        "the repeated Content-Length is dropped"
    );
    assert_eq!(
        parse("GET / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab"),
        Err(408)
    );
    // No framing header: the bytes after the head are not this request's body.
    assert!(
        parse("POST / HTTP/1.1\r\nHost: h\r\n\r\n{\"a\":1}")
            .unwrap()
            .body
            .is_empty()
    );
}

#[test]
fn what_hyper_refuses() {
    assert_eq!(parse("     GET / HTTP/1.1\r\n\r\n"), Err(400));
    assert_eq!(parse("\tGET / HTTP/1.1\r\n\r\n"), Err(400));
    assert_eq!(parse("GET / HTTP/0.9\r\n\r\n"), Err(400));
    assert_eq!(parse("GET / HTTP/4.0\r\n\r\n"), Err(400));
    assert_eq!(parse("GET /  HTTP/1.1\r\n\r\n"), Err(400));
    assert_eq!(parse("GET \\ HTTP/1.1\r\n\r\n"), Err(400));
    assert_eq!(parse("GET /?a=<script> HTTP/1.1\r\n\r\n"), Err(400));
    assert_eq!(parse("GET /a`b HTTP/1.1\r\n\r\n"), Err(400));
    assert_eq!(
        parse("GET /\u{fffd} HTTP/1.1\r\n\r\n").map(|r| r.target),
        Ok("/\u{fffd}".to_owned())
    );
    assert_eq!(
        parse_request(b"GET /\xff HTTP/1.1\r\n\r\n", Strictness::Hyper).map_err(|r| r.status),
        Err(400)
    );
    assert_eq!(parse("GET / HTTP/1.1\r\nA: x\ry\r\n\r\n"), Err(400));
    assert_eq!(parse("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), Err(400));
    assert_eq!(parse("GET / HTTP/1.1\r\nA: x\r\n folded\r\n\r\n"), Err(400));
    assert_eq!(parse("GET / HTTP/1.1\r\nHost: h\r\n"), Err(408));
    let many: String = (0..101).map(|i| format!("H{i}: v\r\n")).collect();
    assert_eq!(parse(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Err(431));
}

#[test]
fn what_hyper_accepts() {
    assert_eq!(
        parse("REALLYLONGUNREALMETHOD / HTTP/1.1\r\n\r\n")
            .unwrap()
            .method,
        "REALLYLONGUNREALMETHOD"
    );
    assert_eq!(parse("OPTIONS * HTTP/1.1\r\n\r\n").unwrap().target, "*");
    assert_eq!(
        parse("CONNECT 1.2.3.4:80 HTTP/1.1\r\n\r\n").unwrap().target,
        "1.2.3.4:80"
    );
    assert_eq!(
        parse("GET http://h:80/x?y HTTP/1.1\r\n\r\n")
            .unwrap()
            .target,
        "http://h:80/x?y"
    );
    assert_eq!(
        parse("GET /a:80\"{x}\"?b={y}`#f<> HTTP/1.0\r\n\r\n")
            .unwrap()
            .target,
        "/a:80\"{x}\"?b={y}`#f<>"
    );
    assert_eq!(parse("GET /?b=\" HTTP/1.1\r\n\r\n"), Err(400));
    assert_eq!(
        parse("\r\nGET / HTTP/1.1\nA: b\n\n").unwrap().headers.len(),
        1
    );
    assert_eq!(
        parse("GET / HTTP/1.1\r\nHost: localhost%00\r\n\r\n")
            .unwrap()
            .headers[0]
            .1,
        b"localhost%00"
    );
}

#[test]
fn lenient_reads_what_hyper_refuses() {
    let lenient = |raw: &str| parse_request(raw.as_bytes(), Strictness::Lenient);
    let req = lenient("GET /?a=<script> HTTP/0.9\r\nA: x\r\n  y\r\n\r\n").unwrap();
    assert_eq!(req.target, "/?a=<script>");
    assert_eq!(req.version, "HTTP/0.9");
    assert_eq!(req.headers[0].1, b"x y");
    assert!(lenient("GET\r\n\r\n").is_err());
}

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
        rejected: Some(super::http1::Rejection {
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

#[test]
fn bundled_overrides_parse_and_name_real_tests() {
    let bundled: super::schema::OverridesFile =
        serde_norway::from_str(super::BUNDLED_OVERRIDES).unwrap();
    assert!(bundled.test_overrides.len() > 10);
    assert!(
        bundled
            .test_overrides
            .iter()
            .all(|o| o.reason.is_some() && o.output.is_some())
    );
    assert_eq!(
        bundled
            .find(920430, 8)
            .unwrap()
            .output
            .as_ref()
            .unwrap()
            .status,
        vec![400]
    );
}
