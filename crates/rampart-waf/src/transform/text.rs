//! Byte-level rewrites: case, whitespace, NULs, comments, `cmdLine`, trims
//! and the 7-bit parity family.

use std::borrow::Cow;

use super::{is_c_space, prefix};

/// Rewrites each byte with `f` when `needs(b)` holds for at least one byte.
fn map_bytes(input: &[u8], needs: impl Fn(u8) -> bool, f: impl Fn(u8) -> u8) -> Cow<'_, [u8]> {
    match input.iter().position(|&b| needs(b)) {
        None => Cow::Borrowed(input),
        Some(pos) => {
            let mut out = prefix(input, pos);
            out.extend(input.get(pos..).unwrap_or_default().iter().map(|&b| f(b)));
            Cow::Owned(out)
        }
    }
}

/// ASCII only, like ModSecurity's `tolower` in the "C" locale: bytes of
/// UTF-8 sequences are never touched.
pub(super) fn lowercase(input: &[u8]) -> Cow<'_, [u8]> {
    map_bytes(
        input,
        |b| b.is_ascii_uppercase(),
        |b| b.to_ascii_lowercase(),
    )
}

pub(super) fn uppercase(input: &[u8]) -> Cow<'_, [u8]> {
    map_bytes(
        input,
        |b| b.is_ascii_lowercase(),
        |b| b.to_ascii_uppercase(),
    )
}

pub(super) fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(0, input).is_none() {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().copied().filter(|&b| b != 0).collect())
}

pub(super) fn replace_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    map_bytes(input, |b| b == 0, |b| if b == 0 { b' ' } else { b })
}

/// The character at `input[i]`: its length and whether it is whitespace.
/// ASCII uses C `isspace`; a well-formed UTF-8 character is whitespace when
/// Unicode says so (Coraza's rune view: NBSP, NEL, U+2000…, U+3000);
/// a byte that is not UTF-8 counts when it is Latin-1 NBSP or NEL (the
/// byte view ModSecurity and Coraza take). Walking whole characters keeps
/// the `A0` inside `à` (C3 A0) from being mistaken for an NBSP.
fn char_at(input: &[u8], i: usize) -> (usize, bool) {
    let Some(&b) = input.get(i) else {
        return (1, false);
    };
    if b.is_ascii() {
        return (1, is_c_space(b));
    }
    let n = match b {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    };
    let decoded = input
        .get(i..i + n)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.chars().next());
    match decoded {
        Some(c) => (n, c.is_whitespace()),
        None => (1, b == 0xa0 || b == 0x85),
    }
}

/// Length of the whitespace character at `input[i]`, if there is one.
fn space_at(input: &[u8], i: usize) -> Option<usize> {
    match input.get(i) {
        Some(&b) if b.is_ascii() => is_c_space(b).then_some(1),
        Some(_) => match char_at(input, i) {
            (n, true) => Some(n),
            _ => None,
        },
        None => None,
    }
}

/// The next run of whitespace at or after `from`, as `start..end`. ASCII is
/// scanned byte by byte without decoding; only non-ASCII bytes pay for it.
fn next_run(input: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(&b) = input.get(i) {
        if b.is_ascii() {
            if is_c_space(b) {
                break;
            }
            i += 1;
            continue;
        }
        match char_at(input, i) {
            (_, true) => break,
            (n, false) => i += n,
        }
    }
    let start = i;
    let mut end = start;
    while let Some(n) = space_at(input, end) {
        end += n;
    }
    (end > start).then_some((start, end))
}

/// Every run of whitespace becomes one space (a lone tab included).
pub(super) fn compress_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    // Only a single plain space is already canonical.
    let mut from = 0;
    let (start, end) = loop {
        let Some((start, end)) = next_run(input, from) else {
            return Cow::Borrowed(input);
        };
        if end - start != 1 || input.get(start) != Some(&b' ') {
            break (start, end);
        }
        from = end;
    };
    let mut out = prefix(input, start);
    out.push(b' ');
    let mut copied = end;
    while let Some((start, end)) = next_run(input, copied) {
        out.extend_from_slice(input.get(copied..start).unwrap_or_default());
        out.push(b' ');
        copied = end;
    }
    out.extend_from_slice(input.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

pub(super) fn remove_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    let Some((start, end)) = next_run(input, 0) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, start);
    let mut copied = end;
    while let Some((start, end)) = next_run(input, copied) {
        out.extend_from_slice(input.get(copied..start).unwrap_or_default());
        copied = end;
    }
    out.extend_from_slice(input.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

fn trimmed(input: &[u8], start: usize, end: usize) -> Cow<'_, [u8]> {
    if start == 0 && end == input.len() {
        return Cow::Borrowed(input);
    }
    // Owned even though a subslice would do: callers read `Borrowed` as
    // "unchanged".
    Cow::Owned(input.get(start..end).unwrap_or_default().to_vec())
}

fn trim_start_at(input: &[u8]) -> usize {
    input
        .iter()
        .position(|&b| !is_c_space(b))
        .unwrap_or(input.len())
}

fn trim_end_at(input: &[u8]) -> usize {
    input
        .iter()
        .rposition(|&b| !is_c_space(b))
        .map_or(0, |p| p + 1)
}

pub(super) fn trim_left(input: &[u8]) -> Cow<'_, [u8]> {
    trimmed(input, trim_start_at(input), input.len())
}

pub(super) fn trim_right(input: &[u8]) -> Cow<'_, [u8]> {
    trimmed(input, 0, trim_end_at(input))
}

pub(super) fn trim(input: &[u8]) -> Cow<'_, [u8]> {
    let start = trim_start_at(input);
    let end = trim_end_at(input).max(start);
    trimmed(input, start, end)
}

