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
//!
//! Captures are written whenever the operator itself matched, before
//! negation is applied (as ModSecurity does); on no match they are left
//! untouched so the engine decides what a failed rule leaves in TX.
//!
//! Semantics follow ModSecurity (v3's operators, v2's regex flags, the
//! CRS reference; Coraza as the tie-breaker): regexes run over bytes with
//! `.` matching newlines and `^`/`$` anchored at the ends of the value,
//! phrase matching is ASCII case-insensitive, numeric operators read the
//! leading integer of each side (0 when there is none).

mod ip;
mod numeric;
mod phrases;
mod prefilter;
mod rx;
mod strings;
mod validate;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::Path;

use self::ip::IpSet;
use self::numeric::{Comparison, Numeric};
use self::phrases::{PhraseSet, StrMatch};
pub use self::prefilter::RequiredLiterals;
use self::rx::Rx;
use self::strings::{StrKind, StrOp};
use self::validate::ByteRange;

/// Expands `%{collection.key}` macros in an operator argument at run time.
pub trait MacroExpander {
    fn expand<'a>(&self, text: &'a str) -> Cow<'a, str>;
}

/// A [`MacroExpander`] that leaves text unchanged: for callers (tests,
/// tools) that evaluate operators outside a transaction.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMacros;

impl MacroExpander for NoMacros {
    fn expand<'a>(&self, text: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(text)
    }
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

/// TX:0 … TX:9: ModSecurity has no TX:10 capture.
pub const MAX_CAPTURES: usize = 10;

impl Captures {
    fn set_single(&mut self, value: &[u8]) {
        self.groups.clear();
        self.groups.push(value.to_vec());
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("unknown operator `@{0}`")]
    Unknown(String),
    #[error("@{operator}: {message}")]
    BadArgument { operator: String, message: String },
}

impl OperatorError {
    fn bad(operator: &str, message: impl Into<String>) -> Self {
        Self::BadArgument {
            operator: operator.to_owned(),
            message: message.into(),
        }
    }
}

/// An operator argument: static text is used as is, text holding `%{`
/// is expanded on every evaluation.
#[derive(Debug)]
enum Arg {
    Static(String),
    Macro(String),
}

impl Arg {
    fn new(text: &str) -> Self {
        if text.contains("%{") {
            Self::Macro(text.to_owned())
        } else {
            Self::Static(text.to_owned())
        }
    }

    fn value<'a>(&'a self, macros: &dyn MacroExpander) -> Cow<'a, str> {
        match self {
            Self::Static(text) => Cow::Borrowed(text),
            Self::Macro(text) => macros.expand(text),
        }
    }
}

#[derive(Debug)]
enum Kind {
    Rx(Rx),
    Pm(PhraseSet),
    StrMatch(StrMatch),
    Str(StrOp),
    Numeric(Numeric),
    ByteRange(ByteRange),
    UrlEncoding,
    Utf8Encoding,
    Ip(IpSet),
    Sqli,
    Xss,
    Always,
    Never,
}

#[derive(Debug)]
pub struct Operator {
    negated: bool,
    name: &'static str,
    kind: Kind,
}

/// Operators ModSecurity knows but Rampart deliberately leaves out (CRS 4
/// does not use them); naming them gives a clearer error than "unknown".
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "rbl",
        "DNS blocklist lookups would do network I/O per request",
    ),
    ("geoLookup", "no GeoIP database is loaded"),
    (
        "gsbLookup",
        "Google Safe Browsing lookups are not available",
    ),
    ("inspectFile", "running external programs is not allowed"),
    ("fuzzyHash", "ssdeep fuzzy hashing is not available"),
    ("verifyCC", "credit card number checks are not implemented"),
    (
        "verifySSN",
        "social security number checks are not implemented",
    ),
    ("verifyCPF", "CPF number checks are not implemented"),
    ("rsub", "regex substitution is not implemented"),
    ("validateDTD", "XML DTD validation is not implemented"),
    ("validateSchema", "XML schema validation is not implemented"),
    ("validateHash", "hash validation is not implemented"),
];

