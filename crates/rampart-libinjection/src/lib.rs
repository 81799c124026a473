//! SQL injection and XSS detection that behaves like libinjection.
//! CONTRACT (the WAF's `@detectSQLi`/`@detectXSS` rely on these):
//! [`detect_sqli`] returns the matching fingerprint (e.g. `s&sos`), which
//! the engine stores in TX:0; [`detect_xss`] answers yes or no. Neither
//! panics or allocates unboundedly on any input.
//!
//! # Where the behaviour comes from
//!
//! The detection itself is the `libinjectionrs` crate, a safe-Rust port of
//! libinjection (its tokenizer, folding, fingerprint set, false-positive
//! whitelist, HTML5 tokenizer and XSS blacklists), which follows the
//! current upstream libinjection rather than the 2016 v3.9.2 release. This
//! crate is the seam the WAF depends on, so the engine never sees that
//! crate's types and a later change of implementation stays local.
//!
//! Measured against the C library (v3.9.2 as bundled in ModSecurity
//! 3.0.9) the port agrees on all of libinjection's own test vectors; its
//! remaining differences are upstream's later XSS change (only *known*
//! `on…` event names are blacklisted, not every `on…` attribute) and two
//! port defects, one of which this crate works around (see
//! [`detect_sqli`]). The other — phrases of three or more words such as
//! `IN BOOLEAN MODE` or `LOCK IN SHARE MODE` are not folded into one
//! keyword — is pinned by ignored tests in `src/tests.rs` so it shows up
//! when the dependency is upgraded.
//!
//! # Faults
//!
//! The port is not ours and indexes slices internally; a panic inside it
//! must not take down the request path. A panic is caught and counts as a
//! detection (fail closed): an input that trips a defect of the detector
//! is exactly what an evasion attempt would look like. The fingerprint
//! reported then is [`FAULT_FINGERPRINT`].
#![forbid(unsafe_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Fingerprint reported when the detector faulted on an input. It is
/// libinjection's own token type for "evil" input (`X`), which its
/// tokenizer also emits for constructs that cannot be parsed safely.
pub const FAULT_FINGERPRINT: &str = "X";

/// Whether `input` is SQL injection; if so, its libinjection fingerprint
/// (one to five token-type characters, e.g. `s&sos` for `1' OR '1'='1`).
///
/// Like libinjection, the input is tried as-is, as if it followed a single
/// quote and as if it followed a double quote, in ANSI and MySQL comment
/// dialects.
///
/// Works around a defect of `libinjectionrs` 0.1.1: its three-token
/// whitelist compares the `INTO` of `INTO OUTFILE`/`INTO DUMPFILE` case
/// sensitively (libinjection does not), so `1 into outfile '/x'` passed
/// while `1 INTO OUTFILE '/x'` was caught. Inputs that mention `into` in
/// another case are tried again upper-cased; libinjection's tokenizer is
/// case-insensitive for ASCII (keywords, string prefixes, hex and
/// exponent markers), so that second pass sees the same tokens.
pub fn detect_sqli(input: &[u8]) -> Option<String> {
    guarded(|| sqli_fingerprint(input)).unwrap_or_else(|| Some(FAULT_FINGERPRINT.to_owned()))
}

/// Whether `input` would execute script if placed in an HTML document:
/// as text, as an unquoted, single-, double- or back-quoted attribute
/// value. Looks for blacklisted tags (`script`, `iframe`, `svg…`, …),
/// event-handler and other dangerous attributes (`onerror`, `style`,
/// `xmlns`, …), dangerous URL schemes in URL attributes (`javascript:`,
/// `vbscript:`, `data:`, `view-source:`), doctypes and some comments.
pub fn detect_xss(input: &[u8]) -> bool {
    guarded(|| libinjectionrs::detect_xss(input).is_injection()).unwrap_or(true)
}

/// Runs `f`, turning a panic into `None`. The detector holds no state
/// across calls, so nothing observable is left half-updated by an unwind.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

fn sqli_fingerprint(input: &[u8]) -> Option<String> {
    if let Some(fp) = sqli_once(input) {
        return Some(fp);
    }
    if mentions_non_upper_into(input) {
        return sqli_once(&input.to_ascii_uppercase());
    }
    None
}

fn sqli_once(input: &[u8]) -> Option<String> {
    let result = libinjectionrs::detect_sqli(input);
    if !result.is_injection() {
        return None;
    }
    let fp = result
        .fingerprint
        .map(|fp| fp.as_str().to_owned())
        .unwrap_or_default();
    // A detection always has a fingerprint; should the port ever report
    // one without, the engine still needs something to put in TX:0.
    Some(if fp.is_empty() {
        FAULT_FINGERPRINT.to_owned()
    } else {
        fp
    })
}

/// `into` in any case other than all-upper, the only spelling the port's
/// whitelist recognises.
fn mentions_non_upper_into(input: &[u8]) -> bool {
    input
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"into") && w != b"INTO")
}

#[cfg(test)]
mod tests;
