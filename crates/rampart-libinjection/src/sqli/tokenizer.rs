//! libinjection's SQL tokenizer: one byte picks a parser (word, number,
//! string, comment, operator, …), which consumes a token. It knows several
//! dialects at once (MySQL `#` comments and backticks, PostgreSQL `$$`
//! strings and `::` casts, Oracle `q'[…]'`, TSQL `[names]`), since the
//! query the input lands in is unknown.
//!
//! Quirks of the C original are kept on purpose, because fingerprints
//! depend on them: token text is cut to 31 bytes, a NUL byte counts as a
//! member of every C character set searched with `strchr` (it matches the
//! set's terminator), and bytes from 0x80 are negative `char`s where the C
//! code compares them numerically.

use super::keywords;
use super::tokens::{TOKEN_SIZE, Token, TokenType as T};

/// Which quote the input is assumed to follow, if any.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Quote {
    None,
    Single,
    Double,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dialect {
    Ansi,
    Mysql,
}

const WORD_DELIMITERS: &[u8] = b" []{}<>:\\?=@!#~+-*/&|^%(),';\t\n\x0b\x0c\r\"\xa0\0";
const VARIABLE_DELIMITERS: &[u8] = b" <>:\\?=@!#~+-*/&|^%(),';\t\n\x0b\x0c\r'`\"\0";
const HEX_DIGITS: &[u8] = b"0123456789ABCDEFabcdef\0";
const BINARY_DIGITS: &[u8] = b"01\0";

fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0 | 0)
}

/// Length of the prefix of `s` made of bytes in `set`.
fn span(s: &[u8], set: &[u8]) -> usize {
    s.iter().position(|b| !set.contains(b)).unwrap_or(s.len())
}

/// Length of the prefix of `s` made of bytes not in `set`.
fn cspan(s: &[u8], set: &[u8]) -> usize {
    s.iter().position(|b| set.contains(b)).unwrap_or(s.len())
}

/// Offset of the first `c0` immediately followed by `c1`.
fn find_pair(s: &[u8], c0: u8, c1: u8) -> Option<usize> {
    s.windows(2).position(|w| w == [c0, c1])
}

pub(crate) struct Tokenizer<'a> {
    s: &'a [u8],
    quote: Quote,
    dialect: Dialect,
    pos: usize,
    current: Token,
    /// `--` comments not followed by whitespace (MySQL would not see a
    /// comment there).
    pub(crate) stats_comment_ddx: u32,
    /// `#` seen (a comment in MySQL, an operator elsewhere).
    pub(crate) stats_comment_hash: u32,
}

impl<'a> Tokenizer<'a> {
    pub(crate) fn new(s: &'a [u8], quote: Quote, dialect: Dialect) -> Self {
        Tokenizer {
            s,
            quote,
            dialect,
            pos: 0,
            current: Token::new(),
            stats_comment_ddx: 0,
            stats_comment_hash: 0,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    fn rest(&self, from: usize) -> &'a [u8] {
        self.s.get(from..).unwrap_or(&[])
    }

    fn range(&self, from: usize, len: usize) -> &'a [u8] {
        let end = from.saturating_add(len).min(self.s.len());
        self.s.get(from..end).unwrap_or(&[])
    }

    pub(crate) fn next_token(&mut self) -> Option<Token> {
        if self.s.is_empty() {
            return None;
        }
        self.current = Token::new();
        if self.pos == 0 && self.quote != Quote::None {
            let delim = if self.quote == Quote::Single {
                b'\''
            } else {
                b'"'
            };
            self.pos = self.string_core(0, delim, 0);
            return Some(std::mem::replace(&mut self.current, Token::new()));
        }
        while self.pos < self.s.len() {
            self.pos = self.parse_at(self.pos);
            if self.current.token_type != T::None {
                return Some(std::mem::replace(&mut self.current, Token::new()));
            }
        }
        None
    }

    /// Runs the parser for the byte at `pos`; returns where the next
    /// token starts. Every parser consumes at least one byte.
    fn parse_at(&mut self, pos: usize) -> usize {
        let ch = self.at(pos);
        match ch {
            0..=32 | 127 | 0xa0 => pos + 1,
            b'!' | b'&' | b'*' | b':' | b'<' | b'=' | b'>' | b'|' => self.operator2(pos),
            b'"' | b'\'' => self.string_core(pos, ch, 1),
            b'#' => self.hash(pos),
            b'$' => self.money(pos),
            b'%' | b'+' | b'^' | b'~' => self.single(T::Operator, pos),
            b'(' | b')' | b',' | b';' | b'{' | b'}' => self.single(T::from_char(ch), pos),
            b'-' => self.dash(pos),
            b'.' | b'0'..=b'9' => self.number(pos),
            b'/' => self.slash(pos),
            b'?' | b']' => self.single(T::Unknown, pos),
            b'@' => self.variable(pos),
            b'B' | b'b' => self.prefixed_literal(pos, BINARY_DIGITS),
            b'X' | b'x' => self.prefixed_literal(pos, HEX_DIGITS),
            b'E' | b'e' => self.estring(pos),
            b'N' | b'n' => self.nqstring(pos),
            b'Q' | b'q' => self.qstring(pos, 0),
            b'U' | b'u' => self.ustring(pos),
            b'[' => self.bracket_word(pos),
            b'\\' => self.backslash(pos),
            b'`' => self.tick(pos),
            _ => self.word(pos),
        }
    }

