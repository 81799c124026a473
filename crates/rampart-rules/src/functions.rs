//! The byte-level work behind functions and array fields: case mapping,
//! URL decoding, query argument iteration. All of it writes into buffers the
//! caller owns, so evaluation can reuse them.

/// Every function name, for the parser-independent checks and suggestions.
pub(crate) const FUNCTIONS: [&str; 8] = [
    "lower",
    "upper",
    "len",
    "starts_with",
    "ends_with",
    "url_decode",
    "any",
    "all",
];

/// A string-to-string function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transform {
    /// ASCII only: rules match protocol text, and Unicode case mapping can
    /// change lengths and allocate.
    Lower,
    Upper,
    UrlDecode,
}

impl Transform {
    #[inline]
    pub(crate) fn apply(self, input: &[u8], out: &mut Vec<u8>) {
        match self {
            Self::Lower => out.extend(input.iter().map(u8::to_ascii_lowercase)),
            Self::Upper => out.extend(input.iter().map(u8::to_ascii_uppercase)),
            Self::UrlDecode => url_decode(input, out),
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Yields the decoded bytes of `input`: `%XX` becomes the byte, `+` a space;
/// a `%` not followed by two hex digits stays as it is (as browsers and
/// Cloudflare's `url_decode` do).
fn decoded(input: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *input.get(i)?;
        i += 1;
        match b {
            b'+' => Some(b' '),
            b'%' => {
                let pair = input
                    .get(i)
                    .copied()
                    .and_then(hex)
                    .zip(input.get(i + 1).copied().and_then(hex));
                match pair {
                    Some((hi, lo)) => {
                        i += 2;
                        Some(hi * 16 + lo)
                    }
                    None => Some(b'%'),
                }
            }
            _ => Some(b),
        }
    })
}

pub(crate) fn url_decode(input: &[u8], out: &mut Vec<u8>) {
    out.extend(decoded(input));
}

/// Whether `raw` decodes to `want`, without a buffer.
fn decodes_to(raw: &[u8], want: &[u8]) -> bool {
    decoded(raw).eq(want.iter().copied())
}

/// Calls `f` with the value of every `name=value` pair of `query` whose
/// decoded name is `name`, decoding the value into `buf` when it needs it;
/// stops early when `f` returns `stop`. Returns whether it stopped early.
///
/// A pair without `=` has the empty value, as in `?debug&x=1`.
pub(crate) fn for_each_arg(
    query: &[u8],
    name: &[u8],
    buf: &mut Vec<u8>,
    stop: bool,
    mut f: impl FnMut(&[u8]) -> bool,
) -> bool {
    for pair in query.split(|&b| b == b'&') {
        let (k, v) = match memchr::memchr(b'=', pair) {
            Some(eq) => (
                pair.get(..eq).unwrap_or(b""),
                pair.get(eq + 1..).unwrap_or(b""),
            ),
            None => (pair, &b""[..]),
        };
        if pair.is_empty() || !decodes_to(k, name) {
            continue;
        }
        let value: &[u8] = if v.iter().any(|&b| b == b'%' || b == b'+') {
            buf.clear();
            url_decode(v, buf);
            buf
        } else {
            v
        };
        if f(value) == stop {
            return true;
        }
    }
    false
}

/// Number of arguments named `name` (for `len(http.request.uri.args["x"])`).
pub(crate) fn count_args(query: &[u8], name: &[u8]) -> usize {
    query
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let k = match memchr::memchr(b'=', pair) {
                Some(eq) => pair.get(..eq).unwrap_or(b""),
                None => pair,
            };
            decodes_to(k, name)
        })
        .count()
}

/// Translates a wildcard pattern into an anchored regular expression: `*`
/// matches any run of bytes, `\` makes the next byte literal. Going through
/// the regex crate keeps matching linear in the input, where a hand-written
/// backtracking glob is quadratic on patterns like `*a*a*a*b`.
pub(crate) fn wildcard_regex(pattern: &[u8], case_insensitive: bool) -> String {
    let mut re = String::with_capacity(pattern.len() * 2 + 16);
    re.push_str(if case_insensitive {
        "(?si-u)\\A"
    } else {
        "(?s-u)\\A"
    });
    let mut escaped = false;
    for &b in pattern {
        if !escaped && b == b'\\' {
            escaped = true;
            continue;
        }
        if !escaped && b == b'*' {
            re.push_str(".*");
        } else if b.is_ascii_alphanumeric() {
            re.push(char::from(b));
        } else {
            re.push_str(&format!("\\x{b:02x}"));
        }
        escaped = false;
    }
    if escaped {
        // A trailing backslash stands for itself.
        re.push_str("\\x5c");
    }
    re.push_str("\\z");
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        url_decode(s.as_bytes(), &mut out);
        out
    }

    #[test]
    fn url_decoding() {
        assert_eq!(dec("a%20b+c"), b"a b c");
        assert_eq!(dec("%3Cscript%3e"), b"<script>");
        assert_eq!(dec("100%"), b"100%");
        assert_eq!(dec("%zz%4"), b"%zz%4");
        assert_eq!(dec("%ff"), [0xff]);
    }

    #[test]
    fn args() {
        let q = b"a=1&b=x%20y&a=2&c&a%5B%5D=3&=z";
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        for_each_arg(q, b"a", &mut buf, true, |v| {
            seen.push(v.to_vec());
            false
        });
        assert_eq!(seen, [b"1".to_vec(), b"2".to_vec()]);
        seen.clear();
        for_each_arg(q, b"b", &mut buf, true, |v| {
            seen.push(v.to_vec());
            false
        });
        assert_eq!(seen, [b"x y".to_vec()]);
        assert_eq!(count_args(q, b"a[]"), 1);
        assert_eq!(count_args(q, b"c"), 1);
        assert_eq!(count_args(q, b""), 1);
        assert!(for_each_arg(q, b"a", &mut buf, true, |v| v == b"2"));
    }

    #[test]
    fn wildcard() {
        let re = regex::bytes::Regex::new(&wildcard_regex(b"*.Example.com", true)).unwrap();
        assert!(re.is_match(b"www.example.COM"));
        assert!(!re.is_match(b"example.com"));
        let re = regex::bytes::Regex::new(&wildcard_regex(br"/a\*b*", false)).unwrap();
        assert!(re.is_match(b"/a*bcd"));
        assert!(!re.is_match(b"/axbcd"));
        assert!(!re.is_match(b"/A*b"));
    }
}
