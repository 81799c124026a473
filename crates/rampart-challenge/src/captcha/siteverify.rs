//! `siteverify`: a site's backend redeems a response token with its secret.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::request::VerifyRequest;
use super::token::{TOKEN_LIFETIME_SECS, verify_token};
use super::{MAX_TOKEN_LEN, SitekeyDirectory};
use crate::expiring::ExpiringMap;
use crate::keys::KeyRing;
use crate::spent::SpentSet;
use crate::time::rfc3339_utc;

/// Turnstile's error codes, serialized as its kebab-case strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// No secret in the request.
    MissingInputSecret,
    /// The secret belongs to no sitekey.
    InvalidInputSecret,
    /// No response token in the request.
    MissingInputResponse,
    /// The token is malformed, forged, for another sitekey or a hostname
    /// the sitekey does not allow.
    InvalidInputResponse,
    /// The body could not be read.
    BadRequest,
    /// The token is older than 300 s or was already redeemed.
    TimeoutOrDuplicate,
    /// Something on our side failed.
    InternalError,
    /// The sitekey is suspended.
    SitekeySuspended,
    /// The request names a sitekey other than the secret's.
    SitekeySecretMismatch,
}

impl ErrorCode {
    /// The code as Turnstile spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingInputSecret => "missing-input-secret",
            Self::InvalidInputSecret => "invalid-input-secret",
            Self::MissingInputResponse => "missing-input-response",
            Self::InvalidInputResponse => "invalid-input-response",
            Self::BadRequest => "bad-request",
            Self::TimeoutOrDuplicate => "timeout-or-duplicate",
            Self::InternalError => "internal-error",
            Self::SitekeySuspended => "sitekey-suspended",
            Self::SitekeySecretMismatch => "sitekey-secret-mismatch",
        }
    }
}

/// The siteverify answer. Serializes as Turnstile's JSON: on success
/// `{"success":true,"challenge_ts":"…Z","hostname":"…","error-codes":[],"action":"…","cdata":"…"}`,
/// on failure `{"success":false,"error-codes":["…"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyResponse {
    /// Whether the token was valid and redeemed now.
    pub success: bool,
    /// When the challenge was solved, RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_ts: Option<String>,
    /// The host the widget ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Empty on success.
    #[serde(rename = "error-codes")]
    pub error_codes: Vec<ErrorCode>,
    /// The widget's `action` ("" if none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The widget's `cdata` ("" if none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdata: Option<String>,
}

impl VerifyResponse {
    /// A failure with these codes.
    pub fn failure(codes: &[ErrorCode]) -> Self {
        Self {
            success: false,
            challenge_ts: None,
            hostname: None,
            error_codes: codes.to_vec(),
            action: None,
            cdata: None,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        // Strings, bools and unit enums always serialize; the fallback only
        // keeps this free of a panic path.
        serde_json::to_string(self).unwrap_or_else(|_| {
            String::from(r#"{"success":false,"error-codes":["internal-error"]}"#)
        })
    }
}

/// Successful answers kept for retries that carry the same
/// `idempotency_key`, bounded in entries, each kept until its token would
/// have timed out anyway. When full, a new answer is not kept (a retry then
/// gets `timeout-or-duplicate`, never a second success).
pub struct IdempotencyCache {
    map: ExpiringMap<VerifyResponse>,
}

impl IdempotencyCache {
    /// A cache of about `capacity` answers.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: ExpiringMap::new(capacity),
        }
    }

    /// Entry key: the token's id and the caller's key, hashed so entries are
    /// fixed-size whatever the key's length.
    fn key(token_id: &[u8; 16], idempotency_key: &str) -> [u8; 16] {
        let full: [u8; 32] = Sha256::new()
            .chain_update(b"rampart-idempotency-v1")
            .chain_update(token_id)
            .chain_update(idempotency_key.as_bytes())
            .finalize()
            .into();
        crate::codec::first(&full).unwrap_or([0; 16])
    }
}

impl std::fmt::Debug for IdempotencyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyCache")
            .field("capacity", &self.map.capacity())
            .finish_non_exhaustive()
    }
}