    fn single(&mut self, ty: T, pos: usize) -> usize {
        let value = self.range(pos, 1);
        self.current.assign(ty, pos, value);
        pos + 1
    }

    fn assign(&mut self, ty: T, pos: usize, len: usize) {
        let value = self.range(pos, len);
        self.current.assign(ty, pos, value);
    }

    fn eol_comment(&mut self, pos: usize) -> usize {
        match memchr::memchr(b'\n', self.rest(pos)) {
            None => {
                self.assign(T::Comment, pos, self.s.len() - pos);
                self.s.len()
            }
            Some(n) => {
                self.assign(T::Comment, pos, n);
                pos + n + 1
            }
        }
    }

    fn hash(&mut self, pos: usize) -> usize {
        self.stats_comment_hash += 1;
        if self.dialect == Dialect::Mysql {
            self.stats_comment_hash += 1;
            self.eol_comment(pos)
        } else {
            self.single(T::Operator, pos)
        }
    }

    /// `-- ` and `--` at the end are comments everywhere; `--x` is one
    /// in ANSI SQL but two minus signs in MySQL; `-` alone is an operator.
    fn dash(&mut self, pos: usize) -> usize {
        let len = self.s.len();
        let dd = self.at(pos + 1) == b'-';
        if dd && ((pos + 2 < len && is_white(self.at(pos + 2))) || pos + 2 == len) {
            self.eol_comment(pos)
        } else if dd && pos + 1 < len && self.dialect == Dialect::Ansi {
            self.stats_comment_ddx += 1;
            self.eol_comment(pos)
        } else {
            self.single(T::Operator, pos)
        }
    }

    fn slash(&mut self, pos: usize) -> usize {
        if self.at(pos + 1) != b'*' || pos + 1 >= self.s.len() {
            return self.single(T::Operator, pos);
        }
        let body = self.rest(pos + 2);
        let end = find_pair(body, b'*', b'/');
        let clen = match end {
            None => self.s.len() - pos,
            Some(n) => n + 4,
        };
        // Nested comments (PostgreSQL) and MySQL's executable `/*!`
        // comments cannot be parsed consistently: evil.
        let nested =
            end.is_some_and(|n| find_pair(body.get(..=n).unwrap_or(&[]), b'/', b'*').is_some());
        let mysql_exec = pos + 2 < self.s.len() && self.at(pos + 2) == b'!';
        let ty = if nested || mysql_exec {
            T::Evil
        } else {
            T::Comment
        };
        self.assign(ty, pos, clen);
        pos + clen
    }

    fn backslash(&mut self, pos: usize) -> usize {
        // MySQL's `\N` is NULL.
        if pos + 1 < self.s.len() && self.at(pos + 1) == b'N' {
            self.assign(T::Number, pos, 2);
            pos + 2
        } else {
            self.single(T::Backslash, pos)
        }
    }

    fn operator2(&mut self, pos: usize) -> usize {
        if pos + 1 >= self.s.len() {
            return self.single(T::Operator, pos);
        }
        if self.range(pos, 3) == b"<=>" {
            self.assign(T::Operator, pos, 3);
            return pos + 3;
        }
        if let Some(ty) = keywords::lookup(self.range(pos, 2)) {
            self.assign(T::from_char(ty), pos, 2);
            return pos + 2;
        }
        if self.at(pos) == b':' {
            self.single(T::Colon, pos)
        } else {
            self.single(T::Operator, pos)
        }
    }

    /// A string from `pos + offset` up to an unescaped `delim` (a
    /// backslash or a doubled delimiter escapes it). `offset` 0 means the
    /// opening quote is only assumed (quote context).
    fn string_core(&mut self, pos: usize, delim: u8, offset: usize) -> usize {
        let start = pos + offset;
        let body = self.rest(start);
        self.current.str_open = if offset > 0 { delim } else { 0 };
        let mut from = 0;
        loop {
            let Some(q) = body
                .get(from..)
                .and_then(|b| memchr::memchr(delim, b))
                .map(|i| from + i)
            else {
                self.assign(T::String, start, body.len());
                self.current.str_close = 0;
                return self.s.len();
            };
            let backslashes = body
                .get(..q)
                .unwrap_or(&[])
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count();
            if backslashes % 2 == 1 {
                from = q + 1;
            } else if body.get(q + 1) == Some(&delim) {
                from = q + 2;
            } else {
                self.assign(T::String, start, q);
                self.current.str_close = delim;
                return start + q + 1;
            }
        }
    }

