//! Reading the request bytes back as an HTTP/1.1 server would, before the
//! WAF sees anything. Rampart's edge is hyper-based, so [`Strictness::Hyper`]
//! rejects what hyper (httparse plus the `http` crate's URI parser) rejects,
//! with the status hyper answers; such requests never reach the WAF in
//! production either. [`Strictness::Lenient`] only refuses what cannot be
//! framed at all, to measure the engine on everything the suite sends.

/// What the server made of the bytes (before any WAF processing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    pub method: String,
    /// The request-target exactly as sent (fragment included).
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// The server answered by itself; the WAF never ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strictness {
    #[default]
    Hyper,
    Lenient,
}

/// hyper's default limit on the number of request headers.
const MAX_HEADERS: usize = 100;

fn reject(status: u16, reason: impl Into<String>) -> Rejection {
    Rejection {
        status,
        reason: reason.into(),
    }
}

/// One line ending in LF (a CR before it removed), and where the next
/// starts; `None` when no LF is left (the server would keep waiting).
fn take_line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let nl = memchr::memchr(b'\n', rest)?;
    let line = rest.get(..nl)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, pos + nl + 1))
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub fn parse_request(raw: &[u8], strictness: Strictness) -> Result<ParsedRequest, Rejection> {
    let incomplete = || {
        reject(
            408,
            "incomplete request head (a server would wait until it times out)",
        )
    };
    let mut pos = 0;
    // Servers skip empty lines before the request line (RFC 9112 §2.2).
    let (request_line, next) = loop {
        let (line, next) = take_line(raw, pos).ok_or_else(incomplete)?;
        if !line.is_empty() {
            break (line, next);
        }
        pos = next;
    };
    pos = next;
    let (method, target, version) = split_request_line(request_line, strictness)?;

    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        let (line, next) = take_line(raw, pos).ok_or_else(incomplete)?;
        pos = next;
        if line.is_empty() {
            break;
        }
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            match strictness {
                Strictness::Hyper => return Err(reject(400, "obsolete header line folding")),
                Strictness::Lenient => {
                    if let Some((_, value)) = headers.last_mut() {
                        value.push(b' ');
                        value.extend_from_slice(trim_ows(line));
                        continue;
                    }
                    return Err(reject(400, "folded line before any header"));
                }
            }
        }
        headers.push(parse_header(line, strictness)?);
        if strictness == Strictness::Hyper && headers.len() > MAX_HEADERS {
            return Err(reject(431, "more than 100 request headers"));
        }
    }
    let rest = raw.get(pos..).unwrap_or_default();
    let body = read_body(&mut headers, &version, rest, strictness)?;
    Ok(ParsedRequest {
        method,
        target,
        version,
        headers,
        body,
    })
}

fn split_request_line(
    line: &[u8],
    strictness: Strictness,
) -> Result<(String, String, String), Rejection> {
    let bad = |why: &str| reject(400, format!("invalid request line: {why}"));
    match strictness {
        Strictness::Hyper => {
            let sp = memchr::memchr(b' ', line).ok_or_else(|| bad("no space"))?;
            let method = line.get(..sp).unwrap_or_default();
            if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
                return Err(bad("method is not a token"));
            }
            let rest = line.get(sp + 1..).unwrap_or_default();
            let sp2 = memchr::memchr(b' ', rest).ok_or_else(|| bad("no version"))?;
            let target = rest.get(..sp2).unwrap_or_default();
            if target.is_empty() {
                return Err(bad("empty request-target"));
            }
            if target.iter().any(|&b| b <= 0x20 || b == 0x7f) {
                return Err(bad("control character in the request-target"));
            }
            let version = rest.get(sp2 + 1..).unwrap_or_default();
            if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
                return Err(bad("unsupported HTTP version"));
            }
            check_target(target).map_err(|why| {
                // hyper answers an over-long target with 414, any other URI
                // error with 400.
                let status = if why == TARGET_TOO_LONG { 414 } else { 400 };
                reject(status, format!("invalid URI: {why}"))
            })?;
            Ok((
                ascii(method),
                String::from_utf8_lossy(target).into_owned(),
                ascii(version),
            ))
        }
        Strictness::Lenient => {
            let first = memchr::memchr(b' ', line).ok_or_else(|| bad("no space"))?;
            let last = memchr::memrchr(b' ', line).ok_or_else(|| bad("no space"))?;
            if last <= first {
                return Err(bad("no version"));
            }
            let method = line.get(..first).unwrap_or_default();
            let target = line.get(first + 1..last).unwrap_or_default();
            let version = line.get(last + 1..).unwrap_or_default();
            if method.is_empty() || target.is_empty() || version.is_empty() {
                return Err(bad("empty part"));
            }
            Ok((
                String::from_utf8_lossy(method).into_owned(),
                String::from_utf8_lossy(target).into_owned(),
                String::from_utf8_lossy(version).into_owned(),
            ))
        }
    }
}

fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `http` crate's request-target rules (what hyper hands over as a
/// `Uri`): origin-form path and query characters, `*`, absolute-form and
/// authority-form.
fn check_target(target: &[u8]) -> Result<(), &'static str> {
    if target == b"*" {
        return Ok(());
    }
    if matches!(target.first(), Some(b'/' | b'?' | b'#')) {
        return check_path_and_query(target);
    }
    // absolute-form: scheme "://" authority [path-and-query]
    if let Some(colon) = find(target, b"://") {
        let scheme = target.get(..colon).unwrap_or_default();
        let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
        if !scheme_ok {
            return Err("bad scheme");
        }
        let rest = target.get(colon + 3..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == b'/' || b == b'?' || b == b'#')
            .unwrap_or(rest.len());
        check_authority(rest.get(..end).unwrap_or_default())?;
        let tail = rest.get(end..).unwrap_or_default();
        return match tail.first() {
            None | Some(b'#') => Ok(()),
            Some(_) => check_path_and_query(tail),
        };
    }
    check_authority(target)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn check_authority(authority: &[u8]) -> Result<(), &'static str> {
    if authority.is_empty() {
        return Err("empty authority");
    }
    let ok = authority
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@[]%".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("invalid character in authority")
    }
}

const TARGET_TOO_LONG: &str = "request-target too long";

/// `http` 1.x: path and query characters per the WHATWG URL states, bytes
/// above 0x7F accepted when the whole is UTF-8, the fragment cut off.
fn check_path_and_query(bytes: &[u8]) -> Result<(), &'static str> {
    if bytes.len() >= usize::from(u16::MAX) {
        return Err(TARGET_TOO_LONG);
    }
    let mut in_query = false;
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' {
            end = i;
            break;
        }
        if !in_query && b == b'?' {
            in_query = true;
            continue;
        }
        let ok = if in_query {
            matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E | 0x80..=0xFF)
        } else {
            matches!(
                b,
                0x21 | 0x24..=0x3B
                    | 0x3D
                    | 0x40..=0x5F
                    | 0x61..=0x7A
                    | 0x7C
                    | 0x7E
                    | b'"'
                    | b'{'
                    | b'}'
                    | 0x80..=0xFF
            )
        };
        if !ok {
            return Err(if in_query {
                "invalid character in query"
            } else {
                "invalid character in path"
            });
        }
    }
    match std::str::from_utf8(bytes.get(..end).unwrap_or_default()) {
        Ok(_) => Ok(()),
        Err(_) => Err("request-target is not UTF-8"),
    }
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |p| p + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn parse_header(line: &[u8], strictness: Strictness) -> Result<(String, Vec<u8>), Rejection> {
    let colon =
        memchr::memchr(b':', line).ok_or_else(|| reject(400, "header line without a colon"))?;
    let name = line.get(..colon).unwrap_or_default();
    let value = trim_ows(line.get(colon + 1..).unwrap_or_default());
    match strictness {
        Strictness::Hyper => {
            if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
                return Err(reject(400, "invalid header name"));
            }
            if value.iter().any(|&b| b != b'\t' && (b < 0x20 || b == 0x7f)) {
                return Err(reject(400, "control character in a header value"));
            }
        }
        Strictness::Lenient => {
            if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
                return Err(reject(400, "invalid header name"));
            }
        }
    }
    Ok((ascii(name), value.to_vec()))
}

