//! Follows the responses the server writes, just enough to find response
//! boundaries: it tells the request tracker which requests were answered and
//! whether a possible upgrade really switched protocols. The server (hyper)
//! is trusted to write well-formed responses; anything unexpected makes the
//! tracker give up (`Lost`), which only ever disables pass-through.

use memchr::memchr;

use super::{FramingTracker, RequestKind, trim_ows};

const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RState {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd(u8),
    Trailers,
    /// Close-delimited body: no further response can follow.
    UntilClose,
    /// The connection became a tunnel (or the server switched without
    /// anyone asking): nothing more to follow.
    Done,
    /// Unparseable output; stop following.
    Lost,
}

#[derive(Debug)]
pub(crate) struct ResponseTracker {
    state: RState,
    line: Vec<u8>,
    /// Inside a response head (status line seen or partially seen).
    in_head: bool,
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
}

impl ResponseTracker {
    pub(crate) fn new() -> Self {
        Self {
            state: RState::Head,
            line: Vec::new(),
            in_head: false,
            status: 0,
            content_length: None,
            chunked: false,
        }
    }

    /// Between responses.
    pub(crate) fn is_idle(&self) -> bool {
        self.state == RState::Head && !self.in_head
    }

    /// No longer following responses (tunnel, close-delimited or lost).
    pub(crate) fn is_finished(&self) -> bool {
        matches!(self.state, RState::Done | RState::Lost | RState::UntilClose)
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.state == RState::Lost
    }

    /// Feed bytes the server successfully wrote.
    pub(crate) fn feed(&mut self, mut data: &[u8], reqs: &mut FramingTracker) {
        while !data.is_empty() {
            let n = match self.state {
                RState::Head | RState::ChunkSize | RState::Trailers => self.step_line(data, reqs),
                RState::Body(rem) | RState::ChunkData(rem) => {
                    let n = usize::try_from(rem).map_or(data.len(), |r| r.min(data.len()));
                    let left = rem.saturating_sub(n as u64);
                    self.state = match (self.state, left) {
                        (RState::Body(_), 0) => RState::Head,
                        (RState::Body(_), l) => RState::Body(l),
                        (_, 0) => RState::ChunkEnd(0),
                        (_, l) => RState::ChunkData(l),
                    };
                    n
                }
                RState::ChunkEnd(seen) => {
                    let expect = if seen == 0 { b'\r' } else { b'\n' };
                    if data.first() != Some(&expect) {
                        self.lose(reqs);
                        return;
                    }
                    self.state = if seen == 0 {
                        RState::ChunkEnd(1)
                    } else {
                        RState::ChunkSize
                    };
                    1
                }
                RState::UntilClose | RState::Done | RState::Lost => return,
            };
            data = data.get(n..).unwrap_or_default();
        }
    }

    fn lose(&mut self, reqs: &mut FramingTracker) {
        self.state = RState::Lost;
        reqs.clear_outstanding();
    }

    fn step_line(&mut self, data: &[u8], reqs: &mut FramingTracker) -> usize {
        if self.state == RState::Head {
            self.in_head = true;
        }
        let Some(lf) = memchr(b'\n', data) else {
            if self.line.len().saturating_add(data.len()) > MAX_LINE {
                self.lose(reqs);
            } else {
                self.line.extend_from_slice(data);
            }
            return data.len();
        };
        let seg = data.get(..lf).unwrap_or_default();
        let ok = if self.line.is_empty() {
            self.on_line(seg, reqs)
        } else {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(seg);
            let ok = self.on_line(&line, reqs);
            line.clear();
            self.line = line;
            ok
        };
        if !ok {
            self.lose(reqs);
        }
        lf + 1
    }

    fn on_line(&mut self, line: &[u8], reqs: &mut FramingTracker) -> bool {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match self.state {
            RState::ChunkSize => {
                let hex = line.split(|&b| b == b';').next().unwrap_or_default();
                let size = trim_ows(hex).iter().try_fold(0u64, |acc, &d| {
                    let v = char::from(d).to_digit(16)?;
                    acc.checked_mul(16)?.checked_add(u64::from(v))
                });
                match size {
                    Some(0) if !hex.is_empty() => self.state = RState::Trailers,
                    Some(n) if !hex.is_empty() => self.state = RState::ChunkData(n),
                    _ => return false,
                }
                true
            }
            RState::Trailers => {
                if line.is_empty() {
                    self.state = RState::Head;
                }
                true
            }
            _ if self.status == 0 => self.status_line(line),
            _ if line.is_empty() => {
                self.head_done(reqs);
                true
            }
            _ => self.field(line),
        }
    }

