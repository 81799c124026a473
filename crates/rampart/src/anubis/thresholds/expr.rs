//! Anubis threshold expressions: the CEL subset on `weight` that the
//! importer reads (`weight < N`, `<=`, `>`, `>=`, `==`, `!=`, `true`,
//! `false`, `&&`, `||`, parentheses, and `all:`/`any:` lists of them),
//! lexed and parsed into a [`Cond`] that can be evaluated at any weight.

use serde_json::Value;

use crate::anubis::rules::clip;

/// Bounds on one threshold expression, so that hostile input stays cheap.
const MAX_EXPR_LEN: usize = 1000;
const MAX_DEPTH: usize = 32;

/// A threshold's condition on the weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::anubis) enum Cond {
    Const(bool),
    Cmp(Op, i64),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::anubis) enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cond {
    pub(in crate::anubis) fn holds(&self, w: i64) -> bool {
        match self {
            Self::Const(b) => *b,
            Self::Cmp(op, n) => match op {
                Op::Lt => w < *n,
                Op::Le => w <= *n,
                Op::Gt => w > *n,
                Op::Ge => w >= *n,
                Op::Eq => w == *n,
                Op::Ne => w != *n,
            },
            Self::And(all) => all.iter().all(|c| c.holds(w)),
            Self::Or(any) => any.iter().any(|c| c.holds(w)),
        }
    }
}

/// `expression`: a string, or `{all: [strings]}` / `{any: [strings]}`.
pub(in crate::anubis) fn expression(v: &Value) -> Result<Cond, String> {
    match v {
        Value::String(s) => parse_expr(s),
        Value::Object(map) => {
            let list = |key: &str| -> Result<Option<Vec<Cond>>, String> {
                let Some(items) = map.get(key) else {
                    return Ok(None);
                };
                let items = items
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or(format!("`{key}` must be a list of expressions"))?;
                items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .ok_or(format!("`{key}` must hold strings"))
                            .and_then(parse_expr)
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            };
            if let Some(key) = map.keys().find(|k| *k != "all" && *k != "any") {
                return Err(format!(
                    "the expression has an unknown key `{}` (expected `all` or `any`)",
                    clip(key)
                ));
            }
            match (list("all")?, list("any")?) {
                (Some(all), None) => Ok(Cond::And(all)),
                (None, Some(any)) => Ok(Cond::Or(any)),
                _ => Err("the expression needs exactly one of `all` and `any`".to_owned()),
            }
        }
        _ => Err("the expression must be a string or {all: […]} / {any: […]}".to_owned()),
    }
}

/// Parses the comparisons of `weight` with integers that thresholds use.
pub(in crate::anubis) fn parse_expr(text: &str) -> Result<Cond, String> {
    let unsupported = |detail: String| {
        format!(
            "expression {:?} is not understood: {detail}; \
             the importer reads comparisons of `weight` with integers joined by && and ||",
            clip(text)
        )
    };
    if text.len() > MAX_EXPR_LEN {
        return Err(unsupported(format!("longer than {MAX_EXPR_LEN} bytes")));
    }
    let tokens = lex(text).map_err(&unsupported)?;
    let mut p = Parser { tokens, pos: 0 };
    let cond = p.or(0).map_err(&unsupported)?;
    match p.tokens.get(p.pos) {
        None => Ok(cond),
        Some(t) => Err(unsupported(format!("unexpected {t:?}"))),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Weight,
    Int(i64),
    Bool(bool),
    Op(Op),
    And,
    Or,
    Open,
    Close,
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            (b' ' | b'\t' | b'\n' | b'\r', _) => {
                i += 1;
                continue;
            }
            (b'(', _) => (Tok::Open, 1),
            (b')', _) => (Tok::Close, 1),
            (b'&', Some(b'&')) => (Tok::And, 2),
            (b'|', Some(b'|')) => (Tok::Or, 2),
            (b'<', Some(b'=')) => (Tok::Op(Op::Le), 2),
            (b'>', Some(b'=')) => (Tok::Op(Op::Ge), 2),
            (b'=', Some(b'=')) => (Tok::Op(Op::Eq), 2),
            (b'!', Some(b'=')) => (Tok::Op(Op::Ne), 2),
            (b'<', _) => (Tok::Op(Op::Lt), 1),
            (b'>', _) => (Tok::Op(Op::Gt), 1),
            (b'-' | b'0'..=b'9', _) => {
                let start = i;
                let mut end = i + 1;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                let word = text.get(start..end).unwrap_or("");
                if b.get(end)
                    .is_some_and(|&c| c == b'.' || c.is_ascii_alphabetic())
                {
                    return Err(format!(
                        "only integers are understood, not {:?}",
                        clip(text.get(start..).unwrap_or(""))
                    ));
                }
                let n = word
                    .parse::<i64>()
                    .map_err(|_| format!("{word:?} is not an integer"))?;
                (Tok::Int(n), end - start)
            }
            (c, _) if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                let mut end = i;
                while b
                    .get(end)
                    .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    end += 1;
                }
                let word = text.get(start..end).unwrap_or("");
                let tok = match word {
                    "weight" => Tok::Weight,
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    other => return Err(format!("`{}` is not `weight`", clip(other))),
                };
                (tok, end - start)
            }
            _ => {
                let rest = text.get(i..).unwrap_or("");
                return Err(format!("unexpected {:?}", clip(rest)));
            }
        };
        out.push(tok);
        i += len;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn or(&mut self, depth: usize) -> Result<Cond, String> {
        let mut any = vec![self.and(depth)?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            any.push(self.and(depth)?);
        }
        Ok(if any.len() == 1 {
            any.pop().unwrap_or(Cond::Const(false))
        } else {
            Cond::Or(any)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Cond, String> {
        let mut all = vec![self.atom(depth)?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            all.push(self.atom(depth)?);
        }
        Ok(if all.len() == 1 {
            all.pop().unwrap_or(Cond::Const(true))
        } else {
            Cond::And(all)
        })
    }

    fn atom(&mut self, depth: usize) -> Result<Cond, String> {
        if depth >= MAX_DEPTH {
            return Err("parentheses nest too deep".to_owned());
        }
        match self.next() {
            Some(Tok::Open) => {
                let inner = self.or(depth + 1)?;
                match self.next() {
                    Some(Tok::Close) => Ok(inner),
                    _ => Err("a `(` is not closed".to_owned()),
                }
            }
            Some(Tok::Bool(b)) => Ok(Cond::Const(b)),
            Some(Tok::Weight) => match (self.next(), self.next()) {
                (Some(Tok::Op(op)), Some(Tok::Int(n))) => Ok(Cond::Cmp(op, n)),
                _ => Err("expected `weight`, a comparison and an integer".to_owned()),
            },
            // `10 <= weight` is `weight >= 10`.
            Some(Tok::Int(n)) => match (self.next(), self.next()) {
                (Some(Tok::Op(op)), Some(Tok::Weight)) => Ok(Cond::Cmp(
                    match op {
                        Op::Lt => Op::Gt,
                        Op::Le => Op::Ge,
                        Op::Gt => Op::Lt,
                        Op::Ge => Op::Le,
                        same => same,
                    },
                    n,
                )),
                _ => Err("expected an integer, a comparison and `weight`".to_owned()),
            },
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("the expression ends too early".to_owned()),
        }
    }
}
