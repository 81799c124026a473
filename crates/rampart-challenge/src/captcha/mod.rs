//! A Turnstile/hCaptcha-compatible captcha: sitekeys, response tokens and
//! the `siteverify` answer.
//!
//! The widget on a page fetches a PoW challenge bound to
//! [`challenge_site`]`(sitekey, hostname)`, solves it, and exchanges the
//! solution for a response token ([`issue_token`]); the page's backend posts
//! that token with its secret to `siteverify` ([`siteverify`]), which
//! accepts each token once.

mod multipart;
mod own;
mod request;
mod siteverify;
mod token;
mod widget;

pub use own::{ABUSE_FORM_SITEKEY, abuse_form_sitekey, redeem_own};
pub use request::{RequestError, VerifyRequest};
pub use siteverify::{
    ErrorCode, IdempotencyCache, Redeem, Verification, VerifyResponse, siteverify,
    siteverify_begin, siteverify_body, siteverify_body_begin,
};
pub use token::{TOKEN_LIFETIME_SECS, TOKEN_PREFIX, Token, TokenError, issue_token, verify_token};
pub use widget::{SolveRequest, SolveResponse, challenge_json, solve};

use std::collections::HashMap;

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::codec;
use crate::pow::{ParamsError, PowError};

/// Longest response token (Turnstile's documented limit).
pub const MAX_TOKEN_LEN: usize = 2048;
/// Longest `action` (Turnstile's limit).
pub const MAX_ACTION_LEN: usize = 32;
/// Longest `cdata` (Turnstile's limit).
pub const MAX_CDATA_LEN: usize = 255;
/// Longest sitekey accepted in a token.
pub const MAX_SITEKEY_LEN: usize = 64;
/// Longest hostname (DNS limit).
pub const MAX_HOSTNAME_LEN: usize = 253;

/// A sitekey as the captcha needs it: public key, the SHA-256 of its
/// secret (the secret itself is never kept), where the widget may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sitekey {
    /// The public key embedded in pages (`rk_…`).
    pub sitekey: String,
    /// SHA-256 of the secret (`rs_…`).
    pub secret_hash: [u8; 32],
    /// Hostnames the widget may be used on (compared without case and
    /// trailing dot; subdomains are not implied). Empty: any host of the
    /// site.
    pub hostnames: Vec<String>,
    /// A suspended sitekey gets no challenges and verifies nothing.
    pub suspended: bool,
}

impl Sitekey {
    /// Whether tokens for `hostname` are accepted.
    pub fn allows_host(&self, hostname: &str) -> bool {
        let host = hostname.strip_suffix('.').unwrap_or(hostname);
        self.hostnames.is_empty()
            || self
                .hostnames
                .iter()
                .any(|h| h.strip_suffix('.').unwrap_or(h).eq_ignore_ascii_case(host))
    }
}

/// SHA-256 of a secret, the form a [`Sitekey`] keeps. Secrets are 256
/// random bits, so a fast hash is enough (nothing to brute-force).
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Finds sitekeys: by the public key (challenge endpoint) and by the SHA-256
/// of the secret (siteverify).
pub trait SitekeyDirectory {
    /// The sitekey whose secret hashes to `secret_hash`.
    fn by_secret_hash(&self, secret_hash: &[u8; 32]) -> Option<&Sitekey>;

    /// The sitekey with this public key.
    fn by_sitekey(&self, sitekey: &str) -> Option<&Sitekey>;

    /// The sitekey of a presented secret: hash lookup, then a constant-time
    /// compare of the whole hash, so the answer does not depend on where a
    /// lookup structure's own comparison stopped.
    fn by_secret(&self, secret: &str) -> Option<&Sitekey> {
        let hash = secret_hash(secret);
        self.by_secret_hash(&hash)
            .filter(|sk| bool::from(sk.secret_hash.ct_eq(&hash)))
    }
}

/// A [`SitekeyDirectory`] in two hash maps.
#[derive(Debug, Clone, Default)]
pub struct MapDirectory {
    sitekeys: Vec<Sitekey>,
    by_hash: HashMap<[u8; 32], usize>,
    by_key: HashMap<String, usize>,
}

impl MapDirectory {
    /// A directory of `sitekeys`. A later entry with the same sitekey or
    /// secret hash replaces the earlier one in that index.
    pub fn new(sitekeys: impl IntoIterator<Item = Sitekey>) -> Self {
        let sitekeys: Vec<Sitekey> = sitekeys.into_iter().collect();
        let by_hash = sitekeys
            .iter()
            .enumerate()
            .map(|(i, s)| (s.secret_hash, i))
            .collect();
        let by_key = sitekeys
            .iter()
            .enumerate()
            .map(|(i, s)| (s.sitekey.clone(), i))
            .collect();
        Self {
            sitekeys,
            by_hash,
            by_key,
        }
    }
}

impl SitekeyDirectory for MapDirectory {
    fn by_secret_hash(&self, secret_hash: &[u8; 32]) -> Option<&Sitekey> {
        self.by_hash
            .get(secret_hash)
            .and_then(|&i| self.sitekeys.get(i))
    }

    fn by_sitekey(&self, sitekey: &str) -> Option<&Sitekey> {
        self.by_key.get(sitekey).and_then(|&i| self.sitekeys.get(i))
    }
}

/// A new public sitekey: `rk_` and 22 base64url characters (128 random bits).
pub fn generate_sitekey() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    format!("rk_{}", codec::b64_encode(&bytes))
}

