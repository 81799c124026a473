//! The siteverify request body, in the three encodings Turnstile clients
//! send: URL-encoded forms, JSON, and multipart forms (what `fetch` sends for
//! a `FormData` body, as in Cloudflare's own examples).

use serde::Deserialize;

use super::multipart;

/// Largest body accepted: a token is at most 2 KiB, a secret 46 bytes.
pub const MAX_BODY_LEN: usize = 64 * 1024;
/// Longest `idempotency_key` (Turnstile's are UUIDs: 36 characters).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// The fields of a siteverify request. Absent and empty fields are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyRequest {
    /// The sitekey's secret.
    pub secret: Option<String>,
    /// The response token.
    pub response: Option<String>,
    /// The visitor's address, as the caller saw it. Accepted for
    /// compatibility; the token does not bind an address, so it is unused.
    pub remoteip: Option<String>,
    /// Makes a retry of a successful verification return the same answer.
    pub idempotency_key: Option<String>,
    /// If given, must be the secret's sitekey.
    pub sitekey: Option<String>,
}

/// A body that could not be read: answered with `bad-request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Over [`MAX_BODY_LEN`].
    #[error("request body too large")]
    TooLarge,
    /// A content type other than form, multipart form or JSON.
    #[error("unsupported content type")]
    ContentType,
    /// The body does not parse as its content type says.
    #[error("unreadable request body: {0}")]
    Syntax(String),
    /// `idempotency_key` longer than 128 bytes.
    #[error("idempotency_key too long")]
    IdempotencyKey,
}

/// The shape serde reads; unknown fields (Turnstile clients send a few of
/// their own) are ignored, repeated ones refused.
#[derive(Deserialize)]
struct Fields {
    secret: Option<String>,
    response: Option<String>,
    remoteip: Option<String>,
    idempotency_key: Option<String>,
    sitekey: Option<String>,
}

impl VerifyRequest {
    /// Parses `application/x-www-form-urlencoded`.
    pub fn from_form(body: &[u8]) -> Result<Self, RequestError> {
        check_len(body)?;
        let fields: Fields =
            serde_urlencoded::from_bytes(body).map_err(|e| RequestError::Syntax(e.to_string()))?;
        Self::from_fields(fields)
    }

    /// Parses a JSON object with string (or null) fields.
    pub fn from_json(body: &[u8]) -> Result<Self, RequestError> {
        check_len(body)?;
        let fields: Fields =
            serde_json::from_slice(body).map_err(|e| RequestError::Syntax(e.to_string()))?;
        Self::from_fields(fields)
    }

    /// Parses `multipart/form-data` with the given boundary.
    pub fn from_multipart(boundary: &str, body: &[u8]) -> Result<Self, RequestError> {
        check_len(body)?;
        let mut fields = Fields {
            secret: None,
            response: None,
            remoteip: None,
            idempotency_key: None,
            sitekey: None,
        };
        for part in multipart::Parts::new(boundary.as_bytes(), body) {
            let (name, value) = part.map_err(|e| RequestError::Syntax(e.to_string()))?;
            let slot = match name {
                b"secret" => &mut fields.secret,
                b"response" => &mut fields.response,
                b"remoteip" => &mut fields.remoteip,
                b"idempotency_key" => &mut fields.idempotency_key,
                b"sitekey" => &mut fields.sitekey,
                _ => continue,
            };
            if slot.is_some() {
                return Err(RequestError::Syntax("repeated field".into()));
            }
            let text = std::str::from_utf8(value)
                .map_err(|_| RequestError::Syntax("field is not UTF-8".into()))?;
            *slot = Some(text.to_owned());
        }
        Self::from_fields(fields)
    }

