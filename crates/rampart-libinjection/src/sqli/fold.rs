//! Token folding: libinjection reduces the token stream to at most five
//! tokens by collapsing constructs that do not change what the statement
//! means for injection purposes (`1+1` is one number, `'a' 'b'` one
//! string, `IN BOOLEAN MODE` one keyword, unary operators disappear, …).
//! The rules and their order follow libinjection's `libinjection_sqli_fold`;
//! the order matters because each rule restarts the scan.

use super::keywords;
use super::tokenizer::{Dialect, Quote, Tokenizer};
use super::tokens::{
    MAX_TOKENS, Token, TokenType, Window, is, is_arithmetic_op, is_unary_op, text,
};

use TokenType as T;

/// What folding produced: the folded tokens and the counters the
/// whitelist and the MySQL re-parse decision look at.
pub(crate) struct Folded {
    pub(crate) tokens: Window,
    pub(crate) len: usize,
    /// Tokens the tokenizer produced, comments included.
    pub(crate) stats_tokens: usize,
    /// `--` comments not followed by whitespace, and `#` comments: both
    /// mean MySQL syntax, so a failed ANSI pass is retried as MySQL.
    pub(crate) mysql_comments: bool,
    /// Folding did not settle within its work bound (never seen; a guard
    /// against a rule cycle). Treated as unparseable.
    pub(crate) gave_up: bool,
}

/// Functions of TSQL/MySQL that are also common column names: a function
/// only when followed by `(`.
const CALLABLE_WORDS: &[&[u8]] = &[
    b"USER_ID",
    b"USER_NAME",
    b"DATABASE",
    b"PASSWORD",
    b"USER",
    b"CURRENT_USER",
    b"CURRENT_DATE",
    b"CURRENT_TIME",
    b"CURRENT_TIMESTAMP",
    b"LOCALTIME",
    b"LOCALTIMESTAMP",
];

struct Folder<'a> {
    tokenizer: Tokenizer<'a>,
    w: Window,
    pos: usize,
    left: usize,
    more: bool,
    last_comment: Option<Token>,
    stats_tokens: usize,
}

pub(crate) fn fold(input: &[u8], quote: Quote, dialect: Dialect) -> Folded {
    let mut f = Folder {
        tokenizer: Tokenizer::new(input, quote, dialect),
        w: Window::new(),
        pos: 0,
        left: 0,
        more: true,
        last_comment: None,
        stats_tokens: 0,
    };
    // Each rule either consumes input, shrinks the window or changes a
    // token's type to one the rule no longer matches, so the loop ends;
    // the bound only makes that independent of the argument.
    let budget = input.len().saturating_mul(8).saturating_add(64);
    let (len, gave_up) = match f.run(budget) {
        Some(len) => (len, false),
        None => (0, true),
    };
    Folded {
        len,
        gave_up,
        stats_tokens: f.stats_tokens,
        mysql_comments: f.tokenizer.stats_comment_ddx != 0 || f.tokenizer.stats_comment_hash != 0,
        tokens: f.w,
    }
}

