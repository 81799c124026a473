//! The small fixed token window the folder works in, and the questions it
//! asks of a token. Out-of-range slots read as an empty token so the
//! folding rules can be written as plain comparisons without indexing.

use libinjectionrs::sqli::{Token, TokenType};

/// libinjection keeps at most five folded tokens (the fingerprint length).
pub(crate) const MAX_TOKENS: usize = 5;
/// Slots in the window: five, one more to look ahead, and room for the
/// three-token rules at the edge.
const SLOTS: usize = MAX_TOKENS + 3;

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

/// The token's text as libinjection stores it. The port keeps a
/// variable's leading `@`/`@@` in its value where libinjection does not;
/// they are dropped here so names compare the same.
pub(crate) fn text(token: &Token) -> &[u8] {
    let len = token.len.min(token.val.len());
    let val = token.val.get(..len).unwrap_or(&[]);
    if token.token_type == TokenType::Variable {
        let ats = usize::try_from(token.count).unwrap_or(0);
        let leading = val.iter().take(ats).take_while(|&&b| b == b'@').count();
        return val.get(leading..).unwrap_or(&[]);
    }
    val
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