    /// Parses a body by its `Content-Type` (media type compared without
    /// case, parameters ignored except multipart's boundary). Without a
    /// content type, a body starting with `{` is JSON and anything else a
    /// URL-encoded form, as lenient clients expect.
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Self, RequestError> {
        let Some(ct) = content_type.filter(|c| !c.trim().is_empty()) else {
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            return if first == Some(&b'{') {
                Self::from_json(body)
            } else {
                Self::from_form(body)
            };
        };
        let mut params = ct.split(';');
        let essence = params.next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            Self::from_form(body)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Self::from_json(body)
        } else if essence.eq_ignore_ascii_case("multipart/form-data") {
            let boundary = params
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
                .map(|(_, v)| v.trim().trim_matches('"'))
                .ok_or_else(|| RequestError::Syntax("multipart without boundary".into()))?;
            Self::from_multipart(boundary, body)
        } else {
            Err(RequestError::ContentType)
        }
    }

    fn from_fields(f: Fields) -> Result<Self, RequestError> {
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let request = Self {
            secret: non_empty(f.secret),
            response: non_empty(f.response),
            remoteip: non_empty(f.remoteip),
            idempotency_key: non_empty(f.idempotency_key),
            sitekey: non_empty(f.sitekey),
        };
        if request
            .idempotency_key
            .as_ref()
            .is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY_LEN)
        {
            return Err(RequestError::IdempotencyKey);
        }
        Ok(request)
    }
}

fn check_len(body: &[u8]) -> Result<(), RequestError> {
    if body.len() > MAX_BODY_LEN {
        Err(RequestError::TooLarge)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_json_and_multipart_agree() {
        let form = VerifyRequest::from_body(
            Some("application/x-www-form-urlencoded"),
            b"secret=rs_a&response=r1.x%2By&remoteip=192.0.2.1&extra=1",
        )
        .unwrap();
        let json = VerifyRequest::from_body(
            Some("Application/JSON; charset=utf-8"),
            br#"{"secret":"rs_a","response":"r1.x+y","remoteip":"192.0.2.1","sitekey":null,"extra":[1]}"#,
        )
        .unwrap();
        let mp = VerifyRequest::from_body(
            Some("multipart/form-data; boundary=\"XyZ\""),
            b"--XyZ\r\nContent-Disposition: form-data; name=\"secret\"\r\n\r\nrs_a\r\n\
              --XyZ\r\ncontent-disposition: form-data; name=\"response\"\r\n\r\nr1.x+y\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"remoteip\"\r\n\r\n192.0.2.1\r\n--XyZ--\r\n",
        )
        .unwrap();
        assert_eq!(form, json);
        assert_eq!(form, mp);
        assert_eq!(form.secret.as_deref(), Some("rs_a"));
        assert_eq!(form.response.as_deref(), Some("r1.x+y"));
        assert_eq!(form.sitekey, None);
        let sniffed = VerifyRequest::from_body(None, b"  {\"secret\":\"rs_a\"}").unwrap();
        assert_eq!(sniffed.secret.as_deref(), Some("rs_a"));
    }

    #[test]
    fn unreadable_bodies_are_errors() {
        let json = Some("application/json");
        let form = Some("application/x-www-form-urlencoded");
        assert!(VerifyRequest::from_body(json, b"").is_err());
        assert!(VerifyRequest::from_body(json, b"[1,2]").is_err());
        assert!(VerifyRequest::from_body(json, br#"{"secret": 5}"#).is_err());
        assert!(VerifyRequest::from_body(json, br#"{"secret": "a""#).is_err());
        assert!(VerifyRequest::from_body(json, br#"{"secret":"a","secret":"b"}"#).is_err());
        assert!(VerifyRequest::from_body(form, b"secret=a&secret=b").is_err());
        assert!(VerifyRequest::from_body(Some("text/plain"), b"secret=a").is_err());
        assert!(VerifyRequest::from_body(Some("multipart/form-data"), b"").is_err());
        let big = vec![b'a'; MAX_BODY_LEN + 1];
        assert_eq!(VerifyRequest::from_form(&big), Err(RequestError::TooLarge));
        let long_key = format!("idempotency_key={}", "k".repeat(129));
        assert_eq!(
            VerifyRequest::from_form(long_key.as_bytes()),
            Err(RequestError::IdempotencyKey)
        );
    }
}