/// Verifies and redeems `request.response` for the sitekey of
/// `request.secret`, at `now`.
///
/// Order of checks: missing fields; the secret; a named sitekey that is not
/// the secret's; suspension; the token's format, tag, sitekey and hostname
/// (`invalid-input-response`); its age; then single use through `spent`, or
/// the stored answer of an earlier success with the same idempotency key.
pub fn siteverify(
    ring: &KeyRing,
    directory: &dyn SitekeyDirectory,
    spent: &dyn SpentSet,
    idempotency: &IdempotencyCache,
    request: &VerifyRequest,
    now: u64,
) -> VerifyResponse {
    match siteverify_begin(ring, directory, idempotency, request, now) {
        Verification::Done(answer) => answer,
        Verification::Redeem(redeem) => {
            let first = spent.spend(redeem.id(), redeem.expires_at(), now);
            redeem.finish(first, idempotency, now)
        }
    }
}

/// [`siteverify`] in two steps, for a caller whose single-use check is
/// asynchronous (a spent set shared between nodes): every check but single
/// use, then [`Redeem::finish`] with the spent set's answer.
pub enum Verification {
    /// Decided without redeeming anything (a failure, or an idempotent
    /// retry's stored answer).
    Done(VerifyResponse),
    /// Valid so far: redeem [`Redeem::id`] and finish.
    Redeem(Redeem),
}

/// A valid token waiting for its single-use check.
pub struct Redeem {
    id: [u8; 16],
    expires: u64,
    cache_key: Option<[u8; 16]>,
    answer: VerifyResponse,
}

impl Redeem {
    /// The token's id, the key of the spent set.
    pub fn id(&self) -> [u8; 16] {
        self.id
    }

    /// When the token expires (unix seconds): how long the id must stay
    /// spent.
    pub fn expires_at(&self) -> u64 {
        self.expires
    }

    /// The answer, given whether this was the id's first use. A success is
    /// kept for idempotent retries only now, after the single-use check,
    /// so a retry never replays a redemption another node refused.
    pub fn finish(
        self,
        first_use: bool,
        idempotency: &IdempotencyCache,
        now: u64,
    ) -> VerifyResponse {
        if !first_use {
            return VerifyResponse::failure(&[ErrorCode::TimeoutOrDuplicate]);
        }
        if let Some(k) = self.cache_key {
            // Full cache: the answer is not kept; see `IdempotencyCache`.
            idempotency
                .map
                .insert_if_absent(k, self.expires, now, self.answer.clone());
        }
        self.answer
    }
}

/// The first step of [`siteverify`]: every check but single use.
pub fn siteverify_begin(
    ring: &KeyRing,
    directory: &dyn SitekeyDirectory,
    idempotency: &IdempotencyCache,
    request: &VerifyRequest,
    now: u64,
) -> Verification {
    let fail = |codes: &[ErrorCode]| Verification::Done(VerifyResponse::failure(codes));
    let (secret, response) = match (&request.secret, &request.response) {
        (Some(s), Some(r)) => (s, r),
        (None, None) => {
            return fail(&[
                ErrorCode::MissingInputSecret,
                ErrorCode::MissingInputResponse,
            ]);
        }
        (None, Some(_)) => return fail(&[ErrorCode::MissingInputSecret]),
        (Some(_), None) => return fail(&[ErrorCode::MissingInputResponse]),
    };
    let Some(sitekey) = directory.by_secret(secret) else {
        return fail(&[ErrorCode::InvalidInputSecret]);
    };
    if request
        .sitekey
        .as_ref()
        .is_some_and(|named| *named != sitekey.sitekey)
    {
        return fail(&[ErrorCode::SitekeySecretMismatch]);
    }
    if sitekey.suspended {
        return fail(&[ErrorCode::SitekeySuspended]);
    }
    let invalid = || fail(&[ErrorCode::InvalidInputResponse]);
    if response.len() > MAX_TOKEN_LEN {
        return invalid();
    }
    let Ok(token) = verify_token(ring, response) else {
        return invalid();
    };
    // A valid token of another sitekey (the caller mixed up secrets) or
    // from a host the sitekey no longer allows.
    if token.sitekey != sitekey.sitekey || !sitekey.allows_host(&token.hostname) {
        return invalid();
    }
    let expires = token.issued.saturating_add(TOKEN_LIFETIME_SECS);
    if now >= expires {
        return fail(&[ErrorCode::TimeoutOrDuplicate]);
    }
    let cache_key = request
        .idempotency_key
        .as_deref()
        .map(|k| IdempotencyCache::key(&token.id, k));
    if let Some(earlier) = cache_key.and_then(|k| idempotency.map.get(&k, now)) {
        return Verification::Done(earlier);
    }
    Verification::Redeem(Redeem {
        id: token.id,
        expires,
        cache_key,
        answer: VerifyResponse {
            success: true,
            challenge_ts: Some(rfc3339_utc(token.issued)),
            hostname: Some(token.hostname),
            error_codes: Vec::new(),
            action: Some(token.action),
            cdata: Some(token.cdata),
        },
    })
}

