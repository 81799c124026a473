//! The session cookie and the signed-in user it stands for.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Redirect, Response};
use http::request::Parts;
use http::{HeaderMap, Method, header};
use rampart_store::Session;

use super::PageError;
use crate::Control;
use crate::api::auth::Principal;
use crate::api::error::ApiError;

pub(crate) const SESSION_COOKIE: &str = "rampart_session";

/// A request from a signed-in user: their session and the principal the
/// API's checks take.
pub(crate) struct SignedIn {
    pub session: Session,
    pub principal: Principal,
}

impl SignedIn {
    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The signed-in user of these request headers, if the cookie names a live
/// session.
pub(crate) async fn lookup(
    control: &Control,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, ApiError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let found = super::store(control)?.session_by_secret(secret).await?;
    Ok(found.map(|(session, user)| SignedIn {
        session,
        principal: Principal::from_session(user),
    }))
}

/// `Set-Cookie` for the session: script cannot read it, other sites cannot
/// send it, and over https it never travels in clear.
pub(crate) fn session_cookie(control: &Control, secret: &str, max_age_secs: u64) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        secure_suffix(control)
    )
}

/// `Set-Cookie` that removes cookie `name` set with `path`.
pub(crate) fn clear_cookie(control: &Control, name: &str, path: &str) -> String {
    format!(
        "{name}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure_suffix(control)
    )
}

/// Cookies are `Secure` when the dashboard is published over https; a
/// plain-http admin listener (the default, on loopback) could not set them
/// otherwise.
pub(crate) fn secure_suffix(control: &Control) -> &'static str {
    if control.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// Where to go after signing in: a local path only, never another site.
pub(crate) fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/sites",
    }
}

impl FromRequestParts<Arc<Control>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        control: &Arc<Control>,
    ) -> Result<Self, Response> {
        match lookup(control, &parts.headers).await {
            Ok(Some(signed)) => Ok(signed),
            Ok(None) => Err(to_login(parts)),
            Err(error) => Err(PageError::from(error).into_response()),
        }
    }
}

/// Sends a visitor without a session to the sign-in page; a page they
/// asked for by GET is where they return afterwards.
fn to_login(parts: &Parts) -> Response {
    if parts.method != Method::GET {
        return Redirect::to("/login").into_response();
    }
    let path = parts.uri.path_and_query().map_or("/sites", |p| p.as_str());
    let next: String = form_encode(safe_next(Some(path)));
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// Percent-encodes a query value.
pub(crate) fn form_encode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/sites/x?range=24h")), "/sites/x?range=24h");
        for bad in [
            "//evil.test/",
            "https://evil.test/",
            "/\\evil.test",
            "evil",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/sites", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/sites");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            "a=1; rampart_session=rps_x".parse().unwrap(),
        );
        headers.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&headers, "rampart_session"), Some("rps_x"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "rampart"), None);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            form_encode("/sites/a?range=1h&x"),
            "%2Fsites%2Fa%3Frange%3D1h%26x"
        );
    }
}
