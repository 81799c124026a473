//! Comparisons: which operators each type takes, and the right-hand sides
//! (literals, sets, lists, patterns) turned into what evaluation tests.

use memchr::memmem::Finder;
use regex::bytes::{Regex, RegexBuilder};

use crate::ast::{CmpOp, Expr, Literal, LiteralValue, Rhs};
use crate::compile::{Compiler, Value, label};
use crate::error::{ErrorKind, RuleError, did_you_mean};
use crate::eval::{IntTest, IpTest, Node, Rel, StrTest};
use crate::functions::wildcard_regex;
use crate::list::IpList;
use crate::scheme::ListKind;

impl Compiler<'_> {
    pub(crate) fn compare(
        &mut self,
        value: Value,
        lhs: &Expr,
        op: CmpOp,
        op_col: usize,
        rhs: &Rhs,
    ) -> Result<Node, RuleError> {
        let kw = op.keyword();
        let found = value.describe();
        let wrong_op = |how: &str| {
            RuleError::ty(
                op_col,
                format!(
                    "{} is {found}: compare it with {how}, not `{kw}`",
                    label(lhs)
                ),
            )
        };
        let rel = match op {
            CmpOp::Eq => Some(Rel::Eq),
            CmpOp::Ne => Some(Rel::Ne),
            CmpOp::Lt => Some(Rel::Lt),
            CmpOp::Le => Some(Rel::Le),
            CmpOp::Gt => Some(Rel::Gt),
            CmpOp::Ge => Some(Rel::Ge),
            _ => None,
        };
        match value {
            Value::Str(e) => {
                if let Rhs::List { col, .. } = rhs {
                    return Err(RuleError::ty(
                        *col,
                        format!("lists hold IP addresses, but {} is a string", label(lhs)),
                    ));
                }
                let test = match (op, rel) {
                    (CmpOp::In, _) => StrTest::InSet(str_set(rhs)?),
                    (_, Some(rel)) => StrTest::Rel(rel, want_str(rhs, kw)?.into()),
                    (CmpOp::Contains, _) => {
                        StrTest::Contains(Box::new(Finder::new(&want_str(rhs, kw)?).into_owned()))
                    }
                    (CmpOp::Matches, _) => {
                        let col = rhs_col(rhs);
                        let pattern = String::from_utf8(want_str(rhs, kw)?).map_err(|_| {
                            RuleError::new(
                                ErrorKind::Regex,
                                col,
                                "`matches` needs a valid regular expression: it is not UTF-8",
                            )
                        })?;
                        StrTest::Regex(self.regex(&pattern, "matches", col)?)
                    }
                    (_, None) => {
                        let pattern = want_str(rhs, kw)?;
                        let ci = op == CmpOp::Wildcard;
                        StrTest::Regex(self.regex(
                            &wildcard_regex(&pattern, ci),
                            kw,
                            rhs_col(rhs),
                        )?)
                    }
                };
                Ok(Node::Str(e, test))
            }
            Value::Int(e) => {
                let test = match (op, rel) {
                    (CmpOp::In, _) => IntTest::InRanges(int_set(rhs)?),
                    (_, Some(rel)) => match rhs {
                        Rhs::Literal(Literal {
                            value: LiteralValue::Int(i),
                            ..
                        }) => IntTest::Rel(rel, *i),
                        other => return Err(expected("an integer", kw, other)),
                    },
                    _ => return Err(wrong_op("`eq`, `ne`, `lt`, `le`, `gt`, `ge` or `in {…}`")),
                };
                Ok(Node::Int(e, test))
            }
            Value::Ip => {
                let how = "`in {…}`, `eq` or a list";
                let test = match (op, rhs) {
                    (CmpOp::In, Rhs::List { name, col }) => {
                        self.list(name, *col)?;
                        IpTest::InList(name.as_str().into())
                    }
                    (CmpOp::In, Rhs::Set { items, .. }) => IpTest::InSet(Box::new(ip_set(items)?)),
                    (CmpOp::Eq | CmpOp::Ne, Rhs::Literal(l)) => match &l.value {
                        LiteralValue::Ip(ip) if op == CmpOp::Eq => IpTest::Eq(ip.to_canonical()),
                        LiteralValue::Ip(ip) => IpTest::Ne(ip.to_canonical()),
                        LiteralValue::Cidr(net) => {
                            return Err(RuleError::ty(
                                l.col,
                                format!(
                                    "`{kw}` compares one address; for the network use \
                                     `{} in {{{net}}}`",
                                    lhs
                                ),
                            ));
                        }
                        _ => return Err(expected("an IP address", kw, rhs)),
                    },
                    (CmpOp::Eq | CmpOp::Ne, _) => return Err(expected("an IP address", kw, rhs)),
                    _ => return Err(wrong_op(how)),
                };
                Ok(Node::Ip(test))
            }
            Value::Bool(node) => match (rel, rhs) {
                (
                    Some(rel @ (Rel::Eq | Rel::Ne)),
                    Rhs::Literal(Literal {
                        value: LiteralValue::Bool(b),
                        ..
                    }),
                ) => {
                    if (rel == Rel::Eq) == *b {
                        Ok(node)
                    } else {
                        Ok(Node::Not(Box::new(node)))
                    }
                }
                (Some(Rel::Eq | Rel::Ne), other) => Err(expected("`true` or `false`", kw, other)),
                _ => Err(RuleError::ty(
                    op_col,
                    format!(
                        "{0} is a boolean: use it alone (`{1}`, `not {1}`) or with \
                         `eq true`/`eq false`, not `{kw}`",
                        label(lhs),
                        lhs
                    ),
                )),
            },
            Value::Array(_) => Err(RuleError::ty(
                lhs.col(),
                format!(
                    "{} is an array of strings: compare its elements with \
                     `any({lhs}[*] {kw} …)` or `all(…)`",
                    label(lhs)
                ),
            )),
        }
    }

    fn list(&self, name: &str, col: usize) -> Result<(), RuleError> {
        match self.scheme.list(name) {
            Some(ListKind::Ip) => Ok(()),
            None => {
                let hint = did_you_mean(name, self.scheme.list_names())
                    .map(|s| format!("; did you mean `${s}`?"))
                    .unwrap_or_default();
                Err(RuleError::new(
                    ErrorKind::UnknownList,
                    col,
                    format!("list `${name}` does not exist{hint}"),
                ))
            }
        }
    }

    fn regex(&mut self, pattern: &str, op: &str, col: usize) -> Result<Regex, RuleError> {
        self.regexes += 1;
        if self.regexes > self.limits.max_regexes {
            return Err(RuleError::new(
                ErrorKind::TooComplex,
                col,
                format!(
                    "an expression may hold at most {} `matches`/`wildcard` patterns",
                    self.limits.max_regexes
                ),
            ));
        }
        RegexBuilder::new(pattern)
            .size_limit(self.limits.regex_size)
            .dfa_size_limit(self.limits.regex_dfa_size)
            .build()
            .map_err(|e| {
                let why = match e {
                    regex::Error::CompiledTooBig(limit) => format!(
                        "the pattern compiles to more than the {limit}-byte limit; simplify it"
                    ),
                    regex::Error::Syntax(msg) => msg
                        .lines()
                        .find_map(|l| l.strip_prefix("error: "))
                        .unwrap_or(&msg)
                        .to_owned(),
                    other => other.to_string(),
                };
                let what = if op == "matches" {
                    "a valid regular expression"
                } else {
                    "a valid pattern"
                };
                RuleError::new(ErrorKind::Regex, col, format!("`{op}` needs {what}: {why}"))
            })
    }
}

