use crate::body::*;

fn flat(body: &str) -> Vec<(String, String)> {
    parse_json(body.as_bytes(), 32)
        .expect("valid JSON")
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect()
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

#[test]
fn nested_objects_and_arrays_are_named_like_coraza() {
    assert_eq!(
        flat(r#"{"data": {"name": "John", "age": 30}, "items": [1, "two", [3]]}"#),
        vec![
            p("json.data.name", "John"),
            p("json.data.age", "30"),
            p("json.items.0", "1"),
            p("json.items.1", "two"),
            p("json.items.2.0", "3"),
        ]
    );
}

#[test]
fn top_level_array_and_scalar() {
    assert_eq!(
        flat(r#"[{"a": true}, null, false]"#),
        vec![p("json.0.a", "true"), p("json.1", ""), p("json.2", "false")]
    );
    assert_eq!(flat(r#""hello""#), vec![p("json", "hello")]);
    assert_eq!(flat("-1.5e+3"), vec![p("json", "-1.5e+3")]);
}

#[test]
fn crs_style_payload_keys_keep_their_characters() {
    // CRS 942362 / 942290 look at these names.
    assert_eq!(
        flat(r#"{ "; select": "foo" }"#),
        vec![p("json.; select", "foo")]
    );
    assert_eq!(
        flat(r#"{"user": {"$exists": true}}"#),
        vec![p("json.user.$exists", "true")]
    );
}

#[test]
fn empty_containers_and_empty_body_yield_nothing() {
    assert!(flat("{}").is_empty());
    assert!(flat("[]").is_empty());
    assert!(flat(r#"{"a": {}, "b": []}"#).is_empty());
    assert!(flat("  \n").is_empty());
}

#[test]
fn duplicate_keys_are_all_kept_in_order() {
    assert_eq!(
        flat(r#"{"a": "evil", "a": "benign"}"#),
        vec![p("json.a", "evil"), p("json.a", "benign")]
    );
}

#[test]
fn string_escapes_are_decoded() {
    assert_eq!(
        flat(r#"{"k\"ey": "a\nb\t\u003cscript\u003e \ud83d\ude00 \/"}"#),
        vec![p("json.k\"ey", "a\nb\t<script> \u{1F600} /")]
    );
    // A lone surrogate does not abort the parse.
    assert_eq!(flat(r#"["\ud800x"]"#), vec![p("json.0", "\u{FFFD}x")]);
}

#[test]
fn non_utf8_bytes_in_strings_pass_through() {
    let out = parse_json(b"{\"a\": \"\xff\xfe\"}", 8).expect("parses");
    assert_eq!(out, vec![(b"json.a".to_vec(), vec![0xff, 0xfe])]);
}

#[test]
fn utf8_bom_is_skipped() {
    let out = parse_json(b"\xEF\xBB\xBF{\"a\":1}", 8).expect("parses");
    assert_eq!(out, vec![(b"json.a".to_vec(), b"1".to_vec())]);
}

#[test]
fn depth_limit_is_enforced() {
    assert!(parse_json(b"[[[1]]]", 3).is_ok());
    let err = parse_json(b"[[[[1]]]]", 3).expect_err("too deep");
    assert!(err.0.contains("deeper"), "{err}");
    assert!(parse_json(b"{}", 0).is_err());
    assert!(parse_json(b"1", 0).is_ok());
    // Deep nesting far beyond the limit fails fast, without recursion.
    let deep = "[".repeat(1_000_000);
    assert!(parse_json(deep.as_bytes(), 512).is_err());
}

#[test]
fn malformed_json_is_an_error() {
    for bad in [
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "{'a': 1}",
        "{a: 1}",
        "\"unterminated",
        "\"ctl\u{1}\"",
        "\"bad \\x escape\"",
        "\"\\u12\"",
        "tru",
        "nul",
        "01",
        "1.",
        "1e",
        "-",
        "+1",
        "{} {}",
        "[1] x",
        "]",
    ] {
        assert!(parse_json(bad.as_bytes(), 32).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn flattening_blow_up_is_refused() {
    // A long key over a wide array would repeat the key once per element.
    let key = "k".repeat(100_000);
    let elements = vec!["0"; 200_000].join(",");
    let body = format!("{{\"{key}\": [{elements}]}}");
    let err = parse_json(body.as_bytes(), 32).expect_err("blow-up refused");
    assert!(err.0.contains("size limit"), "{err}");
}