    fn status_line(&mut self, line: &[u8]) -> bool {
        // "HTTP/1.x SSS[ reason]"
        let code = line.get(9..12).unwrap_or_default();
        let shape = line.starts_with(b"HTTP/1.")
            && line.get(8) == Some(&b' ')
            && code.len() == 3
            && code.iter().all(u8::is_ascii_digit)
            && matches!(line.get(12), None | Some(b' '));
        if !shape {
            return false;
        }
        self.status = code
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
        true
    }

    fn field(&mut self, line: &[u8]) -> bool {
        // Only Content-Length / Transfer-Encoding matter.
        if !matches!(line.first(), Some(b'c' | b'C' | b't' | b'T')) {
            return true;
        }
        let Some(colon) = memchr(b':', line) else {
            return false;
        };
        let name = line.get(..colon).unwrap_or_default();
        let value = trim_ows(line.get(colon + 1..).unwrap_or_default());
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = value.iter().try_fold(0u64, |acc, &d| {
                if !d.is_ascii_digit() {
                    return None;
                }
                acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            });
            match n {
                Some(n) if !value.is_empty() => self.content_length = Some(n),
                _ => return false,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            self.chunked = trim_ows(last).eq_ignore_ascii_case(b"chunked");
        }
        true
    }

    fn head_done(&mut self, reqs: &mut FramingTracker) {
        let status = self.status;
        let (cl, chunked) = (self.content_length, self.chunked);
        self.status = 0;
        self.content_length = None;
        self.chunked = false;
        self.in_head = false;
        if (100..200).contains(&status) && status != 101 {
            return; // informational (100 Continue): the final response follows
        }
        let kind: RequestKind = reqs.pop_request().unwrap_or_default();
        if kind.wants_upgrade {
            let switched = status == 101 || (kind.is_connect && (200..300).contains(&status));
            reqs.resolve_upgrade(switched);
            if switched {
                self.state = RState::Done;
                return;
            }
        }
        self.state = if status == 101 {
            RState::Done
        } else if kind.is_head || status == 204 || status == 304 {
            RState::Head
        } else if chunked {
            RState::ChunkSize
        } else {
            match cl {
                Some(0) => RState::Head,
                Some(n) => RState::Body(n),
                None => RState::UntilClose,
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1_guard::GuardConfig;

    fn setup(requests: &[u8]) -> (FramingTracker, ResponseTracker) {
        let mut t = FramingTracker::new(GuardConfig::default());
        let n = t.feed(requests).unwrap_or(0);
        assert_eq!(n, requests.len());
        (t, ResponseTracker::new())
    }

    #[test]
    fn counts_responses_of_every_framing() {
        let (mut t, mut r) = setup(
            b"GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\nGET /4 HTTP/1.1\r\n\r\nGET /ws HTTP/1.1\r\nUpgrade: x\r\n\r\n",
        );
        assert_eq!(t.outstanding(), 5);
        assert!(t.is_waiting());
        let out: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello\
HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n\
HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nHTTP/\r\n0\r\nx: y\r\n\r\n\
HTTP/1.1 304 Not Modified\r\ncontent-length: 7\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\nraw";
        // Byte by byte: boundaries do not depend on write sizes.
        let switch_at = out.len() - 3; // "raw" follows the 101 head
        for (i, b) in out.chunks(1).enumerate() {
            assert_eq!(t.is_waiting(), i < switch_at, "at {i}");
            r.feed(b, &mut t);
        }
        assert!(t.is_passthrough());
        assert_eq!(t.outstanding(), 0);
        assert!(r.is_finished() && !r.is_lost());
    }

    #[test]
    fn refused_upgrade_resumes_inspection() {
        let (mut t, mut r) = setup(b"GET /ws HTTP/1.1\r\nUpgrade: x\r\n\r\n");
        assert!(t.is_waiting());
        r.feed(
            b"HTTP/1.1 426 Upgrade Required\r\ncontent-length: 0\r\n\r\n",
            &mut t,
        );
        assert!(!t.is_waiting() && !t.is_passthrough());
        assert!(r.is_idle());
    }

    #[test]
    fn connect_needs_2xx() {
        let (mut t, mut r) = setup(b"CONNECT a:1 HTTP/1.1\r\n\r\n");
        r.feed(b"HTTP/1.1 200 OK\r\n\r\n", &mut t);
        assert!(t.is_passthrough());
        let (mut t, mut r) = setup(b"CONNECT a:1 HTTP/1.1\r\n\r\n");
        r.feed(
            b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n",
            &mut t,
        );
        assert!(!t.is_passthrough() && !t.is_waiting());
    }

    #[test]
    fn garbage_output_is_lost_not_passthrough() {
        let (mut t, mut r) = setup(b"GET / HTTP/1.1\r\n\r\n");
        r.feed(b"SSH-2.0-nope\r\n", &mut t);
        assert!(r.is_lost() && r.is_finished());
        assert_eq!(t.outstanding(), 0);
        assert!(!t.is_passthrough());
    }
}
