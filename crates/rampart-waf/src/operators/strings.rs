//! Case-sensitive string comparisons whose argument may hold macros:
//! `@streq`, `@contains`, `@containsWord`, `@beginsWith`, `@endsWith`,
//! `@within`.

use memchr::memmem;

use super::prefilter::RequiredLiterals;
use super::{Arg, Captures, MacroExpander};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StrKind {
    Equals,
    Contains,
    ContainsWord,
    BeginsWith,
    EndsWith,
    /// The input is found inside the argument (a list such as
    /// `tx.allowed_methods`); an empty input is always within.
    Within,
}

#[derive(Debug)]
pub(super) struct StrOp {
    kind: StrKind,
    arg: Arg,
    /// Prebuilt searcher for a static `@contains` argument.
    finder: Option<memmem::Finder<'static>>,
    required: Option<RequiredLiterals>,
}

impl StrOp {
    pub(super) fn new(kind: StrKind, argument: &str) -> Self {
        let arg = Arg::new(argument);
        let finder = match (&arg, kind) {
            (Arg::Static(text), StrKind::Contains) => {
                Some(memmem::Finder::new(text.as_bytes()).into_owned())
            }
            _ => None,
        };
        // Every kind but `@within` matches only inputs holding the argument.
        let required = match (&arg, kind) {
            (_, StrKind::Within) | (Arg::Macro(_), _) => None,
            (Arg::Static(text), _) => RequiredLiterals::new([text.as_bytes().to_vec()]),
        };
        Self {
            kind,
            arg,
            finder,
            required,
        }
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
        let value = self.arg.value(macros);
        let param = value.as_bytes();
        let hit = match self.kind {
            StrKind::Equals => input == param,
            StrKind::Contains => match &self.finder {
                Some(finder) => finder.find(input).is_some(),
                None => memmem::find(input, param).is_some(),
            },
            StrKind::ContainsWord => contains_word(input, param),
            StrKind::BeginsWith => input.starts_with(param),
            StrKind::EndsWith => input.ends_with(param),
            StrKind::Within => input.is_empty() || memmem::find(param, input).is_some(),
        };
        // ModSecurity captures the argument for the "found X" operators.
        if hit
            && self.kind != StrKind::Equals
            && self.kind != StrKind::Within
            && let Some(out) = captures
        {
            out.set_single(param);
        }
        hit
    }
}

/// `word` occurs in `input` with no ASCII letter right before or after it.
/// Only letters break a word, as in ModSecurity: `1select1` contains the
/// word `select`.
fn contains_word(input: &[u8], word: &[u8]) -> bool {
    if word.is_empty() {
        return true;
    }
    let finder = memmem::Finder::new(word);
    // Past either end of the input counts as a boundary.
    let boundary = |at: Option<usize>| match at.and_then(|i| input.get(i)) {
        Some(byte) => !byte.is_ascii_alphabetic(),
        None => true,
    };
    let mut start = 0;
    while let Some(found) = input.get(start..).and_then(|rest| finder.find(rest)) {
        let pos = start + found;
        let before = pos.checked_sub(1);
        let after = pos + word.len();
        if boundary(before) && boundary(Some(after)) {
            return true;
        }
        // Overlapping occurrences count: `aab` inside `aaab`.
        start = pos + 1;
    }
    false
}
