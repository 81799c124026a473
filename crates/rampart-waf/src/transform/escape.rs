//! Backslash escapes: `jsDecode`, `cssDecode`, `escapeSeqDecode`.

use std::borrow::Cow;

use super::{hex_pair, hex_val, is_c_space, prefix};

fn is_octal(b: u8) -> bool {
    (b'0'..=b'7').contains(&b)
}

/// The byte `jsDecode` keeps for a UTF-16 code unit `high:low`: the low
/// byte, except that full-width ASCII (U+FF01–U+FF5E) folds to its ASCII
/// twin so `\uff1cscript` cannot slip past `<script` patterns.
fn fold_full_width(high: u8, low: u8) -> u8 {
    if high == 0xff && low > 0 && low < 0x5f {
        low + 0x20
    } else {
        low
    }
}

/// The C escape letters both `jsDecode` and `escapeSeqDecode` know.
fn c_escape(b: u8) -> Option<u8> {
    Some(match b {
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        _ => return None,
    })
}

/// Up to `max` octal digits at `input[at..]`: (value truncated to a byte,
/// digits used).
fn octal_run(input: &[u8], at: usize, max: usize) -> (u8, usize) {
    let mut value: u32 = 0;
    let mut used = 0;
    for &b in input.get(at..).unwrap_or_default().iter().take(max) {
        if !is_octal(b) {
            break;
        }
        value = value * 8 + u32::from(b - b'0');
        used += 1;
    }
    (value.to_le_bytes()[0], used)
}

/// JavaScript string escapes: `\uHHHH` (low byte, full-width ASCII folded,
/// like `urlDecodeUni`), `\xHH`, `\OOO` (at most one byte: a third digit is
/// only taken when the first is 0–3), the C letters, and `\c` → `c` for any
/// other character. An incomplete `\u`/`\x` falls through to that last rule,
/// so `\u12` becomes `u12`. A trailing lone backslash is kept.
pub(super) fn js_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = memchr::memchr(b'\\', input) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    while let Some(&b) = input.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&next) = input.get(i + 1) else {
            out.push(b'\\');
            break;
        };
        if next == b'u'
            && let (Some(high), Some(low)) = (hex_pair(input, i + 2), hex_pair(input, i + 4))
        {
            out.push(fold_full_width(high, low));
            i += 6;
            continue;
        }
        if next == b'x'
            && let Some(v) = hex_pair(input, i + 2)
        {
            out.push(v);
            i += 4;
            continue;
        }
        if is_octal(next) {
            let (mut value, mut used) = octal_run(input, i + 1, 3);
            if used == 3 && next > b'3' {
                (value, used) = octal_run(input, i + 1, 2);
            }
            out.push(value);
            i += 1 + used;
            continue;
        }
        out.push(c_escape(next).unwrap_or(next));
        i += 2;
    }
    Cow::Owned(out)
}

/// CSS escapes per CSS Syntax (Coraza's current semantics, which fix
/// ModSecurity's "last two hex digits only" truncation): one to six hex
/// digits name one code point, written out as UTF-8; zero, surrogates and
/// values past U+10FFFF become U+FFFD; full-width ASCII folds to ASCII; one
/// whitespace after the digits is part of the escape. A backslash before a
/// newline (LF, FF, CR, CRLF) is a line continuation and vanishes, before
/// any other character it is dropped, and a trailing one is dropped.
pub(super) fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = memchr::memchr(b'\\', input) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    while let Some(&b) = input.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&next) = input.get(i) else {
            break;
        };
        let mut code: u32 = 0;
        let mut digits = 0;
        while digits < 6 {
            match input.get(i + digits).copied().and_then(hex_val) {
                Some(d) => {
                    code = code << 4 | u32::from(d);
                    digits += 1;
                }
                None => break,
            }
        }
        if digits > 0 {
            if (0xff01..=0xff5e).contains(&code) {
                code -= 0xfee0;
            }
            let c = match char::from_u32(code) {
                Some(c) if code != 0 => c,
                _ => char::REPLACEMENT_CHARACTER,
            };
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            i += digits;
            if input.get(i).is_some_and(|&s| is_c_space(s)) {
                i += 1;
            }
            continue;
        }
        match next {
            b'\n' | 0x0c => i += 1,
            b'\r' => {
                i += 1;
                if input.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// ANSI C escapes: the letters, `\\ \? \' \"`, `\xHH`/`\XHH`, one to three
/// octal digits (value truncated to a byte). An unknown escape keeps the
/// character and drops the backslash; a trailing backslash is kept.
pub(super) fn escape_seq_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = memchr::memchr(b'\\', input) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    while let Some(&b) = input.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&next) = input.get(i + 1) else {
            out.push(b'\\');
            break;
        };
        if let Some(c) = c_escape(next) {
            out.push(c);
            i += 2;
        } else if matches!(next, b'x' | b'X') && hex_pair(input, i + 2).is_some() {
            out.extend(hex_pair(input, i + 2));
            i += 4;
        } else if is_octal(next) {
            let (value, used) = octal_run(input, i + 1, 3);
            out.push(value);
            i += 1 + used;
        } else {
            // `\\`, `\?`, `\'`, `\"` and anything unknown: the character.
            out.push(next);
            i += 2;
        }
    }
    Cow::Owned(out)
}
