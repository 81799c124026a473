//! Webhooks: an HTTP POST of the stored JSON body, signed so the receiver
//! can tell it came from this Rampart and was not replayed from long ago.
//!
//! `Rampart-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! (the scheme Stripe made familiar): the timestamp is inside the MAC, so a
//! receiver rejecting old `t` values defeats replays.

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac as _};
use http::{Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

/// Connect, send and read the status within this; a slow receiver is retried.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

pub const SIGNATURE_HEADER: &str = "Rampart-Signature";

#[derive(Debug, thiserror::Error)]
pub(crate) enum WebhookError {
    #[error("bad webhook URL")]
    BadUrl,
    /// A 4xx other than 408/429: the receiver will not take it; not retried.
    #[error("the receiver answered {0}")]
    Refused(u16),
    #[error("the receiver answered {0}")]
    Status(u16),
    #[error("webhook delivery failed: {0}")]
    Transport(String),
    #[error("webhook delivery timed out")]
    Timeout,
}

impl WebhookError {
    pub(crate) fn is_permanent(&self) -> bool {
        matches!(self, WebhookError::BadUrl | WebhookError::Refused(_))
    }
}

/// The header value for `body` sent at `t` (unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(tag.len() * 2);
    for b in tag {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
    }
    format!("t={t},v1={hex}")
}

pub(crate) type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One client for the loop's life: it keeps connections to receivers.
pub(crate) fn client() -> HttpsClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

pub(crate) async fn post(
    client: &HttpsClient,
    url: &str,
    secret: &str,
    body: &str,
    now_secs: i64,
) -> Result<(), WebhookError> {
    let uri: http::Uri = url.parse().map_err(|_| WebhookError::BadUrl)?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(WebhookError::BadUrl);
    }
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "Rampart-Notify/1")
        .header(SIGNATURE_HEADER, signature(secret, now_secs, body))
        .body(Full::new(Bytes::from(body.to_owned())))
        .map_err(|_| WebhookError::BadUrl)?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| WebhookError::Transport(e.to_string()))?;
        let status = response.status();
        // Drain the answer so the connection can be reused.
        let _ = response.into_body().collect().await;
        Ok::<_, WebhookError>(status)
    };
    let status = tokio::time::timeout(WEBHOOK_TIMEOUT, exchange)
        .await
        .map_err(|_| WebhookError::Timeout)??;
    match status.as_u16() {
        200..=299 => Ok(()),
        code @ (408 | 429) => Err(WebhookError::Status(code)),
        code @ 400..=499 => Err(WebhookError::Refused(code)),
        code => Err(WebhookError::Status(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_time_dot_body() {
        // HMAC-SHA256("secret", "1700000000.{}") computed independently:
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        let sig = signature("secret", 1_700_000_000, "{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        assert_ne!(sig, signature("secret", 1_700_000_001, "{}"));
        assert_ne!(sig, signature("other", 1_700_000_000, "{}"));
    }
}
