//! `@eq`, `@ge`, `@gt`, `@le`, `@lt`.

use super::super::numeric::leading_integer;
use super::*;

#[test]
fn comparisons() {
    assert!(matches("@eq 0", b"0"));
    assert!(!matches("@eq 0", b"1"));
    assert!(matches("!@eq 0", b"3"));
    assert!(matches("@ge 5", b"5"));
    assert!(!matches("@ge 5", b"4"));
    assert!(matches("@gt 100", b"101"));
    assert!(!matches("@gt 100", b"100"));
    assert!(matches("@le 2", b"2"));
    assert!(!matches("@le 2", b"3"));
    assert!(matches("@lt 3", b"-1"));
    assert!(!matches("@lt 3", b"3"));
}

#[test]
fn macro_argument() {
    let vars: &[(&str, &str)] = &[
        ("tx.inbound_anomaly_score_threshold", "5"),
        ("tx.arg_length", "10"),
    ];
    assert!(matches_with(
        "@ge %{tx.inbound_anomaly_score_threshold}",
        b"5",
        vars
    ));
    assert!(!matches_with(
        "@ge %{tx.inbound_anomaly_score_threshold}",
        b"4",
        vars
    ));
    assert!(matches_with("@gt %{tx.arg_length}", b"11", vars));
    // An unset variable expands to nothing, which reads as 0.
    assert!(matches_with("@eq %{tx.unset}", b"0", vars));
}

#[test]
fn non_numeric_text_reads_as_its_leading_integer() {
    assert_eq!(leading_integer(b"42abc"), 42);
    assert_eq!(leading_integer(b"  -7"), -7);
    assert_eq!(leading_integer(b"+3"), 3);
    assert_eq!(leading_integer(b"abc"), 0);
    assert_eq!(leading_integer(b""), 0);
    assert_eq!(leading_integer(b"- 5"), 0);
    assert_eq!(leading_integer(b"99999999999999999999999"), i64::MAX);
    assert_eq!(leading_integer(b"-99999999999999999999999"), i64::MIN);
    assert!(matches("@eq 0", b"not a number"));
    assert!(matches("@gt 1", b"2 apples"));
}
