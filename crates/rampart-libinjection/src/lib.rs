//! SQL injection and XSS detection that behaves like libinjection.
//! CONTRACT (the WAF's `@detectSQLi`/`@detectXSS` rely on these):
//! [`detect_sqli`] returns the matching fingerprint (e.g. `s&sos`), which
//! the engine stores in TX:0; [`detect_xss`] answers yes or no. Neither
//! panics or allocates unboundedly on any input.
#![forbid(unsafe_code)]

pub fn detect_sqli(input: &[u8]) -> Option<String> {
    let _ = input;
    None
}

pub fn detect_xss(input: &[u8]) -> bool {
    let _ = input;
    false
}
