//! Bounds on what one expression may cost. Tenants write rules, so the text
//! is hostile input: these keep parsing, compiling and evaluating bounded in
//! time, memory and stack.

/// Limits applied by [`crate::parse_with_limits`] and the compilers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest expression, in bytes.
    pub max_len: usize,
    /// Deepest nesting of parentheses, `not` and function calls. Parsing,
    /// compiling and evaluating recurse this deep, so it bounds the stack.
    pub max_depth: usize,
    /// Largest compiled program of one `matches`/`wildcard` pattern, in bytes
    /// (`regex::RegexBuilder::size_limit`).
    pub regex_size: usize,
    /// Memory the lazy DFA of one pattern may use, in bytes, per thread.
    pub regex_dfa_size: usize,
    /// Most `matches`/`wildcard` patterns in one expression: with the size
    /// limit, bounds the memory and compile time a single rule can take.
    pub max_regexes: usize,
}

impl Limits {
    /// 16 KiB of text, 64 levels, 1 MiB programs, 2 MiB DFA caches, 32
    /// patterns.
    pub const DEFAULT: Self = Self {
        max_len: 16 * 1024,
        max_depth: 64,
        regex_size: 1 << 20,
        regex_dfa_size: 2 << 20,
        max_regexes: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