/// A new secret: `rs_` and 43 base64url characters (256 random bits).
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("rs_{}", codec::b64_encode(&bytes))
}

/// The "site" a captcha challenge is bound to: `captcha:<sitekey>:<hostname>`.
pub fn challenge_site(sitekey: &str, hostname: &str) -> String {
    format!("captcha:{sitekey}:{hostname}")
}

/// Why a captcha operation was refused. [`CaptchaError::code`] and
/// [`CaptchaError::status`] give the widget endpoints' `{"error": …}` body
/// and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaError {
    /// `action` longer than 32 or outside `[A-Za-z0-9_-]`.
    #[error("invalid action")]
    InvalidAction,
    /// `cdata` longer than 255 or outside `[A-Za-z0-9_-]`.
    #[error("invalid cdata")]
    InvalidCdata,
    /// Sitekey empty, longer than 64, or outside `[A-Za-z0-9_-]`.
    #[error("invalid sitekey")]
    InvalidSitekey,
    /// Hostname empty, longer than 253, or with characters no host has.
    #[error("invalid hostname")]
    InvalidHostname,
    /// The token would exceed 2048 characters.
    #[error("token too long")]
    TooLong,
    /// An unreadable request body.
    #[error("bad request")]
    BadRequest,
    /// No such sitekey.
    #[error("unknown sitekey")]
    UnknownSitekey,
    /// The sitekey is suspended.
    #[error("sitekey suspended")]
    SitekeySuspended,
    /// The sitekey does not allow this host.
    #[error("hostname not allowed for this sitekey")]
    HostnameNotAllowed,
    /// The solution was refused.
    #[error("challenge refused: {0}")]
    Challenge(PowError),
    /// The configured PoW parameters are out of range (a configuration
    /// mistake: the edge should have refused it at load).
    #[error("bad challenge parameters: {0}")]
    Params(ParamsError),
}

impl CaptchaError {
    /// A short machine-readable code for `{"error": …}`.
    pub fn code(&self) -> &'static str {
        match self {
            CaptchaError::InvalidAction => "invalid-action",
            CaptchaError::InvalidCdata => "invalid-cdata",
            CaptchaError::InvalidSitekey => "invalid-sitekey",
            CaptchaError::InvalidHostname => "invalid-hostname",
            CaptchaError::TooLong => "token-too-long",
            CaptchaError::BadRequest => "bad-request",
            CaptchaError::UnknownSitekey => "unknown-sitekey",
            CaptchaError::SitekeySuspended => "sitekey-suspended",
            CaptchaError::HostnameNotAllowed => "hostname-not-allowed",
            CaptchaError::Challenge(PowError::Expired) => "challenge-expired",
            CaptchaError::Challenge(PowError::Replayed) => "challenge-used",
            CaptchaError::Challenge(PowError::InsufficientWork) => "insufficient-work",
            CaptchaError::Challenge(_) => "invalid-challenge",
            CaptchaError::Params(_) => "internal-error",
        }
    }

    /// The HTTP status for the widget endpoints: 400 for what the request
    /// got wrong, 403 for what it may not do, 500 for our configuration.
    pub fn status(&self) -> u16 {
        match self {
            CaptchaError::SitekeySuspended
            | CaptchaError::HostnameNotAllowed
            | CaptchaError::Challenge(_) => 403,
            CaptchaError::Params(_) | CaptchaError::TooLong => 500,
            _ => 400,
        }
    }

    /// `{"error":"<code>"}`.
    pub fn to_json(&self) -> String {
        format!(r#"{{"error":"{}"}}"#, self.code())
    }
}

/// Turnstile's charset for `action` and `cdata`.
pub(crate) fn is_token_word(s: &str, max: usize) -> bool {
    s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A host as the `Host` header carries it, without port: DNS names,
/// IPv4 literals and bracketed IPv6 literals.
pub(crate) fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_HOSTNAME_LEN
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let k = generate_sitekey();
        let s = generate_secret();
        assert_eq!(k.len(), 25);
        assert_eq!(s.len(), 46);
        assert!(k.starts_with("rk_") && is_token_word(&k, 64));
        assert!(s.starts_with("rs_") && is_token_word(&s, 64));
        assert_ne!(generate_secret(), s);
    }

    #[test]
    fn hosts() {
        let mut sk = Sitekey {
            sitekey: "rk_x".into(),
            secret_hash: secret_hash("rs_x"),
            hostnames: vec![],
            suspended: false,
        };
        assert!(sk.allows_host("anything.example"));
        sk.hostnames = vec!["Example.com".into()];
        assert!(sk.allows_host("example.com"));
        assert!(sk.allows_host("EXAMPLE.com."));
        assert!(!sk.allows_host("www.example.com"));
        assert!(!sk.allows_host("example.co"));
    }

    #[test]
    fn directory_compares_whole_hash() {
        let sk = Sitekey {
            sitekey: "rk_a".into(),
            secret_hash: secret_hash("rs_a"),
            hostnames: vec![],
            suspended: false,
        };
        let dir = MapDirectory::new([sk]);
        assert_eq!(
            dir.by_secret("rs_a").map(|s| s.sitekey.as_str()),
            Some("rk_a")
        );
        assert!(dir.by_secret("rs_b").is_none());
        assert!(dir.by_sitekey("rk_a").is_some());
        assert!(dir.by_sitekey("rk_b").is_none());
    }
}
