//! The compiled form of a rule and its evaluation.
//!
//! A rule compiles to a tree of typed nodes whose operands are already
//! resolved: literals parsed, sets sorted, regexes and substring finders
//! built, header names validated. Evaluating it is a walk that borrows the
//! request, writes transformed strings into the caller's scratch buffers and
//! allocates nothing. Recursion is bounded by the parser's depth limit.

use std::cmp::Ordering;
use std::net::IpAddr;

use http::HeaderName;
use memchr::memmem::Finder;
use regex::bytes::Regex;

use crate::functions::{Transform, count_args, for_each_arg};
use crate::list::{IpList, Lists};
use crate::request::{EvalScratch, RequestFields};
use crate::scheme::Field;

#[derive(Debug)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Xor(Box<[Node]>),
    Not(Box<Node>),
    /// `true` / `false` written as a whole condition (`true` = every request).
    Const(bool),
    Bool(Field),
    Str(StrExpr, StrTest),
    Int(IntExpr, IntTest),
    Ip(IpTest),
    /// True when the predicate holds for some element (false for none).
    Any(ArraySrc, Box<Node>),
    /// True when the predicate holds for every element (true for none).
    All(ArraySrc, Box<Node>),
}

/// A string source followed by functions applied in order
/// (`lower(url_decode(x))` is `x` then `[UrlDecode, Lower]`).
#[derive(Debug)]
pub(crate) struct StrExpr {
    pub(crate) src: StrSrc,
    pub(crate) transforms: Vec<Transform>,
}

