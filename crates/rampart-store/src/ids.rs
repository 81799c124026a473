//! Identifiers, timestamps and token secrets, all generated in Rust so the
//! schema needs no backend-specific sequences.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Every token secret starts with this, so leaked secrets are recognisable
/// (secret scanners, logs) and other strings are rejected without a lookup.
pub(crate) const TOKEN_PREFIX: &str = "rpt_";

/// Unix time in milliseconds. A clock before 1970 reads as 0 rather than
/// failing a write.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex(&buf)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A row id such as `site_3f9c…`: the prefix tells a reader of the audit log
/// what kind of thing an id names; 80 random bits make collisions moot.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_hex(10))
}

/// An audit id that sorts chronologically as a plain string: 15 digits of
/// milliseconds, a per-process sequence (ordering within one millisecond),
/// then randomness (uniqueness across processes). Only digits and lowercase
/// hex, all fixed width, so any collation orders them like bytes.
pub(crate) fn audit_id(at: i64) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) % 1_000_000;
    format!("{:015}{seq:06}{}", at.max(0), random_hex(4))
}

/// 32 random bytes, base64url: 256 bits, safe in cookies, URLs and forms.
pub(crate) fn random_token() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new API token secret: the prefix and 32 random bytes, base64url.
pub(crate) fn new_token_secret() -> String {
    format!("{TOKEN_PREFIX}{}", random_token())
}

/// What the store keeps of a token secret. The secret has 256 bits of
/// entropy, so a fast hash suffices; passwords get argon2 elsewhere.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_secret_shape() {
        let secret = new_token_secret();
        assert!(secret.starts_with("rpt_"));
        assert_eq!(secret.len(), 4 + 43);
        assert_ne!(secret, new_token_secret());
        let hash = hash_secret(&secret);
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn audit_ids_sort_by_time_then_sequence() {
        let a = audit_id(5);
        let b = audit_id(5);
        let c = audit_id(1_700_000_000_000);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(a.len(), c.len());
    }
}