fn rhs_col(rhs: &Rhs) -> usize {
    match rhs {
        Rhs::Literal(l) => l.col,
        Rhs::Set { col, .. } | Rhs::List { col, .. } => *col,
    }
}

fn describe_rhs(rhs: &Rhs) -> String {
    match rhs {
        Rhs::Literal(l) => l.value.describe(),
        Rhs::Set { .. } => "a set".to_owned(),
        Rhs::List { name, .. } => format!("the list `${name}`"),
    }
}

/// "expected a string after `contains`, found integer 3".
fn expected(what: &str, kw: &str, rhs: &Rhs) -> RuleError {
    RuleError::ty(
        rhs_col(rhs),
        format!("expected {what} after `{kw}`, found {}", describe_rhs(rhs)),
    )
}

fn want_str(rhs: &Rhs, kw: &str) -> Result<Vec<u8>, RuleError> {
    match rhs {
        Rhs::Literal(Literal {
            value: LiteralValue::Str(s),
            ..
        }) => Ok(s.clone()),
        other => Err(expected("a string", kw, other)),
    }
}

fn set_items<'r>(rhs: &'r Rhs, what: &str) -> Result<&'r [Literal], RuleError> {
    match rhs {
        Rhs::Set { items, .. } => Ok(items),
        other => Err(expected(what, "in", other)),
    }
}

fn str_set(rhs: &Rhs) -> Result<Box<[Box<[u8]>]>, RuleError> {
    let mut set = Vec::new();
    for l in set_items(rhs, "a set of strings")? {
        match &l.value {
            LiteralValue::Str(s) => set.push(s.clone().into_boxed_slice()),
            other => return Err(set_item_error("strings", l.col, other)),
        }
    }
    set.sort_unstable();
    set.dedup();
    Ok(set.into_boxed_slice())
}

fn int_set(rhs: &Rhs) -> Result<Box<[(i64, i64)]>, RuleError> {
    let mut ranges = Vec::new();
    for l in set_items(rhs, "a set of integers")? {
        match l.value {
            LiteralValue::Int(i) => ranges.push((i, i)),
            LiteralValue::IntRange(lo, hi) => ranges.push((lo, hi)),
            ref other => return Err(set_item_error("integers and ranges", l.col, other)),
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    Ok(merged.into_boxed_slice())
}

fn ip_set(items: &[Literal]) -> Result<IpList, RuleError> {
    let mut nets = Vec::with_capacity(items.len());
    for l in items {
        match l.value {
            LiteralValue::Ip(ip) => nets.push(ip.into()),
            LiteralValue::Cidr(net) => nets.push(net),
            ref other => return Err(set_item_error("IP addresses and CIDRs", l.col, other)),
        }
    }
    Ok(IpList::from_nets(nets))
}

fn set_item_error(what: &str, col: usize, found: &LiteralValue) -> RuleError {
    RuleError::ty(
        col,
        format!("this set must hold only {what}, found {}", found.describe()),
    )
}
