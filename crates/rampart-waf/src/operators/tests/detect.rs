//! `@detectSQLi` and `@detectXSS` through rampart-libinjection.

use super::*;

#[test]
fn sqli_matches_and_captures_the_fingerprint() {
    let input = b"1' or '1'='1";
    let groups = captures("@detectSQLi", input).expect("SQL injection");
    let fingerprint = groups.first().expect("TX:0");
    assert_eq!(
        Some(fingerprint.clone()),
        rampart_libinjection::detect_sqli(input),
        "TX:0 is the detector's fingerprint"
    );
    assert!(!fingerprint.is_empty());
    assert!(!matches("@detectSQLi", b"hello world"));
    assert!(matches("!@detectSQLi", b"hello world"));
}

#[test]
fn xss_matches() {
    assert!(matches("@detectXSS", b"<script>alert(1)</script>"));
    assert!(!matches("@detectXSS", b"just some text"));
    let groups = captures("@detectXSS", b"<img src=x onerror=alert(1)>").expect("XSS");
    assert_eq!(groups, ["<img src=x onerror=alert(1)>"]);
}
