//! `htmlEntityDecode`.
//!
//! ModSecurity's algorithm is the base: `&#DDD;` / `&#xHHH;` with or without
//! the semicolon, and `quot amp lt gt nbsp` matched case-insensitively, with
//! or without the semicolon, when the whole alphanumeric run is the name.
//! Coraza decodes through an HTML5 unescaper instead, which also knows the
//! punctuation entities XSS payloads use to dodge filters (`&colon;`,
//! `&lpar;`, `&Tab;` …) and the browser habit of ending a legacy entity at
//! its longest known prefix (`&ltscript` → `<script`). Both are kept here,
//! as a superset: a value ModSecurity decodes decodes the same way.
//!
//! Numeric entities up to 0xFF give that byte (ModSecurity); larger code
//! points are written as UTF-8 rather than truncated to their low byte, so
//! `&#x13c;` (ļ) is not mistaken for `<`; invalid ones become U+FFFD.

use std::borrow::Cow;

use super::{hex_val, prefix};

const NBSP: u8 = 0xa0;

/// The entities ModSecurity decodes: case-insensitive, `;` optional.
const MODSEC: &[(&[u8], u8)] = &[
    (b"quot", b'"'),
    (b"amp", b'&'),
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"nbsp", NBSP),
];

/// HTML5 named references that need their semicolon (case-sensitive, as in
/// the spec): chiefly the ASCII punctuation ones filter evasion relies on.
const HTML5: &[(&str, &[u8])] = &[
    ("Tab", b"\t"),
    ("NewLine", b"\n"),
    ("excl", b"!"),
    ("num", b"#"),
    ("dollar", b"$"),
    ("percnt", b"%"),
    ("apos", b"'"),
    ("lpar", b"("),
    ("rpar", b")"),
    ("ast", b"*"),
    ("midast", b"*"),
    ("plus", b"+"),
    ("comma", b","),
    ("period", b"."),
    ("sol", b"/"),
    ("colon", b":"),
    ("semi", b";"),
    ("equals", b"="),
    ("quest", b"?"),
    ("commat", b"@"),
    ("lsqb", b"["),
    ("lbrack", b"["),
    ("bsol", b"\\"),
    ("rsqb", b"]"),
    ("rbrack", b"]"),
    ("Hat", b"^"),
    ("lowbar", b"_"),
    ("UnderBar", b"_"),
    ("grave", b"`"),
    ("DiacriticalGrave", b"`"),
    ("lcub", b"{"),
    ("lbrace", b"{"),
    ("verbar", b"|"),
    ("vert", b"|"),
    ("VerticalLine", b"|"),
    ("rcub", b"}"),
    ("rbrace", b"}"),
    ("NonBreakingSpace", &[NBSP]),
    ("shy", "\u{ad}".as_bytes()),
    ("ZeroWidthSpace", "\u{200b}".as_bytes()),
    ("zwnj", "\u{200c}".as_bytes()),
    ("zwj", "\u{200d}".as_bytes()),
    ("nvlt", "<\u{20d2}".as_bytes()),
    ("nvgt", ">\u{20d2}".as_bytes()),
];

/// Past the largest code point, so long digit runs cannot overflow.
const CODE_CAP: u32 = 0x11_0000;

pub(super) fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(pos) = memchr::memchr(b'&', input) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    while let Some(&b) = input.get(i) {
        if b == b'&'
            && let Some(next) = decode_at(input, i + 1, &mut out)
        {
            i = next;
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// Decodes the entity whose body starts at `input[at]` (just past `&`)
/// into `out`, returning where scanning resumes; `None` leaves `&` literal.
fn decode_at(input: &[u8], at: usize, out: &mut Vec<u8>) -> Option<usize> {
    if input.get(at) == Some(&b'#') {
        return decode_numeric(input, at + 1, out);
    }
    let rest = input.get(at..)?;
    let len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let name = rest.get(..len)?;
    if name.is_empty() {
        return None;
    }
    let end = at + len;
    let semicolon = input.get(end) == Some(&b';');
    if let Some(&(_, byte)) = MODSEC.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        out.push(byte);
        return Some(end + usize::from(semicolon));
    }
    if semicolon && let Some(&(_, value)) = HTML5.iter().find(|(n, _)| n.as_bytes() == name) {
        out.extend_from_slice(value);
        return Some(end + 1);
    }
    // Longest legacy name the run starts with: the HTML5 tokenizer's rule.
    MODSEC
        .iter()
        .filter(|(n, _)| {
            name.get(..n.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(n))
        })
        .max_by_key(|(n, _)| n.len())
        .map(|&(n, byte)| {
            out.push(byte);
            at + n.len()
        })
}

/// `&#` already consumed; `at` points at `x`/`X` or the first digit.
fn decode_numeric(input: &[u8], at: usize, out: &mut Vec<u8>) -> Option<usize> {
    let (radix, start) = match input.get(at) {
        Some(b'x' | b'X') => (16, at + 1),
        _ => (10, at),
    };
    let mut code: u32 = 0;
    let mut end = start;
    while let Some(d) = input.get(end).copied().and_then(|b| digit(b, radix)) {
        code = code
            .saturating_mul(radix)
            .saturating_add(u32::from(d))
            .min(CODE_CAP);
        end += 1;
    }
    if end == start {
        return None;
    }
    if let Ok(byte) = u8::try_from(code) {
        out.push(byte);
    } else {
        let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    Some(end + usize::from(input.get(end) == Some(&b';')))
}

fn digit(b: u8, radix: u32) -> Option<u8> {
    if radix == 16 {
        hex_val(b)
    } else {
        b.is_ascii_digit().then(|| b - b'0')
    }
}
