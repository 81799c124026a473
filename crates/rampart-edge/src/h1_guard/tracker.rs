//! Sans-IO HTTP/1 request framing tracker.

use std::collections::VecDeque;

use memchr::memchr;

use super::syntax::{classify_field_error, field_value_ok, valid_chunk_ext};
use super::{GuardConfig, Violation, is_tchar, is_token, trim_ows};

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Position of the LF ending the preface's "request line".
const PREFACE_LINE_END: usize = 15;
/// RFC 9112 §2.2: tolerate "at least one" empty line before the request line.
const MAX_LEADING_EMPTY_LINES: u8 = 4;
/// Upper bound of a chunk-size line (size + extensions).
const MAX_CHUNK_LINE: usize = 4096;
/// Requests whose response has not been seen yet; the tracker pauses at the
/// next message boundary beyond this (backpressure, bounded memory).
const MAX_OUTSTANDING: usize = 1024;

/// What the response side needs to know about a request whose head was
/// accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestKind {
    /// `HEAD` request: the response has no body.
    pub is_head: bool,
    /// `CONNECT` request: a 2xx response turns the connection into a tunnel.
    pub is_connect: bool,
    /// The request may switch protocols (CONNECT, or HTTP/1.1 with an
    /// `Upgrade` field — the same rule hyper applies).
    pub wants_upgrade: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Start of the connection, matching the HTTP/2 preface.
    Preface {
        matched: usize,
    },
    Head,
    Body {
        remaining: u64,
    },
    ChunkSize,
    ChunkData {
        remaining: u64,
    },
    ChunkDataEnd {
        seen_cr: bool,
    },
    Trailers,
    /// A possible upgrade's message is complete; the bytes after it are
    /// either a tunnel or the next request, depending on the response.
    AwaitUpgrade,
    PassThrough,
}

#[derive(Debug, Default, Clone, Copy)]
struct Request {
    http10: bool,
    kind: RequestKind,
    content_length: Option<u64>,
    chunked: bool,
}

struct Fail {
    at: usize,
    violation: Violation,
}

fn fail<T>(at: usize, violation: Violation) -> Result<T, Fail> {
    Err(Fail { at, violation })
}

/// Incremental validator of the client→server byte stream of one HTTP/1
/// connection.
///
/// [`feed`](Self::feed) returns how many leading bytes of its input are
/// valid and may be handed to the HTTP server. Fewer than all bytes are
/// accepted when a violation starts at that offset (then
/// [`violation`](Self::violation) is set and every later call returns
/// `Err`), or when the tracker must wait ([`is_waiting`](Self::is_waiting))
/// for the response to a possible upgrade or for responses to drain.
///
/// Violations are reported at a deterministic offset: for everything found
/// in a line, the offset of the line's LF (so the head/chunk line is never
/// completed for the server); for size limits, the first byte over the limit;
/// for chunk terminators, the offending byte. Splitting the input differently
/// never changes the outcome.
#[derive(Debug)]
pub struct FramingTracker {
    state: State,
    max_head: usize,
    /// Partial line carried over between `feed` calls (reused allocation).
    line: Vec<u8>,
    /// Bytes of the current head / trailer section / chunk line so far.
    section_len: usize,
    leading_empty: u8,
    got_request_line: bool,
    req: Request,
    /// Upgrade decision that arrived before the message ended.
    early_decision: Option<bool>,
    /// Accepted request heads whose response has not been seen.
    requests: VecDeque<RequestKind>,
    violation: Option<Violation>,
}

impl FramingTracker {
    pub fn new(cfg: GuardConfig) -> Self {
        Self {
            state: State::Preface { matched: 0 },
            max_head: cfg.max_head_bytes,
            line: Vec::new(),
            section_len: 0,
            leading_empty: 0,
            got_request_line: false,
            req: Request::default(),
            early_decision: None,
            requests: VecDeque::new(),
            violation: None,
        }
    }

    /// The violation found, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    /// Inspection stopped (HTTP/2 preface, or a confirmed tunnel).
    pub fn is_passthrough(&self) -> bool {
        self.state == State::PassThrough
    }

