//! A character cursor with the scanning primitives the parser asks for.
//!
//! The language is context-sensitive at the token level (a bare `fe80::1` is
//! an IP address after `eq` but would be an identifier at the start of a
//! condition), so instead of a token stream the parser calls the scanner that
//! fits where it is.

use crate::ast::{Literal, LiteralValue};
use crate::error::RuleError;

/// A position in the source: byte offset for slicing, character column for
/// messages, both advanced together so columns cost nothing to know.
pub(crate) struct Cursor<'s> {
    src: &'s str,
    pos: usize,
    col: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters of a bare value word: integers, ranges, IPv4/IPv6, CIDRs. Letters
/// are included so that a mistyped word is reported whole.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '/' | '-' | '_')
}

impl<'s> Cursor<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        Self {
            src,
            pos: 0,
            col: 1,
        }
    }

    /// 1-based column of the next character.
    pub(crate) fn col(&self) -> usize {
        self.col
    }

    fn rest(&self) -> &'s str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_nth(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        self.col += 1;
        Some(c)
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    pub(crate) fn starts_with(&self, s: &str) -> bool {
        self.rest().starts_with(s)
    }

    /// Consumes `s` (punctuation) if it comes next.
    pub(crate) fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            for _ in s.chars() {
                self.bump();
            }
            true
        } else {
            false
        }
    }

    /// Consumes the keyword `kw` if it comes next as a whole word (so `in`
    /// does not match the start of `index`, nor `not` of `not.a.field`).
    pub(crate) fn eat_keyword(&mut self, kw: &str) -> bool {
        let rest = self.rest();
        if !rest.starts_with(kw) {
            return false;
        }
        let after = rest.get(kw.len()..).and_then(|r| r.chars().next());
        if after.is_some_and(|c| is_ident_char(c) || c == '.') {
            return false;
        }
        self.eat(kw)
    }

    pub(crate) fn at_ident(&self) -> bool {
        self.peek().is_some_and(is_ident_start)
    }

    /// `ident ('.' ident)*`: a field or function name.
    pub(crate) fn ident_path(&mut self) -> &'s str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let dot_then_ident = c == '.' && self.peek_nth(1).is_some_and(is_ident_char);
            if is_ident_char(c) || dot_then_ident {
                self.bump();
            } else {
                break;
            }
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// True when a string literal (plain or raw) starts here.
    pub(crate) fn at_string(&self) -> bool {
        match self.peek() {
            Some('"') => true,
            Some('r') => matches!(self.peek_nth(1), Some('"' | '#')),
            _ => false,
        }
    }

    /// Reads `"…"` with escapes or `r"…"` / `r#"…"#` without; the caller has
    /// checked [`Self::at_string`].
    pub(crate) fn string(&mut self) -> Result<Vec<u8>, RuleError> {
        let start = self.col;
        if self.peek() == Some('r') {
            self.bump();
            return self.raw_string(start);
        }
        self.bump();
        let mut out = Vec::new();
        loop {
            let col = self.col;
            match self.bump() {
                None => return Err(RuleError::syntax(start, "this string is never closed")),
                Some('"') => return Ok(out),
                Some('\\') => self.escape(col, &mut out)?,
                Some(c) => {
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
    }

    fn escape(&mut self, col: usize, out: &mut Vec<u8>) -> Result<(), RuleError> {
        match self.bump() {
            Some('"') => out.push(b'"'),
            Some('\\') => out.push(b'\\'),
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('x') => {
                let hi = self.bump().and_then(|c| c.to_digit(16));
                let lo = self.bump().and_then(|c| c.to_digit(16));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(u8::try_from(hi * 16 + lo).unwrap_or(0)),
                    _ => {
                        return Err(RuleError::syntax(
                            col,
                            "`\\x` needs two hexadecimal digits, as in `\\x2f`",
                        ));
                    }
                }
            }
            Some(c) => {
                return Err(RuleError::syntax(
                    col,
                    format!(
                        "unknown escape `\\{c}` (known: \\\" \\\\ \\n \\r \\t \\xHH); \
                         for regular expressions use a raw string, r\"…\""
                    ),
                ));
            }
            None => return Err(RuleError::syntax(col, "this string is never closed")),
        }
        Ok(())
    }

    fn raw_string(&mut self, start: usize) -> Result<Vec<u8>, RuleError> {
        let mut hashes = 0;
        while self.eat("#") {
            hashes += 1;
        }
        if !self.eat("\"") {
            return Err(RuleError::syntax(
                self.col,
                "a raw string starts with `r\"` or `r#\"`",
            ));
        }
        let close: String = std::iter::once('"')
            .chain(std::iter::repeat_n('#', hashes))
            .collect();
        let body_start = self.pos;
        match self.rest().find(&close) {
            Some(len) => {
                let body = self.src.get(body_start..body_start + len).unwrap_or("");
                for _ in body.chars().chain(close.chars()) {
                    self.bump();
                }
                Ok(body.as_bytes().to_vec())
            }
            None => Err(RuleError::syntax(
                start,
                format!("this raw string is never closed (by `{close}`)"),
            )),
        }
    }

    /// Reads a bare value word (integer, range, IP, CIDR) or `true`/`false`.
    /// Returns `Ok(None)` when nothing word-like is here.
    pub(crate) fn bare_literal(&mut self) -> Result<Option<Literal>, RuleError> {
        let col = self.col;
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.bump();
        }
        let word = self.src.get(start..self.pos).unwrap_or("");
        if word.is_empty() {
            return Ok(None);
        }
        classify_word(word, col).map(|value| Some(Literal { value, col }))
    }

    /// How error messages name what comes next.
    pub(crate) fn describe_next(&self) -> String {
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return "the end of the expression".to_owned();
        };
        if c == '"' {
            return "a string".to_owned();
        }
        if is_word_char(c) {
            let word: String = rest
                .chars()
                .take_while(|&c| is_word_char(c))
                .take(40)
                .collect();
            return format!("`{word}`");
        }
        format!("`{c}`")
    }
}

