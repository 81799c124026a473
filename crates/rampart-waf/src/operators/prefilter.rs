//! Required literals: a necessary condition for an operator to match, so
//! an engine can skip operators (with one multi-pattern scan per value)
//! that cannot match. Sound but loose: a value holding a literal may still
//! not match; a value holding none of them never does.

use regex_syntax::ParserBuilder;
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// How many literals (before case folding) a regex may expand to; past it
/// the regex gets no hint rather than a huge one.
const REGEX_LITERAL_LIMIT: usize = 1024;

/// The operator can only match an input that contains at least one of
/// these byte strings, compared ASCII case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredLiterals {
    /// ASCII-lowercased, non-empty, sorted and deduplicated.
    pub any_of: Vec<Vec<u8>>,
}

impl RequiredLiterals {
    /// `None` when there is nothing to require: no literals, or one that
    /// is empty (the operator can match anything).
    pub(super) fn new(literals: impl IntoIterator<Item = Vec<u8>>) -> Option<Self> {
        let mut any_of = Vec::new();
        for mut literal in literals {
            if literal.is_empty() {
                return None;
            }
            literal.make_ascii_lowercase();
            any_of.push(literal);
        }
        if any_of.is_empty() {
            return None;
        }
        any_of.sort_unstable();
        any_of.dedup();
        Some(Self { any_of })
    }

    /// Whether `input` contains one of the literals. A straightforward
    /// check for tests and simple callers; an engine filtering many
    /// operators would build one Aho-Corasick automaton over all of them.
    pub fn may_match(&self, input: &[u8]) -> bool {
        let lowered = input.to_ascii_lowercase();
        self.any_of
            .iter()
            .any(|literal| memchr::memmem::find(&lowered, literal).is_some())
    }
}

/// Every match of the regex starts with one of its prefix literals (or, if
/// the prefixes are unbounded, ends with one of its suffix literals).
/// Parsed exactly as [`super::rx`] compiles the pattern.
pub(super) fn regex_literals(pattern: &str) -> Option<RequiredLiterals> {
    let hir = ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .build()
        .parse(&super::rx::byte_pattern(pattern))
        .ok()?;
    [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .find_map(|kind| {
            let mut extractor = Extractor::new();
            extractor.kind(kind).limit_total(REGEX_LITERAL_LIMIT);
            let seq = extractor.extract(&hir);
            let literals = seq.literals()?;
            RequiredLiterals::new(literals.iter().map(|literal| literal.as_bytes().to_vec()))
        })
}