    /// The tracker accepts no more bytes until [`resolve_upgrade`] is called
    /// or [`pop_request`] drains the outstanding queue.
    ///
    /// [`resolve_upgrade`]: Self::resolve_upgrade
    /// [`pop_request`]: Self::pop_request
    pub fn is_waiting(&self) -> bool {
        self.violation.is_none()
            && (self.state == State::AwaitUpgrade
                || (self.at_message_boundary() && self.requests.len() >= MAX_OUTSTANDING))
    }

    /// Between messages (no byte of the next request head seen yet).
    fn at_message_boundary(&self) -> bool {
        self.state == State::Head && self.section_len == 0 && !self.got_request_line
    }

    /// Some bytes of the next request head arrived, but not all of it.
    pub fn head_started(&self) -> bool {
        self.violation.is_none() && self.state == State::Head && !self.at_message_boundary()
    }

    /// The current position is inside a request head that was not yet
    /// handed over complete (so no response for it is pending).
    pub fn in_request_head(&self) -> bool {
        matches!(self.state, State::Head | State::Preface { .. })
    }

    /// Oldest accepted request whose response has not been seen yet.
    pub fn pop_request(&mut self) -> Option<RequestKind> {
        self.requests.pop_front()
    }

    /// Number of accepted requests awaiting a response.
    pub fn outstanding(&self) -> usize {
        self.requests.len()
    }

    /// Forget all outstanding requests (the response side lost track).
    pub fn clear_outstanding(&mut self) {
        self.requests.clear();
    }

    /// Decision for the latest request that [`RequestKind::wants_upgrade`]:
    /// `true` when the response switched protocols (101, or 2xx to CONNECT),
    /// after which the tracker passes everything through.
    pub fn resolve_upgrade(&mut self, switched: bool) {
        if self.state == State::AwaitUpgrade {
            self.state = if switched {
                State::PassThrough
            } else {
                State::Head
            };
        } else if self.req.kind.wants_upgrade && !self.in_request_head() {
            self.early_decision = Some(switched);
        }
    }