fn header_values<'h>(
    headers: &'h [(String, Vec<u8>)],
    name: &'h str,
) -> impl Iterator<Item = &'h [u8]> + 'h {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Body framing as RFC 9112 §6.3 has it and hyper implements it. A
/// Transfer-Encoding makes the server drop Content-Length from the headers
/// (hyper and Apache both do, so the WAF never sees the pair); a repeated
/// Content-Length of the same value is dropped too.
fn read_body(
    headers: &mut Vec<(String, Vec<u8>)>,
    version: &str,
    rest: &[u8],
    strictness: Strictness,
) -> Result<Vec<u8>, Rejection> {
    let te: Vec<&[u8]> = header_values(headers, "transfer-encoding").collect();
    if !te.is_empty() {
        if version == "HTTP/1.0" && strictness == Strictness::Hyper {
            return Err(reject(400, "Transfer-Encoding in an HTTP/1.0 request"));
        }
        // The last Transfer-Encoding line decides, and in it the last coding.
        let last_coding = te
            .last()
            .and_then(|v| v.rsplit(|&b| b == b',').next())
            .map(trim_ows)
            .unwrap_or_default();
        if !last_coding.eq_ignore_ascii_case(b"chunked") {
            return Err(reject(400, "Transfer-Encoding without chunked last"));
        }
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-length"));
        return decode_chunked(rest);
    }
    let mut length: Option<u64> = None;
    let mut keep = Vec::with_capacity(headers.len());
    for (name, value) in headers.drain(..) {
        if !name.eq_ignore_ascii_case("content-length") {
            keep.push((name, value));
            continue;
        }
        let lenient_value;
        let digits: &[u8] = match strictness {
            Strictness::Hyper => &value,
            // Only `1, 1` lists are tolerated beyond hyper.
            Strictness::Lenient => {
                lenient_value = value
                    .split(|&b| b == b',')
                    .next()
                    .map(trim_ows)
                    .unwrap_or_default()
                    .to_vec();
                &lenient_value
            }
        };
        let n = parse_digits(digits).ok_or_else(|| reject(400, "invalid Content-Length"))?;
        match length {
            Some(prev) if prev != n => {
                return Err(reject(400, "conflicting Content-Length values"));
            }
            Some(_) => {}
            None => {
                length = Some(n);
                keep.push((name, value));
            }
        }
    }
    *headers = keep;
    match length {
        None => Ok(Vec::new()),
        Some(n) => {
            let n = usize::try_from(n).map_err(|_| reject(413, "body too large"))?;
            match rest.get(..n) {
                Some(body) => Ok(body.to_vec()),
                None => Err(reject(
                    408,
                    "body shorter than Content-Length (a server would wait until it times out)",
                )),
            }
        }
    }
}

/// Digits only: no sign, no spaces, no list (hyper's `from_digits`).
fn parse_digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn decode_chunked(mut rest: &[u8]) -> Result<Vec<u8>, Rejection> {
    let bad = |why: &str| reject(400, format!("invalid chunked body: {why}"));
    let mut body = Vec::new();
    loop {
        let (line, next) = take_line(rest, 0).ok_or_else(|| bad("missing chunk size"))?;
        let size_text = line
            .split(|&b| b == b';')
            .next()
            .map(trim_ows)
            .unwrap_or_default();
        if size_text.is_empty()
            || !size_text.iter().all(u8::is_ascii_hexdigit)
            || size_text.len() > 15
        {
            return Err(bad("bad chunk size"));
        }
        let size = std::str::from_utf8(size_text)
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or_else(|| bad("bad chunk size"))?;
        rest = rest.get(next..).unwrap_or_default();
        if size == 0 {
            // Trailer fields up to the empty line; their content is ignored.
            loop {
                let (line, next) = take_line(rest, 0).ok_or_else(|| bad("unterminated trailer"))?;
                rest = rest.get(next..).unwrap_or_default();
                if line.is_empty() {
                    return Ok(body);
                }
            }
        }
        let data = rest
            .get(..size)
            .ok_or_else(|| bad("chunk shorter than its size"))?;
        body.extend_from_slice(data);
        rest = rest.get(size..).unwrap_or_default();
        rest = if let Some(r) = rest.strip_prefix(b"\r\n") {
            r
        } else if let Some(r) = rest.strip_prefix(b"\n") {
            r
        } else {
            return Err(bad("chunk not followed by CRLF"));
        };
    }
}
