//! The one error type of parsing and compiling, so callers (the API, the
//! dashboard) can point at the offending column without parsing messages.

use std::fmt;

/// What went wrong, for callers that want to react differently (e.g. an API
/// that maps unknown lists to a 404-style field error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not a well-formed expression.
    Syntax,
    /// The expression is longer or nests deeper than the limits allow.
    TooComplex,
    /// A field name the scheme does not know.
    UnknownField,
    /// A function name that does not exist.
    UnknownFunction,
    /// A `$list` the scheme does not declare.
    UnknownList,
    /// Well-formed, but the types do not fit (operator, literal or argument).
    Type,
    /// A `matches` or `wildcard` pattern that does not compile or is too big.
    Regex,
}

/// A parse or compile error with the 1-based column (counted in characters
/// from the start of the expression; a newline counts as one) where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    /// 1-based, in characters.
    pub column: usize,
    /// A sentence for people, naming what was expected and what was found.
    pub message: String,
    /// The class of problem.
    pub kind: ErrorKind,
}

impl RuleError {
    pub(crate) fn new(kind: ErrorKind, column: usize, message: impl Into<String>) -> Self {
        Self {
            column: column.max(1),
            message: message.into(),
            kind,
        }
    }

    pub(crate) fn syntax(column: usize, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Syntax, column, message)
    }

    pub(crate) fn ty(column: usize, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Type, column, message)
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

/// Suggests the closest candidate for a misspelt name, so a typo costs one
/// glance instead of a trip to the documentation.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    // Names are short; a long word is no typo, and comparing it with many
    // list names would cost quadratic time on hostile input.
    if word.len() > 64 {
        return None;
    }
    let limit = (word.chars().count() / 3).clamp(1, 4);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars; the inputs are short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        let mut left = i + 1;
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(left);
        for (j, cb) in b.iter().enumerate() {
            let diag = prev.get(j).copied().unwrap_or(0);
            let up = prev.get(j + 1).copied().unwrap_or(0);
            let cost = usize::from(ca != *cb);
            left = (diag + cost).min(up + 1).min(left + 1);
            row.push(left);
        }
        cur.clear();
        cur.extend_from_slice(&row);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }

    #[test]
    fn suggestion() {
        let c = ["http.request.uri", "http.request.uri.path", "http.host"];
        assert_eq!(
            did_you_mean("http.request.urii", c),
            Some("http.request.uri")
        );
        assert_eq!(did_you_mean("completely.else", c), None);
    }
}
