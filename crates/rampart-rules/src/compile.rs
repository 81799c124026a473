//! Type checking and compilation of an [`Ast`] against a [`Scheme`]: every
//! name is resolved, every operand checked against its operator, every
//! literal turned into the form evaluation wants. Errors point at the column
//! of the part that is wrong. Operators and right-hand sides are in
//! `compare.rs`.

use http::HeaderName;

use crate::ast::{Ast, Call, Expr, FieldRef, Literal, LiteralValue, LogicalOp};
use crate::error::{ErrorKind, RuleError, did_you_mean};
use crate::eval::{ArraySrc, IntExpr, Node, StrExpr, StrSrc, StrTest};
use crate::functions::{FUNCTIONS, Transform};
use crate::limits::Limits;
use crate::scheme::{Field, FieldType, Scheme};

/// A value-producing expression once typed.
pub(crate) enum Value {
    Str(StrExpr),
    Int(IntExpr),
    /// `ip.src`, the only IP-typed value.
    Ip,
    Bool(Node),
    Array(ArraySrc),
}

impl Value {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Str(_) => FieldType::Bytes.describe(),
            Self::Int(_) => FieldType::Int.describe(),
            Self::Ip => FieldType::Ip.describe(),
            Self::Bool(_) => FieldType::Bool.describe(),
            Self::Array(_) => FieldType::BytesArrayMap.describe(),
        }
    }
}

/// Compiles a parsed expression into the evaluation tree.
pub(crate) fn compile_ast(ast: &Ast, scheme: &Scheme) -> Result<Node, RuleError> {
    let mut c = Compiler {
        scheme,
        limits: scheme.limits(),
        star: StarScope::Forbidden,
        regexes: 0,
    };
    c.condition(&ast.expr)
}

/// Where `[*]` may appear, and which array it named.
enum StarScope {
    Forbidden,
    Open,
    Bound(ArraySrc),
}

pub(crate) struct Compiler<'s> {
    pub(crate) scheme: &'s Scheme,
    pub(crate) limits: &'s Limits,
    star: StarScope,
    /// Patterns compiled so far, against `limits.max_regexes`.
    pub(crate) regexes: usize,
}

/// Short rendering of an expression for messages, e.g. "`http.host`".
pub(crate) fn label(e: &Expr) -> String {
    let mut s = e.to_string();
    if s.chars().count() > 60 {
        s = s.chars().take(57).collect::<String>() + "…";
    }
    format!("`{s}`")
}