/// ModSecurity's `cmdLine`: drop `\ " ' ^`, drop spaces before `/` and
/// `(`, turn `,` `;` and whitespace runs into one space, lowercase ASCII.
pub(super) fn cmd_line(input: &[u8]) -> Cow<'_, [u8]> {
    let needs = |b: u8| {
        b.is_ascii_uppercase()
            || matches!(
                b,
                b'"' | b'\'' | b'\\' | b'^' | b',' | b';' | b'\t' | b'\r' | b'\n'
            )
    };
    // A lone space only matters when another separator or `/` `(` follows.
    let first = input.iter().enumerate().position(|(i, &b)| {
        needs(b)
            || (b == b' '
                && input.get(i + 1).is_some_and(|&n| {
                    matches!(n, b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' | b'/' | b'(')
                }))
    });
    let Some(pos) = first else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    // The untouched prefix may end in a separator space a later `/` removes.
    let mut space = out.last() == Some(&b' ');
    for &b in input.get(pos..).unwrap_or_default() {
        match b {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(b);
            }
            _ => {
                out.push(b.to_ascii_lowercase());
                space = false;
            }
        }
    }
    Cow::Owned(out)
}

fn starts(input: &[u8], i: usize, pat: &[u8]) -> bool {
    input.get(i..).is_some_and(|rest| rest.starts_with(pat))
}

/// ModSecurity's `removeComments`: `/* */` and `<!-- -->` are cut out, an
/// unterminated one becomes a single space, and `--` or `#` ends the value
/// (SQL line comments). ModSecurity copies the byte right after a closing
/// `*/`/`-->` without looking at it — so `/**//*x*/` keeps `/*x*/` — and
/// that quirk is kept; its extra NUL when the closer ends the input (a read
/// of the C terminator) is not.
pub(super) fn remove_comments(input: &[u8]) -> Cow<'_, [u8]> {
    let first = (0..input.len()).find(|&i| {
        starts(input, i, b"/*")
            || starts(input, i, b"<!--")
            || starts(input, i, b"--")
            || input.get(i) == Some(&b'#')
    });
    let Some(pos) = first else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    let mut in_comment = false;
    while let Some(&b) = input.get(i) {
        if in_comment {
            let closer = if starts(input, i, b"*/") {
                2
            } else if starts(input, i, b"-->") {
                3
            } else {
                0
            };
            if closer == 0 {
                i += 1;
            } else {
                in_comment = false;
                i += closer;
                if let Some(&after) = input.get(i) {
                    out.push(after);
                }
                i += 1;
            }
        } else if starts(input, i, b"/*") {
            in_comment = true;
            i += 2;
        } else if starts(input, i, b"<!--") {
            in_comment = true;
            i += 4;
        } else if starts(input, i, b"--") || b == b'#' {
            break;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    Cow::Owned(out)
}

/// Deletes the comment markers themselves (`/*`, `*/`, `<!--`, `-->`, `--`,
/// `#`), leaving what was between them.
pub(super) fn remove_comments_char(input: &[u8]) -> Cow<'_, [u8]> {
    const MARKERS: [&[u8]; 6] = [b"/*", b"*/", b"<!--", b"-->", b"--", b"#"];
    let marker_at = |i: usize| {
        MARKERS
            .iter()
            .find(|m| starts(input, i, m))
            .map(|m| m.len())
    };
    let Some(pos) = (0..input.len()).find(|&i| marker_at(i).is_some()) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    while let Some(&b) = input.get(i) {
        match marker_at(i) {
            Some(n) => i += n,
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Each `/* … */` (or unterminated `/* …`) becomes one space.
pub(super) fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = memchr::memmem::find(input, b"/*") else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    let mut in_comment = false;
    while let Some(&b) = input.get(i) {
        if in_comment {
            if starts(input, i, b"*/") {
                in_comment = false;
                out.push(b' ');
                i += 2;
            } else {
                i += 1;
            }
        } else if starts(input, i, b"/*") {
            in_comment = true;
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    Cow::Owned(out)
}

/// Parity of the low seven bits, which the reference manual describes.
/// ModSecurity's code counts bit 7 of the input as well, which only differs
/// for bytes that already have it set and makes the transformation flip
/// back and forth when repeated; for 7-bit data the two agree.
fn odd_bits(b: u8) -> bool {
    (b & 0x7f).count_ones() % 2 == 1
}

pub(super) fn parity_even_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    let f = |b: u8| if odd_bits(b) { b | 0x80 } else { b & 0x7f };
    map_bytes(input, |b| f(b) != b, f)
}

pub(super) fn parity_odd_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    let f = |b: u8| if odd_bits(b) { b & 0x7f } else { b | 0x80 };
    map_bytes(input, |b| f(b) != b, f)
}

pub(super) fn parity_zero_7bit(input: &[u8]) -> Cow<'_, [u8]> {
    map_bytes(input, |b| b & 0x80 != 0, |b| b & 0x7f)
}

/// Coraza's `reverse`: characters in reverse order, a UTF-8 character
/// moving as a whole; bytes that are not UTF-8 move one by one.
pub(super) fn reverse(input: &[u8]) -> Cow<'_, [u8]> {
    let mut units: Vec<&[u8]> = Vec::with_capacity(input.len());
    for chunk in input.utf8_chunks() {
        let valid = chunk.valid();
        units.extend(valid.char_indices().map(|(at, c)| {
            valid
                .as_bytes()
                .get(at..at + c.len_utf8())
                .unwrap_or_default()
        }));
        units.extend(chunk.invalid().chunks(1));
    }
    Cow::Owned(units.iter().rev().flat_map(|u| u.iter().copied()).collect())
}
