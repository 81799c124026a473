//! Sans-IO tests of the HTTP/1 framing tracker: every violation, the valid
//! framings, and split-invariance (feeding in pieces == feeding whole).

use rampart_edge::h1_guard::{FramingTracker, GuardConfig, RequestKind, Violation};

fn tracker() -> FramingTracker {
    FramingTracker::new(GuardConfig::default())
}

/// Outcome of feeding `chunks` in order: bytes accepted, violation, number of
/// request heads accepted.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    accepted: usize,
    violation: Option<Violation>,
    requests: usize,
    passthrough: bool,
}

fn feed_chunks<'a>(t: &mut FramingTracker, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut accepted = 0;
    let mut requests = 0;
    for chunk in chunks {
        let mut rest = chunk;
        while !rest.is_empty() {
            match t.feed(rest) {
                Ok(n) => {
                    accepted += n;
                    rest = &rest[n..];
                    while t.pop_request().is_some() {
                        requests += 1;
                    }
                    if n == 0 || t.violation().is_some() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if t.violation().is_some() || t.is_waiting() {
            break;
        }
    }
    Outcome {
        accepted,
        violation: t.violation().copied(),
        requests,
        passthrough: t.is_passthrough(),
    }
}

fn whole(input: &[u8]) -> Outcome {
    feed_chunks(&mut tracker(), [input])
}

fn with_cfg(cfg: GuardConfig, input: &[u8]) -> Outcome {
    feed_chunks(&mut FramingTracker::new(cfg), [input])
}

/// Same outcome for every two-way split and for byte-by-byte feeding.
fn assert_split_invariant(input: &[u8]) -> Outcome {
    let expect = whole(input);
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(
            feed_chunks(&mut tracker(), [a, b]),
            expect,
            "split at {at}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(feed_chunks(&mut tracker(), bytes), expect, "byte by byte");
    expect
}

#[rustfmt::skip]
const INVALID: &[(&str, &[u8], Violation)] = &[
    ("bare LF ends request line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", Violation::BareLf),
    ("bare LF ends header", b"GET / HTTP/1.1\r\nHost: a\n\r\n", Violation::BareLf),
    ("bare LF ends head", b"GET / HTTP/1.1\r\nHost: a\r\n\n", Violation::BareLf),
    ("bare LF first byte", b"\n", Violation::BareLf),
    ("bare CR in value", b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", Violation::BareCr),
    ("bare CR in request line", b"GET /\r HTTP/1.1\r\n\r\n", Violation::BareCr),
    ("CR CR LF", b"GET / HTTP/1.1\r\r\n\r\n", Violation::BareCr),
    ("obs-fold", b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", Violation::ObsFold),
    ("obs-fold tab", b"GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", Violation::ObsFold),
    ("space before first header", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", Violation::ObsFold),
    ("NUL in value", b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", Violation::NulInHead),
    ("NUL in target", b"GET /\0 HTTP/1.1\r\n\r\n", Violation::NulInHead),
    ("NUL in name", b"GET / HTTP/1.1\r\nX\0: a\r\n\r\n", Violation::NulInHead),
    ("CTL in value", b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", Violation::InvalidHeaderValue),
    ("DEL in value", b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", Violation::InvalidHeaderValue),
    ("VT in value", b"GET / HTTP/1.1\r\nX: \x0b\r\n\r\n", Violation::InvalidHeaderValue),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", Violation::WhitespaceBeforeColon),
    ("tab before colon", b"GET / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\n", Violation::WhitespaceBeforeColon),
    ("empty name", b"GET / HTTP/1.1\r\n: a\r\n\r\n", Violation::InvalidHeaderName),
    ("space in name", b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n", Violation::InvalidHeaderName),
    ("no colon", b"GET / HTTP/1.1\r\nHost a\r\n\r\n", Violation::InvalidHeaderName),
    ("non-ASCII name", b"GET / HTTP/1.1\r\nH\xc3\xb6: a\r\n\r\n", Violation::InvalidHeaderName),
    ("separator in name", b"GET / HTTP/1.1\r\nX(y): a\r\n\r\n", Violation::InvalidHeaderName),
    ("CL then TE", b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Violation::ContentLengthWithTransferEncoding),
    ("TE then CL", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", Violation::ContentLengthWithTransferEncoding),
    ("duplicate identical CL", b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", Violation::DuplicateContentLength),
    ("duplicate different CL", b"POST / HTTP/1.1\r\ncontent-length: 5\r\nCONTENT-LENGTH: 6\r\n\r\n", Violation::DuplicateContentLength),
    ("CL list", b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", Violation::DuplicateContentLength),
    ("CL trailing comma", b"POST / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n", Violation::DuplicateContentLength),
    ("CL letters", b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", Violation::InvalidContentLength),
    ("CL sign", b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", Violation::InvalidContentLength),
    ("CL negative", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Violation::InvalidContentLength),
    ("CL empty", b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", Violation::InvalidContentLength),
    ("CL inner space", b"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", Violation::InvalidContentLength),
    ("CL hex", b"POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", Violation::InvalidContentLength),
    ("CL 20 digits", b"POST / HTTP/1.1\r\nContent-Length: 10000000000000000000\r\n\r\n", Violation::InvalidContentLength),
    ("TE gzip", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", Violation::UnsupportedTransferEncoding),
    ("TE gzip, chunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Violation::UnsupportedTransferEncoding),
    ("TE chunked twice", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Violation::UnsupportedTransferEncoding),
    ("TE chunked, identity", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", Violation::UnsupportedTransferEncoding),
    ("TE empty", b"POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", Violation::UnsupportedTransferEncoding),
    ("TE with params", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", Violation::UnsupportedTransferEncoding),
    ("TE xchunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", Violation::UnsupportedTransferEncoding),
    ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Violation::TransferEncodingInHttp10),
    ("chunk size not hex", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Violation::InvalidChunkSize),
    ("chunk size leading space", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n", Violation::InvalidChunkSize),
    ("chunk size 0x", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n", Violation::InvalidChunkSize),
    ("chunk size sign", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n", Violation::InvalidChunkSize),
    ("chunk size empty", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", Violation::InvalidChunkSize),
    ("chunk size 17 digits", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", Violation::InvalidChunkSize),
    ("chunk size bare LF", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n", Violation::BareLf),
    ("chunk ext no name", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n", Violation::InvalidChunkExtension),
    ("chunk ext no value", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n", Violation::InvalidChunkExtension),
    ("chunk ext open quote", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n", Violation::InvalidChunkExtension),
    ("chunk trailing space", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n", Violation::InvalidChunkExtension),
    ("chunk data too long", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", Violation::InvalidChunkTerminator),
    ("chunk data LF only", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", Violation::InvalidChunkTerminator),
    ("chunk data CR X", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX", Violation::InvalidChunkTerminator),
    ("trailer obs-fold", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", Violation::ObsFold),
    ("trailer bare LF", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\r\n", Violation::BareLf),
    ("trailer NUL", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \0\r\n\r\n", Violation::NulInHead),
    ("double space", b"GET  / HTTP/1.1\r\n\r\n", Violation::InvalidRequestLine),
    ("missing version", b"GET /\r\n\r\n", Violation::InvalidRequestLine),
    ("HTTP/1.2", b"GET / HTTP/1.2\r\n\r\n", Violation::InvalidRequestLine),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n", Violation::InvalidRequestLine),
    ("lower-case version", b"GET / http/1.1\r\n\r\n", Violation::InvalidRequestLine),
    ("trailing space", b"GET / HTTP/1.1 \r\n\r\n", Violation::InvalidRequestLine),
    ("space in target", b"GET /a b HTTP/1.1\r\n\r\n", Violation::InvalidRequestLine),
    ("tab separator", b"GET\t/ HTTP/1.1\r\n\r\n", Violation::InvalidRequestLine),
    ("DEL in target", b"GET /\x7f HTTP/1.1\r\n\r\n", Violation::InvalidRequestLine),
    ("bad method", b"G(T / HTTP/1.1\r\n\r\n", Violation::InvalidRequestLine),
    ("HTTP/0.9", b"GET /\r\n", Violation::InvalidRequestLine),
    ("too many empty lines", b"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", Violation::TooManyEmptyLines),
    ("broken h2 preface", b"PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n", Violation::InvalidRequestLine),
    ("h2 preface prefix then HTTP/1", b"PRI / HTTP/1.1\r\nX: y\n", Violation::BareLf),
    // Smuggling after a valid first request is still caught.
    ("second request", b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", Violation::ContentLengthWithTransferEncoding),
    ("after CL body", b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\nHost: a\r\n\r\n", Violation::BareLf),
    ("after chunked body", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nA: 1\r\nA : 2\r\n\r\n", Violation::WhitespaceBeforeColon),
];

#[test]
fn every_violation_is_detected_at_a_split_invariant_offset() {
    for (name, input, expected) in INVALID {
        let out = assert_split_invariant(input);
        assert_eq!(out.violation, Some(*expected), "{name}");
        assert!(
            out.accepted < input.len(),
            "{name}: violation consumed everything"
        );
        // The accepted prefix never completes the offending head/line.
        let mut t = tracker();
        assert_eq!(
            t.feed(&input[..out.accepted]).ok(),
            Some(out.accepted),
            "{name}: prefix alone is valid"
        );
        assert_eq!(t.violation(), None, "{name}");
    }
}

#[test]
fn violation_is_sticky() {
    let mut t = tracker();
    assert_eq!(t.feed(b"GET / HTTP/1.1\n"), Ok(14));
    assert_eq!(t.feed(b"\n"), Err(Violation::BareLf));
    assert_eq!(t.feed(b"anything"), Err(Violation::BareLf));
    assert_eq!(Violation::BareLf.to_string(), "bare LF line terminator");
}

#[test]
fn head_too_large() {
    let cfg = GuardConfig {
        max_head_bytes: 64,
        header_timeout: None,
    };
    let line = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(60));
    let out = with_cfg(cfg, line.as_bytes());
    assert_eq!(out.violation, Some(Violation::HeadTooLarge));
    assert_eq!(out.accepted, 64);
    assert_eq!(Violation::HeadTooLarge.status(), 431);
    // Exactly at the limit is fine.
    let fits = b"GET / HTTP/1.1\r\nX: abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv\r\n\r\n";
    let len = fits.len();
    let out = with_cfg(
        GuardConfig {
            max_head_bytes: len,
            header_timeout: None,
        },
        fits,
    );
    assert_eq!((out.accepted, out.violation), (len, None));
    let out = with_cfg(
        GuardConfig {
            max_head_bytes: len - 1,
            header_timeout: None,
        },
        fits,
    );
    assert_eq!(
        (out.accepted, out.violation),
        (len - 1, Some(Violation::HeadTooLarge))
    );
    // A head without any LF is cut at the limit too.
    let out = with_cfg(cfg, &[b'a'; 1000]);
    assert_eq!(
        (out.accepted, out.violation),
        (64, Some(Violation::HeadTooLarge))
    );
    // The limit is per head, not per connection.
    let two = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let out = with_cfg(
        GuardConfig {
            max_head_bytes: 27,
            header_timeout: None,
        },
        two,
    );
    assert_eq!(
        (out.accepted, out.requests, out.violation),
        (two.len(), 2, None)
    );
    // Trailers have the same limit.
    let trailers = format!(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: {}\r\n\r\n",
        "b".repeat(80)
    );
    let out = with_cfg(cfg, trailers.as_bytes());
    assert_eq!(out.violation, Some(Violation::TrailersTooLarge));
    // Chunk-size lines have a fixed 4 KiB limit.
    let long_ext = format!(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;{}\r\nhello\r\n",
        "a".repeat(5000)
    );
    let out = assert_split_invariant(long_ext.as_bytes());
    assert_eq!(out.violation, Some(Violation::ChunkLineTooLong));
}

#[rustfmt::skip]
const VALID: &[(&str, &[u8], usize)] = &[
    ("pipelined GETs", b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nHEAD /c HTTP/1.1\r\nHost: a\r\n\r\n", 3),
    ("chunked with extensions and trailers", b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val;flag\r\nhello\r\n6 ; a = b ;q=\"quo\\\"ted; \\\\ str\"\r\n world\r\nA\r\n0123456789\r\n0;last\r\nX-Checksum: abc\r\nX-Other:\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 2),
    ("chunked case-insensitive, OWS", b"POST / HTTP/1.1\r\nTransfer-Encoding:  Chunked \t\r\n\r\n1\r\nx\r\n0\r\n\r\n", 1),
    ("chunk size hex and leading zeros", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0000000F\r\n0123456789abcde\r\na\r\n0123456789\r\n00\r\n\r\n", 1),
    ("CL body", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello\nworldGET / HTTP/1.1\r\n\r\n", 2),
    ("CL zero", b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 2),
    ("CL body with binary", b"PUT /x HTTP/1.1\r\nContent-Length:7\r\n\r\n\0\r\n\n\r\x01GET / HTTP/1.1\r\n\r\n", 2),
    ("HTTP/1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nPOST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.0\r\n\r\n", 3),
    ("leading empty lines", b"\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 2),
    ("expect 100-continue", b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", 1),
    ("values with tabs, obs-text, empty", b"GET / HTTP/1.1\r\nX-A:\tv\t1\r\nX-B: caf\xc3\xa9\r\nX-C:\r\nX-D:  \r\n\r\n", 1),
    ("absolute and asterisk targets", b"OPTIONS * HTTP/1.1\r\n\r\nGET http://a.example/x%20y HTTP/1.1\r\n\r\n", 2),
    ("Connection upgrade without Upgrade field", b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\nGET / HTTP/1.1\r\n\r\n", 2),
    ("HTTP/1.0 Upgrade is not an upgrade", b"GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\n\r\n", 2),
    ("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\x12\x04\0\0\0\0\0\n\r\n\n\r\0", 0),
];

#[test]
fn valid_inputs_are_accepted_whole_and_split() {
    for (name, input, requests) in VALID {
        let out = assert_split_invariant(input);
        assert_eq!(out.violation, None, "{name}");
        assert_eq!(out.accepted, input.len(), "{name}");
        assert_eq!(out.requests, *requests, "{name}");
    }
    assert!(whole(VALID.last().unwrap().1).passthrough);
}

#[test]
fn request_kinds() {
    let mut t = tracker();
    t.feed(b"HEAD / HTTP/1.1\r\n\r\nCONNECT a:443 HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(
        t.pop_request(),
        Some(RequestKind {
            is_head: true,
            is_connect: false,
            wants_upgrade: false
        })
    );
    assert_eq!(
        t.pop_request(),
        Some(RequestKind {
            is_head: false,
            is_connect: true,
            wants_upgrade: true
        })
    );
    assert_eq!(t.pop_request(), None);
}

#[test]
fn large_body_byte_by_byte() {
    let body = vec![b'\n'; 100_000];
    let mut input = b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n".to_vec();
    input.extend_from_slice(&body);
    input.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    let mut t = tracker();
    for b in input.chunks(1) {
        assert_eq!(t.feed(b), Ok(1));
    }
    // Chunked, 64 KiB chunks of CRLF-rich data, fed in 7-byte pieces.
    let mut chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(b"10000\r\n");
        chunked.extend(std::iter::repeat_n(*b"\r\n", 0x8000).flatten());
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let out = feed_chunks(&mut tracker(), chunked.chunks(7));
    assert_eq!(
        (out.accepted, out.violation, out.requests),
        (chunked.len(), None, 1)
    );
}

#[test]
fn upgrade_switched_then_arbitrary_bytes() {
    let head = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let mut input = head.to_vec();
    input.extend_from_slice(b"\x81\x05hello\n\0\r\rGET / HTTP/1.1\nContent-Length: 1\r\n");
    let mut t = tracker();
    assert_eq!(t.feed(&input), Ok(head.len()));
    assert!(t.is_waiting());
    assert_eq!(t.feed(&input[head.len()..]), Ok(0));
    assert_eq!(t.pop_request().map(|k| k.wants_upgrade), Some(true));
    t.resolve_upgrade(true);
    assert!(t.is_passthrough());
    assert_eq!(t.feed(&input[head.len()..]), Ok(input.len() - head.len()));
}

#[test]
fn upgrade_refused_keeps_inspecting() {
    let head = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
    let smuggled = b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx";
    let mut t = tracker();
    assert_eq!(t.feed(head), Ok(head.len()));
    assert_eq!(t.feed(smuggled), Ok(0));
    t.pop_request();
    t.resolve_upgrade(false);
    assert!(!t.is_waiting());
    let n = t.feed(smuggled).unwrap();
    assert!(n < smuggled.len());
    assert_eq!(t.violation(), Some(&Violation::DuplicateContentLength));
}

#[test]
fn connect_decided_before_body_end() {
    // A decision that arrives while the request body is still streaming
    // applies once the body ends.
    let mut t = tracker();
    let head = b"CONNECT a:443 HTTP/1.1\r\nContent-Length: 4\r\n\r\n";
    assert_eq!(t.feed(head), Ok(head.len()));
    t.pop_request();
    t.resolve_upgrade(true);
    assert_eq!(t.feed(b"ab"), Ok(2));
    assert!(!t.is_passthrough());
    assert_eq!(t.feed(b"cd\0\n\n"), Ok(5));
    assert!(t.is_passthrough());
}

#[test]
fn pipelining_backpressure() {
    let one = b"GET / HTTP/1.1\r\n\r\n";
    let many: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1100).collect();
    let mut t = tracker();
    let n = t.feed(&many).unwrap();
    assert_eq!(n, one.len() * 1024);
    assert!(t.is_waiting());
    t.pop_request();
    assert!(!t.is_waiting());
    assert_eq!(t.feed(&many[n..]), Ok(one.len()));
}

/// Pseudo-random valid streams (deterministic LCG), fed at random splits.
#[test]
fn random_valid_streams_split_invariant() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |m: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % m.max(1)
    };
    for _ in 0..200 {
        let mut s = Vec::new();
        let n = 1 + rnd(5);
        for _ in 0..n {
            match rnd(3) {
                0 => s.extend_from_slice(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
                1 => {
                    let len = rnd(300);
                    s.extend_from_slice(
                        format!("POST / HTTP/1.1\r\nContent-Length: {len}\r\n\r\n").as_bytes(),
                    );
                    s.extend((0..len).map(|_| rnd(256) as u8));
                }
                _ => {
                    s.extend_from_slice(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
                    for _ in 0..rnd(4) {
                        let len = 1 + rnd(100);
                        s.extend_from_slice(format!("{len:x};e=\"v\"\r\n").as_bytes());
                        s.extend((0..len).map(|_| rnd(256) as u8));
                        s.extend_from_slice(b"\r\n");
                    }
                    s.extend_from_slice(b"0\r\nT: v\r\n\r\n");
                }
            }
        }
        let expect = whole(&s);
        assert_eq!(
            (expect.accepted, expect.violation, expect.requests),
            (s.len(), None, n)
        );
        let mut pieces = Vec::new();
        let mut rest = &s[..];
        while !rest.is_empty() {
            let (a, b) = rest.split_at(rnd(rest.len().min(40)) + 1);
            pieces.push(a);
            rest = b;
        }
        assert_eq!(feed_chunks(&mut tracker(), pieces), expect);
    }
}
