//! The JSON that hands a challenge to the browser: embedded in the
//! challenge page, and the body of the captcha's `challenge` endpoint.

use serde::Serialize;

use super::{Algorithm, PowError, decode};

/// `{"challenge","algorithm","difficulty","scrypt":{…},"submit"?,"return"?,"expires"}`
/// in the protocol's field order. `submit` and `return` are present on the
/// challenge page and absent from the captcha endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChallengeJson<'a> {
    /// The challenge string, opaque to the browser.
    pub challenge: &'a str,
    /// `"sha256"` or `"scrypt"`.
    pub algorithm: &'static str,
    /// Leading zero bits required.
    pub difficulty: u8,
    /// scrypt parameters; all zero for SHA-256 (the browser ignores them).
    pub scrypt: ScryptJson,
    /// Where the form posts the solution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submit: Option<&'a str>,
    /// The original path and query, to return to after clearance.
    #[serde(rename = "return", skip_serializing_if = "Option::is_none")]
    pub return_to: Option<&'a str>,
    /// Expiry, unix seconds.
    pub expires: u64,
}

/// The `"scrypt"` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScryptJson {
    /// log2 of N.
    pub n_log2: u8,
    /// Block size.
    pub r: u8,
    /// Parallelism.
    pub p: u8,
}

impl<'a> ChallengeJson<'a> {
    /// Describes `challenge` (decoded, not verified: the caller has just
    /// issued it).
    pub fn new(
        challenge: &'a str,
        submit: Option<&'a str>,
        return_to: Option<&'a str>,
    ) -> Result<Self, PowError> {
        let info = decode(challenge)?;
        let scrypt = match info.algorithm {
            Algorithm::Sha256 => ScryptJson {
                n_log2: 0,
                r: 0,
                p: 0,
            },
            Algorithm::Scrypt { n_log2, r, p } => ScryptJson { n_log2, r, p },
        };
        Ok(Self {
            challenge,
            algorithm: info.algorithm.name(),
            difficulty: info.difficulty,
            scrypt,
            submit,
            return_to,
            expires: info.expires,
        })
    }

    /// Plain JSON, for an `application/json` response.
    pub fn to_json(&self) -> String {
        // Serializing borrowed strings and integers into a String cannot
        // fail; the fallback keeps this total without a panic path.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// JSON safe to place inside `<script type="application/json">`: `<`,
    /// `>` and `&` are escaped as `\u003c` etc. (still the same JSON
    /// value), because `return` is the visitor's own path and
    /// `</script>` in it would end the element and inject markup.
    pub fn to_script_json(&self) -> String {
        let json = self.to_json();
        let mut out = String::with_capacity(json.len() + 16);
        for c in json.chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                // Line separators are legal in JSON but were not in JS
                // string literals before ES2019; escape them for old parsers.
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        out
    }
}