impl Compiler<'_> {
    /// An expression in a boolean position.
    fn condition(&mut self, e: &Expr) -> Result<Node, RuleError> {
        match e {
            Expr::Logical { op, operands } => {
                let mut nodes = operands
                    .iter()
                    .map(|o| self.condition(o))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(match op {
                    LogicalOp::And | LogicalOp::Or => {
                        // Evaluation has no side effects, so operands may run
                        // in any order: cheap ones first decide most requests.
                        nodes.sort_by_key(Node::cost);
                        if *op == LogicalOp::And {
                            Node::And(nodes.into_boxed_slice())
                        } else {
                            Node::Or(nodes.into_boxed_slice())
                        }
                    }
                    LogicalOp::Xor => Node::Xor(nodes.into_boxed_slice()),
                })
            }
            Expr::Not { expr, .. } => Ok(Node::Not(Box::new(self.condition(expr)?))),
            Expr::Compare {
                lhs,
                op,
                op_col,
                rhs,
            } => {
                let value = self.value(lhs)?;
                self.compare(value, lhs, *op, *op_col, rhs)
            }
            Expr::Field(_) | Expr::Call(_) => match self.value(e)? {
                Value::Bool(node) => Ok(node),
                other => Err(RuleError::ty(
                    e.col(),
                    format!(
                        "{} is {}, not a condition: compare it with an operator, as in `{} eq …`",
                        label(e),
                        other.describe(),
                        e
                    ),
                )),
            },
            Expr::Literal(Literal {
                value: LiteralValue::Bool(b),
                ..
            }) => Ok(Node::Const(*b)),
            Expr::Literal(l) => Err(RuleError::ty(
                l.col,
                format!("{} is not a condition", l.value.describe()),
            )),
        }
    }

    fn value(&mut self, e: &Expr) -> Result<Value, RuleError> {
        match e {
            Expr::Field(f) => self.field(f),
            Expr::Call(c) => self.call(c),
            Expr::Literal(Literal {
                value: LiteralValue::Str(s),
                ..
            }) => Ok(Value::Str(StrExpr {
                src: StrSrc::Const(s.clone().into_boxed_slice()),
                transforms: Vec::new(),
            })),
            Expr::Literal(l) => Err(RuleError::ty(
                l.col,
                format!(
                    "expected a field or a function, found {}",
                    l.value.describe()
                ),
            )),
            _ => Err(RuleError::ty(
                e.col(),
                format!(
                    "expected a field or a function, found the condition {}",
                    label(e)
                ),
            )),
        }
    }

    fn field(&mut self, f: &FieldRef) -> Result<Value, RuleError> {
        let Some(field) = self.scheme.field(&f.name) else {
            if FUNCTIONS.contains(&f.name.as_str()) {
                return Err(RuleError::syntax(
                    f.col,
                    format!("`{}` is a function: call it as `{}(…)`", f.name, f.name),
                ));
            }
            let hint = did_you_mean(&f.name, self.scheme.field_names())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(RuleError::new(
                ErrorKind::UnknownField,
                f.col,
                format!("unknown field `{}`{hint}", f.name),
            ));
        };
        let ty = field.ty();
        if ty != FieldType::BytesArrayMap {
            if f.key.is_some() || f.star {
                return Err(RuleError::ty(
                    f.col,
                    format!(
                        "`{}` is {}, not a map or array: `[…]` applies to \
                         `http.request.headers` and `http.request.uri.args`",
                        f.name,
                        ty.describe()
                    ),
                ));
            }
            return Ok(match ty {
                FieldType::Bytes => Value::Str(StrExpr {
                    src: StrSrc::Field(field),
                    transforms: Vec::new(),
                }),
                FieldType::Int => Value::Int(IntExpr::Field(field)),
                FieldType::Ip => Value::Ip,
                _ => Value::Bool(Node::Bool(field)),
            });
        }
        let Some(key) = &f.key else {
            return Err(RuleError::ty(
                f.col,
                format!("`{0}` needs a name, as in `{0}[\"name\"]`", f.name),
            ));
        };
        let src = if field == Field::HttpRequestHeaders {
            let lower = key.to_ascii_lowercase();
            let name = HeaderName::from_bytes(&lower).map_err(|_| {
                RuleError::ty(
                    f.col,
                    format!("{} is not a valid header name", crate::ast::Quoted(key)),
                )
            })?;
            ArraySrc::Header(name)
        } else {
            ArraySrc::Arg(key.clone().into_boxed_slice())
        };
        if !f.star {
            return Ok(Value::Array(src));
        }
        match &self.star {
            StarScope::Forbidden => Err(RuleError::ty(
                f.col,
                "`[*]` can only be used inside `any(…)` or `all(…)`",
            )),
            StarScope::Bound(other) if *other != src => Err(RuleError::ty(
                f.col,
                "one `any(…)` or `all(…)` can read only one array with `[*]`",
            )),
            _ => {
                self.star = StarScope::Bound(src);
                Ok(Value::Str(StrExpr {
                    src: StrSrc::Element,
                    transforms: Vec::new(),
                }))
            }
        }
    }

    fn call(&mut self, c: &Call) -> Result<Value, RuleError> {
        let arity = match c.name.as_str() {
            "starts_with" | "ends_with" => 2,
            name if FUNCTIONS.contains(&name) => 1,
            name => {
                let hint = did_you_mean(name, FUNCTIONS)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(RuleError::new(
                    ErrorKind::UnknownFunction,
                    c.col,
                    format!(
                        "unknown function `{name}`{hint} (functions: {})",
                        FUNCTIONS.join(", ")
                    ),
                ));
            }
        };
        if c.args.len() != arity {
            let s = if arity == 1 { "" } else { "s" };
            return Err(RuleError::ty(
                c.col,
                format!(
                    "`{}` takes {arity} argument{s}, found {}",
                    c.name,
                    c.args.len()
                ),
            ));
        }
        let mut args = c.args.iter();
        let (Some(first), second) = (args.next(), args.next()) else {
            return Err(RuleError::ty(c.col, "missing argument"));
        };
        match c.name.as_str() {
            "any" | "all" => {
                if !matches!(self.star, StarScope::Forbidden) {
                    return Err(RuleError::ty(
                        c.col,
                        format!("`{}(…)` cannot be used inside `any(…)` or `all(…)`", c.name),
                    ));
                }
                self.star = StarScope::Open;
                let pred = self.condition(first);
                let scope = std::mem::replace(&mut self.star, StarScope::Forbidden);
                let pred = Box::new(pred?);
                match scope {
                    StarScope::Bound(src) if c.name == "any" => {
                        Ok(Value::Bool(Node::Any(src, pred)))
                    }
                    StarScope::Bound(src) => Ok(Value::Bool(Node::All(src, pred))),
                    _ => Err(RuleError::ty(
                        first.col(),
                        format!(
                            "`{}(…)` needs an array element: use `[*]`, as in \
                             `{}(http.request.headers[\"accept\"][*] contains \"json\")`",
                            c.name, c.name
                        ),
                    )),
                }
            }
            "len" => match self.value(first)? {
                Value::Str(e) => Ok(Value::Int(IntExpr::Len(e))),
                Value::Array(src) => Ok(Value::Int(IntExpr::Count(src))),
                other => Err(self.arg_error(c, first, "a string or an array", &other)),
            },
            name => {
                let e = match self.value(first)? {
                    Value::Str(e) => e,
                    other => return Err(self.arg_error(c, first, "a string", &other)),
                };
                let transform = match name {
                    "lower" => Transform::Lower,
                    "upper" => Transform::Upper,
                    "url_decode" => Transform::UrlDecode,
                    _ => return self.affix(c, e, second),
                };
                let mut e = e;
                e.transforms.push(transform);
                Ok(Value::Str(e))
            }
        }
    }

    /// `starts_with(x, "lit")` / `ends_with(x, "lit")`.
    fn affix(&self, c: &Call, e: StrExpr, second: Option<&Expr>) -> Result<Value, RuleError> {
        let lit = match second {
            Some(Expr::Literal(Literal {
                value: LiteralValue::Str(s),
                ..
            })) => s.clone().into_boxed_slice(),
            other => {
                let (col, found) = match other {
                    Some(Expr::Literal(l)) => (l.col, l.value.describe()),
                    Some(e) => (e.col(), label(e)),
                    None => (c.col, "nothing".to_owned()),
                };
                return Err(RuleError::ty(
                    col,
                    format!(
                        "the second argument of `{}` must be a string literal, found {found}",
                        c.name
                    ),
                ));
            }
        };
        let test = if c.name == "starts_with" {
            StrTest::StartsWith(lit)
        } else {
            StrTest::EndsWith(lit)
        };
        Ok(Value::Bool(Node::Str(e, test)))
    }

    fn arg_error(&self, c: &Call, arg: &Expr, wanted: &str, found: &Value) -> RuleError {
        RuleError::ty(
            arg.col(),
            format!(
                "`{}` needs {wanted}, but {} is {}",
                c.name,
                label(arg),
                found.describe()
            ),
        )
    }
}

