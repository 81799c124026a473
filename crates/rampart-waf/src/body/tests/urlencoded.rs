use crate::body::*;

fn pairs(input: &str) -> Vec<(String, String)> {
    parse_urlencoded(input.as_bytes())
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
fn splits_pairs_in_order_keeping_repeats() {
    assert_eq!(
        pairs("a=1&b=2&a=3"),
        vec![p("a", "1"), p("b", "2"), p("a", "3")]
    );
}

#[test]
fn value_split_on_first_equals_only() {
    assert_eq!(pairs("a=b=c"), vec![p("a", "b=c")]);
}

#[test]
fn name_without_equals_has_empty_value() {
    assert_eq!(pairs("flag&x="), vec![p("flag", ""), p("x", "")]);
}

#[test]
fn empty_name_is_kept_and_empty_segments_skipped() {
    assert_eq!(pairs("=v&&b=1&"), vec![p("", "v"), p("b", "1")]);
    assert!(pairs("").is_empty());
    assert!(pairs("&&&").is_empty());
}

#[test]
fn plus_and_percent_are_decoded_in_names_and_values() {
    assert_eq!(
        pairs("a+b%3D=%3Cscript%3E+x"),
        vec![p("a b=", "<script> x")]
    );
}

#[test]
fn invalid_percent_sequences_stay_literal() {
    assert_eq!(
        pairs("a=%zz%4&b=%&c=100%25&d=%u0041"),
        vec![
            p("a", "%zz%4"),
            p("b", "%"),
            p("c", "100%"),
            p("d", "%u0041")
        ]
    );
}

#[test]
fn encoded_separators_do_not_split() {
    assert_eq!(pairs("a=1%262%3D3"), vec![p("a", "1&2=3")]);
}

#[test]
fn decodes_to_raw_bytes() {
    assert_eq!(
        parse_urlencoded(b"x=%00%ff%C3%A9"),
        vec![(b"x".to_vec(), vec![0x00, 0xff, 0xc3, 0xa9])]
    );
    assert_eq!(urldecode_component(b"%41+%4"), b"A %4".to_vec());
}