impl Operator {
    pub fn compile(spec: &str, context: &OperatorContext<'_>) -> Result<Self, OperatorError> {
        let spec = spec.trim_start();
        let (negated, spec) = match spec.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, spec),
        };
        let Some(named) = spec.strip_prefix('@') else {
            // A bare pattern is `@rx`.
            let kind = Kind::Rx(Rx::compile(spec, false)?);
            return Ok(Self {
                negated,
                name: "rx",
                kind,
            });
        };
        let (raw_name, argument) = match named.find(|c: char| c.is_ascii_whitespace()) {
            Some(end) => {
                let (name, rest) = named.split_at(end);
                (name, rest.trim_start())
            }
            None => (named, ""),
        };
        let (name, kind) = compile_kind(raw_name, argument, context)?;
        Ok(Self {
            negated,
            name,
            kind,
        })
    }

    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// The canonical operator name (`rx`, `pmFromFile`, …) without `@`,
    /// for logs and debugging.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A necessary condition for [`Operator::evaluate`] to return true:
    /// the input holds one of these literals (ASCII case-insensitively).
    /// `None` when no such condition is known, always for negated
    /// operators (they match when something is absent).
    pub fn required_literals(&self) -> Option<&RequiredLiterals> {
        if self.negated {
            return None;
        }
        match &self.kind {
            Kind::Rx(rx) => rx.required_literals(),
            Kind::Pm(set) => set.required_literals(),
            Kind::StrMatch(finder) => finder.required_literals(),
            Kind::Str(op) => op.required_literals(),
            _ => None,
        }
    }

    pub fn evaluate(
        &self,
        input: &[u8],
        macros: &dyn MacroExpander,
        captures: Option<&mut Captures>,
    ) -> bool {
        self.matches(input, macros, captures) != self.negated
    }

    fn matches(
        &self,
        input: &[u8],
        macros: &dyn MacroExpander,
        captures: Option<&mut Captures>,
    ) -> bool {
        match &self.kind {
            Kind::Rx(rx) => rx.evaluate(input, macros, captures),
            Kind::Pm(set) => set.evaluate(input, captures),
            Kind::StrMatch(finder) => finder.evaluate(input, captures),
            Kind::Str(op) => op.evaluate(input, macros, captures),
            Kind::Numeric(op) => op.evaluate(input, macros),
            Kind::ByteRange(range) => range.evaluate(input),
            Kind::UrlEncoding => validate::invalid_url_encoding(input),
            Kind::Utf8Encoding => validate::invalid_utf8(input),
            Kind::Ip(set) => set.evaluate(input),
            Kind::Sqli => match rampart_libinjection::detect_sqli(input) {
                Some(fingerprint) => {
                    if let Some(captures) = captures {
                        captures.set_single(fingerprint.as_bytes());
                    }
                    true
                }
                None => false,
            },
            Kind::Xss => {
                let hit = rampart_libinjection::detect_xss(input);
                if hit && let Some(captures) = captures {
                    captures.set_single(input);
                }
                hit
            }
            Kind::Always => true,
            Kind::Never => false,
        }
    }
}

fn compile_kind(
    raw_name: &str,
    argument: &str,
    context: &OperatorContext<'_>,
) -> Result<(&'static str, Kind), OperatorError> {
    let is = |name: &str| raw_name.eq_ignore_ascii_case(name);
    let string_op =
        |name: &'static str, kind: StrKind| (name, Kind::Str(StrOp::new(kind, argument)));
    let numeric =
        |name: &'static str, cmp: Comparison| (name, Kind::Numeric(Numeric::new(cmp, argument)));
    let compiled = if is("rx") {
        ("rx", Kind::Rx(Rx::compile(argument, false)?))
    } else if is("rxGlobal") {
        ("rxGlobal", Kind::Rx(Rx::compile(argument, true)?))
    } else if is("pm") {
        ("pm", Kind::Pm(PhraseSet::from_argument("pm", argument)?))
    } else if is("pmFromFile") || is("pmf") {
        let set = PhraseSet::from_files("pmFromFile", argument, context.base_dir)?;
        ("pmFromFile", Kind::Pm(set))
    } else if is("strmatch") {
        ("strmatch", Kind::StrMatch(StrMatch::new(argument)))
    } else if is("streq") {
        string_op("streq", StrKind::Equals)
    } else if is("contains") {
        string_op("contains", StrKind::Contains)
    } else if is("containsWord") {
        string_op("containsWord", StrKind::ContainsWord)
    } else if is("beginsWith") {
        string_op("beginsWith", StrKind::BeginsWith)
    } else if is("endsWith") {
        string_op("endsWith", StrKind::EndsWith)
    } else if is("within") {
        string_op("within", StrKind::Within)
    } else if is("eq") {
        numeric("eq", Comparison::Eq)
    } else if is("ge") {
        numeric("ge", Comparison::Ge)
    } else if is("gt") {
        numeric("gt", Comparison::Gt)
    } else if is("le") {
        numeric("le", Comparison::Le)
    } else if is("lt") {
        numeric("lt", Comparison::Lt)
    } else if is("validateByteRange") {
        let range = ByteRange::parse(argument)?;
        ("validateByteRange", Kind::ByteRange(range))
    } else if is("validateUrlEncoding") {
        ("validateUrlEncoding", Kind::UrlEncoding)
    } else if is("validateUtf8Encoding") {
        ("validateUtf8Encoding", Kind::Utf8Encoding)
    } else if is("ipMatch") {
        ("ipMatch", Kind::Ip(IpSet::from_argument(argument)?))
    } else if is("ipMatchFromFile") || is("ipMatchF") {
        let set = IpSet::from_files(argument, context.base_dir)?;
        ("ipMatchFromFile", Kind::Ip(set))
    } else if is("detectSQLi") {
        ("detectSQLi", Kind::Sqli)
    } else if is("detectXSS") {
        ("detectXSS", Kind::Xss)
    } else if is("unconditionalMatch") {
        ("unconditionalMatch", Kind::Always)
    } else if is("noMatch") {
        ("noMatch", Kind::Never)
    } else if let Some((name, reason)) = UNSUPPORTED.iter().find(|(name, _)| is(name)) {
        return Err(OperatorError::bad(
            name,
            format!("not supported by Rampart: {reason}"),
        ));
    } else {
        return Err(OperatorError::Unknown(raw_name.to_owned()));
    };
    Ok(compiled)
}
