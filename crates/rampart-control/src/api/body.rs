//! A JSON body extractor whose failures are API errors that name the field,
//! instead of axum's plain-text rejections.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Bodies beyond this are refused before parsing; a site with a certificate
/// chain and four page templates fits well within it.
const MAX_BODY: usize = 2 * 1024 * 1024;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json")
                    || v.eq_ignore_ascii_case("application/merge-patch+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                format!("cannot read the request body: {e}"),
            )
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses JSON, naming the offending field (`origins[1].weight`) on error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over {MAX_BODY} bytes"),
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        // The path already ends at the offending key for unknown fields.
        let (code, field) = if unknown_field(&message).is_some() {
            ("unknown_field", path)
        } else if inner.is_syntax() || inner.is_eof() {
            ("invalid_json", String::new())
        } else if message.starts_with("missing field") {
            let name = message.split('`').nth(1).unwrap_or_default().to_owned();
            let field = if path == "." || path.is_empty() {
                name
            } else {
                format!("{path}.{name}")
            };
            ("required", field)
        } else {
            ("invalid", path)
        };
        let message = if field.is_empty() {
            format!("the body is not valid JSON: {message}")
        } else {
            format!("{field}: {message}")
        };
        let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        if field.is_empty() {
            error
        } else {
            error.with_field(field)
        }
    })
}

/// serde's message for `deny_unknown_fields` is "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        weight: u32,
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let error = parse::<Outer>(br#"{"name":"a","inner":{"weight":1,"colour":2}}"#)
            .err()
            .map(|e| e.detail);
        let detail = error.unwrap_or_else(|| panic!("accepted an unknown field"));
        assert_eq!(detail.code, "unknown_field");
        assert_eq!(detail.field.as_deref(), Some("inner.colour"));
    }

    #[test]
    fn wrong_types_and_missing_fields_name_the_field() {
        let wrong = parse::<Outer>(br#"{"name":"a","inner":{"weight":"x"}}"#)
            .err()
            .map(|e| e.detail);
        let wrong = wrong.unwrap_or_else(|| panic!("accepted a string weight"));
        assert_eq!(wrong.code, "invalid");
        assert_eq!(wrong.field.as_deref(), Some("inner.weight"));

        let missing = parse::<Outer>(br"{}").err().map(|e| e.detail);
        let missing = missing.unwrap_or_else(|| panic!("accepted a missing name"));
        assert_eq!(missing.code, "required");
        assert_eq!(missing.field.as_deref(), Some("name"));

        let syntax = parse::<Outer>(b"{").err().map(|e| e.detail);
        assert_eq!(syntax.map(|d| d.code).as_deref(), Some("invalid_json"));
    }
}
