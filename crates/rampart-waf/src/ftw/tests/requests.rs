//! The bytes go-ftw sends, and reading them back as a server would.

use super::*;

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
    // Only the first `=` of a pair separates; the rest is value.
    assert_eq!(
        text(&encode_form(b"c4= ;c3=t;$c1")),
        "c4=+%3Bc3%3Dt%3B%24c1"
    );
    assert_eq!(text(&encode_form(b"foo bar")), "foo+bar");
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
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
    assert_eq!(parse(&long), Err(414));
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

proptest::proptest! {
    #[test]
    fn reading_arbitrary_bytes_never_panics(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = parse_request(&raw, Strictness::Hyper);
        let _ = parse_request(&raw, Strictness::Lenient);
    }

    #[test]
    fn what_go_ftw_writes_reads_back(
        method in "[A-Z]{1,8}",
        path in "/[a-z0-9/._-]{0,20}",
        value in "[ -~]{0,20}",
        body in "[a-z0-9=&]{0,40}",
    ) {
        let mut hdrs = BTreeMap::new();
        hdrs.insert("X-Test".to_owned(), value.clone());
        // Not form data, so the body goes out as written.
        hdrs.insert("Content-Type".to_owned(), "text/plain".to_owned());
        let bytes = assemble(&method, &path, "HTTP/1.1", hdrs, body.clone().into_bytes(), true);
        let req = parse_request(&bytes, Strictness::Hyper).unwrap();
        proptest::prop_assert_eq!(&req.method, &method);
        proptest::prop_assert_eq!(&req.target, &path);
        proptest::prop_assert_eq!(req.body, body.into_bytes());
        let x = req.headers.iter().find(|(n, _)| n == "X-Test").map(|(_, v)| v.clone());
        proptest::prop_assert_eq!(x, Some(value.trim_matches(' ').as_bytes().to_vec()));
    }
}
