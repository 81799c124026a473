//! `@validateByteRange`, `@validateUrlEncoding`, `@validateUtf8Encoding`.

use super::*;

#[test]
fn byte_range_matches_bytes_outside_the_set() {
    let spec = "@validateByteRange 9,10,13,32-126";
    assert!(!matches(spec, b"plain text\r\n\t~"));
    assert!(matches(spec, b"nul\x00"));
    assert!(matches(spec, b"\x7f"));
    assert!(matches(spec, b"\xc3\xa9"));
    assert!(!matches(spec, b""), "nothing to reject");
    assert!(matches("@validateByteRange 1-255", b"a\x00"));
    assert!(!matches("@validateByteRange 1-255", b"\x01\xff"));
    assert!(!matches("@validateByteRange 0-255", b"\x00\xff"));
}

#[test]
fn byte_range_negated_and_spaced() {
    let spec = "!@validateByteRange 20, 45-47 ,48-57";
    assert!(matches(spec, b"123/-."));
    assert!(!matches(spec, b"12a"));
}

#[test]
fn byte_range_bad_arguments() {
    assert!(bad_argument("@validateByteRange 1-256").contains("256"));
    assert!(bad_argument("@validateByteRange 50-10").contains("50-10"));
    assert!(bad_argument("@validateByteRange a-z").contains("`a`"));
    assert!(bad_argument("@validateByteRange").contains("no byte range"));
    assert!(bad_argument("@validateByteRange -5").contains("``"));
}

#[test]
fn url_encoding() {
    let spec = "@validateUrlEncoding";
    assert!(!matches(spec, b"a%20b%2fc%C3%A9"));
    assert!(!matches(spec, b"no percent at all"));
    assert!(matches(spec, b"bad%2g"), "non-hex digit");
    assert!(matches(spec, b"%zz"));
    assert!(matches(spec, b"end%2"), "too short");
    assert!(matches(spec, b"end%"));
    assert!(!matches("!@validateUrlEncoding", b"end%"));
}

#[test]
fn utf8_encoding() {
    let spec = "@validateUtf8Encoding";
    assert!(!matches(spec, "plain, café, 日本, 😀".as_bytes()));
    assert!(!matches(spec, b""));
    assert!(matches(spec, b"\xc3"), "truncated");
    assert!(matches(spec, b"\xe6\x97"), "truncated");
    assert!(matches(spec, b"\xc3\x28"), "bad continuation");
    assert!(matches(spec, b"\x80"), "continuation byte cannot lead");
    assert!(matches(spec, b"\xc0\xaf"), "overlong /");
    assert!(matches(spec, b"\xe0\x80\xaf"), "overlong");
    assert!(matches(spec, b"\xf0\x80\x80\xaf"), "overlong");
    assert!(matches(spec, b"\xed\xa0\x80"), "surrogate");
    assert!(matches(spec, b"\xf5\x80\x80\x80"), "past U+10FFFF");
    assert!(matches(spec, b"\xff"));
}
