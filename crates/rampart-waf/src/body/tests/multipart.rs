use crate::body::*;

const CT: &[u8] = b"multipart/form-data; boundary=boundary";

fn crlf(body: &str) -> Vec<u8> {
    body.replace('\n', "\r\n").into_bytes()
}

fn parse(body: &[u8]) -> Multipart {
    parse_multipart(CT, body, MultipartLimits::default())
}

fn s(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

fn args(m: &Multipart) -> Vec<(String, String)> {
    m.args.iter().map(|(k, v)| (s(k), s(v))).collect()
}

fn headers(m: &Multipart) -> Vec<(String, String)> {
    m.part_headers.iter().map(|(k, v)| (s(k), s(v))).collect()
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

#[test]
fn fields_files_and_headers_from_a_clean_crlf_body() {
    let body = crlf(
        "--boundary\n\
         Content-Disposition: form-data; name=\"field\"\n\
         \n\
         line one\n\
         line two\n\
         --boundary\n\
         Content-Disposition: form-data; name=\"upload\"; filename=\"a.php\"\n\
         Content-Type: text/plain\n\
         \n\
         <?php ?>\n\
         --boundary--\n",
    );
    let m = parse(&body);
    assert_eq!(m.error, None);
    assert_eq!(
        m.flags,
        MultipartFlags::default(),
        "a clean body sets no flag"
    );
    assert_eq!(args(&m), vec![p("field", "line one\r\nline two")]);
    assert_eq!(m.files.len(), 1);
    let file = &m.files[0];
    assert_eq!(s(&file.field_name), "upload");
    assert_eq!(s(&file.file_name), "a.php");
    assert_eq!(file.size, "<?php ?>".len());
    assert_eq!(file.content_type.as_deref(), Some(&b"text/plain"[..]));
    assert_eq!(m.part_names, vec![b"field".to_vec(), b"upload".to_vec()]);
    assert_eq!(m.file_names, vec![b"a.php".to_vec()]);
    assert_eq!(
        headers(&m),
        vec![
            p("field", "Content-Disposition: form-data; name=\"field\""),
            p(
                "upload",
                "Content-Disposition: form-data; name=\"upload\"; filename=\"a.php\""
            ),
            p("upload", "Content-Type: text/plain"),
        ]
    );
}

#[test]
fn lf_only_body_parses_and_sets_lf_and_strict_flags() {
    // The shape of the CRS YAML tests (`data: |` gives LF lines).
    let body = b"--boundary\n\
Content-disposition: form-data; name=\"_charset_\"\n\
\n\
utf-7\n\
--boundary\n\
Content-disposition: form-data; name=\"positive\"\n\
Content-Type: text/plain\n\
\n\
Let me see if I can use utf-7.\n\
--boundary--\n";
    let m = parse(body);
    assert_eq!(m.error, None);
    assert_eq!(
        args(&m),
        vec![
            p("_charset_", "utf-7"),
            p("positive", "Let me see if I can use utf-7.")
        ]
    );
    assert!(m.flags.lf_line);
    assert!(!m.flags.crlf_lf_lines);
    assert!(m.flags.strict_error);
    assert_eq!(
        headers(&m),
        vec![
            p(
                "_charset_",
                "Content-disposition: form-data; name=\"_charset_\""
            ),
            p(
                "positive",
                "Content-disposition: form-data; name=\"positive\""
            ),
            p("positive", "Content-Type: text/plain"),
        ]
    );
}

#[test]
fn mixed_line_endings_set_crlf_lf_lines() {
    let mut body = crlf("--boundary\nContent-Disposition: form-data; name=\"a\"\n\n1\n");
    body.extend_from_slice(b"--boundary--\n");
    let m = parse(&body);
    assert_eq!(m.error, None);
    assert!(m.flags.crlf_lf_lines);
    assert!(m.flags.lf_line);
}

#[test]
fn duplicate_part_names_are_both_kept() {
    let body = b"--boundary\nContent-Disposition: form-data; name=\"u\"\nContent-Type: text/plain; charset=utf-7\n\nx\n--boundary\nContent-Disposition: form-data; name=\"u\"\nContent-Type: text/plain; charset=utf-8\n\ny\n--boundary--\n";
    let m = parse(body);
    assert_eq!(m.error, None);
    assert_eq!(args(&m), vec![p("u", "x"), p("u", "y")]);
    let cts: Vec<_> = headers(&m)
        .into_iter()
        .filter(|(_, v)| v.starts_with("Content-Type"))
        .collect();
    assert_eq!(
        cts,
        vec![
            p("u", "Content-Type: text/plain; charset=utf-7"),
            p("u", "Content-Type: text/plain; charset=utf-8"),
        ]
    );
}

#[test]
fn invalid_header_name_characters_are_kept_for_rule_922130() {
    let body = b"--boundary\r\n\x0eContent-Disposition: form-data; name=\"file\"; filename=\"1.php\"\r\nContent-Disposition: form-data; name=\"post\"\r\n\r\n<?php ?>\r\n--boundary--";
    let m = parse(body);
    assert_eq!(m.error, None);
    assert_eq!(args(&m), vec![p("post", "<?php ?>")]);
    assert_eq!(
        m.part_headers.first().map(|(k, v)| (s(k), v.clone())),
        Some((
            "post".to_owned(),
            b"\x0eContent-Disposition: form-data; name=\"file\"; filename=\"1.php\"".to_vec()
        ))
    );
}

#[test]
fn final_boundary_without_line_break_completes() {
    let m =
        parse(b"--boundary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--boundary--");
    assert_eq!(m.error, None);
    assert_eq!(args(&m), vec![p("a", "v")]);
    assert!(!m.flags.data_after);
}

#[test]
fn data_before_and_after_are_flagged() {
    let m = parse(b"preamble\r\n--boundary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--boundary--\r\nepilogue");
    assert_eq!(m.error, None);
    assert!(m.flags.data_before);
    assert!(m.flags.data_after);
    assert!(m.flags.strict_error);
    assert_eq!(args(&m), vec![p("a", "v")]);
}

#[test]
fn missing_final_boundary_is_an_error_but_keeps_the_part() {
    let m = parse(b"--boundary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n' or 1=1");
    assert_eq!(
        m.error,
        Some(BodyError("Multipart: Final boundary missing.".into()))
    );
    assert_eq!(args(&m), vec![p("a", "' or 1=1")]);
    assert!(m.flags.strict_error);

    let m = parse(b"no boundary here");
    assert_eq!(
        m.error,
        Some(BodyError(
            "Multipart: No boundaries found in payload.".into()
        ))
    );
    assert!(m.flags.data_before);
}

#[test]
fn empty_body_is_not_an_error() {
    let m = parse(b"");
    assert_eq!(m.error, None);
    assert!(!m.flags.strict_error);
}

#[test]
fn unmatched_boundary_lines_are_flagged() {
    let m = parse(b"--boundary\nContent-Disposition: form-data; name=\"a\"\n\n--other\nx --boundary y\n--boundary--\n");
    assert_eq!(m.error, None);
    assert!(m.flags.unmatched_boundary);
    assert_eq!(args(&m), vec![p("a", "--other\nx --boundary y")]);
}

#[test]
fn boundary_followed_by_garbage_is_an_error() {
    let m = parse(
        b"--boundary\nContent-Disposition: form-data; name=\"a\"\n\nv\n--boundaryX\n--boundary--\n",
    );
    assert!(
        m.error
            .is_some_and(|e| e.0.starts_with("Multipart: Invalid boundary:"))
    );
}

#[test]
fn whitespace_or_quotes_before_the_boundary_are_errors() {
    let m = parse(b"--boundary\nContent-Disposition: form-data; name=\"a\"\n\nv\n-- boundary\n");
    assert_eq!(
        m.error,
        Some(BodyError(
            "Multipart: Invalid boundary (whitespace).".into()
        ))
    );
    let m = parse_multipart(
        b"multipart/form-data; boundary=\"b\"",
        b"--b\nContent-Disposition: form-data; name=\"a\"\n\nv\n--\"b\"\n--b--\n",
        MultipartLimits::default(),
    );
    assert!(m.flags.boundary_quoted);
    assert_eq!(
        m.error,
        Some(BodyError("Multipart: Invalid boundary (quotes).".into()))
    );
}

#[test]
fn header_folding_is_joined_and_flagged() {
    let m = parse(b"--boundary\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nv\r\n--boundary--\r\n");
    assert_eq!(m.error, None);
    assert!(m.flags.header_folding);
    assert!(!m.flags.invalid_header_folding);
    assert_eq!(args(&m), vec![p("a", "v")]);
    assert_eq!(
        headers(&m),
        vec![p("a", "Content-Disposition: form-data; name=\"a\"")]
    );

    let m = parse(b"--boundary\r\nContent-Disposition: form-data;\r\n\x0b name=\"a\"\r\n\r\nv\r\n--boundary--\r\n");
    assert!(m.flags.invalid_header_folding);

    let m = parse(b"--boundary\r\n folded: first\r\n\r\nv\r\n--boundary--\r\n");
    assert_eq!(
        m.error,
        Some(BodyError(
            "Multipart: Invalid part header (folding error).".into()
        ))
    );
}

#[test]
fn header_errors_stop_the_parse() {
    let cases: [(&[u8], &str); 6] = [
        (b"--boundary\ntest\n--boundary--\n", "Multipart: Invalid part header (colon missing): test"),
        (b"--boundary\n: v\n\n--boundary--\n", "Multipart: Invalid part header (header name missing)."),
        (b"--boundary\nX-A: 1\n\nv\n--boundary--\n", "Multipart: Part missing Content-Disposition header."),
        (b"--boundary\nContent-Disposition: form-data\n\nv\n--boundary--\n", "Multipart: Content-Disposition header missing name field."),
        (b"--boundary\nContent-Disposition: form-data; name=a\ncontent-disposition: form-data; name=b\n\n--boundary--\n", "Multipart: Duplicate part header: content-disposition."),
        (b"--boundary\nA: \x00\n\n--boundary--\n", "Multipart: Nul byte in part headers."),
    ];
    for (body, msg) in cases {
        let m = parse(body);
        assert_eq!(m.error, Some(BodyError(msg.into())), "{:?}", s(body));
        assert!(m.flags.strict_error);
    }
}

#[test]
fn headers_read_before_an_error_are_still_reported() {
    let m = parse(b"--boundary\nContent-Transfer-Encoding: 8bit\nbroken\n");
    assert!(m.error.is_some());
    assert_eq!(headers(&m), vec![p("", "Content-Transfer-Encoding: 8bit")]);
}

#[test]
fn long_header_lines_are_refused() {
    let mut body = b"--boundary\nX-Long: ".to_vec();
    body.extend(std::iter::repeat_n(b'a', 5000));
    body.extend_from_slice(b"\n\n--boundary--\n");
    let m = parse(&body);
    assert_eq!(
        m.error,
        Some(BodyError(
            "Multipart: Part header line over 4096 bytes long".into()
        ))
    );
}

#[test]
fn content_disposition_quoting_rules() {
    let part = |cd: &str| {
        let body = format!("--boundary\nContent-Disposition: {cd}\n\nv\n--boundary--\n");
        parse(body.as_bytes())
    };

    let m = part(r#"form-data; name="a\"b\\c\d"; filename="x.txt""#);
    assert_eq!(m.error, None);
    assert_eq!(s(&m.files[0].field_name), "a\"b\\c\\d");

    let m = part("form-data; name=plain");
    assert_eq!(args(&m), vec![p("plain", "v")]);

    let m = part("form-data; name='single'");
    assert!(m.flags.invalid_quoting);
    assert_eq!(args(&m), vec![p("single", "v")]);

    let m = part("form-data; name=\"it's\"");
    assert!(m.flags.invalid_quoting);

    let m = part("form-data; name=\"a\"x");
    assert!(m.flags.invalid_quoting);
    assert!(m.error.is_some_and(|e| e.0.contains("(-12)")));

    for (cd, code) in [
        ("attachment; name=a", -1),
        ("form-data name=a", -2),
        ("form-data; name=a; ", -3),
        ("form-data; name", -4),
        ("form-data; name x", -13),
        ("form-data; name=", -6),
        ("form-data; name=\"", -7),
        ("form-data; name=\"abc", -10),
        ("form-data; name=a; other=b", -11),
        ("form-data; name=a; name=b", -14),
        ("form-data; name=a; filename=b; filename=c", -15),
    ] {
        let m = part(cd);
        let expected = format!("Multipart: Invalid Content-Disposition header ({code}): {cd}");
        assert_eq!(m.error, Some(BodyError(expected)), "{cd}");
    }
    // A trailing semicolon right after the last value is accepted.
    assert_eq!(part("form-data; name=a;").error, None);
}

#[test]
fn names_seen_in_failed_parts_are_still_reported() {
    let body =
        b"--boundary\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\n\nv\n--boundary--\n";
    let m = parse(body);
    assert!(m.error.is_some());
    assert_eq!(m.part_names, vec![b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn extended_filename_is_decoded_and_preferred() {
    let body = b"--boundary\nContent-Disposition: form-data; name=\"f\"; filename=\"safe.txt\"; filename*=UTF-8''evil%2Ephp\n\nx\n--boundary--\n";
    let m = parse(body);
    assert_eq!(m.error, None);
    assert_eq!(s(&m.files[0].file_name), "evil.php");
    assert_eq!(
        m.file_names,
        vec![b"safe.txt".to_vec(), b"evil.php".to_vec()]
    );
    assert!(!m.flags.invalid_quoting);

    let body = b"--boundary\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''a%20b.txt\n\nx\n--boundary--\n";
    let m = parse(body);
    assert_eq!(m.error, None);
    assert_eq!(s(&m.files[0].file_name), "a b.txt");
}

#[test]
fn part_whose_headers_never_end_is_invalid() {
    let m = parse(b"--boundary\nContent-Disposition: form-data; name=\"a\"\n--boundary\nContent-Disposition: form-data; name=\"b\"\n\nv\n--boundary--\n");
    assert_eq!(m.error, None);
    assert!(m.flags.invalid_part);
    assert_eq!(args(&m), vec![p("b", "v")]);
}

#[test]
fn empty_values_and_empty_file_names() {
    let m = parse(b"--boundary\nContent-Disposition: form-data; name=\"a\"\n\n--boundary\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\n\nx\n--boundary--\n");
    assert_eq!(m.error, None);
    // An empty file name makes the part a field, as in ModSecurity/Coraza,
    // but MULTIPART_FILENAME still saw it.
    assert_eq!(args(&m), vec![p("a", ""), p("f", "x")]);
    assert!(m.files.is_empty());
    assert_eq!(m.file_names, vec![Vec::<u8>::new()]);
}

#[test]
fn limits_bound_parts_and_files() {
    let mut body = Vec::new();
    for i in 0..5 {
        body.extend_from_slice(
            format!("--boundary\nContent-Disposition: form-data; name=\"f{i}\"; filename=\"{i}.txt\"\n\ndata\n").as_bytes(),
        );
    }
    body.extend_from_slice(b"--boundary--\n");
    let limits = |max_parts, max_files| MultipartLimits {
        max_parts,
        max_files,
    };

    let m = parse_multipart(CT, &body, limits(10, 3));
    assert_eq!(m.error, None);
    assert!(m.flags.file_limit_exceeded);
    assert!(m.flags.strict_error);
    assert_eq!(m.files.len(), 5);

    let m = parse_multipart(CT, &body, limits(2, 10));
    assert_eq!(
        m.error,
        Some(BodyError("Multipart: Too many parts (limit 2).".into()))
    );
    assert_eq!(m.files.len(), 2);

    let mut many_headers = b"--boundary\n".to_vec();
    for i in 0..=MAX_PART_HEADERS {
        many_headers.extend_from_slice(format!("X-{i}: v\n").as_bytes());
    }
    let m = parse(&many_headers);
    assert!(
        m.error
            .is_some_and(|e| e.0.contains("Too many part headers"))
    );
    assert!(m.part_headers.len() <= MAX_PART_HEADERS);
}

#[test]
fn boundary_from_content_type() {
    let ok = |ct: &str, body: &str| {
        let m = parse_multipart(ct.as_bytes(), body.as_bytes(), MultipartLimits::default());
        assert_eq!(m.error, None, "{ct}");
        assert_eq!(m.args.len(), 1, "{ct}");
        m.flags
    };
    let body =
        |b: &str| format!("--{b}\nContent-Disposition: form-data; name=\"a\"\n\nv\n--{b}--\n");

    let f = ok(
        "multipart/form-data; boundary=----WebKitFormBoundary",
        &body("----WebKitFormBoundary"),
    );
    assert!(!f.boundary_quoted && !f.boundary_whitespace && !f.missing_semicolon);

    let f = ok("Multipart/Form-Data; boundary=\"q b\"", &body("q b"));
    assert!(f.boundary_quoted);

    let f = ok("multipart/form-data boundary=x", &body("x"));
    assert!(f.missing_semicolon);

    let f = ok("multipart/form-data; boundary =x", &body("x"));
    assert!(f.boundary_whitespace);

    // ModSecurity keeps the spaces after `=` as part of the boundary.
    let f = ok("multipart/form-data; boundary=  t", &body("  t"));
    assert!(f.boundary_whitespace);
}

#[test]
fn bad_content_types_are_errors() {
    for (ct, msg) in [
        ("", "Content-Type header not available."),
        ("multipart/mixed; boundary=a", "Invalid MIME type."),
        ("multipart/form-data", "Boundary not found in C-T."),
        (
            "multipart/form-data; Boundary=a",
            "Invalid boundary in C-T (case sensitivity).",
        ),
        (
            "multipart/form-data; boundary=a; boundary=b",
            "Multiple boundary parameters in C-T.",
        ),
        (
            "multipart/form-data; x; boundary=a",
            "Invalid boundary in C-T (malformed).",
        ),
        (
            "multipart/form-data; boundary",
            "Invalid boundary in C-T (malformed).",
        ),
        (
            "multipart/form-data; boundaryx=a",
            "Invalid boundary in C-T (parameter name).",
        ),
        (
            "multipart/form-data; boundary=\"a",
            "Invalid boundary in C-T (quote).",
        ),
        (
            "multipart/form-data; boundary=",
            "Invalid boundary in C-T (empty).",
        ),
        (
            "multipart/form-data; boundary=\"\"",
            "Invalid boundary in C-T (empty).",
        ),
        (
            "multipart/form-data; boundary=a; charset=utf-8",
            "Invalid boundary in C-T (characters).",
        ),
        (
            "multipart/form-data; boundary=a ",
            "Invalid boundary in C-T (characters).",
        ),
    ] {
        let m = parse_multipart(ct.as_bytes(), b"--a\n", MultipartLimits::default());
        assert_eq!(
            m.error,
            Some(BodyError(format!("Multipart: {msg}"))),
            "{ct}"
        );
        assert!(m.flags.strict_error, "{ct}");
    }
    let long = format!("multipart/form-data; boundary={}", "a".repeat(1100));
    let m = parse_multipart(long.as_bytes(), b"", MultipartLimits::default());
    assert_eq!(
        m.error,
        Some(BodyError(
            "Multipart: Invalid boundary in C-T (length).".into()
        ))
    );
}

#[test]
fn many_small_parts_parse_in_linear_time() {
    let mut body = Vec::new();
    for _ in 0..100_000 {
        body.extend_from_slice(b"--boundary\nContent-Disposition: form-data; name=\"a\"\n\nv\n");
    }
    body.extend_from_slice(b"--boundary--\n");
    let m = parse_multipart(
        CT,
        &body,
        MultipartLimits {
            max_parts: 200_000,
            max_files: 1,
        },
    );
    assert_eq!(m.error, None);
    assert_eq!(m.args.len(), 100_000);
}
