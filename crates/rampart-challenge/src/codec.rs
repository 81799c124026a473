//! Byte-level helpers shared by the three token formats: base64url without
//! padding, strict decimals, a bounds-checked reader and a fixed-size copy.
//! Everything here takes attacker-controlled input, so nothing panics and
//! nothing allocates.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes `bytes` as base64url without padding (RFC 4648 §5), the text form
/// of every token and tag.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding into `out`, returning the decoded
/// length. Non-canonical input (trailing bits set, padding, other alphabets)
/// is refused, so one byte string has exactly one accepted text form.
pub(crate) fn b64_decode_into(text: &[u8], out: &mut [u8]) -> Option<usize> {
    // The engine checks its own conservative size estimate against `out`;
    // refusing over-long text first keeps that estimate from ever being the
    // reason for a failure we would misreport.
    if text.len() > b64_encoded_len(out.len()) {
        return None;
    }
    URL_SAFE_NO_PAD.decode_slice(text, out).ok()
}

/// Length of the unpadded base64 text of `n` bytes.
pub(crate) const fn b64_encoded_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// Parses a canonical unsigned decimal: ASCII digits only, no sign, no
/// leading zero (except "0" itself), no overflow. Canonical form matters
/// because the PoW hash covers the nonce *text*: "+7", "07" and "7" would
/// otherwise be three tries at the price of one parse.
pub(crate) fn parse_decimal_u64(text: &[u8]) -> Option<u64> {
    match text {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        _ => {
            let mut value: u64 = 0;
            for &c in text {
                if !c.is_ascii_digit() {
                    return None;
                }
                value = value.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            }
            Some(value)
        }
    }
}

/// [`parse_decimal_u64`] limited to `u32`.
pub(crate) fn parse_decimal_u32(text: &[u8]) -> Option<u32> {
    parse_decimal_u64(text).and_then(|v| u32::try_from(v).ok())
}

/// Copies the first `N` bytes of `src` (which must hold at least `N`) into an
/// array; shorter input yields `None` instead of a panic.
pub(crate) fn first<const N: usize>(src: &[u8]) -> Option<[u8; N]> {
    src.first_chunk::<N>().copied()
}

/// A cursor over a decoded payload. Every read is bounds-checked and
/// returns `None` past the end.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.rest.split_first_chunk::<N>()?;
        self.rest = tail;
        Some(*head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.bytes::<1>().map(|[b]| b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.bytes().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.bytes().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.bytes().map(u64::from_be_bytes)
    }

    /// A u16-length-prefixed UTF-8 string.
    pub(crate) fn str16(&mut self) -> Option<&'a str> {
        let len = usize::from(self.u16()?);
        if len > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        std::str::from_utf8(head).ok()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_canonical() {
        assert_eq!(parse_decimal_u64(b"0"), Some(0));
        assert_eq!(parse_decimal_u64(b"1234"), Some(1234));
        assert_eq!(parse_decimal_u64(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"00",
            b"01",
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1.0",
            b"18446744073709551616",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_decimal_u64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_decimal_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_decimal_u32(b"4294967296"), None);
    }

    #[test]
    fn base64_refuses_non_canonical_text() {
        let mut out = [0u8; 4];
        assert_eq!(b64_decode_into(b"AQI", &mut out), Some(2));
        assert_eq!(out[..2], [1, 2]);
        // Same bits with trailing bits set: another text for the same bytes.
        assert_eq!(b64_decode_into(b"AQJ", &mut out), None);
        assert_eq!(b64_decode_into(b"AQI=", &mut out), None);
        assert_eq!(b64_decode_into(b"AQ+", &mut out), None);
        assert_eq!(b64_decode_into(b"AAAAAAAA", &mut out), None);
    }

    #[test]
    fn reader_stops_at_the_end() {
        let mut r = Reader::new(&[0, 3, b'a', b'b']);
        assert_eq!(r.str16(), None);
        let mut r = Reader::new(&[0, 2, b'a', b'b', 7]);
        assert_eq!(r.str16(), Some("ab"));
        assert_eq!(r.u8(), Some(7));
        assert!(r.is_empty());
        assert_eq!(r.u64(), None);
    }
}
