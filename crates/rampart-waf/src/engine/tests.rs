use std::net::SocketAddr;
use std::path::Path;

use super::*;

fn build(text: &str) -> RuleSet {
    let mut b = RuleSetBuilder::new();
    b.add_directives(Path::new("test.conf"), Path::new("."), text)
        .unwrap_or_else(|e| panic!("{e}"));
    b.build().unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(text: &str) -> String {
    let mut b = RuleSetBuilder::new();
    match b.add_directives(Path::new("test.conf"), Path::new("."), text) {
        Err(e) => {
            assert!(b.build().is_err(), "build must fail after a load error");
            e.to_string()
        }
        Ok(()) => match b.build() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected a load error"),
        },
    }
}

fn request(uri: &str, headers: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body: Vec::new(),
        client: SocketAddr::from(([198, 51, 100, 7], 5555)),
        server: SocketAddr::from(([198, 51, 100, 1], 443)),
    }
}

struct Run<'r> {
    tx: Transaction<'r>,
    interrupted: Option<Interruption>,
}

fn run<'r>(rs: &'r RuleSet, req: &HttpRequest) -> Run<'r> {
    let mut tx = rs.transaction("abc123");
    let mut interrupted = tx.process_request_headers(req).cloned();
    if interrupted.is_none() {
        interrupted = tx.process_request_body(req).cloned();
    }
    Run { tx, interrupted }
}

fn ids(r: &Run<'_>) -> Vec<u64> {
    r.tx.matched_rules().iter().map(|m| m.id).collect()
}

#[test]
fn errors_name_file_and_line() {
    let e = load_err("SecRuleEngine On\n\nSecRule ARGS \"@rx a\" \"id:1,phase:2,bogus\"\n");
    assert!(e.starts_with("test.conf:3: "), "{e}");
    assert!(e.contains("bogus"), "{e}");
    let e = load_err("# c\nSecNoSuchThing On\n");
    assert!(e.starts_with("test.conf:2: "), "{e}");
    let e = load_err("SecRule ARGS \"@rx (\" \"id:1,phase:2\"\n");
    assert!(e.starts_with("test.conf:1: "), "{e}");
    let e = load_err("SecRule NOPE \"@rx a\" \"id:1\"\n");
    assert!(e.contains("unknown variable"), "{e}");
    let e = load_err("SecRule ARGS \"@rx a\" \"phase:2\"\n");
    assert!(e.contains("without an id"), "{e}");
    let e = load_err("SecAction \"id:5,pass\"\nSecAction \"id:5,pass\"\n");
    assert!(
        e.starts_with("test.conf:2: ") && e.contains("duplicate"),
        "{e}"
    );
    let e = load_err("SecRule ARGS \"@rx a\" \"id:1,chain\"\n");
    assert!(e.contains("chain"), "{e}");
}