impl Folder<'_> {
    fn pull(&mut self) -> Option<Token> {
        let token = self.tokenizer.next_token();
        if token.is_some() {
            self.stats_tokens += 1;
        }
        token
    }

    /// Reads tokens into the window until it holds `want` unprocessed
    /// ones; comments are remembered but take no slot.
    fn fill(&mut self, want: usize) {
        while self.more && self.pos <= MAX_TOKENS && self.pos.saturating_sub(self.left) < want {
            match self.pull() {
                None => self.more = false,
                Some(t) if t.token_type == T::Comment => self.last_comment = Some(t),
                Some(t) => {
                    self.last_comment = None;
                    self.w.set(self.pos, t);
                    self.pos += 1;
                }
            }
        }
    }

    /// Returns the number of folded tokens, or `None` when out of budget.
    fn run(&mut self, mut budget: usize) -> Option<usize> {
        // Leading comments, `(`, SQL types and unary operators say nothing.
        loop {
            match self.pull() {
                None => return Some(0),
                Some(t) => {
                    let skip = matches!(t.token_type, T::Comment | T::LeftParenthesis | T::SqlType)
                        || is_unary_op(&t);
                    self.w.set(0, t);
                    if !skip {
                        break;
                    }
                }
            }
        }
        self.pos = 1;

        loop {
            budget = budget.checked_sub(1)?;
            if self.pos >= MAX_TOKENS && self.five_token_restart() {
                if self.pos > MAX_TOKENS {
                    self.w.copy(1, MAX_TOKENS);
                    self.pos = 2;
                } else {
                    self.pos = 1;
                }
                self.left = 0;
            }
            if !self.more || self.left >= MAX_TOKENS {
                self.left = self.pos;
                break;
            }

            self.fill(2);
            if self.pos.saturating_sub(self.left) < 2 {
                self.left = self.pos;
                continue;
            }
            match self.fold_two() {
                Step::Again => continue,
                Step::Evil(len) => return Some(len),
                Step::Next => {}
            }

            self.fill(3);
            if self.pos.saturating_sub(self.left) < 3 {
                self.left = self.pos;
                continue;
            }
            if self.fold_three() {
                continue;
            }
            self.left += 1;
        }

        let mut len = self.left;
        if len < MAX_TOKENS
            && let Some(comment) = self.last_comment.take()
        {
            self.w.set(len, comment);
            len += 1;
        }
        Some(len.min(MAX_TOKENS))
    }

    /// Five-token shapes of parenthesised arithmetic and argument lists
    /// (`1,(2)`, `n-(1)`, …) that are common in benign input: start over
    /// from the first token so they fold further.
    fn five_token_restart(&self) -> bool {
        let t = |i| self.w.ty(i);
        (t(0) == T::Number
            && matches!(t(1), T::Operator | T::Comma)
            && t(2) == T::LeftParenthesis
            && t(3) == T::Number
            && t(4) == T::RightParenthesis)
            || (t(0) == T::Bareword
                && t(1) == T::Operator
                && t(2) == T::LeftParenthesis
                && matches!(t(3), T::Bareword | T::Number)
                && t(4) == T::RightParenthesis)
            || (t(0) == T::Number
                && t(1) == T::RightParenthesis
                && t(2) == T::Comma
                && t(3) == T::LeftParenthesis
                && t(4) == T::Number)
            || (t(0) == T::Bareword
                && t(1) == T::RightParenthesis
                && t(2) == T::Operator
                && t(3) == T::LeftParenthesis
                && t(4) == T::Bareword)
    }

    fn drop_one(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn back_one(&mut self) {
        self.left = self.left.saturating_sub(1);
    }

    fn fold_two(&mut self) -> Step {
        let l = self.left;
        let (a, b) = (self.w.ty(l), self.w.ty(l + 1));
        let (ta, tb) = (self.w.get(l), self.w.get(l + 1));
        let unary_b = is_unary_op(tb);
        let b_is_if = text(tb)
            .get(..2)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"IF"));
        let a_callable = CALLABLE_WORDS.iter().any(|w| is(ta, w));
        let a_in = is(ta, b"IN") || is(ta, b"NOT IN");
        let a_like = is(ta, b"LIKE") || is(ta, b"NOT LIKE");
        let b_underscored = text(tb)
            .split(|&c| c == 0)
            .next()
            .is_some_and(|v| v.contains(&b'_'));
        let b_arithmetic = is_arithmetic_op(tb);
        let b_empty = tb.len == 0;

        if (a == T::String && b == T::String) || (a == T::Semicolon && b == T::Semicolon) {
            // "foo" "bar" is one string; repeated semicolons are one.
            self.drop_one();
        } else if matches!(a, T::Operator | T::LogicOperator) && (unary_b || b == T::SqlType) {
            self.drop_one();
            self.left = 0;
        } else if (a == T::LeftParenthesis && unary_b) || self.merge_words(l) {
            self.drop_one();
            self.back_one();
        } else if a == T::Semicolon && b == T::Function && b_is_if {
            // After `;`, IF is Transact-SQL flow control, not a function.
            self.w.set_type(l + 1, T::Tsql);
        } else if matches!(a, T::Bareword | T::Variable) && b == T::LeftParenthesis && a_callable {
            self.w.set_type(l, T::Function);
        } else if a == T::Keyword && a_in {
            // `IN (` compares; otherwise IN may start `IN BOOLEAN MODE`.
            let ty = if b == T::LeftParenthesis {
                T::Operator
            } else {
                T::Bareword
            };
            self.w.set_type(l, ty);
        } else if a == T::Operator && a_like {
            if b == T::LeftParenthesis {
                self.w.set_type(l, T::Function);
            }
            return Step::Next;
        } else if a == T::SqlType
            && matches!(
                b,
                T::Bareword
                    | T::Number
                    | T::SqlType
                    | T::LeftParenthesis
                    | T::Function
                    | T::Variable
                    | T::String
            )
        {
            self.w.copy(l, l + 1);
            self.drop_one();
            self.left = 0;
        } else if a == T::Collate && b == T::Bareword {
            // Too many collations to list; one with `_` is taken as a type.
            if b_underscored {
                self.w.set_type(l + 1, T::SqlType);
                self.left = 0;
            }
            return Step::Next;
        } else if a == T::Backslash {
            // TSQL reads `\%1` as `0 % 1` and `\1` as `1`.
            if b_arithmetic {
                self.w.set_type(l, T::Number);
            } else {
                self.w.copy(l, l + 1);
                self.drop_one();
            }
            self.left = 0;
        } else if (a == T::LeftParenthesis && b == T::LeftParenthesis)
            || (a == T::RightParenthesis && b == T::RightParenthesis)
        {
            self.drop_one();
            self.left = 0;
        } else if a == T::LeftBrace && b == T::Bareword {
            // MySQL's `{ ``.``.id }` cannot be folded within three tokens;
            // an empty name after `{` is rare enough to call it evil.
            if b_empty {
                self.w.set_type(l + 1, T::Evil);
                return Step::Evil(l + 2);
            }
            // ODBC `{foo expr}`: keep only the expression.
            self.left = 0;
            self.pos = self.pos.saturating_sub(2);
        } else if b == T::RightBrace {
            self.drop_one();
            self.left = 0;
        } else {
            return Step::Next;
        }
        Step::Again
    }

    /// Joins two word-like tokens into a known phrase (`UNION ALL`,
    /// `ORDER BY`, `IN BOOLEAN`, then `IN BOOLEAN MODE`).
    fn merge_words(&mut self, l: usize) -> bool {
        const WORDY: &[TokenType] = &[
            T::Keyword,
            T::Bareword,
            T::Operator,
            T::Union,
            T::Function,
            T::Expression,
            T::Tsql,
            T::SqlType,
        ];
        let (a, b) = (self.w.get(l), self.w.get(l + 1));
        if !WORDY.contains(&a.token_type)
            || !(WORDY.contains(&b.token_type) || b.token_type == T::LogicOperator)
        {
            return false;
        }
        let (ta, tb) = (text(a), text(b));
        let merged_len = ta.len() + tb.len() + 1;
        if merged_len >= super::tokens::TOKEN_SIZE {
            return false;
        }
        let mut merged = Vec::with_capacity(merged_len);
        merged.extend_from_slice(ta);
        merged.push(b' ');
        merged.extend_from_slice(tb);
        let Some(ty) = keywords::lookup(&merged) else {
            return false;
        };
        let pos = a.pos;
        if let Some(slot) = self.w.slot_mut(l) {
            slot.assign(TokenType::from_char(ty), pos, &merged);
        }
        true
    }

    /// Returns whether a rule fired and the scan restarts.
    fn fold_three(&mut self) -> bool {
        let l = self.left;
        let (a, b, c) = (self.w.ty(l), self.w.ty(l + 1), self.w.ty(l + 2));
        let unary_b = is_unary_op(self.w.get(l + 1));
        let value = |t| matches!(t, T::Number | T::Bareword | T::String | T::Variable);

        if (a == T::Number && b == T::Operator && c == T::Number)
            || (a == T::Operator && b != T::LeftParenthesis && c == T::Operator)
            || (a == T::LogicOperator && c == T::LogicOperator)
            || (a == T::Variable
                && b == T::Operator
                && matches!(c, T::Variable | T::Number | T::Bareword))
            || (matches!(a, T::Bareword | T::Number)
                && b == T::Operator
                && matches!(c, T::Number | T::Bareword))
            || (value(a) && b == T::Operator && text(self.w.get(l + 1)) == b"::" && c == T::SqlType)
            || (value(a) && b == T::Comma && value(c))
            || (a == T::Bareword && b == T::Dot && c == T::Bareword)
        {
            // Expressions, casts, lists and qualified names are one value.
            self.pos = self.pos.saturating_sub(2);
        } else if (matches!(a, T::Expression | T::Group | T::Comma)
            && unary_b
            && c == T::LeftParenthesis)
            || (matches!(a, T::Keyword | T::Expression | T::Group)
                && unary_b
                && matches!(
                    c,
                    T::Number | T::Bareword | T::Variable | T::String | T::Function
                ))
            || (a == T::Comma && unary_b && c == T::Function)
            || (a == T::Expression && b == T::Dot && c == T::Bareword)
        {
            // Drop the unary operator (or the dot of `select .name`).
            self.w.copy(l + 1, l + 2);
            self.drop_one();
        } else if a == T::Comma && unary_b && value(c) {
            // `1,-1` is `1`: drop the operator and fold the list again.
            self.w.copy(l + 1, l + 2);
            self.pos = self.pos.saturating_sub(3);
        } else {
            if a == T::Function
                && b == T::LeftParenthesis
                && c != T::RightParenthesis
                && is(self.w.get(l), b"USER")
            {
                // USER() takes no arguments: USER(x) is a column or table.
                self.w.set_type(l, T::Bareword);
            }
            return false;
        }
        self.left = 0;
        true
    }
}

enum Step {
    /// A rule fired: rescan.
    Again,
    /// No two-token rule applies: try three tokens.
    Next,
    /// Folding stops here with this many tokens, the last one evil.
    Evil(usize),
}

/// The fingerprint of the folded tokens: one type character per token.
pub(crate) fn fingerprint(folded: &mut Folded) -> Vec<u8> {
    let len = folded.len;
    // PHP treats an unterminated, empty backtick name at the end as a
    // comment start.
    if len > 2
        && let Some(last) = folded.tokens.slot_mut(len - 1)
        && last.token_type == T::Bareword
        && last.str_open == b'`'
        && last.len == 0
        && last.str_close == 0
    {
        last.token_type = T::Comment;
    }
    let fp: Vec<u8> = (0..len).map(|i| folded.tokens.ty(i).to_char()).collect();
    if folded.gave_up || fp.contains(&b'X') {
        return b"X".to_vec();
    }
    fp
}
