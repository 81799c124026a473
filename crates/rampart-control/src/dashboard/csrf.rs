//! Cross-site request forgery defences for every dashboard POST:
//!
//! 1. the session cookie is `SameSite=Strict`, so another site's form does
//!    not carry it;
//! 2. every form holds the session's synchronizer token in a hidden field,
//!    compared in constant time;
//! 3. an `Origin` (or, without one, `Referer`) header, when the browser
//!    sends one, must name this dashboard.
//!
//! The sign-in form has no session yet; it pairs a random cookie with the
//! same value in a hidden field instead (`login.rs`).

use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::SignedIn;
use super::layout::PageError;
use crate::Control;

/// The name of the hidden field.
pub(crate) const FIELD: &str = "csrf";

/// Form bodies beyond this are refused; the largest form (site settings)
/// is a few kilobytes.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// A POSTed form from a signed-in user whose CSRF token and origin checked
/// out: the session and the form's fields.
pub(crate) struct Posted<T> {
    pub signed: SignedIn,
    pub form: T,
}

#[derive(Deserialize)]
struct TokenOnly {
    csrf: Option<String>,
}

impl<T> FromRequest<Arc<Control>> for Posted<T>
where
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, control: &Arc<Control>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let signed = SignedIn::from_request_parts(&mut parts, control).await?;
        if !same_origin(&parts.headers, control) {
            return Err(forbidden());
        }
        let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
            PageError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form is too large to accept.",
            )
            .into_response()
        })?;
        let token = serde_urlencoded::from_bytes::<TokenOnly>(&bytes)
            .ok()
            .and_then(|t| t.csrf)
            .unwrap_or_default();
        if !constant_time_eq(token.as_bytes(), signed.csrf().as_bytes()) {
            return Err(forbidden());
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                &format!("The form could not be read: {e}."),
            )
            .into_response()
        })?;
        Ok(Posted { signed, form })
    }
}

pub(crate) fn forbidden() -> Response {
    PageError::new(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this dashboard. Go back, reload the page and try again.",
    )
    .into_response()
}

/// Equal length and bytes, in time that depends only on the length.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `Origin` (else `Referer`) names this dashboard: the host the
/// request was sent to, or the public URL's. Absent headers pass (older
/// clients, privacy settings); the token is the defence that always applies.
pub(crate) fn same_origin(headers: &HeaderMap, control: &Control) -> bool {
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER));
    let Some(source) = source else {
        return true;
    };
    let Ok(source) = source.to_str() else {
        return false;
    };
    let Some(origin) = authority(source) else {
        // "null" (sandboxed frames, some redirects) and anything that is
        // not an http(s) URL.
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    host.is_some_and(|h| h.eq_ignore_ascii_case(origin))
        || authority(&control.public_url).is_some_and(|p| p.eq_ignore_ascii_case(origin))
}

/// `host[:port]` of an http(s) URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    (!authority.is_empty()).then_some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b""));
    }

    #[test]
    fn authorities() {
        assert_eq!(authority("http://127.0.0.1:9000"), Some("127.0.0.1:9000"));
        assert_eq!(authority("https://dash.test/sites?x"), Some("dash.test"));
        assert_eq!(authority("null"), None);
        assert_eq!(authority("ftp://x"), None);
        assert_eq!(authority("http://"), None);
    }
}
