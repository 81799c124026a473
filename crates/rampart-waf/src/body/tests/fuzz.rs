use crate::body::*;
use proptest::prelude::*;

fn small_limits() -> MultipartLimits {
    MultipartLimits {
        max_parts: 8,
        max_files: 2,
    }
}

/// Bytes biased toward the syntax each parser cares about, so the
/// property reaches deep states rather than failing on the first byte.
fn syntax_bytes(alphabet: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(alphabet),
            1 => any::<u8>(),
        ],
        0..400,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_parser_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_urlencoded(&bytes);
        let _ = parse_json(&bytes, 16);
        let _ = parse_xml(&bytes);
        let _ = parse_multipart(&bytes, &bytes, small_limits());
        let _ = parse_multipart(b"multipart/form-data; boundary=b", &bytes, small_limits());
    }

    #[test]
    fn fuzz_entry_points_hold_their_invariants(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzz::urlencoded(&bytes);
        fuzz::json(&bytes);
        fuzz::xml(&bytes);
        fuzz::multipart(&bytes);
    }

    #[test]
    fn fuzz_multipart_reaches_parts(
        bytes in syntax_bytes(b"-b\r\n:;=\"' \tContent-Disposition: form-data; name=filename*"),
    ) {
        let mut data = b"multipart/form-data; boundary=b\n--b\r\n".to_vec();
        data.extend_from_slice(&bytes);
        fuzz::multipart(&data);
    }

    #[test]
    fn json_syntax_soup_never_panics(bytes in syntax_bytes(b"{}[],:\"\\u0123456789-+.eEtrufalsn \n")) {
        let _ = parse_json(&bytes, 8);
    }

    #[test]
    fn xml_syntax_soup_never_panics(bytes in syntax_bytes(b"<>/=\"'&;#x!?[]-CDATAabc \n")) {
        let _ = parse_xml(&bytes);
    }

    #[test]
    fn urlencoded_soup_round_trips_plain_text(bytes in syntax_bytes(b"&=+%0123456789abcdefABCDEFxyz")) {
        let pairs = parse_urlencoded(&bytes);
        // Each pair came from at least one input byte, so decoding never
        // invents pairs or grows the data.
        prop_assert!(pairs.len() <= bytes.len());
        let total: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
        prop_assert!(total <= bytes.len());
    }

    #[test]
    fn multipart_syntax_soup_never_panics(
        bytes in syntax_bytes(b"-b\r\n:;=\"' \tContent-Disposition: form-data; name=filename*"),
    ) {
        let mut body = b"--b\r\n".to_vec();
        body.extend_from_slice(&bytes);
        let out = parse_multipart(b"multipart/form-data; boundary=b", &body, small_limits());
        prop_assert!(out.args.len() + out.files.len() <= 8);
        prop_assert!(out.error.is_none() || out.flags.strict_error);
    }
}
