//! The captcha widget's side, solved in Rust: what `api.js` does in a
//! browser (fetch a challenge for a sitekey, solve the proof of work, post
//! the solution) to get a response token.

use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_challenge::pow;
use serde_json::{Value, json};

use super::client::{Proto, Reply, send};

/// A JSON (or empty) request to the edge for `host`, as a browser sends it.
pub async fn edge_call(
    edge: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) WidgetTest/1.0",
        );
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    let request = builder
        .body(Full::new(body))
        .unwrap_or_else(|e| panic!("request: {e}"));
    send(edge, Proto::Http1, request).await
}

/// A response token for `sitekey` on `host`, with the page's `action`
/// ("" for none), as the widget would get it.
pub async fn token(edge: SocketAddr, host: &str, sitekey: &str, action: &str) -> String {
    let ch = edge_call(
        edge,
        host,
        "GET",
        &format!("/.rampart/captcha/v1/challenge?sitekey={sitekey}"),
        None,
    )
    .await;
    assert_eq!(ch.status, 200, "{}", ch.text());
    let challenge = ch.json()["challenge"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let nonce = pow::solve(&challenge, 1 << 24)
        .unwrap_or_else(|| panic!("no solution found"))
        .to_string();
    let mut solution = json!({ "sitekey": sitekey, "challenge": challenge, "nonce": nonce });
    if !action.is_empty() {
        solution["action"] = json!(action);
    }
    let solved = edge_call(
        edge,
        host,
        "POST",
        "/.rampart/captcha/v1/solve",
        Some(solution),
    )
    .await;
    assert_eq!(solved.status, 200, "{}", solved.text());
    solved.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
