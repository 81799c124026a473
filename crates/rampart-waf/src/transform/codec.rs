//! Whole-value codecs and digests: base64, hex, `sqlHexDecode`, `length`,
//! `md5`, `sha1`.

use std::borrow::Cow;

use base64::Engine as _;
use sha1::Digest as _;

use super::{hex_pair, hex_val, prefix};

/// Standard-alphabet sextet, `None` for anything else.
fn b64_standard(b: u8) -> Option<u32> {
    Some(u32::from(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Either alphabet: ModSecurity's forgiving decoder also reads `-` and `_`.
fn b64_any(b: u8) -> Option<u32> {
    match b {
        b'-' => Some(62),
        b'_' => Some(63),
        _ => b64_standard(b),
    }
}

/// Accumulates sextets into bytes; a final partial group yields the whole
/// bytes it holds (two sextets → one byte, three → two).
struct Sextets {
    out: Vec<u8>,
    acc: u32,
    n: u8,
}

impl Sextets {
    fn new(capacity: usize) -> Self {
        Self {
            out: Vec::with_capacity(capacity),
            acc: 0,
            n: 0,
        }
    }

    fn push(&mut self, v: u32) {
        self.acc = self.acc << 6 | v;
        self.n += 1;
        if self.n == 4 {
            self.out.extend_from_slice(&self.acc.to_be_bytes()[1..]);
            self.acc = 0;
            self.n = 0;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        match self.n {
            2 => self.out.push((self.acc >> 4).to_be_bytes()[3]),
            3 => self
                .out
                .extend_from_slice(&(self.acc >> 2).to_be_bytes()[2..]),
            _ => {}
        }
        self.out
    }
}

/// Coraza's decoder (the one CRS tests run against): padding optional, CR
/// and LF skipped, decoding stops at `=` or the first byte outside the
/// alphabet and returns what was decoded so far, so `dGVzdA==junk` still
/// yields `test`.
pub(super) fn base64_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    let mut dec = Sextets::new(input.len() / 4 * 3 + 2);
    for &b in input {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        match b64_standard(b) {
            Some(v) => dec.push(v),
            None => break,
        }
    }
    Cow::Owned(dec.finish())
}

/// ModSecurity's forgiving decoder: any byte outside both alphabets
/// (whitespace, dots, `=`, junk) is skipped rather than ending the value.
pub(super) fn base64_decode_ext(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    let mut dec = Sextets::new(input.len() / 4 * 3 + 2);
    for v in input.iter().filter_map(|&b| b64_any(b)) {
        dec.push(v);
    }
    Cow::Owned(dec.finish())
}

pub(super) fn base64_encode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    Cow::Owned(
        base64::engine::general_purpose::STANDARD
            .encode(input)
            .into_bytes(),
    )
}

/// Pairs of hex digits to bytes. An odd final digit is dropped (Coraza's
/// "best effort"); any non-hex digit makes the value undecodable and it is
/// left unchanged, as Coraza does on its decode error.
pub(super) fn hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let even = input
        .get(..input.len() - input.len() % 2)
        .unwrap_or_default();
    if input.is_empty() || !even.iter().all(|&b| hex_val(b).is_some()) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(
        even.chunks_exact(2)
            .filter_map(|pair| hex_pair(pair, 0))
            .collect(),
    )
}

pub(super) fn hex_encode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(input.len().saturating_mul(2));
    for &b in input {
        out.extend(HEX.get(usize::from(b >> 4)));
        out.extend(HEX.get(usize::from(b & 0x0f)));
    }
    Cow::Owned(out)
}

/// MySQL hex literals: each `0x` followed by at least one pair of hex digits
/// becomes the bytes of all the pairs that follow (an odd last digit stays
/// as text); `0x` without a pair is kept as it is.
pub(super) fn sql_hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let literal_at = |i: usize| {
        input.get(i) == Some(&b'0')
            && matches!(input.get(i + 1), Some(b'x' | b'X'))
            && hex_pair(input, i + 2).is_some()
    };
    let Some(pos) = (0..input.len()).find(|&i| literal_at(i)) else {
        return Cow::Borrowed(input);
    };
    let mut out = prefix(input, pos);
    let mut i = pos;
    while let Some(&b) = input.get(i) {
        if literal_at(i) {
            i += 2;
            while let Some(v) = hex_pair(input, i) {
                out.push(v);
                i += 2;
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// The byte length in decimal ASCII.
pub(super) fn length(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(input.len().to_string().into_bytes())
}

/// Raw 16-byte digest (not hex), as ModSecurity produces; rules follow it
/// with `t:hexEncode` to compare against text.
pub(super) fn md5(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(md5::Md5::digest(input).to_vec())
}

/// Raw 20-byte digest.
pub(super) fn sha1(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(sha1::Sha1::digest(input).to_vec())
}