#[derive(Debug)]
pub(crate) enum StrSrc {
    Field(Field),
    /// The current element inside `any`/`all`.
    Element,
    Const(Box<[u8]>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rel {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Rel {
    #[inline]
    fn holds(self, o: Ordering) -> bool {
        match self {
            Self::Eq => o.is_eq(),
            Self::Ne => o.is_ne(),
            Self::Lt => o.is_lt(),
            Self::Le => o.is_le(),
            Self::Gt => o.is_gt(),
            Self::Ge => o.is_ge(),
        }
    }
}

#[derive(Debug)]
pub(crate) enum StrTest {
    Rel(Rel, Box<[u8]>),
    /// Boxed: a finder is ~300 bytes, most nodes are not finders.
    Contains(Box<Finder<'static>>),
    Regex(Regex),
    /// Sorted and deduplicated.
    InSet(Box<[Box<[u8]>]>),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
}

#[derive(Debug)]
pub(crate) enum IntExpr {
    Field(Field),
    Len(StrExpr),
    /// Number of elements of an array.
    Count(ArraySrc),
}

#[derive(Debug)]
pub(crate) enum IntTest {
    Rel(Rel, i64),
    /// Sorted, disjoint inclusive ranges.
    InRanges(Box<[(i64, i64)]>),
}

#[derive(Debug)]
pub(crate) enum IpTest {
    Eq(IpAddr),
    Ne(IpAddr),
    InSet(Box<IpList>),
    /// A list looked up by name at evaluation time, so lists can be replaced
    /// without recompiling rules. A list missing then holds nothing.
    InList(Box<str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArraySrc {
    Header(HeaderName),
    /// Decoded argument name.
    Arg(Box<[u8]>),
}

/// What evaluation reads.
pub(crate) struct Env<'r, 'a> {
    pub(crate) req: &'r RequestFields<'a>,
    pub(crate) lists: &'r Lists,
}

impl Node {
    /// Evaluates the node; `elem` is the current array element inside
    /// `any`/`all` and empty elsewhere.
    pub(crate) fn eval(&self, env: &Env<'_, '_>, s: &mut EvalScratch, elem: &[u8]) -> bool {
        match self {
            Self::And(nodes) => nodes.iter().all(|n| n.eval(env, s, elem)),
            Self::Or(nodes) => nodes.iter().any(|n| n.eval(env, s, elem)),
            Self::Xor(nodes) => nodes
                .iter()
                .fold(false, |acc, n| acc ^ n.eval(env, s, elem)),
            Self::Not(n) => !n.eval(env, s, elem),
            Self::Const(b) => *b,
            Self::Bool(f) => env.req.boolean(*f),
            Self::Str(e, t) => with_str(e, env.req, s, elem, |v| t.test(v)),
            Self::Int(e, t) => t.test(e.eval(env.req, s, elem)),
            Self::Ip(t) => t.test(env.req.ip.to_canonical(), env.lists),
            Self::Any(src, pred) => each_element(src, env, s, true, pred),
            Self::All(src, pred) => !each_element(src, env, s, false, pred),
        }
    }

    /// A rough relative cost, so `and`/`or` can try cheap operands first.
    pub(crate) fn cost(&self) -> u32 {
        match self {
            Self::And(n) | Self::Or(n) | Self::Xor(n) => n.iter().map(Self::cost).sum(),
            Self::Not(n) => n.cost(),
            Self::Const(_) => 0,
            Self::Bool(_) => 1,
            Self::Int(e, _) => match e {
                IntExpr::Field(_) => 2,
                IntExpr::Len(e) => 4 + e.cost(),
                IntExpr::Count(_) => 20,
            },
            Self::Ip(IpTest::Eq(_) | IpTest::Ne(_)) => 2,
            Self::Ip(IpTest::InSet(_)) => 6,
            Self::Ip(IpTest::InList(_)) => 12,
            Self::Str(e, t) => e.cost() + t.cost(),
            Self::Any(_, n) | Self::All(_, n) => 25 + 2 * n.cost(),
        }
    }
}

impl StrExpr {
    fn cost(&self) -> u32 {
        let src = match self.src {
            StrSrc::Field(Field::HttpUserAgent | Field::HttpReferer | Field::HttpCookie) => 8,
            _ => 1,
        };
        // Each function copies the string.
        src + 15 * u32::try_from(self.transforms.len()).unwrap_or(u32::MAX / 32)
    }
}

impl StrTest {
    fn cost(&self) -> u32 {
        match self {
            Self::Rel(..) | Self::StartsWith(_) | Self::EndsWith(_) => 3,
            Self::InSet(_) => 5,
            Self::Contains(_) => 10,
            Self::Regex(_) => 40,
        }
    }

    #[inline]
    fn test(&self, v: &[u8]) -> bool {
        match self {
            // Equality compares lengths first, which `cmp` does not.
            Self::Rel(Rel::Eq, lit) => v == &**lit,
            Self::Rel(Rel::Ne, lit) => v != &**lit,
            Self::Rel(rel, lit) => rel.holds(v.cmp(lit)),
            Self::Contains(f) => f.find(v).is_some(),
            Self::Regex(re) => re.is_match(v),
            Self::InSet(set) => set.binary_search_by(|x| (**x).cmp(v)).is_ok(),
            Self::StartsWith(p) => v.starts_with(p),
            Self::EndsWith(p) => v.ends_with(p),
        }
    }
}

impl IntExpr {
    fn eval(&self, req: &RequestFields<'_>, s: &mut EvalScratch, elem: &[u8]) -> i64 {
        match self {
            Self::Field(f) => req.int(*f),
            Self::Len(e) => with_str(e, req, s, elem, |v| {
                i64::try_from(v.len()).unwrap_or(i64::MAX)
            }),
            Self::Count(ArraySrc::Header(name)) => {
                i64::try_from(req.headers.get_all(name).iter().count()).unwrap_or(i64::MAX)
            }
            Self::Count(ArraySrc::Arg(name)) => {
                i64::try_from(count_args(req.query.as_bytes(), name)).unwrap_or(i64::MAX)
            }
        }
    }
}

impl IntTest {
    #[inline]
    fn test(&self, v: i64) -> bool {
        match self {
            Self::Rel(rel, lit) => rel.holds(v.cmp(lit)),
            Self::InRanges(ranges) => {
                let n = ranges.partition_point(|&(lo, _)| lo <= v);
                n.checked_sub(1)
                    .and_then(|i| ranges.get(i))
                    .is_some_and(|&(_, hi)| v <= hi)
            }
        }
    }
}

impl IpTest {
    #[inline]
    fn test(&self, ip: IpAddr, lists: &Lists) -> bool {
        match self {
            Self::Eq(a) => ip == *a,
            Self::Ne(a) => ip != *a,
            Self::InSet(set) => set.contains(ip),
            Self::InList(name) => lists.get(name).is_some_and(|l| l.contains(ip)),
        }
    }
}

/// Most entries a request's memo holds; a scan of this many keys is cheaper
/// than recomputing one `lower` of a user agent.
const MEMO_ENTRIES: usize = 16;

impl StrExpr {
    /// A key naming the field and its functions, for memoising the result
    /// within one request (`lower(http.user_agent)` in a hundred rules is
    /// computed once). Only field sources with up to 24 functions have one.
    #[inline]
    fn memo_key(&self) -> Option<u64> {
        let StrSrc::Field(field) = self.src else {
            return None;
        };
        if self.transforms.is_empty() || self.transforms.len() > 24 {
            return None;
        }
        let mut key = field as u64;
        for t in &self.transforms {
            key = key << 2 | (*t as u64 + 1);
        }
        // The field index fits in 6 bits; mark the length so `[Lower]` and
        // `[Lower, Lower]`-like prefixes differ.
        Some(key << 6 | self.transforms.len() as u64)
    }
}

/// Runs `f` on the value of `e`: borrowed from the request when there is no
/// function to apply, otherwise built in the scratch buffers (ping-ponging
/// between two for chained functions) or taken from the request's memo.
#[inline]
fn with_str<R>(
    e: &StrExpr,
    req: &RequestFields<'_>,
    s: &mut EvalScratch,
    elem: &[u8],
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    let src: &[u8] = match &e.src {
        StrSrc::Field(field) => req.bytes(*field),
        StrSrc::Element => elem,
        StrSrc::Const(c) => c,
    };
    let Some((first, rest)) = e.transforms.split_first() else {
        return f(src);
    };
    let key = e.memo_key();
    if let Some(key) = key
        && let Some(&(_, start, end)) = s.memo.iter().find(|(k, _, _)| *k == key)
    {
        return f(s.memo_bytes.get(start..end).unwrap_or(b""));
    }
    let EvalScratch { a, b, .. } = s;
    a.clear();
    first.apply(src, a);
    for t in rest {
        b.clear();
        t.apply(a, b);
        std::mem::swap(a, b);
    }
    match key {
        Some(key) if s.memo.len() < MEMO_ENTRIES => {
            let start = s.memo_bytes.len();
            s.memo_bytes.extend_from_slice(&s.a);
            let end = s.memo_bytes.len();
            s.memo.push((key, start, end));
            f(s.memo_bytes.get(start..end).unwrap_or(b""))
        }
        _ => f(&s.a),
    }
}

/// Evaluates `pred` on each element of `src` until it returns `stop`;
/// returns whether it did.
fn each_element(
    src: &ArraySrc,
    env: &Env<'_, '_>,
    s: &mut EvalScratch,
    stop: bool,
    pred: &Node,
) -> bool {
    match src {
        ArraySrc::Header(name) => env
            .req
            .headers
            .get_all(name)
            .iter()
            .any(|v| pred.eval(env, s, v.as_bytes()) == stop),
        ArraySrc::Arg(name) => {
            // The decoded value lives in a buffer taken out of the scratch
            // (no allocation: `take` leaves an empty Vec) so the predicate
            // can use the other buffers while the value is borrowed.
            let mut buf = std::mem::take(&mut s.elem);
            let found = for_each_arg(env.req.query.as_bytes(), name, &mut buf, stop, |v| {
                pred.eval(env, s, v)
            });
            s.elem = buf;
            found
        }
    }
}
