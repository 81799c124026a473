//! `@streq`, `@contains`, `@containsWord`, `@beginsWith`, `@endsWith`,
//! `@within`.

use super::*;

const VARS: &[(&str, &str)] = &[
    ("tx.allowed_methods", "GET HEAD POST OPTIONS"),
    ("request_headers.host", "example.com"),
    ("tx.2", "abc"),
];

#[test]
fn streq_is_exact_and_case_sensitive() {
    assert!(matches("@streq POST", b"POST"));
    assert!(!matches("@streq POST", b"post"));
    assert!(!matches("@streq POST", b"POSTX"));
    assert!(matches("!@streq POST", b"GET"));
    assert!(matches("@streq GET /", b"GET /"));
    assert!(matches("@streq", b""));
}

#[test]
fn streq_with_macro() {
    assert!(matches_with("@streq %{TX.2}", b"abc", VARS));
    assert!(!matches_with("@streq %{TX.2}", b"abd", VARS));
    assert!(matches_with("@streq x%{tx.unset}y", b"xy", VARS));
}

#[test]
fn contains_and_capture() {
    assert!(matches("@contains -->", b"a --> b"));
    assert!(!matches("@contains -->", b"a -> b"));
    assert_eq!(captures("@contains <h1", b"x<h1>").expect("match"), ["<h1"]);
    assert!(
        matches("@contains", b"anything"),
        "empty argument is always contained"
    );
}

#[test]
fn contains_word_needs_non_letters_around() {
    assert!(matches("@containsWord select", b"select"));
    assert!(matches("@containsWord select", b"1 select * from"));
    assert!(matches("@containsWord select", b"x=1;select"));
    assert!(
        matches("@containsWord select", b"1select1"),
        "digits do not join a word"
    );
    assert!(!matches("@containsWord select", b"selected"));
    assert!(!matches("@containsWord select", b"preselect"));
    assert!(
        matches("@containsWord select", b"preselect select"),
        "later occurrence"
    );
    assert!(matches("@containsWord aa", b"aaa aa"), "overlapping search");
    assert!(!matches("@containsWord select", b""));
}

#[test]
fn begins_and_ends_with() {
    assert!(matches("@beginsWith GET", b"GET /"));
    assert!(!matches("@beginsWith GET", b"xGET"));
    assert!(matches("!@beginsWith #:~:text=", b"#top"));
    assert!(matches("@endsWith .pdf", b"/a/b.pdf"));
    assert!(!matches("@endsWith .pdf", b"/a/b.pdf.exe"));
    assert!(!matches("@endsWith .pdf", b"pdf"));
}

#[test]
fn ends_with_macro() {
    assert!(matches_with(
        "@endsWith .%{request_headers.host}",
        b"www.example.com",
        VARS
    ));
    assert!(!matches_with(
        "@endsWith .%{request_headers.host}",
        b"evil-example.com",
        VARS
    ));
    assert!(matches_with(
        "!@endsWith %{request_headers.host}",
        b"other.org",
        VARS
    ));
}

#[test]
fn within_finds_the_input_in_the_argument() {
    assert!(matches_with("@within %{tx.allowed_methods}", b"HEAD", VARS));
    assert!(!matches_with(
        "@within %{tx.allowed_methods}",
        b"DELETE",
        VARS
    ));
    assert!(matches_with("!@within %{tx.allowed_methods}", b"PUT", VARS));
    assert!(matches("@within HTTP/2 HTTP/2.0 HTTP/3", b"HTTP/2.0"));
    assert!(
        matches("@within abc", b""),
        "empty input is within anything"
    );
}
