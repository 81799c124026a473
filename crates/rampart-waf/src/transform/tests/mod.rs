use std::borrow::Cow;

use proptest::prelude::*;

use super::{Transformation as T, apply_chain};

mod codec;
mod decode;
mod text;

/// Applies `t` and checks the result, and that "unchanged" is a borrow.
#[track_caller]
fn check(t: T, input: &[u8], want: &[u8]) {
    let got = t.apply(input);
    assert_eq!(
        got.as_ref(),
        want,
        "{}({:?}) = {:?}, want {:?}",
        t.name(),
        String::from_utf8_lossy(input),
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
    );
    assert_eq!(
        matches!(got, Cow::Borrowed(_)),
        input == want,
        "{}({:?}): borrowed iff unchanged",
        t.name(),
        String::from_utf8_lossy(input),
    );
}

#[test]
fn parse_is_case_insensitive_and_knows_aliases() {
    assert_eq!(T::parse("urlDecodeUni").ok(), Some(T::UrlDecodeUni));
    assert_eq!(T::parse("URLDECODEUNI").ok(), Some(T::UrlDecodeUni));
    assert_eq!(T::parse("base64decode").ok(), Some(T::Base64Decode));
    assert_eq!(T::parse("normalisePath").ok(), Some(T::NormalizePath));
    assert_eq!(T::parse("normalizePathWin").ok(), Some(T::NormalizePathWin));
    assert_eq!(T::parse("utf8toUnicode").ok(), Some(T::Utf8ToUnicode));
    assert_eq!(T::parse("sha1").ok(), Some(T::Sha1));
    assert_eq!(T::parse("Reverse").ok(), Some(T::Reverse));
    let err = T::parse("alert").err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("unknown transformation `alert`"));
    assert!(T::parse("").is_err());
    assert!(T::parse("lowercase ").is_err());
}

#[test]
fn every_transformation_round_trips_through_its_name() {
    for t in T::ALL {
        assert_eq!(T::parse(t.name()).ok(), Some(t), "{t:?}");
        assert_eq!(t.to_string().parse::<T>().ok(), Some(t), "{t:?}");
    }
    assert_eq!(T::NormalizePath.to_string(), "normalizePath");
}

#[test]
fn none_is_identity() {
    check(T::None, b"ABC%41", b"ABC%41");
    check(T::None, b"", b"");
}

#[test]
fn chain_applies_in_order_and_borrows_when_nothing_changes() {
    let chain = [T::UrlDecodeUni, T::HtmlEntityDecode, T::Lowercase];
    let got = apply_chain(&chain, b"%26lt;SCRIPT%3E");
    assert_eq!(got.as_ref(), b"<script>");
    let untouched = apply_chain(&chain, b"plain text");
    assert!(matches!(untouched, Cow::Borrowed(b"plain text")));
    assert!(matches!(apply_chain(&[], b"x"), Cow::Borrowed(b"x")));
    // Order matters: decoding after lowercasing sees the uppercase escape.
    let got = apply_chain(&[T::Lowercase, T::UrlDecode], b"%4A");
    assert_eq!(got.as_ref(), b"J");
    let got = apply_chain(&[T::UrlDecode, T::Lowercase], b"%4A");
    assert_eq!(got.as_ref(), b"j");
}

#[test]
fn chain_keeps_a_trim_of_an_owned_value() {
    // Regression: a trim returning a borrowed subslice of an intermediate
    // value was once taken for "unchanged" and dropped.
    let got = apply_chain(&[T::Lowercase, T::Trim], b"  AB  ");
    assert_eq!(got.as_ref(), b"ab");
    let got = apply_chain(&[T::Base64Decode, T::TrimRight], b"YSAg");
    assert_eq!(got.as_ref(), b"a");
}

