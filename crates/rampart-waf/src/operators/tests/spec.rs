//! Parsing of the operator string: names, negation, bare regexes, errors.

use super::*;

#[test]
fn bare_pattern_is_rx() {
    let bare = op("^foo[0-9]+$");
    assert_eq!(bare.name(), "rx");
    assert!(bare.evaluate(b"foo12", &NoMacros, None));
    assert!(!bare.evaluate(b"bar12", &NoMacros, None));
}

#[test]
fn negation_inverts_the_result() {
    let negated = op("!@rx ^foo");
    assert!(negated.is_negated());
    assert!(!negated.evaluate(b"foobar", &NoMacros, None));
    assert!(negated.evaluate(b"barfoo", &NoMacros, None));
    assert!(!op("@rx ^foo").is_negated());
}

#[test]
fn negated_bare_pattern_and_spaces_around_bang() {
    assert!(matches("!^foo", b"bar"));
    assert!(!matches("!^foo", b"foo"));
    assert!(matches("  ! @streq GET", b"POST"));
}

#[test]
fn names_are_case_insensitive() {
    assert_eq!(op("@STREQ x").name(), "streq");
    assert_eq!(op("@IPMATCH 10.0.0.1").name(), "ipMatch");
    assert!(matches("@BeginsWith GET", b"GET /"));
}

#[test]
fn operator_without_argument() {
    assert!(matches("@unconditionalMatch", b""));
    assert!(!matches("@noMatch", b"anything"));
    assert!(matches("!@noMatch", b"anything"));
}

#[test]
fn unknown_operator_is_an_error() {
    match compile("@frobnicate x") {
        Err(OperatorError::Unknown(name)) => assert_eq!(name, "frobnicate"),
        other => panic!("expected Unknown, got {other:?}"),
    }
}

#[test]
fn unsupported_operators_say_so() {
    for spec in [
        "@rbl sbl.example",
        "@geoLookup",
        "@verifyCC \\d{16}",
        "@inspectFile /bin/x",
    ] {
        let message = bad_argument(spec);
        assert!(message.contains("not supported"), "{spec}: {message}");
    }
}

#[test]
fn operators_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Operator>();
}
