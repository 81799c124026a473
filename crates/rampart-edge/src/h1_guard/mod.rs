//! Strict HTTP/1 request framing guard (anti request-smuggling, RFC 9112).
//!
//! hyper's HTTP/1 server is lenient in ways that cannot be configured (bare LF
//! line endings, duplicate identical `Content-Length`, `Transfer-Encoding`
//! silently overriding `Content-Length`, ...). [`GuardedIo`] is an IO wrapper
//! placed *below* hyper: it runs a shadow parser ([`FramingTracker`]) over every
//! byte the client sends, hands hyper only bytes that were validated, and when
//! it finds a framing violation it answers with the configured reject response
//! itself and closes the connection.
//!
//! The request parser is sans-IO so it can be unit-tested and fuzzed on its
//! own. A second, much smaller parser follows hyper's *responses* so the guard
//! knows when an `Upgrade`/`CONNECT` request really switched the connection to
//! a tunnel (101 / 2xx) and when it did not (in which case hyper keeps reading
//! HTTP/1 requests, which must therefore stay guarded).

mod io;
mod response;
mod syntax;
mod tracker;

use std::sync::Arc;

use bytes::Bytes;

pub use io::GuardedIo;
pub use tracker::{FramingTracker, RequestKind};

/// Configuration of the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardConfig {
    /// Largest accepted request head (request line + header fields + the
    /// final empty line), and largest accepted trailer section.
    pub max_head_bytes: usize,
    /// A request head must arrive completely within this time from its first
    /// byte (slowloris defence). The wait for the next request on an idle
    /// keep-alive connection is not counted. `None` disables the check.
    pub header_timeout: Option<std::time::Duration>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_head_bytes: 64 * 1024,
            header_timeout: None,
        }
    }
}

/// A framing violation found in the client's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    #[error("bare LF line terminator")]
    BareLf,
    #[error("bare CR in request head")]
    BareCr,
    #[error("obsolete line folding")]
    ObsFold,
    #[error("NUL byte in request head")]
    NulInHead,
    #[error("control character in header field value")]
    InvalidHeaderValue,
    #[error("whitespace between header field name and colon")]
    WhitespaceBeforeColon,
    #[error("invalid header field name")]
    InvalidHeaderName,
    #[error("both Content-Length and Transfer-Encoding")]
    ContentLengthWithTransferEncoding,
    #[error("multiple Content-Length values")]
    DuplicateContentLength,
    #[error("invalid Content-Length")]
    InvalidContentLength,
    #[error("unsupported Transfer-Encoding")]
    UnsupportedTransferEncoding,
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    TransferEncodingInHttp10,
    #[error("invalid chunk size")]
    InvalidChunkSize,
    #[error("invalid chunk extension")]
    InvalidChunkExtension,
    #[error("chunk size line too long")]
    ChunkLineTooLong,
    #[error("chunk data not followed by CRLF")]
    InvalidChunkTerminator,
    #[error("request head too large")]
    HeadTooLarge,
    #[error("trailer section too large")]
    TrailersTooLarge,
    #[error("invalid request line")]
    InvalidRequestLine,
    #[error("too many empty lines before the request line")]
    TooManyEmptyLines,
    #[error("request head not received in time")]
    HeaderTimeout,
}

impl Violation {
    /// The HTTP status code the guard's response should carry.
    pub fn status(&self) -> u16 {
        match self {
            Violation::HeadTooLarge | Violation::TrailersTooLarge => 431,
            Violation::HeaderTimeout => 408,
            _ => 400,
        }
    }
}

/// Builds the complete raw HTTP/1.1 response sent on a violation. The guard
/// makes sure it carries `Connection: close` (see [`ensure_connection_close`]).
pub type RejectResponder = Arc<dyn Fn(&Violation) -> Bytes + Send + Sync>;

/// A plain responder: `400 Bad Request` / `431 ...` with a short text body.
pub fn default_responder() -> RejectResponder {
    Arc::new(|v: &Violation| {
        let (status, reason) = match v.status() {
            431 => (431, "Request Header Fields Too Large"),
            _ => (400, "Bad Request"),
        };
        let body = format!("{v}\n");
        Bytes::from(format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    })
}

/// Returns `resp` with every `Connection` header field removed and a single
/// `Connection: close` inserted after the status line. Input without a
/// recognisable head (no CRLF CRLF) is returned unchanged.
pub fn ensure_connection_close(resp: Bytes) -> Bytes {
    let Some(head_end) = memchr::memmem::find(&resp, b"\r\n\r\n") else {
        return resp;
    };
    let Some(status_end) = memchr::memmem::find(&resp, b"\r\n") else {
        return resp;
    };
    let head = resp.get(..head_end).unwrap_or_default();
    let mut lines = head.split(|&b| b == b'\n').skip(1);
    let only_close = {
        let mut conn = lines
            .by_ref()
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| is_field(l, b"connection"));
        matches!((conn.next(), conn.next()), (Some(l), None) if field_value(l).eq_ignore_ascii_case(b"close"))
    };
    if only_close {
        return resp;
    }
    let mut out = Vec::with_capacity(resp.len() + 19);
    out.extend_from_slice(resp.get(..status_end + 2).unwrap_or_default());
    out.extend_from_slice(b"Connection: close\r\n");
    let fields = head.get(status_end + 2..).unwrap_or_default();
    for line in fields.split(|&b| b == b'\n') {
        let bare = line.strip_suffix(b"\r").unwrap_or(line);
        if bare.is_empty() || is_field(bare, b"connection") {
            continue;
        }
        out.extend_from_slice(bare);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(resp.get(head_end + 2..).unwrap_or_default());
    Bytes::from(out)
}

fn is_field(line: &[u8], name: &[u8]) -> bool {
    line.get(..name.len())
        .is_some_and(|n| n.eq_ignore_ascii_case(name))
        && line.get(name.len()) == Some(&b':')
}

fn field_value(line: &[u8]) -> &[u8] {
    let v = line
        .iter()
        .position(|&b| b == b':')
        .and_then(|i| line.get(i + 1..))
        .unwrap_or_default();
    trim_ows(v)
}

/// Trims optional whitespace (SP / HTAB) on both sides.
pub(crate) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// `tchar` of RFC 9110 §5.6.2 (built at compile time).
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

#[inline(always)]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR.get(usize::from(b)).copied().unwrap_or(false)
}

#[inline]
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_close_inserted_and_replaced() {
        let r = ensure_connection_close(Bytes::from_static(
            b"HTTP/1.1 400 Bad Request\r\nconnection: keep-alive\r\nX: y\r\n\r\nbody",
        ));
        assert_eq!(
            &r[..],
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nX: y\r\n\r\nbody"
        );
        let ok = Bytes::from_static(b"HTTP/1.1 400 X\r\nConnection:  close \r\n\r\n");
        assert_eq!(ensure_connection_close(ok.clone()), ok);
        let none = ensure_connection_close(Bytes::from_static(b"HTTP/1.1 400 X\r\n\r\n"));
        assert_eq!(&none[..], b"HTTP/1.1 400 X\r\nConnection: close\r\n\r\n");
        let garbage = Bytes::from_static(b"nope");
        assert_eq!(ensure_connection_close(garbage.clone()), garbage);
    }

    #[test]
    fn default_responder_is_close() {
        let r = default_responder()(&Violation::HeadTooLarge);
        assert!(r.starts_with(b"HTTP/1.1 431 "));
        assert_eq!(ensure_connection_close(r.clone()), r);
    }
}