    /// Validate the next bytes of the stream; see the type docs.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, Violation> {
        if let Some(v) = self.violation {
            return Err(v);
        }
        let mut pos = 0usize;
        while let Some(rest) = input.get(pos..).filter(|r| !r.is_empty()) {
            let before = self.state;
            match self.step(rest) {
                Ok(0) if self.state == before => break,
                Ok(n) => pos = pos.saturating_add(n),
                Err(Fail { at, violation }) => {
                    pos = pos.saturating_add(at);
                    self.violation = Some(violation);
                    break;
                }
            }
        }
        match self.violation {
            Some(v) if pos == 0 => Err(v),
            _ => Ok(pos),
        }
    }

    fn step(&mut self, rest: &[u8]) -> Result<usize, Fail> {
        match self.state {
            State::Preface { matched } => Ok(self.step_preface(rest, matched)),
            State::Head if self.at_message_boundary() && self.requests.len() >= MAX_OUTSTANDING => {
                Ok(0)
            }
            State::Head | State::Trailers | State::ChunkSize => self.step_line(rest),
            State::Body { remaining } => {
                let n = take_len(remaining, rest.len());
                match remaining.saturating_sub(n as u64) {
                    0 => self.end_message(),
                    r => self.state = State::Body { remaining: r },
                }
                Ok(n)
            }
            State::ChunkData { remaining } => {
                let n = take_len(remaining, rest.len());
                self.state = match remaining.saturating_sub(n as u64) {
                    0 => State::ChunkDataEnd { seen_cr: false },
                    r => State::ChunkData { remaining: r },
                };
                Ok(n)
            }
            State::ChunkDataEnd { seen_cr } => match (seen_cr, rest.first()) {
                (false, Some(b'\r')) => {
                    self.state = State::ChunkDataEnd { seen_cr: true };
                    Ok(1)
                }
                (true, Some(b'\n')) => {
                    self.state = State::ChunkSize;
                    self.section_len = 0;
                    Ok(1)
                }
                _ => fail(0, Violation::InvalidChunkTerminator),
            },
            State::AwaitUpgrade => Ok(0),
            State::PassThrough => Ok(rest.len()),
        }
    }

    fn step_preface(&mut self, rest: &[u8], matched: usize) -> usize {
        let want = H2_PREFACE.get(matched..).unwrap_or_default();
        let common = rest.iter().zip(want).take_while(|(a, b)| a == b).count();
        let total = matched.saturating_add(common);
        if total >= H2_PREFACE.len() {
            self.state = State::PassThrough;
        } else if common == rest.len() {
            self.state = State::Preface { matched: total };
        } else {
            // Not HTTP/2: replay what matched as the start of an HTTP/1 head.
            // Past the preface's first line that line ("PRI * HTTP/2.0") has
            // been completed, which the head parser rejects.
            self.state = State::Head;
            let seen = H2_PREFACE.get(..total).unwrap_or_default();
            if total <= PREFACE_LINE_END {
                self.line.extend_from_slice(seen);
                self.section_len = total;
            } else {
                for line in seen.split_inclusive(|&b| b == b'\n') {
                    let _ = self.step_line(line);
                }
            }
        }
        common
    }

    /// Line-oriented states. Consecutive header lines are handled in one
    /// call (the hot path).
    fn step_line(&mut self, rest: &[u8]) -> Result<usize, Fail> {
        let mut done = 0usize;
        loop {
            let part = rest.get(done..).unwrap_or_default();
            let n = self.one_line(part).map_err(|f| Fail {
                at: f.at.saturating_add(done),
                violation: f.violation,
            })?;
            done = done.saturating_add(n);
            let in_fields = self.state == State::Head && self.got_request_line;
            if !in_fields || done >= rest.len() || !self.line.is_empty() {
                return Ok(done);
            }
        }
    }

    /// Find the LF, validate the complete line (or buffer a partial one).
    fn one_line(&mut self, rest: &[u8]) -> Result<usize, Fail> {
        if let Some(v) = self.violation {
            return fail(0, v);
        }
        let (limit, too_large) = match self.state {
            State::ChunkSize => (MAX_CHUNK_LINE, Violation::ChunkLineTooLong),
            State::Trailers => (self.max_head, Violation::TrailersTooLarge),
            _ => (self.max_head, Violation::HeadTooLarge),
        };
        let room = limit.saturating_sub(self.section_len);
        let Some(lf) = memchr(b'\n', rest) else {
            if rest.len() > room {
                return fail(room, too_large);
            }
            self.section_len = self.section_len.saturating_add(rest.len());
            self.line.extend_from_slice(rest);
            return Ok(rest.len());
        };
        if lf >= room {
            return fail(room, too_large);
        }
        self.section_len = self.section_len.saturating_add(lf + 1);
        let seg = rest.get(..lf).unwrap_or_default();
        let res = if self.line.is_empty() {
            self.on_line(seg)
        } else {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(seg);
            let res = self.on_line(&line);
            line.clear();
            self.line = line;
            res
        };
        match res {
            Ok(()) => Ok(lf + 1),
            Err(violation) => {
                self.violation = Some(violation);
                fail(lf, violation)
            }
        }
    }

    /// A complete line without its LF.
    fn on_line(&mut self, line: &[u8]) -> Result<(), Violation> {
        let Some((b'\r', content)) = line.split_last() else {
            return Err(Violation::BareLf);
        };
        match self.state {
            State::ChunkSize => {
                if memchr(b'\r', content).is_some() {
                    return Err(Violation::BareCr);
                }
                self.chunk_size_line(content)
            }
            State::Trailers if content.is_empty() => {
                self.end_message();
                Ok(())
            }
            State::Trailers => self.field_line(content, true),
            _ => self.head_line(content),
        }
    }

    fn head_line(&mut self, content: &[u8]) -> Result<(), Violation> {
        if content.is_empty() {
            if self.got_request_line {
                return self.finish_head();
            }
            self.leading_empty = self.leading_empty.saturating_add(1);
            if self.leading_empty > MAX_LEADING_EMPTY_LINES {
                return Err(Violation::TooManyEmptyLines);
            }
            return Ok(());
        }
        if self.got_request_line {
            self.field_line(content, false)
        } else {
            if memchr(b'\r', content).is_some() {
                return Err(Violation::BareCr);
            }
            if memchr(0, content).is_some() {
                return Err(Violation::NulInHead);
            }
            self.request_line(content)?;
            self.got_request_line = true;
            Ok(())
        }
    }

    fn request_line(&mut self, line: &[u8]) -> Result<(), Violation> {
        let mut parts = line.splitn(3, |&b| b == b' ');
        let (Some(method), Some(target), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(Violation::InvalidRequestLine);
        };
        let target_ok = !target.is_empty() && target.iter().all(|&b| b > b' ' && b != 0x7f);
        let http10 = match version {
            b"HTTP/1.1" => false,
            b"HTTP/1.0" => true,
            _ => return Err(Violation::InvalidRequestLine),
        };
        if !is_token(method) || !target_ok {
            return Err(Violation::InvalidRequestLine);
        }
        let is_connect = method == b"CONNECT";
        self.req = Request {
            http10,
            kind: RequestKind {
                is_head: method == b"HEAD",
                is_connect,
                wants_upgrade: is_connect,
            },
            content_length: None,
            chunked: false,
        };
        Ok(())
    }

    /// A header (or trailer) field line; `content` is non-empty.
    fn field_line(&mut self, content: &[u8], trailer: bool) -> Result<(), Violation> {
        // Hot path, one pass: `token ":" clean-value`.
        let name_len = content.iter().take_while(|&&b| is_tchar(b)).count();
        let (Some(name), Some(b':'), Some(value)) = (
            content.get(..name_len),
            content.get(name_len),
            content.get(name_len + 1..),
        ) else {
            return Err(classify_field_error(content));
        };
        if name.is_empty() || !field_value_ok(value) {
            return Err(classify_field_error(content));
        }
        if trailer {
            return Ok(());
        }
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                self.content_length(trim_ows(value))
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                self.transfer_encoding(trim_ows(value))
            }
            7 if name.eq_ignore_ascii_case(b"upgrade") => {
                if !self.req.http10 {
                    self.req.kind.wants_upgrade = true;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn content_length(&mut self, value: &[u8]) -> Result<(), Violation> {
        if self.req.content_length.is_some() || memchr(b',', value).is_some() {
            return Err(Violation::DuplicateContentLength);
        }
        if self.req.chunked {
            return Err(Violation::ContentLengthWithTransferEncoding);
        }
        if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
            return Err(Violation::InvalidContentLength);
        }
        let n = value.iter().try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        self.req.content_length = Some(n.ok_or(Violation::InvalidContentLength)?);
        Ok(())
    }

    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), Violation> {
        if self.req.http10 {
            return Err(Violation::TransferEncodingInHttp10);
        }
        if self.req.content_length.is_some() {
            return Err(Violation::ContentLengthWithTransferEncoding);
        }
        for coding in value.split(|&b| b == b',') {
            // Exactly one coding overall, and it must be `chunked`.
            if self.req.chunked || !trim_ows(coding).eq_ignore_ascii_case(b"chunked") {
                return Err(Violation::UnsupportedTransferEncoding);
            }
            self.req.chunked = true;
        }
        Ok(())
    }

    fn finish_head(&mut self) -> Result<(), Violation> {
        self.got_request_line = false;
        self.leading_empty = 0;
        self.section_len = 0;
        self.early_decision = None;
        self.requests.push_back(self.req.kind);
        if self.req.chunked {
            self.state = State::ChunkSize;
        } else {
            match self.req.content_length {
                Some(n) if n > 0 => self.state = State::Body { remaining: n },
                _ => self.end_message(),
            }
        }
        Ok(())
    }

    fn end_message(&mut self) {
        self.section_len = 0;
        self.state = if !self.req.kind.wants_upgrade {
            State::Head
        } else {
            match self.early_decision.take() {
                Some(true) => State::PassThrough,
                Some(false) => State::Head,
                None => State::AwaitUpgrade,
            }
        };
        self.req = Request::default();
    }

    /// `chunk-size [ chunk-ext ]` (CR and LF already stripped).
    fn chunk_size_line(&mut self, line: &[u8]) -> Result<(), Violation> {
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 || digits > 16 {
            return Err(Violation::InvalidChunkSize);
        }
        let size = line.iter().take(digits).try_fold(0u64, |acc, &d| {
            let v = char::from(d).to_digit(16)?;
            acc.checked_mul(16)?.checked_add(u64::from(v))
        });
        let size = size.ok_or(Violation::InvalidChunkSize)?;
        let ext = line.get(digits..).unwrap_or_default();
        if !valid_chunk_ext(ext) {
            return Err(match ext.first() {
                Some(b';' | b' ' | b'\t') => Violation::InvalidChunkExtension,
                _ => Violation::InvalidChunkSize,
            });
        }
        self.section_len = 0;
        self.state = if size == 0 {
            State::Trailers
        } else {
            State::ChunkData { remaining: size }
        };
        Ok(())
    }
}

fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}