/// [`siteverify`] on a raw body: an unreadable body is `bad-request`.
pub fn siteverify_body(
    ring: &KeyRing,
    directory: &dyn SitekeyDirectory,
    spent: &dyn SpentSet,
    idempotency: &IdempotencyCache,
    content_type: Option<&str>,
    body: &[u8],
    now: u64,
) -> VerifyResponse {
    match VerifyRequest::from_body(content_type, body) {
        Ok(request) => siteverify(ring, directory, spent, idempotency, &request, now),
        Err(_) => VerifyResponse::failure(&[ErrorCode::BadRequest]),
    }
}

/// [`siteverify_begin`] on a raw body.
pub fn siteverify_body_begin(
    ring: &KeyRing,
    directory: &dyn SitekeyDirectory,
    idempotency: &IdempotencyCache,
    content_type: Option<&str>,
    body: &[u8],
    now: u64,
) -> Verification {
    match VerifyRequest::from_body(content_type, body) {
        Ok(request) => siteverify_begin(ring, directory, idempotency, &request, now),
        Err(_) => Verification::Done(VerifyResponse::failure(&[ErrorCode::BadRequest])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_they_serialize() {
        for code in [
            ErrorCode::MissingInputSecret,
            ErrorCode::InvalidInputSecret,
            ErrorCode::MissingInputResponse,
            ErrorCode::InvalidInputResponse,
            ErrorCode::BadRequest,
            ErrorCode::TimeoutOrDuplicate,
            ErrorCode::InternalError,
            ErrorCode::SitekeySuspended,
            ErrorCode::SitekeySecretMismatch,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }

    #[test]
    fn json_shapes() {
        let ok = VerifyResponse {
            success: true,
            challenge_ts: Some(rfc3339_utc(1_795_851_600)),
            hostname: Some("example.com".into()),
            error_codes: vec![],
            action: Some("login".into()),
            cdata: Some(String::new()),
        };
        assert_eq!(
            ok.to_json(),
            r#"{"success":true,"challenge_ts":"2026-11-28T07:40:00Z","hostname":"example.com","error-codes":[],"action":"login","cdata":""}"#
        );
        assert_eq!(
            VerifyResponse::failure(&[ErrorCode::SitekeySecretMismatch, ErrorCode::BadRequest])
                .to_json(),
            r#"{"success":false,"error-codes":["sitekey-secret-mismatch","bad-request"]}"#
        );
        let all = [
            ErrorCode::MissingInputSecret,
            ErrorCode::InvalidInputSecret,
            ErrorCode::MissingInputResponse,
            ErrorCode::InvalidInputResponse,
            ErrorCode::BadRequest,
            ErrorCode::TimeoutOrDuplicate,
            ErrorCode::InternalError,
            ErrorCode::SitekeySuspended,
            ErrorCode::SitekeySecretMismatch,
        ];
        assert_eq!(
            serde_json::to_string(&all).unwrap(),
            r#"["missing-input-secret","invalid-input-secret","missing-input-response","invalid-input-response","bad-request","timeout-or-duplicate","internal-error","sitekey-suspended","sitekey-secret-mismatch"]"#
        );
    }
}
