//! Ray ids: the reference shown on every response and in the access log, so a
//! visitor's screenshot leads an operator to the exact log line.

use std::cell::Cell;
use std::fmt;

use http::HeaderValue;

/// A 64-bit request id, printed as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RayId(u64);

thread_local! {
    // wyrand state per thread: no lock and no syscall per request.
    static STATE: Cell<u64> = Cell::new(rand::random::<u64>() | 1);
}

impl RayId {
    pub fn generate() -> Self {
        let n = STATE.with(|s| {
            let next = s.get().wrapping_add(0xa076_1d64_78bd_642f);
            s.set(next);
            let t = u128::from(next) * u128::from(next ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        });
        RayId(n)
    }

    pub fn as_hex(&self) -> [u8; 16] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 60 - 4 * i;
            *slot = DIGITS[((self.0 >> shift) & 0xf) as usize];
        }
        out
    }

    pub fn header_value(&self) -> HeaderValue {
        let hex = self.as_hex();
        // Hex digits are always a valid header value.
        HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("0"))
    }
}

impl fmt::Display for RayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for RayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_matches_display_and_ids_differ() {
        let a = RayId::generate();
        let b = RayId::generate();
        assert_ne!(a, b);
        assert_eq!(
            std::str::from_utf8(&a.as_hex()).ok(),
            Some(a.to_string().as_str())
        );
    }
}
