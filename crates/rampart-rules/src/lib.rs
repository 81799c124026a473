//! Rampart's rule expression language, in the spirit of Cloudflare's rules
//! language (wirefilter), so that people who know it feel at home:
//!
//! ```text
//! http.request.uri.path matches "^/wp-(admin|login)" and not ip.src in $office
//! ```
//!
//! Text is [`parse`]d into an [`Ast`], then [`compile`]d against a [`Scheme`]
//! (which fields exist, which `$lists` are in scope) into a [`CompiledRule`]
//! that evaluates a borrowed [`RequestFields`] without allocating. Rules are
//! compiled once per configuration snapshot; evaluation never panics.
//!
//! # Language
//!
//! * Fields: `ip.src` (IP), `ip.src.country`, `ip.src.asnum` (integer),
//!   `http.host`, `http.request.method`, `http.request.uri` (path and
//!   query), `http.request.uri.path`, `http.request.uri.query`,
//!   `http.request.uri.args["name"]` and `http.request.headers["name"]`
//!   (arrays of strings; argument names and values are URL-decoded, header
//!   names are case-insensitive), `http.cookie`, `http.user_agent`,
//!   `http.referer`, `http.request.version`, `ssl`, `http.request.body.size`,
//!   `rampart.bot.verified`, `rampart.client.clearance`, and in response
//!   schemes only, `http.response.code` (booleans are used
//!   bare: `ssl`, `not ssl`). Strings are bytes. Absent values read as `""`
//!   or 0.
//! * Comparisons: `eq ne lt le gt ge` (`== != < <= > >=`), `contains`,
//!   `matches` (`~`, regex crate syntax, linear time), `wildcard`
//!   (case-insensitive glob with `*`) and `strict wildcard`, `in {…}` (strings,
//!   integers and ranges `8000..8999`, IPs and CIDRs), `in $list`.
//! * Logic: `not` (`!`), `and` (`&&`), `xor` (`^^`), `or` (`||`), tightest
//!   first, and parentheses.
//! * Functions: `lower`, `upper` (ASCII), `url_decode`, `len` (of a string,
//!   or the number of elements of an array), `starts_with(x, "…")`,
//!   `ends_with(x, "…")`, `any(…)`/`all(…)` over the elements of one array
//!   written with `[*]`: `any(http.request.headers["accept"][*] contains "json")`.
//! * Literals: `"…"` with `\" \\ \n \r \t \xHH` escapes, raw `r"…"` and
//!   `r#"…"#`, integers, `true`/`false`, bare IPs and CIDRs. `true` alone is
//!   a condition every request meets (as in Cloudflare's APIs), `false` none.
//!
//! Errors carry a 1-based column and a sentence naming what was expected
//! and what was found. Expressions are bounded by [`Limits`].
//!
//! # Use
//!
//! ```
//! use std::sync::Arc;
//! use rampart_rules::{compile, EvalScratch, IpList, ListKind, Lists, RequestFields, Scheme};
//!
//! // Per snapshot: the lists in scope for the account, and its rules.
//! let mut scheme = Scheme::new();
//! scheme.add_list("office", ListKind::Ip);
//! let rule = compile(
//!     r#"http.request.uri.path matches "^/wp-(admin|login)" and not ip.src in $office"#,
//!     &scheme,
//! )?;
//! let mut lists = Lists::new();
//! lists.insert("office", Arc::new(IpList::from_text("192.0.2.0/24\n2001:db8::/32")?));
//!
//! // Per worker thread: one scratch, reused for every request.
//! let mut scratch = EvalScratch::new();
//!
//! // Per request: a borrowed view of it.
//! let headers = http::HeaderMap::new();
//! let req = RequestFields {
//!     ip: "198.51.100.7".parse()?,
//!     path: "/wp-login.php",
//!     ..RequestFields::empty(&headers)
//! };
//! assert!(rule.matches(&req, &lists, &mut scratch));
//!
//! let err = compile("http.host contains 3", &scheme).unwrap_err();
//! assert_eq!(err.to_string(), "column 20: expected a string after `contains`, found integer 3");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod ast;
mod compare;
mod compile;
mod error;
mod eval;
mod functions;
mod lexer;
mod limits;
mod list;
mod parser;
mod request;
mod ruleset;
mod scheme;

pub use ast::{Ast, Call, CmpOp, Expr, FieldRef, Literal, LiteralValue, LogicalOp, Rhs};
pub use error::{ErrorKind, RuleError};
pub use limits::Limits;
pub use list::{INDEX_THRESHOLD, IpList, ListError, ListLineError, Lists, MAX_LIST_ENTRIES};
pub use parser::{parse, parse_with_limits};
pub use request::{EvalScratch, RequestFields};
pub use ruleset::RuleSet;
pub use scheme::{Field, FieldType, ListKind, Scheme};

/// A rule ready to evaluate. Cheap to share between threads (`Send + Sync`).
#[derive(Debug)]
pub struct CompiledRule {
    root: eval::Node,
    source: Box<str>,
}

/// Parses and compiles an expression with the scheme's limits.
pub fn compile(src: &str, scheme: &Scheme) -> Result<CompiledRule, RuleError> {
    let ast = parse_with_limits(src, scheme.limits())?;
    Ok(CompiledRule {
        root: compile::compile_ast(&ast, scheme)?,
        source: src.into(),
    })
}

/// Compiles an already parsed (or built) expression. The tree's depth is
/// checked against the scheme's limits, as parsing would have.
pub fn compile_ast(ast: &Ast, scheme: &Scheme) -> Result<CompiledRule, RuleError> {
    compile::check_depth(ast, scheme.limits())?;
    Ok(CompiledRule {
        root: compile::compile_ast(ast, scheme)?,
        source: ast.to_string().into(),
    })
}

impl CompiledRule {
    /// Whether the request matches. Allocates nothing once `scratch` has
    /// grown to the request's sizes; never panics. A `$list` missing from
    /// `lists` holds no address.
    #[inline]
    pub fn matches(
        &self,
        req: &RequestFields<'_>,
        lists: &Lists,
        scratch: &mut EvalScratch,
    ) -> bool {
        scratch.start_request();
        self.eval_same_request(req, lists, scratch)
    }

    /// [`Self::matches`] keeping the memo of the previous evaluation, which
    /// must have been of the same request (as in a [`RuleSet`]).
    #[inline]
    pub(crate) fn eval_same_request(
        &self,
        req: &RequestFields<'_>,
        lists: &Lists,
        scratch: &mut EvalScratch,
    ) -> bool {
        self.root.eval(&eval::Env { req, lists }, scratch, &[])
    }

    /// The expression's text.
    pub fn source(&self) -> &str {
        &self.source
    }
}
