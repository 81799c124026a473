use super::keywords::{is_sqli_fingerprint, lookup};
use super::raw_fingerprint;
use libinjectionrs::sqli::SqliFlags;

#[test]
fn lookup_tells_phrase_prefixes_from_unknown_words() {
    assert_eq!(lookup(b"in boolean"), Some(b'n'));
    assert_eq!(lookup(b"IN BOOLEAN MODE"), Some(b'k'));
    assert_eq!(lookup(b"Union All"), Some(b'U'));
    assert_eq!(lookup(b"no such word"), None);
    assert_eq!(lookup(&[b'A'; 40]), None);
}

#[test]
fn fingerprint_set_is_libinjections() {
    assert!(is_sqli_fingerprint(b"s&sos"));
    assert!(is_sqli_fingerprint(b"1UE"));
    assert!(is_sqli_fingerprint(b"X"));
    assert!(!is_sqli_fingerprint(b"n"));
    assert!(!is_sqli_fingerprint(b""));
}

#[test]
fn folding_collapses_values_phrases_and_unary_operators() {
    let ansi = SqliFlags::FLAG_QUOTE_NONE | SqliFlags::FLAG_SQL_ANSI;
    let cases: &[(&str, &str)] = &[
        ("1+1", "1"),
        ("'a' 'b'", "s"),
        ("select -1", "E1"),
        ("1 IN BOOLEAN MODE", "1k"),
        ("x UNION ALL SELECT y", "nUEn"),
        ("a.b.c", "n"),
        ("1,2,3", "1"),
        ("USER(x)", "n(n)"),
        ("USER()", "f()"),
        ("{ `` }", "X"),
        ("/* only a comment */", ""),
    ];
    for (input, fp) in cases {
        let got = raw_fingerprint(input.as_bytes(), ansi);
        assert_eq!(String::from_utf8_lossy(&got), *fp, "input {input:?}");
    }
}
