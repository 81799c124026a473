//! Entry points for fuzz targets: each takes arbitrary bytes, runs one
//! processor and checks the invariants the engine relies on. They panic
//! only when an invariant breaks, which is what a fuzzer should report;
//! nothing on the request path calls them.

use super::{MultipartLimits, parse_json, parse_multipart, parse_urlencoded, parse_xml};

/// Depth used by [`json`]: deep enough to exercise nesting, small enough
/// that the limit itself is hit often.
pub const FUZZ_JSON_DEPTH: usize = 32;

/// Limits used by [`multipart`], small so they are reached.
pub const FUZZ_MULTIPART_LIMITS: MultipartLimits = MultipartLimits {
    max_parts: 16,
    max_files: 4,
};

pub fn urlencoded(data: &[u8]) {
    let pairs = parse_urlencoded(data);
    // Decoding only ever shrinks: every output byte comes from input bytes.
    let total: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(total <= data.len());
}

pub fn json(data: &[u8]) {
    if let Ok(args) = parse_json(data, FUZZ_JSON_DEPTH) {
        assert!(args.iter().all(|(name, _)| name.starts_with(b"json")));
    }
}

pub fn xml(data: &[u8]) {
    if let Ok(doc) = parse_xml(data) {
        // Text values are trimmed and never empty.
        assert!(
            doc.text
                .iter()
                .all(|t| !t.is_empty() && t.trim_ascii().len() == t.len())
        );
    }
}

/// The first line of `data` is the Content-Type, the rest the body, so a
/// fuzzer explores boundary parsing and body parsing together.
pub fn multipart(data: &[u8]) {
    let (content_type, body) = match memchr::memchr(b'\n', data) {
        Some(nl) => (
            data.get(..nl).unwrap_or_default(),
            data.get(nl + 1..).unwrap_or_default(),
        ),
        None => (data, &[][..]),
    };
    let limits = FUZZ_MULTIPART_LIMITS;
    let out = parse_multipart(content_type, body, limits);
    assert!(out.args.len() + out.files.len() <= limits.max_parts);
    assert!(out.error.is_none() || out.flags.strict_error);
    let flags = out.flags;
    assert!(!flags.crlf_lf_lines || flags.lf_line);
    assert!(out.files.iter().all(|f| f.size <= body.len()));
}
