//! `multipart/form-data`, parsed line by line the way ModSecurity does so
//! the MULTIPART_* flags mean what CRS and `modsecurity.conf` expect.
//!
//! Where ModSecurity v3 silently ignores a header-level problem (a bug: it
//! returns `false` where it meant an error), this follows v2 and stops with
//! an error. Parts finished before an error are kept so rules still see
//! them. Form field values keep their inner line breaks (v3 drops them by
//! accident; v2 and Coraza keep them), only the line break before the next
//! boundary is removed.
//!
//! Work is linear: each byte is looked at a bounded number of times, the
//! number of parts and of headers per part are capped, and header lines
//! are capped in length like ModSecurity's 4 KiB line buffer.

mod content_type;
mod disposition;

use super::{BodyError, FilePart, Multipart, MultipartFlags as Flags, MultipartLimits};

/// Header lines a single part may have before the body is refused. Bounds
/// MULTIPART_PART_HEADERS, where every line is stored with its part name.
pub const MAX_PART_HEADERS: usize = 64;

/// ModSecurity's MULTIPART_BUF_SIZE: a part header line (with its line
/// break) must be shorter than this.
const LINE_BUF: usize = 4096;

/// C `isspace`.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn fail(msg: impl std::fmt::Display) -> BodyError {
    BodyError(format!("Multipart: {msg}"))
}

