//! Request data: variables, body processors, limits, caching, hostile input.

use super::*;

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
fn body_over_the_limit_is_refused_or_partly_inspected() {
    let rs = build(
        "SecRequestBodyAccess On\nSecRequestBodyLimit 8\n\
         SecRule ARGS:a \"@rx .\" \"id:1,phase:2,pass\"",
    );
    let r = run(
        &rs,
        &post("/", "application/x-www-form-urlencoded", b"a=123456789"),
    );
    let i = r.interrupted.expect("413");
    assert_eq!((i.rule_id, i.status), (0, 413));
    let rs = build(
        "SecRequestBodyAccess On\nSecRequestBodyLimit 8\nSecRequestBodyLimitAction ProcessPartial\n\
         SecRule ARGS:a \"@streq 123456\" \"id:1,phase:2,pass\"",
    );
    let r = run(
        &rs,
        &post("/", "application/x-www-form-urlencoded", b"a=123456789"),
    );
    assert!(r.interrupted.is_none());
    assert_eq!(ids(&r), vec![1]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn hostile_requests_never_panic(
        uri in "/[\\x00-\\xff]{0,40}",
        header in "[\\x00-\\xff]{0,40}",
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
        ct in proptest::prop_oneof![
            proptest::strategy::Just("application/x-www-form-urlencoded"),
            proptest::strategy::Just("multipart/form-data; boundary=x"),
            proptest::strategy::Just("application/json"),
            proptest::strategy::Just("text/xml"),
            proptest::strategy::Just("text/plain"),
        ],
    ) {
        let rs = with_base(
            "SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS|REQUEST_COOKIES|XML:/*|FILES \"@rx a\" \"id:1,phase:2,pass,capture,t:lowercase,setvar:'tx.%{MATCHED_VAR_NAME}=+1',msg:'%{MATCHED_VAR}'\"\n\
             SecRule TX:/./ \"@gt 0\" \"id:2,phase:2,pass,multiMatch,t:urlDecode\"",
        );
        let mut req = post(&uri, ct, &body);
        req.headers.push(("Cookie".into(), header.clone().into_bytes()));
        req.headers.push((header, b"v".to_vec()));
        let mut tx = rs.transaction("id");
        tx.process_request_headers(&req);
        tx.process_request_body(&req);
        let resp = HttpResponse {
            status: 200,
            protocol: "HTTP/1.1".into(),
            headers: vec![("Content-Type".into(), b"text/html".to_vec())],
            body: body.clone(),
        };
        tx.process_response_headers(&resp);
        tx.process_response_body(&resp);
        tx.process_logging();
    }
}