    /// `E'…'` (PostgreSQL escaped string) and, via `N'…'`, MySQL's
    /// national character strings.
    fn estring(&mut self, pos: usize) -> usize {
        if pos + 2 >= self.s.len() || self.at(pos + 1) != b'\'' {
            return self.word(pos);
        }
        self.string_core(pos, b'\'', 2)
    }

    /// `U&'…'`: PostgreSQL Unicode escapes.
    fn ustring(&mut self, pos: usize) -> usize {
        if pos + 2 < self.s.len() && self.at(pos + 1) == b'&' && self.at(pos + 2) == b'\'' {
            let next = self.string_core(pos + 2, b'\'', 1);
            self.current.str_open = b'u';
            if self.current.str_close == b'\'' {
                self.current.str_close = b'u';
            }
            next
        } else {
            self.word(pos)
        }
    }

    fn nqstring(&mut self, pos: usize) -> usize {
        if pos + 2 < self.s.len() && self.at(pos + 1) == b'\'' {
            return self.estring(pos);
        }
        self.qstring(pos, 1)
    }

    /// Oracle's `q'[…]'` (or `nq'…'`): the character after the quote
    /// picks the closing one.
    fn qstring(&mut self, word_pos: usize, offset: usize) -> usize {
        let pos = word_pos + offset;
        let len = self.s.len();
        if pos >= len
            || !matches!(self.at(pos), b'q' | b'Q')
            || pos + 2 >= len
            || self.at(pos + 1) != b'\''
        {
            return self.word(word_pos);
        }
        let open = self.at(pos + 2);
        // C compares a signed char: bytes from 0x80 are below 33 too.
        if !(33..0x80).contains(&open) {
            return self.word(word_pos);
        }
        let close = match open {
            b'(' => b')',
            b'[' => b']',
            b'{' => b'}',
            b'<' => b'>',
            other => other,
        };
        let body = self.rest(pos + 3);
        self.current.str_open = b'q';
        match find_pair(body, close, b'\'') {
            None => {
                self.assign(T::String, pos + 3, body.len());
                self.current.str_close = 0;
                len
            }
            Some(n) => {
                self.assign(T::String, pos + 3, n);
                self.current.str_close = b'q';
                pos + 3 + n + 2
            }
        }
    }

    /// `b'0101'` and `x'4F'` literals are numbers; anything else starting
    /// with those letters is a word.
    fn prefixed_literal(&mut self, pos: usize, digits: &[u8]) -> usize {
        let len = self.s.len();
        if pos + 2 >= len || self.at(pos + 1) != b'\'' {
            return self.word(pos);
        }
        let n = span(self.rest(pos + 2), digits);
        if pos + 2 + n >= len || self.at(pos + 2 + n) != b'\'' {
            return self.word(pos);
        }
        self.assign(T::Number, pos, n + 3);
        pos + n + 3
    }

    /// TSQL's `[bracketed name]`.
    fn bracket_word(&mut self, pos: usize) -> usize {
        match memchr::memchr(b']', self.rest(pos)) {
            None => {
                self.assign(T::Bareword, pos, self.s.len() - pos);
                self.s.len()
            }
            Some(n) => {
                self.assign(T::Bareword, pos, n + 1);
                pos + n + 1
            }
        }
    }

    fn word(&mut self, pos: usize) -> usize {
        let wlen = cspan(self.rest(pos), WORD_DELIMITERS);
        self.assign(T::Bareword, pos, wlen);
        // `SELECT.1`, `SELECT`col``: a keyword glued to what follows by
        // `.` or a backtick ends there. Only the kept 31 bytes are looked
        // at, as in C, which also keeps this linear.
        let kept = self.current.len;
        for i in 0..kept {
            if matches!(self.current.val.get(i), Some(b'.' | b'`')) {
                let prefix = self.current.val.get(..i).unwrap_or(&[]);
                if let Some(ty) = keywords::lookup(prefix).filter(|&t| t != b'n') {
                    self.current = Token::new();
                    self.assign(T::from_char(ty), pos, i);
                    return pos + i;
                }
            }
        }
        if wlen < TOKEN_SIZE {
            let ty = keywords::lookup(self.range(pos, wlen)).unwrap_or(b'n');
            self.current.token_type = T::from_char(ty);
        }
        pos + wlen
    }