#[test]
fn include_errors_name_the_included_file() {
    let dir = std::env::temp_dir().join(format!("rampart-waf-inc-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/a.conf"), "SecAction \"id:10,pass\"\n").unwrap();
    std::fs::write(dir.join("sub/b.conf"), "\n\nSecAction \"id:11,nonsense\"\n").unwrap();
    std::fs::write(dir.join("main.conf"), "Include sub/*.conf\n").unwrap();
    let mut b = RuleSetBuilder::new();
    let e = b.add_file(&dir.join("main.conf")).unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.file.ends_with("sub/b.conf"), "{e}");
    std::fs::write(dir.join("sub/b.conf"), "SecAction \"id:11,pass\"\n").unwrap();
    let mut b = RuleSetBuilder::new();
    b.add_file(&dir.join("main.conf")).unwrap();
    assert_eq!(b.build().unwrap().rule_count(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

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
fn static_removal_and_target_updates_apply_regardless_of_order() {
    let rs = build(
        "SecRuleRemoveById 3 7-8\n\
         SecRuleUpdateTargetById 2 \"!REQUEST_HEADERS:X-Ok|REQUEST_URI\"\n\
         SecRule REQUEST_HEADERS \"@rx bad\" \"id:2,phase:1,pass\"\n\
         SecAction \"id:3,phase:1,pass\"\n\
         SecAction \"id:8,phase:1,pass\"\n\
         SecAction \"id:9,phase:1,pass,tag:drop-me\"\n\
         SecRuleRemoveByTag drop-me",
    );
    assert_eq!(rs.rule_count(), 1);
    let r = run(&rs, &request("/", &[("X-Ok", "bad")]));
    assert!(ids(&r).is_empty());
    let r = run(&rs, &request("/bad", &[("X-Ok", "bad")]));
    assert_eq!(ids(&r), vec![2]);
}

#[test]
fn default_action_block_and_transformations() {
    let rs = build(
        "SecDefaultAction \"phase:1,log,deny,status:406,t:lowercase\"\n\
         SecRule REQUEST_HEADERS:A \"@streq abc\" \"id:1,phase:1,block\"\n\
         SecRule REQUEST_HEADERS:B \"@streq abc\" \"id:2,phase:1,t:none,pass\"",
    );
    let r = run(&rs, &request("/", &[("A", "ABC"), ("B", "ABC")]));
    let i = r.interrupted.expect("block uses the default deny");
    assert_eq!((i.rule_id, i.status), (1, 406));
    let r = run(&rs, &request("/", &[("B", "ABC")]));
    assert!(ids(&r).is_empty(), "t:none drops the inherited lowercase");
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
fn request_variables_follow_modsecurity() {
    let rs = build(
        "SecRule REQUEST_FILENAME \"@streq /a b/c.php\" \"id:1,phase:1,pass\"\n\
         SecRule REQUEST_BASENAME \"@streq c.php\" \"id:2,phase:1,pass\"\n\
         SecRule QUERY_STRING \"@streq x=%41\" \"id:3,phase:1,pass\"\n\
         SecRule REQUEST_LINE \"@streq GET /a%20b/c.php?x=%41 HTTP/1.1\" \"id:4,phase:1,pass\"\n\
         SecRule REQUEST_COOKIES:sid \"@streq a=b\" \"id:5,phase:1,pass\"\n\
         SecRule REQUEST_COOKIES_NAMES \"@streq theme\" \"id:6,phase:1,pass\"\n\
         SecRule REQUEST_URI_RAW \"@streq /a%20b/c.php?x=%41\" \"id:7,phase:1,pass\"\n\
         SecRule SERVER_NAME \"@streq example.net\" \"id:8,phase:1,pass\"\n\
         SecRule UNIQUE_ID \"@streq abc123\" \"id:9,phase:1,pass\"\n\
         SecRule REMOTE_ADDR \"@streq 198.51.100.7\" \"id:10,phase:1,pass\"",
    );
    let r = run(
        &rs,
        &request(
            "/a%20b/c.php?x=%41",
            &[
                ("Host", "example.net:8443"),
                ("Cookie", " sid=a=b; theme=dark "),
            ],
        ),
    );
    assert_eq!(ids(&r), (1..=10).collect::<Vec<_>>());
}

#[test]
fn transformation_results_are_cached_per_value_and_chain() {
    let rs = build(
        "SecRule REQUEST_HEADERS:A \"@streq abc\" \"id:1,phase:1,pass,t:lowercase\"\n\
         SecRule REQUEST_HEADERS:A \"@streq abc\" \"id:2,phase:1,pass,t:lowercase\"\n\
         SecRule REQUEST_HEADERS:A \"@streq ABC\" \"id:3,phase:1,pass\"",
    );
    let r = run(&rs, &request("/", &[("A", "ABC")]));
    assert_eq!(ids(&r), vec![1, 2, 3]);
    assert_eq!(r.tx.cache.len(), 1);
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
fn redirect_and_response_phases() {
    let rs = build(
        "SecResponseBodyAccess On\n\
         SecRule RESPONSE_STATUS \"@streq 500\" \"id:1,phase:3,pass\"\n\
         SecRule RESPONSE_BODY \"@contains secret\" \"id:2,phase:4,redirect:'/sorry?id=%{UNIQUE_ID}'\"",
    );
    let mut tx = rs.transaction("u1");
    let req = request("/", &[]);
    assert!(tx.process_request_headers(&req).is_none());
    assert!(tx.process_request_body(&req).is_none());
    let resp = HttpResponse {
        status: 500,
        protocol: "HTTP/1.1".into(),
        headers: vec![("Content-Type".into(), b"text/html; charset=utf-8".to_vec())],
        body: b"the secret".to_vec(),
    };
    assert!(tx.process_response_headers(&resp).is_none());
    let i = tx.process_response_body(&resp).cloned().expect("redirect");
    assert_eq!(i.action, InterruptAction::Redirect);
    assert_eq!(
        (i.status, i.location.as_deref()),
        (302, Some("/sorry?id=u1"))
    );
    assert_eq!(
        tx.matched_rules().iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

fn post(uri: &str, content_type: &str, body: &[u8]) -> HttpRequest {
    let mut r = request(
        uri,
        &[("Host", "example.org"), ("Content-Type", content_type)],
    );
    r.method = "POST".into();
    r.body = body.to_vec();
    r
}

fn with_base(rules: &str) -> RuleSet {
    build(&format!("{}\n{rules}", recommended_base()))
}

#[test]
fn body_processors_follow_content_type_and_ctl() {
    let rs = with_base(
        "SecRule ARGS_POST:a \"@streq 1\" \"id:1,phase:2,pass\"\n\
         SecRule ARGS:json.user.name \"@streq bob\" \"id:2,phase:2,pass\"\n\
         SecRule REQUEST_BODY \"@rx .\" \"id:3,phase:2,pass\"\n\
         SecRule XML:/* \"@streq hello\" \"id:4,phase:2,pass\"\n\
         SecRule XML://@* \"@streq v\" \"id:5,phase:2,pass\"\n\
         SecRule REQBODY_PROCESSOR \"@rx .\" \"id:6,phase:2,pass,logdata:%{MATCHED_VAR}\"",
    );
    let r = run(
        &rs,
        &post("/", "application/x-www-form-urlencoded", b"a=1&b=2"),
    );
    assert_eq!(ids(&r), vec![1, 3, 6]);
    assert_eq!(r.tx.matched_rules()[2].data, "URLENCODED");
    let r = run(
        &rs,
        &post("/", "application/json", br#"{"user":{"name":"bob"}}"#),
    );
    assert_eq!(ids(&r), vec![200001, 2, 3, 6]);
    let r = run(&rs, &post("/", "text/xml", br#"<a k="v"><b>hello</b></a>"#));
    // XML bodies are read through XML:, not REQUEST_BODY.
    assert_eq!(ids(&r), vec![200000, 4, 5, 6]);
}

#[test]
fn unparseable_bodies_are_refused_by_the_base_rules() {
    let rs = with_base("");
    let r = run(&rs, &post("/", "application/json", b"{\"a\": [1, 2"));
    let i = r.interrupted.expect("bad JSON is refused");
    assert_eq!((i.rule_id, i.status), (200002, 400));
    let m =
        r.tx.matched_rules()
            .last()
            .cloned()
            .expect("200002 recorded");
    assert!(m.data.starts_with("JSON parsing error"), "{}", m.data);
    let r = run(
        &rs,
        &post(
            "/",
            "multipart/form-data; boundary=XX",
            b"--XX\r\nno headers here",
        ),
    );
    assert!(
        r.interrupted.is_some(),
        "a broken multipart body is refused: {:?}",
        ids(&r)
    );
}

#[test]
fn request_body_access_off_skips_the_body() {
    let rs = build(
        "SecRequestBodyAccess Off\n\
         SecRule ARGS \"@rx .\" \"id:1,phase:2,pass\"\n\
         SecRule REQBODY_ERROR \"@eq 0\" \"id:2,phase:2,pass\"",
    );
    let r = run(&rs, &post("/", "application/x-www-form-urlencoded", b"a=1"));
    assert_eq!(ids(&r), vec![2]);
    let rs = build(
        "SecRequestBodyAccess Off\n\
         SecAction \"id:1,phase:1,pass,ctl:requestBodyAccess=On\"\n\
         SecRule ARGS \"@rx .\" \"id:2,phase:2,pass\"",
    );
    let r = run(&rs, &post("/", "application/x-www-form-urlencoded", b"a=1"));
    assert_eq!(ids(&r), vec![1, 2]);
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
