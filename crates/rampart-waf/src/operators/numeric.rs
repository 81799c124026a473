//! `@eq`, `@ge`, `@gt`, `@le`, `@lt`: integer comparisons of the input
//! with the (possibly macro) argument.

use super::{Arg, MacroExpander};

#[derive(Debug, Clone, Copy)]
pub(super) enum Comparison {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

#[derive(Debug)]
pub(super) struct Numeric {
    comparison: Comparison,
    arg: Arg,
    /// A static argument parsed once.
    fixed: Option<i64>,
}

impl Numeric {
    pub(super) fn new(comparison: Comparison, argument: &str) -> Self {
        let arg = Arg::new(argument);
        let fixed = match &arg {
            Arg::Static(text) => Some(leading_integer(text.as_bytes())),
            Arg::Macro(_) => None,
        };
        Self {
            comparison,
            arg,
            fixed,
        }
    }

    pub(super) fn evaluate(&self, input: &[u8], macros: &dyn MacroExpander) -> bool {
        let param = match self.fixed {
            Some(value) => value,
            None => leading_integer(self.arg.value(macros).as_bytes()),
        };
        let value = leading_integer(input);
        match self.comparison {
            Comparison::Eq => value == param,
            Comparison::Ge => value >= param,
            Comparison::Gt => value > param,
            Comparison::Le => value <= param,
            Comparison::Lt => value < param,
        }
    }
}

/// Reads a number the way C's `atoll` does, as ModSecurity's comparisons
/// do: leading whitespace, an optional sign, then digits up to the first
/// non-digit. No digits gives 0 (so an unset macro compares as 0);
/// overflow saturates.
pub(super) fn leading_integer(text: &[u8]) -> i64 {
    let mut bytes = text
        .iter()
        .copied()
        .skip_while(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .peekable();
    let negative = match bytes.peek() {
        Some(b'-') => {
            bytes.next();
            true
        }
        Some(b'+') => {
            bytes.next();
            false
        }
        _ => false,
    };
    let mut value: i64 = 0;
    for digit in bytes.map_while(|b| char::from(b).to_digit(10)) {
        let digit = i64::from(digit);
        value = if negative {
            value.saturating_mul(10).saturating_sub(digit)
        } else {
            value.saturating_mul(10).saturating_add(digit)
        };
    }
    value
}
