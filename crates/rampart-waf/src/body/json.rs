//! JSON request bodies flattened into ARGS.
//!
//! Names follow Coraza (`json.a.b`, array elements `json.a.0`) rather than
//! ModSecurity v3's `json.a.array_0`: the contract fixes Coraza's form, and
//! CRS only relies on the `json.` prefix. Values are the string contents
//! (unescaped), or the literal text of numbers and booleans; `null` is an
//! empty value. Duplicate keys are all kept, in document order, so a
//! payload cannot hide behind a later benign duplicate.
//!
//! The parser is a hand-written iterative one: no recursion (nesting is
//! bounded by `max_depth` and by an explicit stack), one pass over the
//! input, and a cap on the total size of the flattened names so a long key
//! above a wide array cannot turn a small body into a huge ARGS set.

use super::{Args, BodyError};

/// Flattened names and values may total this many times the body size
/// (plus [`OUTPUT_SLACK`]) before the body is refused.
const OUTPUT_FACTOR: usize = 16;
const OUTPUT_SLACK: usize = 1 << 20;

pub(super) fn parse(body: &[u8], max_depth: usize) -> Result<Args, BodyError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut parser = Parser {
        input: body,
        pos: 0,
        out: Vec::new(),
        path: b"json".to_vec(),
        emitted: 0,
        budget: body
            .len()
            .saturating_mul(OUTPUT_FACTOR)
            .saturating_add(OUTPUT_SLACK),
    };
    parser.skip_ws();
    if parser.at_end() {
        // Nothing to flatten; an empty JSON body is not worth an error.
        return Ok(Vec::new());
    }
    parser.run(max_depth)?;
    Ok(parser.out)
}

enum Frame {
    /// `name_len` is the length of the container's own name in `path`.
    Object {
        name_len: usize,
    },
    Array {
        name_len: usize,
        next_index: usize,
    },
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    out: Args,
    /// The name of the value being read (`json.a.0.b`).
    path: Vec<u8>,
    emitted: usize,
    budget: usize,
}

fn err(msg: impl Into<String>) -> BodyError {
    BodyError(format!("JSON parsing error: {}", msg.into()))
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), BodyError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected '{}'", char::from(byte))))
        }
    }

    fn unexpected(&self, what: &str) -> BodyError {
        match self.peek() {
            Some(b) => err(format!(
                "{what}, found byte 0x{b:02x} at offset {}",
                self.pos
            )),
            None => err(format!("{what}, found end of input")),
        }
    }

    fn emit(&mut self, value: Vec<u8>) -> Result<(), BodyError> {
        self.emitted = self
            .emitted
            .saturating_add(self.path.len())
            .saturating_add(value.len());
        if self.emitted > self.budget {
            return Err(err("flattened arguments exceed the size limit"));
        }
        self.out.push((self.path.clone(), value));
        Ok(())
    }

    /// Reads `"key"` and `:` and points `path` at that member.
    fn member_key(&mut self, name_len: usize) -> Result<(), BodyError> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("expected an object key"));
        }
        let key = self.string()?;
        self.path.truncate(name_len);
        self.path.push(b'.');
        self.path.extend_from_slice(&key);
        self.skip_ws();
        self.expect(b':')
    }

    fn array_index(&mut self, name_len: usize, index: usize) {
        self.path.truncate(name_len);
        self.path.push(b'.');
        self.path.extend_from_slice(index.to_string().as_bytes());
    }

    fn run(&mut self, max_depth: usize) -> Result<(), BodyError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            // A value is expected at `pos`.
            self.skip_ws();
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    if stack.len() >= max_depth {
                        return Err(err(format!("nesting deeper than {max_depth}")));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    let name_len = self.path.len();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        // An empty container has no members to report.
                        self.pos += 1;
                    } else if open == b'{' {
                        stack.push(Frame::Object { name_len });
                        self.member_key(name_len)?;
                        continue;
                    } else {
                        stack.push(Frame::Array {
                            name_len,
                            next_index: 1,
                        });
                        self.array_index(name_len, 0);
                        continue;
                    }
                }
                Some(b'"') => {
                    let value = self.string()?;
                    self.emit(value)?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => {
                    self.keyword(b"null")?;
                    self.emit(Vec::new())?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    let start = self.pos;
                    self.number()?;
                    let text = self.input.get(start..self.pos).unwrap_or_default().to_vec();
                    self.emit(text)?;
                }
                _ => return Err(self.unexpected("expected a value")),
            }

            // After a complete value: close containers or move on.
            loop {
                self.skip_ws();
                match stack.last_mut() {
                    None => {
                        if self.at_end() {
                            return Ok(());
                        }
                        return Err(self.unexpected("trailing data after the JSON value"));
                    }
                    Some(Frame::Object { name_len }) => {
                        let name_len = *name_len;
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.member_key(name_len)?;
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                self.path.truncate(name_len);
                                stack.pop();
                            }
                            _ => return Err(self.unexpected("expected ',' or '}'")),
                        }
                    }
                    Some(Frame::Array {
                        name_len,
                        next_index,
                    }) => {
                        let name_len = *name_len;
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                let index = *next_index;
                                *next_index = index.saturating_add(1);
                                self.array_index(name_len, index);
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                self.path.truncate(name_len);
                                stack.pop();
                            }
                            _ => return Err(self.unexpected("expected ',' or ']'")),
                        }
                    }
                }
            }
        }
    }

    fn keyword(&mut self, word: &[u8]) -> Result<(), BodyError> {
        let end = self.pos.saturating_add(word.len());
        if self.input.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(self.unexpected("invalid literal"))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), BodyError> {
        self.keyword(word)?;
        self.emit(word.to_vec())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), BodyError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("invalid number fraction"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("invalid number exponent"));
            }
        }
        Ok(())
    }

    /// Reads a string starting at its opening quote and returns its
    /// unescaped bytes. Bytes that are not UTF-8 are passed through as they
    /// are (rules match bytes); a lone surrogate escape becomes U+FFFD.
    fn string(&mut self) -> Result<Vec<u8>, BodyError> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let Some(stop) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(err("unterminated string"));
            };
            let chunk = rest.get(..stop).unwrap_or_default();
            if let Some(ctl) = chunk.iter().position(|&b| b < 0x20) {
                self.pos += ctl;
                return Err(self.unexpected("control character in string"));
            }
            out.extend_from_slice(chunk);
            self.pos += stop;
            if self.peek() == Some(b'"') {
                self.pos += 1;
                return Ok(out);
            }
            // A backslash.
            self.pos += 1;
            let Some(escaped) = self.peek() else {
                return Err(err("unterminated string"));
            };
            self.pos += 1;
            match escaped {
                b'"' | b'\\' | b'/' => out.push(escaped),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'u' => {
                    let ch = self.unicode_escape()?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("invalid escape"));
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, BodyError> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.unexpected("invalid \\u escape")),
            };
            value = value << 4 | u32::from(digit);
            self.pos += 1;
        }
        Ok(value)
    }

    /// After `\u`: one code point, joining a surrogate pair when present.
    fn unicode_escape(&mut self) -> Result<char, BodyError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            let end = self.pos.saturating_add(2);
            if self.input.get(self.pos..end) == Some(b"\\u") {
                let save = self.pos;
                self.pos = end;
                let second = self.hex4()?;
                if (0xDC00..0xE000).contains(&second) {
                    let cp = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    return Ok(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                // Not a low surrogate: leave it to be read as its own escape.
                self.pos = save;
            }
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER))
    }
}
