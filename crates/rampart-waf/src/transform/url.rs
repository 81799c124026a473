//! URL-style codecs: `urlDecode`, `urlDecodeUni`, `urlEncode` and
//! `utf8toUnicode` (which produces the `%uXXXX` form `urlDecodeUni` reads).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::bestfit::best_fit;
use super::{hex_pair, prefix};

/// `%HH` and `+`. Invalid or truncated escapes are kept verbatim, as
/// ModSecurity does: an attacker's `%zz` must still be visible to the rules.
pub(super) fn url_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = memchr::memchr2(b'%', b'+', input) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                if let Some(v) = hex_pair(input, i + 1) {
                    out.push(v);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// `urlDecode` plus IIS's `%uHHHH`, folded to one byte: the code page 20127
/// best fit when there is one (`%u2019` → `'`, `%uff1c` → `<`, `%u00e9` →
/// `e`), else the low byte of the code unit, as ModSecurity does.
pub(super) fn url_decode_uni(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = memchr::memchr2(b'%', b'+', input) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match input.get(i + 1) {
                Some(&u @ (b'u' | b'U')) => {
                    match (hex_pair(input, i + 2), hex_pair(input, i + 4)) {
                        (Some(high), Some(low)) => {
                            let code = u32::from(high) << 8 | u32::from(low);
                            out.push(best_fit(code).unwrap_or(low));
                            i += 6;
                        }
                        // Not four hex digits: keep `%u` and go on after it.
                        _ => {
                            out.push(b'%');
                            out.push(u);
                            i += 2;
                        }
                    }
                }
                _ => {
                    if let Some(v) = hex_pair(input, i + 1) {
                        out.push(v);
                        i += 3;
                    } else {
                        out.push(b'%');
                        i += 1;
                    }
                }
            },
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn is_url_safe(b: u8) -> bool {
    b == b'*' || b.is_ascii_alphanumeric()
}

/// Form encoding as ModSecurity writes it: space becomes `+`, everything
/// but `*` and ASCII alphanumerics becomes lowercase `%hh`.
pub(super) fn url_encode(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = input.iter().position(|&b| !is_url_safe(b)) else {
        return Cow::Borrowed(input);
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = prefix(input, pos);
    out.reserve(input.len().saturating_sub(pos).saturating_mul(2));
    for &b in input.get(pos..).unwrap_or_default() {
        if b == b' ' {
            out.push(b'+');
        } else if is_url_safe(b) {
            out.push(b);
        } else {
            out.push(b'%');
            out.extend(HEX.get(usize::from(b >> 4)));
            out.extend(HEX.get(usize::from(b & 0x0f)));
        }
    }
    Cow::Owned(out)
}

/// Every well-formed non-ASCII UTF-8 character becomes `%u` plus its code
/// point in lowercase hex, at least four digits (`é` → `%u00e9`, U+1F600 →
/// `%u1f600`), as Coraza and ModSecurity write it. Bytes that are not
/// well-formed UTF-8 (overlong forms, surrogates, truncated sequences) are
/// kept as they are rather than guessed at: they cannot become ASCII here,
/// and `@validateUtf8Encoding` is the rule that flags them.
pub(super) fn utf8_to_unicode(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = input.iter().position(|b| !b.is_ascii()) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut text = String::new();
    for chunk in input.get(pos..).unwrap_or_default().utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii() {
                text.push(c);
            } else {
                // Writing into a String cannot fail.
                let _ = write!(text, "%u{:04x}", u32::from(c));
            }
        }
        out.extend_from_slice(text.as_bytes());
        text.clear();
        out.extend_from_slice(chunk.invalid());
    }
    Cow::Owned(out)
}
