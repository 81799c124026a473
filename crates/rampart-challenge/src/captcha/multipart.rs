//! Just enough of `multipart/form-data` (RFC 7578) to read five short text
//! fields: part headers, the `name` of `Content-Disposition`, the content.
//! Strict where leniency buys nothing: the body starts with the first
//! delimiter, lines end in CRLF, at most 32 parts.

use memchr::memmem;

const MAX_PARTS: usize = 32;
/// RFC 2046 §5.1.1: boundaries are 1 to 70 characters.
const MAX_BOUNDARY_LEN: usize = 70;

/// What went wrong, for the `bad-request` log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("multipart: {0}")]
pub(crate) struct MultipartError(&'static str);

/// A part's `name` parameter and its content.
pub(crate) type Part<'a> = (&'a [u8], &'a [u8]);

/// Iterates over `(name, content)` of each part.
pub(crate) struct Parts<'a> {
    boundary: &'a [u8],
    body: &'a [u8],
    /// Position just after the last delimiter seen, or `None` when done.
    pos: Option<usize>,
    parts: usize,
}

impl<'a> Parts<'a> {
    pub(crate) fn new(boundary: &'a [u8], body: &'a [u8]) -> Self {
        Self {
            boundary,
            body,
            pos: Some(0),
            parts: 0,
        }
    }

    fn step(&mut self, pos: usize) -> Result<Option<Part<'a>>, MultipartError> {
        let boundary = self.boundary;
        if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
            return Err(MultipartError("bad boundary"));
        }
        let rest = self.body.get(pos..).ok_or(MultipartError("truncated"))?;
        let rest = if pos == 0 {
            rest.strip_prefix(b"--")
                .and_then(|r| r.strip_prefix(boundary))
                .ok_or(MultipartError("body does not start with the boundary"))?
        } else {
            rest
        };
        if rest.starts_with(b"--") {
            return Ok(None);
        }
        let rest = rest
            .strip_prefix(b"\r\n")
            .ok_or(MultipartError("no CRLF after the boundary"))?;
        self.parts += 1;
        if self.parts > MAX_PARTS {
            return Err(MultipartError("too many parts"));
        }
        let head_end =
            memmem::find(rest, b"\r\n\r\n").ok_or(MultipartError("unterminated part headers"))?;
        let (head, after) = rest.split_at(head_end);
        let content = after.get(4..).ok_or(MultipartError("truncated"))?;
        let name = part_name(head).ok_or(MultipartError("part without a form-data name"))?;
        // The content ends at CRLF "--" boundary.
        let mut delimiter = Vec::with_capacity(boundary.len() + 4);
        delimiter.extend_from_slice(b"\r\n--");
        delimiter.extend_from_slice(boundary);
        let end = memmem::find(content, &delimiter).ok_or(MultipartError("unterminated part"))?;
        let value = content.get(..end).ok_or(MultipartError("truncated"))?;
        // Offset of the byte after the delimiter within the whole body.
        let consumed = self.body.len() - content.len() + end + delimiter.len();
        self.pos = Some(consumed);
        Ok(Some((name, value)))
    }
}

impl<'a> Iterator for Parts<'a> {
    type Item = Result<Part<'a>, MultipartError>;

    fn next(&mut self) -> Option<Self::Item> {
        let pos = self.pos?;
        match self.step(pos) {
            Ok(Some(part)) => Some(Ok(part)),
            Ok(None) => {
                self.pos = None;
                None
            }
            Err(e) => {
                self.pos = None;
                Some(Err(e))
            }
        }
    }
}

/// The `name` parameter of a `Content-Disposition: form-data` header line.
fn part_name(head: &[u8]) -> Option<&[u8]> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        let (key, value) = line.split_at(colon);
        if !key.eq_ignore_ascii_case(b"content-disposition") {
            return None;
        }
        let mut params = value.get(1..)?.split(|&b| b == b';');
        if !params
            .next()?
            .trim_ascii()
            .eq_ignore_ascii_case(b"form-data")
        {
            return None;
        }
        params.find_map(|p| {
            let p = p.trim_ascii();
            let eq = p.iter().position(|&b| b == b'=')?;
            let (k, v) = p.split_at(eq);
            let v = v.get(1..)?;
            k.trim_ascii().eq_ignore_ascii_case(b"name").then(|| {
                let v = v.trim_ascii();
                v.strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(v)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(boundary: &str, body: &[u8]) -> Result<Vec<(String, String)>, MultipartError> {
        Parts::new(boundary.as_bytes(), body)
            .map(|r| {
                r.map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn reads_fields() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Type: text/plain\r\n\r\n1\r\n2\r\n--b\r\nContent-Disposition: form-data; filename=\"f\"; name=b\r\n\r\n\r\n--b--\r\n";
        assert_eq!(
            parse("b", body).unwrap(),
            [("a".into(), "1\r\n2".into()), ("b".into(), String::new())]
        );
    }

    #[test]
    fn refuses_broken_bodies() {
        for body in [
            &b""[..],
            b"--b",
            b"--b\r\n",
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue",
            b"--b\r\nX: y\r\n\r\nv\r\n--b--",
            b"preamble\r\n--b\r\n",
            b"--bX\r\n",
        ] {
            let r = parse("b", body);
            assert!(r.is_err(), "{:?} -> {r:?}", String::from_utf8_lossy(body));
        }
        assert!(parse("", b"----\r\n").is_err());
        assert_eq!(parse("b", b"--b--").unwrap(), []);
    }
}
