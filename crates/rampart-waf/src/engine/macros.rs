//! `%{collection.key}` macros, compiled once at load time; a text without
//! macros expands to itself without allocating.

use std::borrow::Cow;

use super::data::{ReqData, State};
use super::vars::{Selector, Var};
use crate::operators::MacroExpander;

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Var(Var, Selector),
    Rule(RuleField),
}

#[derive(Debug, Clone, Copy)]
enum RuleField {
    Id,
    Msg,
    Severity,
    Ver,
    Rev,
    LogData,
}

#[derive(Debug, Clone)]
pub(crate) struct Macro {
    text: String,
    parts: Option<Vec<Part>>,
}

/// What `%{rule.*}` reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleInfo {
    pub id: u64,
    pub msg: String,
    pub severity: Option<u8>,
    pub ver: String,
    pub rev: String,
    pub logdata: String,
}

pub(crate) struct MacroCtx<'a> {
    pub req: &'a ReqData,
    pub state: &'a State,
    pub rule: Option<&'a RuleInfo>,
}

impl Macro {
    pub(crate) fn compile(text: &str) -> Result<Macro, String> {
        if !text.contains("%{") {
            return Ok(Macro {
                text: text.to_owned(),
                parts: None,
            });
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("%{") {
            let (lit, after) = rest.split_at(start);
            let after = after.get(2..).unwrap_or_default();
            let Some(end) = after.find('}') else {
                break;
            };
            if !lit.is_empty() {
                parts.push(Part::Lit(lit.to_owned()));
            }
            let name = after.get(..end).unwrap_or_default();
            parts.push(parse_ref(name)?);
            rest = after.get(end + 1..).unwrap_or_default();
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_owned()));
        }
        Ok(Macro {
            text: text.to_owned(),
            parts: Some(parts),
        })
    }

    pub(crate) fn raw(&self) -> &str {
        &self.text
    }

    pub(crate) fn expand(&self, ctx: &MacroCtx<'_>) -> Cow<'_, str> {
        let Some(parts) = &self.parts else {
            return Cow::Borrowed(&self.text);
        };
        let mut out = String::with_capacity(self.text.len() + 32);
        for part in parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(var, sel) => {
                    if let Some(v) = first_value(ctx, *var, sel) {
                        // Valid UTF-8 (nearly always) is checked in one
                        // fast pass; the lossy walk only for the rest.
                        match std::str::from_utf8(&v) {
                            Ok(t) => out.push_str(t),
                            Err(_) => out.push_str(&String::from_utf8_lossy(&v)),
                        }
                    }
                }
                Part::Rule(field) => {
                    if let Some(info) = ctx.rule {
                        match field {
                            RuleField::Id => {
                                use std::fmt::Write as _;
                                // Writing to a String cannot fail.
                                let _ = write!(out, "{}", info.id);
                            }
                            RuleField::Msg => out.push_str(&info.msg),
                            RuleField::Severity => {
                                if let Some(s) = info.severity {
                                    out.push_str(&s.to_string());
                                }
                            }
                            RuleField::Ver => out.push_str(&info.ver),
                            RuleField::Rev => out.push_str(&info.rev),
                            RuleField::LogData => out.push_str(&info.logdata),
                        }
                    }
                }
            }
        }
        Cow::Owned(out)
    }
}

fn parse_ref(name: &str) -> Result<Part, String> {
    let (coll, key) = match name.split_once(['.', ':']) {
        Some((c, k)) => (c.trim(), Some(k.trim())),
        None => (name.trim(), None),
    };
    if coll.eq_ignore_ascii_case("rule") {
        let field = match key.unwrap_or_default().to_ascii_lowercase().as_str() {
            "id" => RuleField::Id,
            "msg" => RuleField::Msg,
            "severity" => RuleField::Severity,
            "ver" => RuleField::Ver,
            "rev" => RuleField::Rev,
            "logdata" => RuleField::LogData,
            other => return Err(format!("unknown macro %{{rule.{other}}}")),
        };
        return Ok(Part::Rule(field));
    }
    let var =
        Var::from_name(coll).ok_or_else(|| format!("unknown variable in macro %{{{name}}}"))?;
    let sel = match key {
        Some(k) if var.is_collection() => Selector::Key(k.to_ascii_lowercase()),
        _ => Selector::All,
    };
    Ok(Part::Var(var, sel))
}

/// The first value of a macro's variable, borrowed where it can be.
fn first_value<'c>(ctx: &MacroCtx<'c>, var: Var, sel: &Selector) -> Option<Cow<'c, [u8]>> {
    let state: &'c State = ctx.state;
    match (var, sel) {
        (Var::Tx, Selector::Key(k)) => {
            return state
                .tx
                .get(k.as_str())
                .map(|v| Cow::Borrowed(v.as_slice()));
        }
        (Var::MatchedVar, _) => return Some(Cow::Borrowed(state.matched_var.as_slice())),
        (Var::MatchedVarName, _) => {
            return Some(Cow::Borrowed(state.matched_var_name.as_bytes()));
        }
        _ => {}
    }
    let collector = super::collect::Collector {
        req: ctx.req,
        state: Some(state),
        excluded: None,
    };
    let mut out = Vec::new();
    collector.values(var, sel, &mut out);
    out.into_iter().next().map(|v| v.value)
}

/// Expands operator arguments at evaluation time (`@lt %{tx.x}`).
pub(crate) struct OperatorMacros<'a> {
    pub ctx: MacroCtx<'a>,
    /// Macros found in the operator's argument at load time.
    pub compiled: &'a [Macro],
}

impl MacroExpander for OperatorMacros<'_> {
    fn expand<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !text.contains("%{") {
            return Cow::Borrowed(text);
        }
        if let Some(m) = self.compiled.iter().find(|m| m.raw() == text) {
            return Cow::Owned(m.expand(&self.ctx).into_owned());
        }
        match Macro::compile(text) {
            Ok(m) => Cow::Owned(m.expand(&self.ctx).into_owned()),
            Err(_) => Cow::Borrowed(text),
        }
    }
}

/// The macro-bearing texts an operator may ask to expand: its whole
/// argument and each whitespace-separated word of it, compiled ahead.
pub(crate) fn precompile_operator_macros(spec: &str) -> Vec<Macro> {
    if !spec.contains("%{") {
        return Vec::new();
    }
    let spec = spec.trim_start().trim_start_matches('!');
    let arg = match spec.strip_prefix('@') {
        Some(rest) => rest.split_once(char::is_whitespace).map_or("", |(_, a)| a),
        None => spec,
    };
    let mut texts = vec![arg.to_owned(), arg.trim().to_owned()];
    texts.extend(arg.split_whitespace().map(str::to_owned));
    texts.sort();
    texts.dedup();
    texts
        .into_iter()
        .filter(|t| t.contains("%{"))
        .filter_map(|t| Macro::compile(&t).ok())
        .collect()
}
