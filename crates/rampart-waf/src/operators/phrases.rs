//! `@pm`, `@pmFromFile` (`@pmf`) and `@strmatch`.
//!
//! Phrase matching is ASCII case-insensitive substring search over a set of
//! phrases, like ModSecurity's Aho-Corasick matcher. `@pm` phrases are
//! separated by whitespace and may spell bytes as `|hex|` (Snort style);
//! data files hold one phrase per line, `#` comments and blank lines
//! skipped.

use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;

use super::prefilter::RequiredLiterals;
use super::{Captures, OperatorError};

#[derive(Debug)]
pub(super) struct PhraseSet {
    automaton: AhoCorasick,
    required: Option<RequiredLiterals>,
}

impl PhraseSet {
    pub(super) fn from_argument(operator: &str, argument: &str) -> Result<Self, OperatorError> {
        let content = decode_pm_content(argument).unwrap_or_else(|| argument.as_bytes().to_vec());
        let phrases: Vec<&[u8]> = content
            .split(|b| b.is_ascii_whitespace())
            .filter(|phrase| !phrase.is_empty())
            .collect();
        Self::new(operator, &phrases)
    }

    pub(super) fn from_files(
        operator: &str,
        argument: &str,
        base_dir: &Path,
    ) -> Result<Self, OperatorError> {
        let mut phrases: Vec<Vec<u8>> = Vec::new();
        for text in data_files(operator, argument, base_dir)? {
            phrases.extend(
                data_lines(&text)
                    .filter(|line| !line.starts_with(b"#"))
                    .map(<[u8]>::to_vec),
            );
        }
        Self::new(operator, &phrases)
    }

    fn new<P: AsRef<[u8]>>(operator: &str, phrases: &[P]) -> Result<Self, OperatorError> {
        if phrases.is_empty() {
            return Err(OperatorError::bad(operator, "no phrases to match"));
        }
        // Leftmost-longest so a capture reports the whole phrase that
        // matched first, not a shorter phrase that happens to be its prefix.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(phrases)
            .map_err(|error| OperatorError::bad(operator, error.to_string()))?;
        let required = RequiredLiterals::new(phrases.iter().map(|p| p.as_ref().to_vec()));
        Ok(Self {
            automaton,
            required,
        })
    }

    pub(super) fn required_literals(&self) -> Option<&RequiredLiterals> {
        self.required.as_ref()
    }

    pub(super) fn evaluate(&self, input: &[u8], captures: Option<&mut Captures>) -> bool {
        let Some(out) = captures else {
            return self.automaton.is_match(input);
        };
        let Some(found) = self.automaton.find(input) else {
            return false;
        };
        // The phrase as it appears in the input (its case may differ from
        // the rule's).
        out.set_single(input.get(found.range()).unwrap_or_default());
        true
    }
}

/// Reads the space-separated data files of a `…FromFile` operator,
/// relative to the rule file's directory.
pub(super) fn data_files(
    operator: &str,
    argument: &str,
    base_dir: &Path,
) -> Result<Vec<Vec<u8>>, OperatorError> {
    let names: Vec<&str> = argument.split_ascii_whitespace().collect();
    if names.is_empty() {
        return Err(OperatorError::bad(operator, "no data file named"));
    }
    names
        .into_iter()
        .map(|name| {
            if name.starts_with("http://") || name.starts_with("https://") {
                return Err(OperatorError::bad(
                    operator,
                    format!("`{name}`: remote data files are not supported"),
                ));
            }
            let path = base_dir.join(name);
            std::fs::read(&path).map_err(|error| {
                OperatorError::bad(operator, format!("{}: {error}", path.display()))
            })
        })
        .collect()
}

/// The non-blank lines of a data file, without their line ending.
pub(super) fn data_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
}

/// Decodes `|41 42|` hex runs and `\` escapes in a `@pm` argument and drops
/// the quotes around it, as ModSecurity does. `None` when the argument uses
/// none of that or is malformed: the text is then taken literally.
fn decode_pm_content(argument: &str) -> Option<Vec<u8>> {
    let bytes = argument.as_bytes();
    if !bytes.contains(&b'|') && !bytes.contains(&b'\\') {
        return None;
    }
    let inner = match bytes {
        [b'"', inner @ .., b'"'] => inner,
        _ => bytes,
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut iter = inner.iter().copied();
    let mut in_hex = false;
    while let Some(byte) = iter.next() {
        match (in_hex, byte) {
            (_, b'|') => in_hex = !in_hex,
            (true, b' ') => {}
            (true, high) => {
                let low = iter.next()?;
                out.push(hex_value(high)? << 4 | hex_value(low)?);
            }
            (false, b'\\') => out.push(iter.next()?),
            (false, other) => out.push(other),
        }
    }
    if in_hex {
        return None;
    }
    Some(out)
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

/// `@strmatch`: case-sensitive substring search for one fixed string.
#[derive(Debug)]
pub(super) struct StrMatch {
    needle: Vec<u8>,
    finder: memmem::Finder<'static>,
    required: Option<RequiredLiterals>,
}

impl StrMatch {
    pub(super) fn new(argument: &str) -> Self {
        Self {
            needle: argument.as_bytes().to_vec(),
            finder: memmem::Finder::new(argument.as_bytes()).into_owned(),
            required: RequiredLiterals::new([argument.as_bytes().to_vec()]),
        }
    }

    pub(super) fn required_literals(&self) -> Option<&RequiredLiterals> {
        self.required.as_ref()
    }

    pub(super) fn evaluate(&self, input: &[u8], captures: Option<&mut Captures>) -> bool {
        let hit = self.finder.find(input).is_some();
        if hit && let Some(out) = captures {
            out.set_single(&self.needle);
        }
        hit
    }
}
