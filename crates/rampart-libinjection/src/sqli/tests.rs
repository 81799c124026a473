use super::keywords::{is_sqli_fingerprint, lookup};
use super::raw_fingerprint;

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
        let got = raw_fingerprint(input.as_bytes());
        assert_eq!(String::from_utf8_lossy(&got), *fp, "input {input:?}");
    }
}

/// Fingerprints (ANSI, no quote context) the C library gives for the
/// tokenizer's dialect corners.
#[test]
fn tokenizer_handles_each_dialects_literals_like_libinjection() {
    let cases: &[(&str, &str)] = &[
        ("SELECT.1", "E1"),
        ("select`x`", "En"),
        ("$tag$ body $tag$ 1", "s1"),
        ("$$ x $$", "s"),
        ("q'[it's]' 1", "s1"),
        ("nq'<x>'", "s"),
        ("x'4F' 1", "11"),
        ("b'0101'", "1"),
        ("0x", "n"),
        ("1.e", "n"),
        (".5e-3f", "1"),
        ("[col name] 1", "n1"),
        ("\\N", "1"),
        ("@@`version`", "v"),
        ("@'x'", "v"),
        ("u&'x' 1", "s1"),
        ("e'a\\'b'", "s"),
        ("'it''s'", "s"),
        ("1 -- x", "1c"),
        ("1 --x", "1c"),
        ("1 # x", "1"),
        ("/*! 1 */", "X"),
        ("/* /* */", "X"),
        ("1 <=> 2", "1"),
        ("a := 1", "n"),
        ("$1,000.00", "1"),
        ("$.", "n"),
        ("1fUNION", "1U"),
        ("123FROM", "1k"),
        ("1 IN (1)", "1"),
        ("x NOT LIKE(1)", "nf(1)"),
        ("COLLATE latin1_bin", "At"),
        ("\\%1", "1"),
        ("{fn x}", "n"),
        // Only the first 31 bytes of a word are searched for `.`.
        ("1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.select", "1n"),
    ];
    for (input, fp) in cases {
        let got = raw_fingerprint(input.as_bytes());
        assert_eq!(String::from_utf8_lossy(&got), *fp, "input {input:?}");
    }
}
