//! The dashboard's one stylesheet, compiled into the binary and served
//! under a name that carries its content hash, so browsers may cache it
//! for good and still never see a stale copy after an upgrade.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use sha2::{Digest as _, Sha256};

const CSS: &str = include_str!("dashboard.css");

/// `/assets/dashboard.<first 12 hex digits of its SHA-256>.css`.
static CSS_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(CSS.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("/assets/dashboard.{hex}.css")
});

pub(crate) fn css_path() -> &'static str {
    &CSS_PATH
}

pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    if css_path().strip_prefix("/assets/") != Some(file.as_str()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = CSS.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
