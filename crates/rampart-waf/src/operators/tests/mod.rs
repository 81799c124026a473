//! Operator tests, one file per operator family, plus the CRS check.

mod crs;
mod detect;
mod ip;
mod numeric;
mod phrases;
mod prefilter;
mod props;
mod rx;
mod spec;
mod strings;
mod validate;

use std::borrow::Cow;
use std::path::Path;

use super::{Captures, MacroExpander, NoMacros, Operator, OperatorContext, OperatorError};

/// Expands `%{name}` from a fixed list; unknown names become empty, as an
/// unset variable does in ModSecurity.
struct Vars(&'static [(&'static str, &'static str)]);

impl MacroExpander for Vars {
    fn expand<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("%{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Cow::Owned(out);
            };
            let name = &after[..end];
            let value = self
                .0
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map_or("", |(_, value)| value);
            out.push_str(value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Cow::Owned(out)
    }
}

fn compile_in(spec: &str, base_dir: &Path) -> Result<Operator, OperatorError> {
    Operator::compile(spec, &OperatorContext { base_dir })
}

fn compile(spec: &str) -> Result<Operator, OperatorError> {
    compile_in(spec, Path::new("/nonexistent"))
}

fn op(spec: &str) -> Operator {
    match compile(spec) {
        Ok(op) => op,
        Err(error) => panic!("`{spec}` should compile: {error}"),
    }
}

fn matches(spec: &str, input: &[u8]) -> bool {
    op(spec).evaluate(input, &NoMacros, None)
}

fn matches_with(spec: &str, input: &[u8], vars: &'static [(&'static str, &'static str)]) -> bool {
    op(spec).evaluate(input, &Vars(vars), None)
}

/// The captures of a match, as strings; `None` when the operator did not
/// match.
fn captures(spec: &str, input: &[u8]) -> Option<Vec<String>> {
    let mut captures = Captures::default();
    op(spec)
        .evaluate(input, &NoMacros, Some(&mut captures))
        .then(|| {
            captures
                .groups
                .iter()
                .map(|group| String::from_utf8_lossy(group).into_owned())
                .collect()
        })
}

fn bad_argument(spec: &str) -> String {
    match compile(spec) {
        Err(OperatorError::BadArgument { message, .. }) => message,
        Err(other) => panic!("`{spec}`: expected a bad argument, got {other}"),
        Ok(_) => panic!("`{spec}` should not compile"),
    }
}

/// A scratch directory for data-file tests, unique per test name.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rampart-waf-operators-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
