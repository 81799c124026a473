//! SecRule operators. CONTRACT (the engine relies on these signatures):
//!
//! * [`Operator::compile`] takes the operator string of a `SecRule` as
//!   written after unquoting (`@rx ^foo`, `!@pm a b`, a bare `^foo` meaning
//!   `@rx`) and compiles it once: regexes, Aho-Corasick automata, IP sets,
//!   `@pmFromFile`/`@ipMatchFromFile` data read relative to
//!   [`OperatorContext::base_dir`]. Unknown operators and bad arguments are
//!   errors (the loader turns them into `FILE:LINE: message`).
//! * [`Operator::evaluate`] applies negation itself, never panics, and fills
//!   [`Captures`] (TX:0–9) when asked: `@rx` groups, the `@pm` phrase, the
//!   `@detectSQLi` fingerprint. Arguments holding macros (`%{tx.foo}`) are
//!   expanded per call through [`MacroExpander`].

use std::borrow::Cow;
use std::path::Path;

/// Expands `%{collection.key}` macros in an operator argument at run time.
pub trait MacroExpander {
    fn expand<'a>(&self, text: &'a str) -> Cow<'a, str>;
}

/// Where data files named by `@pmFromFile`/`@ipMatchFromFile` are found:
/// the directory of the rule file that names them.
#[derive(Debug, Clone, Copy)]
pub struct OperatorContext<'a> {
    pub base_dir: &'a Path,
}

/// TX:0 … TX:9 of the last match that asked for `capture`.
#[derive(Debug, Default, Clone)]
pub struct Captures {
    pub groups: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("unknown operator `@{0}`")]
    Unknown(String),
    #[error("@{operator}: {message}")]
    BadArgument { operator: String, message: String },
}

#[derive(Debug)]
pub struct Operator {
    negated: bool,
}

impl Operator {
    pub fn compile(spec: &str, _context: &OperatorContext<'_>) -> Result<Self, OperatorError> {
        let negated = spec.trim_start().starts_with('!');
        Ok(Self { negated })
    }

    pub fn is_negated(&self) -> bool {
        self.negated
    }

    pub fn evaluate(
        &self,
        _input: &[u8],
        _macros: &dyn MacroExpander,
        _captures: Option<&mut Captures>,
    ) -> bool {
        self.negated
    }
}