#[test]
fn crs_style_chains() {
    // 942-style: decode, strip comments, squeeze.
    let got = apply_chain(
        &[T::UrlDecodeUni, T::ReplaceComments, T::CompressWhitespace],
        b"1%27/**/UNION/*x*/%20%20SELECT",
    );
    assert_eq!(got.as_ref(), b"1' UNION SELECT");
    // sha1 then hexEncode gives the familiar hex digest.
    let got = apply_chain(&[T::Sha1, T::HexEncode], b"abc");
    assert_eq!(got.as_ref(), b"a9993e364706816aba3e25717850c26c9cd0d89d");
}

/// Transformations whose output is a fixed point: applying twice equals once.
/// (`removeCommentsChar` is not: deleting `#` from `*#/` forms `*/`.)
const IDEMPOTENT: [T; 16] = [
    T::None,
    T::Lowercase,
    T::Uppercase,
    T::CompressWhitespace,
    T::RemoveWhitespace,
    T::RemoveNulls,
    T::ReplaceNulls,
    T::NormalizePath,
    T::NormalizePathWin,
    T::Trim,
    T::TrimLeft,
    T::TrimRight,
    T::ParityEven7bit,
    T::ParityOdd7bit,
    T::ParityZero7bit,
    T::CmdLine,
];

fn any_chain() -> impl Strategy<Value = Vec<T>> {
    proptest::collection::vec(proptest::sample::select(T::ALL.to_vec()), 0..6)
}

/// Inputs dense in the bytes the decoders care about.
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> =
        b"%uUxX\\&#;0123456789abcdefABCDEF/.*-<!>+ \t\r\n\x00\xa0\xc2\xff\xef".to_vec();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(proptest::sample::select(alphabet), 0..64),
    ]
}

proptest! {
    #[test]
    fn nothing_panics_and_unchanged_is_borrowed(input in tricky_bytes()) {
        for t in T::ALL {
            let out = t.apply(&input);
            if out.as_ref() == input.as_slice() {
                prop_assert!(matches!(out, Cow::Borrowed(_)), "{}", t.name());
            }
        }
    }

    #[test]
    fn chains_never_panic(chain in any_chain(), input in tricky_bytes()) {
        let stepwise = chain
            .iter()
            .fold(input.clone(), |v, t| t.apply(&v).into_owned());
        let chained = apply_chain(&chain, &input);
        prop_assert_eq!(chained.as_ref(), stepwise.as_slice());
    }

    #[test]
    fn idempotent_ones_are(input in tricky_bytes()) {
        for t in IDEMPOTENT {
            let once = t.apply(&input).into_owned();
            let twice = t.apply(&once);
            prop_assert_eq!(twice.as_ref(), once.as_slice(), "{}", t.name());
            prop_assert!(matches!(twice, Cow::Borrowed(_)), "{}", t.name());
        }
    }

    #[test]
    fn decoders_never_grow_ascii_escapes(input in tricky_bytes()) {
        // Each escape form decodes to at most its own length, so these can
        // only shrink (or keep) the value: bounded work for the engine.
        for t in [T::UrlDecode, T::UrlDecodeUni, T::JsDecode, T::EscapeSeqDecode,
                  T::SqlHexDecode, T::RemoveComments, T::ReplaceComments] {
            prop_assert!(t.apply(&input).len() <= input.len(), "{}", t.name());
        }
    }

    #[test]
    fn url_encode_then_decode_round_trips(input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let enc = T::UrlEncode.apply(&input).into_owned();
        let dec = T::UrlDecode.apply(&enc);
        prop_assert_eq!(dec.as_ref(), input.as_slice());
    }

    #[test]
    fn base64_and_hex_round_trip(input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let b = T::Base64Encode.apply(&input).into_owned();
        let strict = T::Base64Decode.apply(&b);
        prop_assert_eq!(strict.as_ref(), input.as_slice());
        let ext = T::Base64DecodeExt.apply(&b);
        prop_assert_eq!(ext.as_ref(), input.as_slice());
        let h = T::HexEncode.apply(&input).into_owned();
        let dec = T::HexDecode.apply(&h);
        prop_assert_eq!(dec.as_ref(), input.as_slice());
    }
}
