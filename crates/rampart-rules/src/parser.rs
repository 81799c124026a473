//! Recursive descent from text to [`Ast`], with a depth counter so hostile
//! nesting is an error instead of a stack overflow.
//!
//! ```text
//! expr    = xor  { ("or"  | "||") xor }
//! xor     = and  { ("xor" | "^^") and }
//! and     = unary { ("and" | "&&") unary }
//! unary   = ("not" | "!") unary | primary
//! primary = "(" expr ")" | value [ cmp-op rhs ]
//! value   = name "(" [ arg { "," arg } ] ")" | name [ "[" string "]" ] [ "[*]" ]
//! arg     = literal | expr
//! rhs     = literal | "{" { literal [","] } "}" | "$" name
//! ```

use crate::ast::{Ast, Call, CmpOp, Expr, FieldRef, Literal, LiteralValue, LogicalOp, Rhs};
use crate::error::{ErrorKind, RuleError};
use crate::lexer::Cursor;
use crate::limits::Limits;

/// Parses an expression with the default [`Limits`].
pub fn parse(src: &str) -> Result<Ast, RuleError> {
    parse_with_limits(src, &Limits::DEFAULT)
}

/// Parses an expression.
pub fn parse_with_limits(src: &str, limits: &Limits) -> Result<Ast, RuleError> {
    if src.len() > limits.max_len {
        return Err(RuleError::new(
            ErrorKind::TooComplex,
            1,
            format!(
                "the expression is {} bytes long; the limit is {}",
                src.len(),
                limits.max_len
            ),
        ));
    }
    let mut p = Parser {
        cur: Cursor::new(src),
        max_depth: limits.max_depth,
    };
    p.cur.skip_ws();
    if p.cur.at_end() {
        return Err(RuleError::syntax(1, "the expression is empty"));
    }
    let expr = p.or(0)?;
    p.cur.skip_ws();
    if !p.cur.at_end() {
        return Err(RuleError::syntax(
            p.cur.col(),
            format!(
                "expected `and`, `or`, `xor` or the end of the expression, found {}",
                p.cur.describe_next()
            ),
        ));
    }
    Ok(Ast { expr })
}

struct Parser<'s> {
    cur: Cursor<'s>,
    max_depth: usize,
}

/// The operators in the order they must be tried: longer spellings first, so
/// `<=` is not read as `<` followed by `=`.
const SYMBOLS: [(&str, CmpOp); 7] = [
    ("==", CmpOp::Eq),
    ("!=", CmpOp::Ne),
    ("<=", CmpOp::Le),
    (">=", CmpOp::Ge),
    ("<", CmpOp::Lt),
    (">", CmpOp::Gt),
    ("~", CmpOp::Matches),
];

const KEYWORDS: [(&str, CmpOp); 10] = [
    ("eq", CmpOp::Eq),
    ("ne", CmpOp::Ne),
    ("lt", CmpOp::Lt),
    ("le", CmpOp::Le),
    ("gt", CmpOp::Gt),
    ("ge", CmpOp::Ge),
    ("contains", CmpOp::Contains),
    ("matches", CmpOp::Matches),
    ("wildcard", CmpOp::Wildcard),
    ("in", CmpOp::In),
];

