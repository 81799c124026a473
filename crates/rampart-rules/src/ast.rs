//! The syntax tree as written, before types are checked. Its `Display` is a
//! canonical pretty-printer whose output parses back to the same tree, which
//! is what the API can store or show after normalising a rule.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use ipnet::IpNet;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    /// The root expression.
    pub expr: Expr,
}

impl Ast {
    /// Sets every column to 0, so trees parsed from differently formatted
    /// text compare equal when their structure is.
    pub fn erase_positions(&mut self) {
        self.expr.erase_positions();
    }
}

/// `and`, `or`, `xor`, from loosest to tightest: `a or b xor c and d` is
/// `a or (b xor (c and d))`, as in wirefilter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogicalOp {
    Or,
    Xor,
    And,
}

impl LogicalOp {
    fn precedence(self) -> u8 {
        match self {
            Self::Or => 1,
            Self::Xor => 2,
            Self::And => 3,
        }
    }

    /// The keyword spelling.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Or => "or",
            Self::Xor => "xor",
            Self::And => "and",
        }
    }
}

/// A comparison operator; the symbolic spellings (`==`, `~`, …) parse to the
/// same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    Matches,
    /// Case-insensitive glob (`*` matches any run of bytes).
    Wildcard,
    /// Case-sensitive glob.
    StrictWildcard,
    In,
}

impl CmpOp {
    /// The keyword spelling, as error messages and the printer use it.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Contains => "contains",
            Self::Matches => "matches",
            Self::Wildcard => "wildcard",
            Self::StrictWildcard => "strict wildcard",
            Self::In => "in",
        }
    }
}

/// An expression node. `col` fields are 1-based character columns (0 after
/// [`Ast::erase_positions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Two or more operands joined by one operator; chains of the same
    /// operator are flat, parentheses make nesting.
    Logical {
        op: LogicalOp,
        operands: Vec<Expr>,
    },
    Not {
        expr: Box<Expr>,
        col: usize,
    },
    Compare {
        lhs: Box<Expr>,
        op: CmpOp,
        op_col: usize,
        rhs: Rhs,
    },
    Field(FieldRef),
    Call(Call),
    /// Only as a function argument (`starts_with(http.host, "www.")`).
    Literal(Literal),
}

/// `name`, `name["key"]`, `name["key"][*]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    pub name: String,
    pub key: Option<Vec<u8>>,
    /// `[*]`: every element of the array, inside `any(…)`/`all(…)`.
    pub star: bool,
    pub col: usize,
}

/// `name(arg, …)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Expr>,
    pub col: usize,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rhs {
    Literal(Literal),
    Set { items: Vec<Literal>, col: usize },
    List { name: String, col: usize },
}

/// A literal value with the column where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub value: LiteralValue,
    pub col: usize,
}

/// The value of a literal. Strings are bytes: `\xHH` escapes and URL-decoded
/// request data need not be UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralValue {
    Str(Vec<u8>),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    Cidr(IpNet),
    /// Inclusive, `lo..hi`.
    IntRange(i64, i64),
}

impl LiteralValue {
    /// "integer 3", "string \"x\"": how error messages name what they found.
    pub(crate) fn describe(&self) -> String {
        let mut s = String::new();
        let _ = match self {
            Self::Str(b) => write!(s, "string {}", Quoted(b)),
            Self::Int(i) => write!(s, "integer {i}"),
            Self::Bool(b) => write!(s, "boolean {b}"),
            Self::Ip(ip) => write!(s, "IP address {ip}"),
            Self::Cidr(net) => write!(s, "CIDR {net}"),
            Self::IntRange(lo, hi) => write!(s, "range {lo}..{hi}"),
        };
        s
    }
}

impl Expr {
    fn erase_positions(&mut self) {
        match self {
            Self::Logical { operands, .. } => operands.iter_mut().for_each(Self::erase_positions),
            Self::Not { expr, col } => {
                *col = 0;
                expr.erase_positions();
            }
            Self::Compare {
                lhs, op_col, rhs, ..
            } => {
                *op_col = 0;
                lhs.erase_positions();
                match rhs {
                    Rhs::Literal(l) => l.col = 0,
                    Rhs::Set { items, col } => {
                        *col = 0;
                        items.iter_mut().for_each(|l| l.col = 0);
                    }
                    Rhs::List { col, .. } => *col = 0,
                }
            }
            Self::Field(f) => f.col = 0,
            Self::Call(c) => {
                c.col = 0;
                c.args.iter_mut().for_each(Self::erase_positions);
            }
            Self::Literal(l) => l.col = 0,
        }
    }

    /// Where the node starts, for error messages.
    pub(crate) fn col(&self) -> usize {
        match self {
            Self::Logical { operands, .. } => operands.first().map_or(0, Self::col),
            Self::Not { col, .. } => *col,
            Self::Compare { lhs, .. } => lhs.col(),
            Self::Field(f) => f.col,
            Self::Call(c) => c.col,
            Self::Literal(l) => l.col,
        }
    }
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Logical { op, operands } => {
                for (i, e) in operands.iter().enumerate() {
                    if i > 0 {
                        write!(f, " {} ", op.keyword())?;
                    }
                    // A nested chain of the same or a looser operator was
                    // parenthesised in the source (chains are flat), so
                    // printing the parentheses keeps the tree the same.
                    match e {
                        Self::Logical { op: inner, .. }
                            if inner.precedence() <= op.precedence() =>
                        {
                            write!(f, "({e})")?
                        }
                        _ => write!(f, "{e}")?,
                    }
                }
                Ok(())
            }
            Self::Not { expr, .. } => match **expr {
                Self::Logical { .. } => write!(f, "not ({expr})"),
                _ => write!(f, "not {expr}"),
            },
            Self::Compare { lhs, op, rhs, .. } => write!(f, "{lhs} {} {rhs}", op.keyword()),
            Self::Field(field) => field.fmt(f),
            Self::Call(call) => {
                write!(f, "{}(", call.name)?;
                for (i, a) in call.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.fmt(f)?;
                }
                f.write_str(")")
            }
            Self::Literal(l) => l.fmt(f),
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(key) = &self.key {
            write!(f, "[{}]", Quoted(key))?;
        }
        if self.star {
            f.write_str("[*]")?;
        }
        Ok(())
    }
}

impl fmt::Display for Rhs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(l) => l.fmt(f),
            Self::Set { items, .. } => {
                f.write_str("{")?;
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    l.fmt(f)?;
                }
                f.write_str("}")
            }
            Self::List { name, .. } => write!(f, "${name}"),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            LiteralValue::Str(b) => Quoted(b).fmt(f),
            LiteralValue::Int(i) => write!(f, "{i}"),
            LiteralValue::Bool(b) => write!(f, "{b}"),
            LiteralValue::Ip(ip) => write!(f, "{ip}"),
            LiteralValue::Cidr(net) => write!(f, "{net}"),
            LiteralValue::IntRange(lo, hi) => write!(f, "{lo}..{hi}"),
        }
    }
}

/// Bytes as a double-quoted literal the lexer reads back to the same bytes:
/// printable ASCII as is, everything else as an escape.
pub(crate) struct Quoted<'a>(pub &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for &b in self.0 {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                0x20..=0x7e => f.write_char(char::from(b))?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_char('"')
    }
}