/// Rejects trees taller than any the parser produces under `limits`, so a
/// tree built in code cannot overflow the stack of the recursive compiler
/// and evaluator. Iterative, so the check itself cannot overflow.
pub(crate) fn check_depth(ast: &Ast, limits: &Limits) -> Result<(), RuleError> {
    // Each parser level (a parenthesis, `not` or call) adds at most three
    // tree levels (call, logical chain, comparison), plus the leaves.
    let max = limits.max_depth.saturating_mul(3).saturating_add(4);
    let mut stack = vec![(&ast.expr, 1usize)];
    while let Some((e, d)) = stack.pop() {
        if d > max {
            return Err(RuleError::new(
                ErrorKind::TooComplex,
                e.col(),
                format!(
                    "the expression nests deeper than {} levels",
                    limits.max_depth
                ),
            ));
        }
        match e {
            Expr::Logical { operands, .. } => stack.extend(operands.iter().map(|o| (o, d + 1))),
            Expr::Not { expr, .. } => stack.push((expr, d + 1)),
            Expr::Compare { lhs, .. } => stack.push((lhs, d + 1)),
            Expr::Call(c) => stack.extend(c.args.iter().map(|a| (a, d + 1))),
            Expr::Field(_) | Expr::Literal(_) => {}
        }
    }
    Ok(())
}