/// Strips one trailing `\n`, then one trailing `\r`.
fn chomp(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[derive(Default)]
struct Part {
    in_headers: bool,
    /// (name, value) for lookups; names compared case-insensitively.
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The header lines as sent (line break removed, folded lines joined
    /// with a space), for MULTIPART_PART_HEADERS.
    raw_lines: Vec<Vec<u8>>,
    /// Index in `headers` of the header a folded line continues.
    last_header: Option<usize>,
    name: Option<Vec<u8>>,
    filename: Option<Vec<u8>>,
    /// Offset in the body where the part's content starts.
    data_start: usize,
}

impl Part {
    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

struct Parser<'a> {
    body: &'a [u8],
    boundary: Vec<u8>,
    /// `--` + boundary, searched for inside non-boundary lines.
    dash_boundary: memchr::memmem::Finder<'static>,
    limits: MultipartLimits,
    out: Multipart,
    current: Option<Part>,
    boundary_count: usize,
    complete: bool,
    crlf_line: bool,
    parts: usize,
    files: usize,
}

pub(super) fn parse(content_type: &[u8], body: &[u8], limits: MultipartLimits) -> Multipart {
    let mut flags = Flags::default();
    let boundary = match content_type::boundary(content_type, &mut flags) {
        Ok(boundary) => boundary,
        Err(error) => {
            let mut out = Multipart {
                flags,
                error: Some(error),
                ..Multipart::default()
            };
            finish_flags(&mut out, false);
            return out;
        }
    };
    let mut dash_boundary = b"--".to_vec();
    dash_boundary.extend_from_slice(&boundary);
    let mut parser = Parser {
        body,
        dash_boundary: memchr::memmem::Finder::new(&dash_boundary).into_owned(),
        boundary,
        limits,
        out: Multipart {
            flags,
            ..Multipart::default()
        },
        current: None,
        boundary_count: 0,
        complete: false,
        crlf_line: false,
        parts: 0,
        files: 0,
    };
    if let Err(error) = parser.run() {
        parser.abandon_current();
        parser.out.error = Some(error);
    }
    let crlf = parser.crlf_line;
    let mut out = parser.out;
    finish_flags(&mut out, crlf);
    out
}

/// MULTIPART_CRLF_LF_LINES and MULTIPART_STRICT_ERROR, which summarise the
/// others. As in ModSecurity, an unmatched boundary is not part of the
/// strict error (it has its own rule) and mixed line endings count through
/// the LF flag.
fn finish_flags(out: &mut Multipart, crlf_line: bool) {
    let f = &mut out.flags;
    f.crlf_lf_lines = crlf_line && f.lf_line;
    f.strict_error = out.error.is_some()
        || f.boundary_quoted
        || f.boundary_whitespace
        || f.data_before
        || f.data_after
        || f.header_folding
        || f.lf_line
        || f.missing_semicolon
        || f.invalid_quoting
        || f.invalid_part
        || f.invalid_header_folding
        || f.file_limit_exceeded;
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), BodyError> {
        let body = self.body;
        if body.is_empty() {
            // Nothing was sent, so nothing is malformed.
            return Ok(());
        }
        let mut pos = 0;
        while pos < body.len() {
            let rest = body.get(pos..).unwrap_or_default();
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                return self.last_line(pos, rest);
            };
            let line = rest.get(..=nl).unwrap_or_default();
            let next = pos + nl + 1;
            self.line(pos, line)?;
            if self.complete {
                if next < body.len() {
                    self.out.flags.data_after = true;
                }
                return Ok(());
            }
            pos = next;
        }
        self.end_of_body(body.len())
    }

    /// The body ended without a final boundary.
    fn end_of_body(&mut self, end: usize) -> Result<(), BodyError> {
        if self.complete {
            return Ok(());
        }
        // A half-sent part still reaches the backend: keep it for the rules.
        self.finish_part(end);
        if self.boundary_count > 0 {
            Err(fail("Final boundary missing."))
        } else {
            Err(fail("No boundaries found in payload."))
        }
    }

    /// A last line with no line break: only the final boundary may be
    /// there; anything else is left to the missing-boundary error.
    fn last_line(&mut self, pos: usize, line: &[u8]) -> Result<(), BodyError> {
        if self.boundary_count > 0 && self.is_final_boundary(line) {
            self.finish_part(pos);
            self.complete = true;
            return Ok(());
        }
        if let Some(part) = &self.current {
            if part.in_headers && line.len() >= LINE_BUF {
                return Err(fail(format!("Part header line over {LINE_BUF} bytes long")));
            }
        } else {
            self.out.flags.data_before = true;
        }
        self.end_of_body(self.body.len())
    }

    fn is_final_boundary(&self, line: &[u8]) -> bool {
        line.strip_prefix(b"--")
            .and_then(|l| l.strip_prefix(self.boundary.as_slice()))
            == Some(b"--")
    }

    /// One line, line break included.
    fn line(&mut self, pos: usize, line: &[u8]) -> Result<(), BodyError> {
        if line.len() > 3 && line.starts_with(b"--") {
            let after_dashes = line.get(2..).unwrap_or_default();
            if let Some(tail) = after_dashes.strip_prefix(self.boundary.as_slice()) {
                let (is_final, ending) = match tail.strip_prefix(b"--") {
                    Some(ending) => (true, ending),
                    None => (false, tail),
                };
                match ending {
                    b"\n" => self.out.flags.lf_line = true,
                    b"\r\n" => self.crlf_line = true,
                    _ => {
                        return Err(fail(format!(
                            "Invalid boundary: {}",
                            String::from_utf8_lossy(chomp(line))
                        )));
                    }
                }
                self.boundary(pos, is_final)?;
                return Ok(());
            }
            // Looks like a boundary but is not ours: a quoted or padded
            // attempt at it is an evasion, anything else is only flagged.
            if self.out.flags.boundary_quoted
                && after_dashes
                    .strip_prefix(b"\"")
                    .is_some_and(|l| l.starts_with(&self.boundary))
            {
                return Err(fail("Invalid boundary (quotes)."));
            }
            let spaces = after_dashes.iter().take_while(|&&c| is_c_space(c)).count();
            if spaces > 0
                && after_dashes
                    .get(spaces..)
                    .is_some_and(|l| l.starts_with(&self.boundary))
            {
                return Err(fail("Invalid boundary (whitespace)."));
            }
            self.out.flags.unmatched_boundary = true;
        } else if self.contains_boundary(line) {
            self.out.flags.unmatched_boundary = true;
        }

        let Some(part) = self.current.as_mut() else {
            self.out.flags.data_before = true;
            return Ok(());
        };
        if part.in_headers {
            if line.len() >= LINE_BUF {
                return Err(fail(format!("Part header line over {LINE_BUF} bytes long")));
            }
            self.header_line(pos, line)?;
        }
        Ok(())
    }

    fn contains_boundary(&self, line: &[u8]) -> bool {
        self.dash_boundary.find(line).is_some()
    }

    /// A boundary line starting at `pos`: closes the current part, opens
    /// the next unless it is the final one.
    fn boundary(&mut self, pos: usize, is_final: bool) -> Result<(), BodyError> {
        self.finish_part(pos);
        self.boundary_count += 1;
        if is_final {
            self.complete = true;
            return Ok(());
        }
        self.parts += 1;
        if self.parts > self.limits.max_parts {
            return Err(fail(format!(
                "Too many parts (limit {}).",
                self.limits.max_parts
            )));
        }
        self.current = Some(Part {
            in_headers: true,
            ..Part::default()
        });
        Ok(())
    }

    /// Closes the current part, whose content ends where the line at `end`
    /// starts (minus the line break that belongs to the boundary).
    fn finish_part(&mut self, end: usize) {
        let Some(part) = self.current.take() else {
            return;
        };
        let Some(name) = part.name.clone().filter(|_| !part.in_headers) else {
            // Headers never finished: ModSecurity drops such a part.
            self.out.flags.invalid_part = true;
            self.push_raw_headers(&part, Vec::new());
            return;
        };
        let content = self.body.get(part.data_start..end).unwrap_or_default();
        let content = content
            .strip_suffix(b"\r\n")
            .or_else(|| content.strip_suffix(b"\n"))
            .unwrap_or(content);
        match &part.filename {
            Some(filename) => self.out.files.push(FilePart {
                field_name: name,
                file_name: filename.clone(),
                size: content.len(),
                content_type: part.header(b"Content-Type").map(<[u8]>::to_vec),
            }),
            None => self.out.args.push((name, content.to_vec())),
        }
    }

    /// On an error inside a part's headers, the lines read so far are
    /// still worth inspecting.
    fn abandon_current(&mut self) {
        if let Some(part) = self.current.take().filter(|p| p.in_headers) {
            self.push_raw_headers(&part, part.name.clone().unwrap_or_default());
        }
    }

    fn push_raw_headers(&mut self, part: &Part, key: Vec<u8>) {
        for line in &part.raw_lines {
            self.out.part_headers.push((key.clone(), line.clone()));
        }
    }

    fn header_line(&mut self, pos: usize, line: &[u8]) -> Result<(), BodyError> {
        if line.contains(&0) {
            return Err(fail("Nul byte in part headers."));
        }
        if line.len() > 1 && line.get(line.len() - 2) == Some(&b'\r') {
            self.crlf_line = true;
        } else {
            self.out.flags.lf_line = true;
        }
        if line == b"\r\n" || line == b"\n" {
            return self.end_of_headers(pos + line.len());
        }
        let Some(part) = self.current.as_mut() else {
            return Ok(());
        };

        if line.first().copied().is_some_and(is_c_space) {
            // Folding: RFC 2557 allows SP and HTAB; PHP takes any space.
            self.out.flags.header_folding = true;
            let prefix = line.iter().take_while(|&&c| is_c_space(c)).count();
            if line
                .get(..prefix)
                .is_some_and(|p| p.iter().any(|&c| c != b' ' && c != b'\t'))
            {
                self.out.flags.invalid_header_folding = true;
            }
            let Some(index) = part.last_header else {
                return Err(fail("Invalid part header (folding error)."));
            };
            let more = chomp(line.get(prefix..).unwrap_or_default());
            if let Some((_, value)) = part.headers.get_mut(index) {
                value.push(b' ');
                value.extend_from_slice(more);
                if value.len() > LINE_BUF {
                    return Err(fail("Part header too long."));
                }
            }
            if let Some(raw) = part.raw_lines.last_mut() {
                raw.push(b' ');
                raw.extend_from_slice(more);
            }
            return Ok(());
        }

        let Some(colon) = memchr::memchr(b':', line) else {
            return Err(fail(format!(
                "Invalid part header (colon missing): {}",
                String::from_utf8_lossy(chomp(line))
            )));
        };
        if colon == 0 {
            return Err(fail("Invalid part header (header name missing)."));
        }
        if part.raw_lines.len() >= MAX_PART_HEADERS {
            return Err(fail(format!(
                "Too many part headers (limit {MAX_PART_HEADERS})."
            )));
        }
        let name = line.get(..colon).unwrap_or_default();
        let value = line.get(colon + 1..).unwrap_or_default();
        let blanks = value
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        let value = chomp(value.get(blanks..).unwrap_or_default());
        // Stored before the duplicate check so the rules see both copies.
        part.raw_lines.push(chomp(line).to_vec());
        if part.header(name).is_some() {
            return Err(fail(format!(
                "Duplicate part header: {}.",
                String::from_utf8_lossy(name)
            )));
        }
        part.last_header = Some(part.headers.len());
        part.headers.push((name.to_vec(), value.to_vec()));
        Ok(())
    }

    /// The empty line after a part's headers; `data_start` is where the
    /// content begins.
    fn end_of_headers(&mut self, data_start: usize) -> Result<(), BodyError> {
        let Some(part) = self.current.as_mut() else {
            return Ok(());
        };
        let Some(cd) = part.header(b"Content-Disposition").map(<[u8]>::to_vec) else {
            return Err(fail("Part missing Content-Disposition header."));
        };
        let seen = disposition::Seen {
            names: &mut self.out.part_names,
            filenames: &mut self.out.file_names,
        };
        let parsed = disposition::parse(&cd, &mut self.out.flags, seen).map_err(|code| {
            fail(format!(
                "Invalid Content-Disposition header ({code}): {}",
                String::from_utf8_lossy(&cd)
            ))
        })?;
        let name = match parsed.name.clone() {
            Some(name) if !name.is_empty() => name,
            _ => return Err(fail("Content-Disposition header missing name field.")),
        };
        // An empty file name makes a plain field, for ModSecurity and Coraza
        // alike (browsers send it for an empty file input).
        if let Some(filename) = parsed.filename().filter(|f| !f.is_empty()) {
            // A backend that finds the file name by a crude search must
            // find it too, or it would treat the file as a field.
            if memchr::memmem::find(&cd, b"filename=").is_none()
                && memchr::memmem::find(&cd, b"filename*=").is_none()
            {
                return Err(fail("Invalid Content-Disposition header (filename)."));
            }
            part.filename = Some(filename.to_vec());
            self.files += 1;
            if self.files > self.limits.max_files {
                self.out.flags.file_limit_exceeded = true;
            }
        }
        part.name = Some(name.clone());
        part.in_headers = false;
        part.last_header = None;
        part.data_start = data_start;
        let lines = std::mem::take(&mut part.raw_lines);
        self.out
            .part_headers
            .extend(lines.into_iter().map(|line| (name.clone(), line)));
        Ok(())
    }
}