    /// MySQL backtick names: a function name stays a function, anything
    /// else is a bare word.
    fn tick(&mut self, pos: usize) -> usize {
        let next = self.string_core(pos, b'`', 1);
        let name = super::tokens::text(&self.current);
        self.current.token_type = if keywords::lookup(name) == Some(b'f') {
            T::Function
        } else {
            T::Bareword
        };
        next
    }

    fn variable(&mut self, at: usize) -> usize {
        let mut pos = at + 1;
        if self.at(pos) == b'@' && pos < self.s.len() {
            pos += 1;
            self.current.count = 2;
        } else {
            self.current.count = 1;
        }
        if pos < self.s.len() {
            let ch = self.at(pos);
            if ch == b'`' {
                let next = self.tick(pos);
                self.current.token_type = T::Variable;
                return next;
            }
            if ch == b'\'' || ch == b'"' {
                let next = self.string_core(pos, ch, 1);
                self.current.token_type = T::Variable;
                return next;
            }
        }
        let n = cspan(self.rest(pos), VARIABLE_DELIMITERS);
        self.assign(T::Variable, pos, n);
        pos + n
    }

    /// `$1,000.00` money, PostgreSQL `$$…$$` and `$tag$…$tag$` strings.
    fn money(&mut self, pos: usize) -> usize {
        let len = self.s.len();
        if pos + 1 == len {
            return self.single(T::Bareword, pos);
        }
        let digits = span(self.rest(pos + 1), b"0123456789.,\0");
        if digits == 1 && self.at(pos + 1) == b'.' {
            return self.word(pos);
        }
        if digits > 0 {
            self.assign(T::Number, pos, digits + 1);
            return pos + digits + 1;
        }
        if self.at(pos + 1) == b'$' {
            let body = self.rest(pos + 2);
            self.current.str_open = b'$';
            return match find_pair(body, b'$', b'$') {
                None => {
                    self.assign(T::String, pos + 2, body.len());
                    self.current.str_close = 0;
                    len
                }
                Some(n) => {
                    self.assign(T::String, pos + 2, n);
                    self.current.str_close = b'$';
                    pos + 2 + n + 2
                }
            };
        }
        let tag_len = span(
            self.rest(pos + 1),
            b"abcdefghjiklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\0",
        );
        if tag_len == 0 || pos + tag_len + 1 == len || self.at(pos + tag_len + 1) != b'$' {
            return self.single(T::Bareword, pos);
        }
        // `$tag$ … $tag$`
        let tag = self.range(pos, tag_len + 2);
        let body_start = pos + tag_len + 2;
        let body = self.rest(body_start);
        self.current.str_open = b'$';
        match memchr::memmem::find(body, tag) {
            None => {
                self.assign(T::String, body_start, body.len());
                self.current.str_close = 0;
                len
            }
            Some(n) => {
                self.assign(T::String, body_start, n);
                self.current.str_close = b'$';
                body_start + n + tag_len + 2
            }
        }
    }

    fn number(&mut self, start: usize) -> usize {
        let len = self.s.len();
        if self.at(start) == b'0' && start + 1 < len {
            let digits: Option<&[u8]> = match self.at(start + 1) {
                b'X' | b'x' => Some(HEX_DIGITS),
                b'B' | b'b' => Some(BINARY_DIGITS),
                _ => None,
            };
            if let Some(digits) = digits {
                let n = span(self.rest(start + 2), digits);
                let ty = if n == 0 { T::Bareword } else { T::Number };
                self.assign(ty, start, n + 2);
                return start + n + 2;
            }
        }
        let digit = |b: u8| b.is_ascii_digit();
        let mut pos = start;
        while pos < len && digit(self.at(pos)) {
            pos += 1;
        }
        if pos < len && self.at(pos) == b'.' {
            pos += 1;
            while pos < len && digit(self.at(pos)) {
                pos += 1;
            }
            if pos - start == 1 {
                self.current.assign(T::Dot, start, b".");
                return pos;
            }
        }
        let (mut have_e, mut have_exp) = (false, false);
        if pos < len && matches!(self.at(pos), b'E' | b'e') {
            have_e = true;
            pos += 1;
            if pos < len && matches!(self.at(pos), b'+' | b'-') {
                pos += 1;
            }
            while pos < len && digit(self.at(pos)) {
                have_exp = true;
                pos += 1;
            }
        }
        // Oracle's float/double suffix, when the number ends there
        // (`1.2f UNION` too, but not `123FROM`).
        if pos < len && matches!(self.at(pos), b'd' | b'D' | b'f' | b'F') {
            let next = self.at(pos + 1);
            if pos + 1 == len || is_white(next) || next == b';' || matches!(next, b'u' | b'U') {
                pos += 1;
            }
        }
        // `1234.e`, `.E`: a word, not a number.
        let ty = if have_e && !have_exp {
            T::Bareword
        } else {
            T::Number
        };
        self.assign(ty, start, pos - start);
        pos
    }
}