fn classify_word(word: &str, col: usize) -> Result<LiteralValue, RuleError> {
    match word {
        "true" => return Ok(LiteralValue::Bool(true)),
        "false" => return Ok(LiteralValue::Bool(false)),
        _ => {}
    }
    let first = word.chars().next().unwrap_or(' ');
    let has_colon = word.contains(':');
    if !has_colon {
        if let Some((lo, hi)) = word.split_once("..") {
            let lo = int(lo, col)?;
            let hi = int(hi, col)?;
            if lo > hi {
                return Err(RuleError::syntax(
                    col,
                    format!("the range `{word}` is empty: its start is after its end"),
                ));
            }
            return Ok(LiteralValue::IntRange(lo, hi));
        }
        if first.is_ascii_digit() || first == '-' {
            if !word.contains(['.', '/']) {
                return int(word, col).map(LiteralValue::Int);
            }
        } else if word.contains('.') {
            return Err(RuleError::syntax(
                col,
                format!(
                    "`{word}` is not a value; the right side of a comparison must be a \
                     literal, a set `{{…}}` or a `$list`, not a field"
                ),
            ));
        }
    }
    if word.contains('/') {
        return word.parse().map(LiteralValue::Cidr).map_err(|_| {
            RuleError::syntax(
                col,
                format!("`{word}` is not a valid CIDR (like 10.0.0.0/8)"),
            )
        });
    }
    word.parse().map(LiteralValue::Ip).map_err(|_| {
        RuleError::syntax(
            col,
            format!("`{word}` is not a valid integer, range, IP address or CIDR"),
        )
    })
}

fn int(s: &str, col: usize) -> Result<i64, RuleError> {
    s.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "is out of range for a 64-bit integer"
            }
            _ => "is not an integer",
        };
        RuleError::syntax(col, format!("`{s}` {why}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Result<LiteralValue, RuleError> {
        let mut c = Cursor::new(s);
        c.bare_literal()
            .map(|l| l.map(|l| l.value).unwrap_or(LiteralValue::Int(-999)))
    }

    #[test]
    fn words() {
        assert_eq!(lit("42").ok(), Some(LiteralValue::Int(42)));
        assert_eq!(lit("-3").ok(), Some(LiteralValue::Int(-3)));
        assert_eq!(
            lit("8000..8999").ok(),
            Some(LiteralValue::IntRange(8000, 8999))
        );
        assert!(matches!(lit("10.0.0.0/8"), Ok(LiteralValue::Cidr(_))));
        assert!(matches!(lit("fe80::1"), Ok(LiteralValue::Ip(_))));
        assert!(matches!(lit("::ffff:1.2.3.4"), Ok(LiteralValue::Ip(_))));
        assert!(matches!(lit("2001:db8::/32"), Ok(LiteralValue::Cidr(_))));
        assert!(lit("1.2.3").is_err());
        assert!(lit("99999999999999999999").is_err());
        assert!(lit("9..1").is_err());
    }

    #[test]
    fn strings() {
        let mut c = Cursor::new(r#""a\"b\x41\n" rest"#);
        assert_eq!(c.string().ok(), Some(b"a\"bA\n".to_vec()));
        let mut c = Cursor::new(r##"r#"x"y"# rest"##);
        assert_eq!(c.string().ok(), Some(b"x\"y".to_vec()));
        let mut c = Cursor::new(r#""\d""#);
        assert_eq!(c.string().map_err(|e| e.column), Err(2));
        let mut c = Cursor::new("\"héllo");
        assert_eq!(c.string().map_err(|e| e.column), Err(1));
    }
}
