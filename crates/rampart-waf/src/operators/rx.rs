//! `@rx` and `@rxGlobal`.
//!
//! CRS's reference engine, ModSecurity v2, compiles with PCRE
//! `DOTALL|DOLLAR_ENDONLY` and no UTF mode: `.` matches a newline, `^`/`$`
//! anchor only at the ends of the value (not at line breaks: ModSecurity v3
//! and Coraza's default add MULTILINE, which CRS issue #3277 and both
//! projects treat as the deviation: it lets `!@rx ^\d+$` pass `1\nevil`),
//! and a pattern sees raw bytes: `\xff` is the byte 0xFF and `\w` is ASCII.
//! The `regex` crate with Unicode off gives the same reading, runs in
//! linear time (no PCRE match limit to hit) and refuses what RE2 refuses
//! (backreferences, lookaround), which CRS 4 promises not to use.

use regex::bytes::{Regex, RegexBuilder};

use super::prefilter::{RequiredLiterals, regex_literals};
use super::{Captures, MAX_CAPTURES, MacroExpander, OperatorError};

/// The compiled program of one rule's regex may use this much heap:
/// generous for CRS's large alternations.
const SIZE_LIMIT: usize = 64 << 20;
/// A pattern built from a macro is compiled per request from data that may
/// be the client's, so it gets a much smaller budget.
const RUNTIME_SIZE_LIMIT: usize = 1 << 20;
/// Lazy DFA cache per regex and thread; past it the regex falls back to a
/// slower engine instead of growing. With ~300 CRS regexes per thread,
/// more buys nothing measurable (CRS inputs are short) and risks memory.
const DFA_SIZE_LIMIT: usize = 2 << 20;

#[derive(Debug)]
enum Source {
    /// ModSecurity treats an empty pattern as `.*`: it always matches.
    Empty,
    Static(Regex),
    /// Compiled per evaluation, after macro expansion.
    Macro(String),
}

#[derive(Debug)]
pub(super) struct Rx {
    source: Source,
    /// `@rxGlobal`: captures come from the last of all matches.
    global: bool,
    required: Option<RequiredLiterals>,
}

pub(super) fn build(pattern: &str) -> Result<Regex, regex::Error> {
    build_with_limit(pattern, SIZE_LIMIT)
}

fn build_with_limit(pattern: &str, size_limit: usize) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&byte_pattern(pattern))
        .unicode(false)
        .dot_matches_new_line(true)
        .multi_line(false)
        .size_limit(size_limit)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
}

impl Rx {
    pub(super) fn compile(pattern: &str, global: bool) -> Result<Self, OperatorError> {
        let operator = if global { "rxGlobal" } else { "rx" };
        let mut required = None;
        let source = if pattern.is_empty() {
            Source::Empty
        } else if pattern.contains("%{") {
            Source::Macro(pattern.to_owned())
        } else {
            required = regex_literals(pattern);
            let regex =
                build(pattern).map_err(|error| OperatorError::bad(operator, error.to_string()))?;
            Source::Static(regex)
        };
        Ok(Self {
            source,
            global,
            required,
        })
    }

    pub(super) fn required_literals(&self) -> Option<&RequiredLiterals> {
        self.required.as_ref()
    }

    pub(super) fn evaluate(
        &self,
        input: &[u8],
        macros: &dyn MacroExpander,
        captures: Option<&mut Captures>,
    ) -> bool {
        match &self.source {
            Source::Empty => true,
            Source::Static(regex) => self.run(regex, input, captures),
            Source::Macro(pattern) => {
                let expanded = macros.expand(pattern);
                if expanded.is_empty() {
                    return true;
                }
                // A value that does not compile cannot match; ModSecurity
                // likewise reports no match when its runtime compile fails.
                match build_with_limit(&expanded, RUNTIME_SIZE_LIMIT) {
                    Ok(regex) => self.run(&regex, input, captures),
                    Err(_) => false,
                }
            }
        }
    }

    fn run(&self, regex: &Regex, input: &[u8], captures: Option<&mut Captures>) -> bool {
        let Some(out) = captures else {
            return regex.is_match(input);
        };
        if regex.captures_len() == 1 {
            // Only group 0, the whole match: no capture slots needed.
            let found = if self.global {
                regex.find_iter(input).last()
            } else {
                regex.find(input)
            };
            let Some(m) = found else {
                return false;
            };
            out.groups.clear();
            out.groups.push(m.as_bytes().to_vec());
            return true;
        }
        let found = if self.global {
            regex.captures_iter(input).last()
        } else {
            regex.captures(input)
        };
        let Some(found) = found else {
            return false;
        };
        out.groups.clear();
        out.groups.extend(
            found
                .iter()
                .take(MAX_CAPTURES)
                .map(|group| group.map(|m| m.as_bytes().to_vec()).unwrap_or_default()),
        );
        true
    }
}

/// Rewrites a PCRE pattern so the `regex` crate (Unicode off) reads it as
/// PCRE without UTF mode does: `\x{bc}` is the byte 0xBC (the crate would
/// take it as the code point U+00BC, or refuse it inside a class), and a
/// literal non-ASCII character is the sequence of its UTF-8 bytes. CRS
/// relies on this for its byte-level UTF-8 and 8-bit evasion patterns.
pub(super) fn byte_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii() {
            push_utf8_bytes(&mut out, c);
            continue;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('x') if chars.peek() == Some(&'{') => {
                let digits: String = chars.clone().skip(1).take_while(|&d| d != '}').collect();
                let closed = chars.clone().nth(1 + digits.len()) == Some('}');
                match u32::from_str_radix(&digits, 16) {
                    Ok(value) if closed && value <= 0xff && !digits.is_empty() => {
                        out.push_str(&format!("\\x{value:02x}"));
                        // Skip `{`, the digits and `}`.
                        for _ in 0..digits.len() + 2 {
                            chars.next();
                        }
                    }
                    _ => out.push_str("\\x"),
                }
            }
            Some(escaped) if !escaped.is_ascii() => push_utf8_bytes(&mut out, escaped),
            Some(escaped) => {
                out.push('\\');
                out.push(escaped);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn push_utf8_bytes(out: &mut String, c: char) {
    let mut buffer = [0; 4];
    for byte in c.encode_utf8(&mut buffer).bytes() {
        out.push_str(&format!("\\x{byte:02x}"));
    }
}