impl Parser<'_> {
    fn deeper(&self, depth: usize) -> Result<usize, RuleError> {
        if depth >= self.max_depth {
            return Err(RuleError::new(
                ErrorKind::TooComplex,
                self.cur.col(),
                format!("the expression nests deeper than {} levels", self.max_depth),
            ));
        }
        Ok(depth + 1)
    }

    fn or(&mut self, depth: usize) -> Result<Expr, RuleError> {
        self.chain(depth, LogicalOp::Or, &["||"], Self::xor)
    }

    fn xor(&mut self, depth: usize) -> Result<Expr, RuleError> {
        self.chain(depth, LogicalOp::Xor, &["^^"], Self::and)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, RuleError> {
        self.chain(depth, LogicalOp::And, &["&&"], Self::unary)
    }

    /// One precedence level: operands from `next`, joined by `op` spelled as
    /// its keyword or one of `symbols`; a chain becomes one flat node.
    fn chain(
        &mut self,
        depth: usize,
        op: LogicalOp,
        symbols: &[&str],
        next: fn(&mut Self, usize) -> Result<Expr, RuleError>,
    ) -> Result<Expr, RuleError> {
        let first = next(self, depth)?;
        let mut operands = Vec::new();
        loop {
            self.cur.skip_ws();
            let matched =
                self.cur.eat_keyword(op.keyword()) || symbols.iter().any(|s| self.cur.eat(s));
            if !matched {
                break;
            }
            if operands.is_empty() {
                operands.push(first.clone());
            }
            self.cur.skip_ws();
            operands.push(next(self, depth)?);
        }
        if operands.is_empty() {
            Ok(first)
        } else {
            Ok(Expr::Logical { op, operands })
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, RuleError> {
        self.cur.skip_ws();
        let col = self.cur.col();
        let is_not =
            self.cur.eat_keyword("not") || (!self.cur.starts_with("!=") && self.cur.eat("!"));
        if is_not {
            let depth = self.deeper(depth)?;
            let expr = self.unary(depth)?;
            return Ok(Expr::Not {
                expr: Box::new(expr),
                col,
            });
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, RuleError> {
        self.cur.skip_ws();
        let open_col = self.cur.col();
        if self.cur.eat("(") {
            let depth = self.deeper(depth)?;
            let expr = self.or(depth)?;
            self.cur.skip_ws();
            if !self.cur.eat(")") {
                return Err(RuleError::syntax(
                    self.cur.col(),
                    format!(
                        "expected `)` to close the `(` at column {open_col}, found {}",
                        self.cur.describe_next()
                    ),
                ));
            }
            return Ok(expr);
        }
        // Cloudflare's APIs take `true` for "every request"; accept both
        // constants as whole conditions.
        for (word, value) in [("true", true), ("false", false)] {
            if self.cur.eat_keyword(word) {
                return Ok(Expr::Literal(Literal {
                    value: LiteralValue::Bool(value),
                    col: open_col,
                }));
            }
        }
        if !self.cur.at_ident() {
            return Err(RuleError::syntax(
                open_col,
                format!(
                    "expected a field, a function or `(`, found {}",
                    self.cur.describe_next()
                ),
            ));
        }
        let lhs = self.value(depth)?;
        self.cur.skip_ws();
        let op_col = self.cur.col();
        let Some(op) = self.operator()? else {
            return Ok(lhs);
        };
        self.cur.skip_ws();
        let rhs = self.rhs(op)?;
        Ok(Expr::Compare {
            lhs: Box::new(lhs),
            op,
            op_col,
            rhs,
        })
    }

    fn operator(&mut self) -> Result<Option<CmpOp>, RuleError> {
        for (sym, op) in SYMBOLS {
            if self.cur.eat(sym) {
                return Ok(Some(op));
            }
        }
        for (kw, op) in KEYWORDS {
            if self.cur.eat_keyword(kw) {
                return Ok(Some(op));
            }
        }
        let col = self.cur.col();
        if self.cur.eat_keyword("strict") {
            self.cur.skip_ws();
            if self.cur.eat_keyword("wildcard") {
                return Ok(Some(CmpOp::StrictWildcard));
            }
            return Err(RuleError::syntax(
                col,
                "`strict` must be followed by `wildcard`",
            ));
        }
        Ok(None)
    }

    /// A field reference or a function call.
    fn value(&mut self, depth: usize) -> Result<Expr, RuleError> {
        let col = self.cur.col();
        let name = self.cur.ident_path().to_owned();
        self.cur.skip_ws();
        if self.cur.eat("(") {
            let depth = self.deeper(depth)?;
            let args = self.args(depth, &name)?;
            return Ok(Expr::Call(Call { name, args, col }));
        }
        let mut field = FieldRef {
            name,
            key: None,
            star: false,
            col,
        };
        if self.cur.eat("[") {
            self.cur.skip_ws();
            if self.cur.eat("*") {
                field.star = true;
            } else if self.cur.at_string() {
                field.key = Some(self.cur.string()?);
            } else {
                return Err(RuleError::syntax(
                    self.cur.col(),
                    format!(
                        "expected a quoted name or `*` inside `[…]`, found {}",
                        self.cur.describe_next()
                    ),
                ));
            }
            self.close_bracket()?;
            if !field.star && self.cur.eat("[") {
                self.cur.skip_ws();
                if !self.cur.eat("*") {
                    return Err(RuleError::syntax(
                        self.cur.col(),
                        format!(
                            "expected `*` (every element) inside the second `[…]`, found {}",
                            self.cur.describe_next()
                        ),
                    ));
                }
                field.star = true;
                self.close_bracket()?;
            }
        }
        Ok(Expr::Field(field))
    }

    fn close_bracket(&mut self) -> Result<(), RuleError> {
        self.cur.skip_ws();
        if self.cur.eat("]") {
            Ok(())
        } else {
            Err(RuleError::syntax(
                self.cur.col(),
                format!("expected `]`, found {}", self.cur.describe_next()),
            ))
        }
    }

    fn args(&mut self, depth: usize, name: &str) -> Result<Vec<Expr>, RuleError> {
        let mut args = Vec::new();
        self.cur.skip_ws();
        if self.cur.eat(")") {
            return Ok(args);
        }
        loop {
            self.cur.skip_ws();
            let starts_literal = self.cur.at_string()
                || self
                    .cur
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || c == '-');
            if starts_literal {
                args.push(Expr::Literal(self.literal("an argument")?));
            } else {
                args.push(self.or(depth)?);
            }
            self.cur.skip_ws();
            if self.cur.eat(")") {
                return Ok(args);
            }
            if !self.cur.eat(",") {
                return Err(RuleError::syntax(
                    self.cur.col(),
                    format!(
                        "expected `,` or `)` in the arguments of `{name}(…)`, found {}",
                        self.cur.describe_next()
                    ),
                ));
            }
        }
    }

    fn rhs(&mut self, op: CmpOp) -> Result<Rhs, RuleError> {
        let col = self.cur.col();
        if op == CmpOp::In {
            if self.cur.eat("{") {
                return self.set(col);
            }
            if self.cur.eat("$") {
                let name = self.cur.ident_path();
                if name.is_empty() {
                    return Err(RuleError::syntax(
                        self.cur.col(),
                        "expected a list name after `$`, as in `$office`",
                    ));
                }
                return Ok(Rhs::List {
                    name: name.to_owned(),
                    col,
                });
            }
            return Err(RuleError::syntax(
                col,
                format!(
                    "expected a set `{{…}}` or a list `$name` after `in`, found {}",
                    self.cur.describe_next()
                ),
            ));
        }
        let what = format!("a value after `{}`", op.keyword());
        self.literal(&what).map(Rhs::Literal)
    }

    fn set(&mut self, col: usize) -> Result<Rhs, RuleError> {
        let mut items = Vec::new();
        loop {
            self.cur.skip_ws();
            if self.cur.eat("}") {
                return Ok(Rhs::Set { items, col });
            }
            if self.cur.at_end() {
                return Err(RuleError::syntax(
                    col,
                    "this set is never closed: expected `}`",
                ));
            }
            items.push(self.literal("a value or `}` in the set")?);
            self.cur.skip_ws();
            // Commas are optional, for people used to other languages.
            self.cur.eat(",");
        }
    }

    /// A string, integer, range, IP, CIDR or boolean; `what` names what was
    /// expected for the error message.
    fn literal(&mut self, what: &str) -> Result<Literal, RuleError> {
        let col = self.cur.col();
        if self.cur.at_string() {
            let s = self.cur.string()?;
            return Ok(Literal {
                value: LiteralValue::Str(s),
                col,
            });
        }
        match self.cur.bare_literal()? {
            Some(l) => Ok(l),
            None => Err(RuleError::syntax(
                col,
                format!("expected {what}, found {}", self.cur.describe_next()),
            )),
        }
    }
}
