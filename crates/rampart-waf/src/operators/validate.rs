//! Input validation operators: they match when the input is bad.
//! `@validateByteRange`, `@validateUrlEncoding`, `@validateUtf8Encoding`.

use super::OperatorError;

/// The set of allowed byte values; the operator matches when any input
/// byte is outside it.
#[derive(Debug)]
pub(super) struct ByteRange {
    allowed: [bool; 256],
}

impl ByteRange {
    /// `9,10,13,32-126`: comma-separated values and inclusive ranges, 0–255.
    pub(super) fn parse(argument: &str) -> Result<Self, OperatorError> {
        const OPERATOR: &str = "validateByteRange";
        let mut allowed = [false; 256];
        let mut any = false;
        for part in argument.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (start, end) = match part.split_once('-') {
                Some((start, end)) => (byte_value(start)?, byte_value(end)?),
                None => {
                    let value = byte_value(part)?;
                    (value, value)
                }
            };
            if start > end {
                return Err(OperatorError::bad(
                    OPERATOR,
                    format!("range `{part}` starts after it ends"),
                ));
            }
            for slot in allowed
                .iter_mut()
                .skip(usize::from(start))
                .take(usize::from(end - start) + 1)
            {
                *slot = true;
            }
            any = true;
        }
        if !any {
            return Err(OperatorError::bad(OPERATOR, "no byte range given"));
        }
        Ok(Self { allowed })
    }

    pub(super) fn evaluate(&self, input: &[u8]) -> bool {
        input.iter().any(|&byte| {
            !self
                .allowed
                .get(usize::from(byte))
                .copied()
                .unwrap_or(false)
        })
    }
}

fn byte_value(text: &str) -> Result<u8, OperatorError> {
    let text = text.trim();
    text.parse::<u8>().map_err(|_| {
        OperatorError::bad(
            "validateByteRange",
            format!("`{text}` is not a byte value (0-255)"),
        )
    })
}

/// Every `%` must be followed by two hex digits.
pub(super) fn invalid_url_encoding(input: &[u8]) -> bool {
    let mut rest = input;
    while let Some(pos) = memchr::memchr(b'%', rest) {
        match rest.get(pos + 1..pos + 3) {
            Some([high, low]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                rest = rest.get(pos + 3..).unwrap_or_default();
            }
            // Too few characters left, or non-hex digits.
            _ => return true,
        }
    }
    false
}

/// ModSecurity's UTF-8 check: truncated sequences, bad continuation bytes,
/// overlong forms, surrogates, lead bytes F5–FF and stray continuation
/// bytes all make the input invalid.
pub(super) fn invalid_utf8(input: &[u8]) -> bool {
    let mut rest = input;
    while let Some((&lead, tail)) = rest.split_first() {
        match utf8_sequence_len(lead, tail) {
            Some(len) => rest = rest.get(len..).unwrap_or_default(),
            None => return true,
        }
    }
    false
}

/// The length of the valid sequence starting with `lead`, or `None`.
fn utf8_sequence_len(lead: u8, tail: &[u8]) -> Option<usize> {
    let (len, lead_bits, minimum) = match lead {
        0x00..=0x7f => return Some(1),
        0xc0..=0xdf => (2, lead & 0x1f, 0x80),
        0xe0..=0xef => (3, lead & 0x0f, 0x800),
        0xf0..=0xf4 => (4, lead & 0x07, 0x1_0000),
        // Continuation bytes cannot lead; F5–FF would encode past U+10FFFF.
        _ => return None,
    };
    let continuation = tail.get(..len - 1)?;
    let mut code_point = u32::from(lead_bits);
    for &byte in continuation {
        if byte & 0xc0 != 0x80 {
            return None;
        }
        code_point = code_point << 6 | u32::from(byte & 0x3f);
    }
    if (0xd800..=0xdfff).contains(&code_point) || code_point < minimum {
        return None;
    }
    Some(len)
}
