//! Tokens, the small fixed window the folder works in, and the questions
//! it asks of a token. Out-of-range slots read as an empty token so the
//! folding rules can be written as plain comparisons without indexing.

/// libinjection keeps at most five folded tokens (the fingerprint length).
pub(crate) const MAX_TOKENS: usize = 5;
/// Slots in the window: five, one more to look ahead, and room for the
/// three-token rules at the edge.
const SLOTS: usize = MAX_TOKENS + 3;
/// A token keeps at most this many bytes of its text, less one: the C
/// library's fixed buffer, whose truncation the algorithm relies on.
pub(crate) const TOKEN_SIZE: usize = 32;

/// Token types; [`TokenType::to_char`] gives the fingerprint character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenType {
    None,
    Keyword,
    Union,
    Group,
    Expression,
    SqlType,
    Function,
    Bareword,
    Number,
    Variable,
    String,
    Operator,
    LogicOperator,
    Comment,
    Collate,
    LeftParenthesis,
    RightParenthesis,
    LeftBrace,
    RightBrace,
    Dot,
    Comma,
    Colon,
    Semicolon,
    Tsql,
    Unknown,
    Evil,
    Fingerprint,
    Backslash,
}

impl TokenType {
    pub(crate) fn to_char(self) -> u8 {
        use TokenType as T;
        match self {
            T::None => 0,
            T::Keyword => b'k',
            T::Union => b'U',
            T::Group => b'B',
            T::Expression => b'E',
            T::SqlType => b't',
            T::Function => b'f',
            T::Bareword => b'n',
            T::Number => b'1',
            T::Variable => b'v',
            T::String => b's',
            T::Operator => b'o',
            T::LogicOperator => b'&',
            T::Comment => b'c',
            T::Collate => b'A',
            T::LeftParenthesis => b'(',
            T::RightParenthesis => b')',
            T::LeftBrace => b'{',
            T::RightBrace => b'}',
            T::Dot => b'.',
            T::Comma => b',',
            T::Colon => b':',
            T::Semicolon => b';',
            T::Tsql => b'T',
            T::Unknown => b'?',
            T::Evil => b'X',
            T::Fingerprint => b'F',
            T::Backslash => b'\\',
        }
    }

    /// The type a word-table or single-character token type stands for.
    pub(crate) fn from_char(ch: u8) -> TokenType {
        use TokenType as T;
        match ch {
            b'k' => T::Keyword,
            b'U' => T::Union,
            b'B' => T::Group,
            b'E' => T::Expression,
            b't' => T::SqlType,
            b'f' => T::Function,
            b'n' => T::Bareword,
            b'1' => T::Number,
            b'v' => T::Variable,
            b's' => T::String,
            b'o' => T::Operator,
            b'&' => T::LogicOperator,
            b'c' => T::Comment,
            b'A' => T::Collate,
            b'(' => T::LeftParenthesis,
            b')' => T::RightParenthesis,
            b'{' => T::LeftBrace,
            b'}' => T::RightBrace,
            b'.' => T::Dot,
            b',' => T::Comma,
            b':' => T::Colon,
            b';' => T::Semicolon,
            b'T' => T::Tsql,
            b'X' => T::Evil,
            b'F' => T::Fingerprint,
            b'\\' => T::Backslash,
            0 => T::None,
            _ => T::Unknown,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) token_type: TokenType,
    pub(crate) pos: usize,
    /// Length of `val`'s text: the token's length capped at 31.
    pub(crate) len: usize,
    pub(crate) val: [u8; TOKEN_SIZE],
    /// Opening and closing quote of a string, NUL when absent (unclosed,
    /// or the opening quote only assumed by the quote context).
    pub(crate) str_open: u8,
    pub(crate) str_close: u8,
    /// Number of `@` before a variable.
    pub(crate) count: u8,
}

impl Token {
    pub(crate) fn new() -> Self {
        Token {
            token_type: TokenType::None,
            pos: 0,
            len: 0,
            val: [0; TOKEN_SIZE],
            str_open: 0,
            str_close: 0,
            count: 0,
        }
    }

    /// Sets type, position and text, keeping the first 31 bytes of
    /// `value` (quotes and `@` count are left as they are).
    pub(crate) fn assign(&mut self, ty: TokenType, pos: usize, value: &[u8]) {
        let keep = value.len().min(TOKEN_SIZE - 1);
        self.token_type = ty;
        self.pos = pos;
        self.len = keep;
        self.val = [0; TOKEN_SIZE];
        if let (Some(dst), Some(src)) = (self.val.get_mut(..keep), value.get(..keep)) {
            dst.copy_from_slice(src);
        }
    }
}

pub(crate) struct Window {
    slots: [Token; SLOTS],
    empty: Token,
}

impl Window {
    pub(crate) fn new() -> Self {
        Window {
            slots: std::array::from_fn(|_| Token::new()),
            empty: Token::new(),
        }
    }

    pub(crate) fn get(&self, i: usize) -> &Token {
        self.slots.get(i).unwrap_or(&self.empty)
    }

    pub(crate) fn ty(&self, i: usize) -> TokenType {
        self.get(i).token_type
    }

    pub(crate) fn set(&mut self, i: usize, token: Token) {
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = token;
        }
    }

    pub(crate) fn set_type(&mut self, i: usize, ty: TokenType) {
        if let Some(slot) = self.slots.get_mut(i) {
            slot.token_type = ty;
        }
    }

    /// Copies slot `from` over slot `to` (libinjection's `st_copy`).
    pub(crate) fn copy(&mut self, to: usize, from: usize) {
        let token = self.get(from).clone();
        self.set(to, token);
    }

    pub(crate) fn slot_mut(&mut self, i: usize) -> Option<&mut Token> {
        self.slots.get_mut(i)
    }
}

/// The token's text.
pub(crate) fn text(token: &Token) -> &[u8] {
    token.val.get(..token.len).unwrap_or(&[])
}

/// First byte of the value, or NUL when empty (C strings read so).
pub(crate) fn first(token: &Token) -> u8 {
    text(token).first().copied().unwrap_or(0)
}

/// The value equals `upper` ignoring ASCII case (libinjection's
/// `cstrcasecmp(upper, val, len) == 0`).
pub(crate) fn is(token: &Token, upper: &[u8]) -> bool {
    text(token).eq_ignore_ascii_case(upper)
}

pub(crate) fn is_unary_op(token: &Token) -> bool {
    if token.token_type != TokenType::Operator {
        return false;
    }
    match text(token) {
        [b'+' | b'-' | b'!' | b'~'] => true,
        b"!!" => true,
        other => other.eq_ignore_ascii_case(b"NOT"),
    }
}

pub(crate) fn is_arithmetic_op(token: &Token) -> bool {
    token.token_type == TokenType::Operator
        && matches!(text(token), [b'*' | b'/' | b'-' | b'+' | b'%'])
}
