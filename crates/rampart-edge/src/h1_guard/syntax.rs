//! Byte-level syntax helpers of the request tracker (field lines, chunk
//! extensions).

use memchr::memchr;

use super::{Violation, is_tchar, is_token};

/// Which rule a field line that failed the fast path breaks.
pub(super) fn classify_field_error(content: &[u8]) -> Violation {
    if memchr(b'\r', content).is_some() {
        return Violation::BareCr;
    }
    if memchr(0, content).is_some() {
        return Violation::NulInHead;
    }
    if matches!(content.first(), Some(b' ' | b'\t')) {
        return Violation::ObsFold;
    }
    let Some(colon) = memchr(b':', content) else {
        return Violation::InvalidHeaderName;
    };
    let name = content.get(..colon).unwrap_or_default();
    if matches!(name.last(), Some(b' ' | b'\t')) {
        Violation::WhitespaceBeforeColon
    } else if !is_token(name) {
        Violation::InvalidHeaderName
    } else {
        Violation::InvalidHeaderValue
    }
}

/// field-value bytes: VCHAR, obs-text, SP, HTAB (no CTL, no DEL). Checks
/// eight bytes at a time; words with any byte < 0x20 or == 0x7f (HTAB
/// included) are rechecked bytewise.
pub(super) fn field_value_ok(value: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    fn byte_ok(b: u8) -> bool {
        (b >= b' ' && b != 0x7f) || b == b'\t'
    }
    let mut words = value.chunks_exact(8);
    for word in &mut words {
        let Ok(bytes) = <[u8; 8]>::try_from(word) else {
            return false;
        };
        let x = u64::from_le_bytes(bytes);
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let d = x ^ (ONES * 0x7f);
        let del = d.wrapping_sub(ONES) & !d & HIGH;
        if below_space | del != 0 && !word.iter().all(|&b| byte_ok(b)) {
            return false;
        }
    }
    words.remainder().iter().all(|&b| byte_ok(b))
}

/// `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )`, ext-val = token /
/// quoted-string. Whitespace is only allowed before `;` / `=` and after them.
pub(super) fn valid_chunk_ext(s: &[u8]) -> bool {
    chunk_ext(s).is_some()
}

fn chunk_ext(mut s: &[u8]) -> Option<()> {
    fn skip_bws(s: &[u8]) -> &[u8] {
        let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        s.get(n..).unwrap_or_default()
    }
    fn token(s: &[u8]) -> Option<&[u8]> {
        let n = s.iter().take_while(|&&b| is_tchar(b)).count();
        if n == 0 { None } else { s.get(n..) }
    }
    fn quoted(s: &[u8]) -> Option<&[u8]> {
        let mut it = s.strip_prefix(b"\"")?.iter().enumerate();
        while let Some((i, &b)) = it.next() {
            match b {
                b'"' => return s.get(i + 2..),
                b'\\' => match it.next() {
                    Some((_, &q)) if q == b'\t' || (q >= b' ' && q != 0x7f) => {}
                    _ => return None,
                },
                b'\t' | b' '..=0x7e | 0x80.. => {}
                _ => return None,
            }
        }
        None
    }
    while !s.is_empty() {
        let name = token(skip_bws(skip_bws(s).strip_prefix(b";")?))?;
        s = match skip_bws(name).strip_prefix(b"=") {
            Some(v) => {
                let v = skip_bws(v);
                if v.first() == Some(&b'"') {
                    quoted(v)?
                } else {
                    token(v)?
                }
            }
            // Trailing whitespace without a following ';' fails next round.
            None => name,
        };
    }
    Some(())
}
