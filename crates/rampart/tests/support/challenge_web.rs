//! Shared by the browser tests of challenges (`challenge_browser.rs`) and
//! the solve-time measurement (`challenge_solve_times.rs`): an origin that
//! serves HTML pages with a marker, a contact form with the captcha widget
//! and a backend that verifies its token through the edge's siteverify;
//! waiting for pages; counting access-log lines.
//!
//! Included with `#[path]` next to `support/browser.rs`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fantoccini::Locator;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;

use crate::browser::Browser;
use crate::support::Rampart;
use crate::support::client::{Proto, send};
use crate::support::origin::{self, OriginBody, TestOrigin, full};

pub const SECRET: &str = "rs_browser-secret-0123456789abcdefghijkl";
pub const SITEKEY: &str = "rk_browser_contact";

/// One request as the origin received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub host: String,
    pub path: String,
    pub cookie: String,
    pub at: Instant,
}

/// An origin that answers HTML pages with a marker, serves a form with the
/// captcha widget, and verifies the widget's token through the edge's
/// siteverify like a site's backend would.
pub struct HtmlOrigin {
    pub server: TestOrigin,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// The edge's HTTP address, known once Rampart is up.
    pub edge: Arc<OnceLock<SocketAddr>>,
}

impl HtmlOrigin {
    pub async fn start() -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let edge: Arc<OnceLock<SocketAddr>> = Arc::default();
        let (seen2, edge2) = (seen.clone(), edge.clone());
        let server = origin::builder("html")
            .handler(move |req: Request<Incoming>| {
                let (seen, edge) = (seen2.clone(), edge2.clone());
                async move { serve(req, &seen, &edge).await }
            })
            .start()
            .await;
        Self { server, seen, edge }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

pub async fn serve(
    req: Request<Incoming>,
    seen: &Mutex<Vec<Seen>>,
    edge: &OnceLock<SocketAddr>,
) -> Response<OriginBody> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let record = Seen {
        host: header("host"),
        path: req.uri().path().to_string(),
        cookie: header("cookie"),
        at: Instant::now(),
    };
    if let Ok(mut s) = seen.lock() {
        s.push(record.clone());
    }
    let host = record
        .host
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string();
    match (req.method().as_str(), record.path.as_str()) {
        ("GET", "/contact") => html(CONTACT_PAGE.replace("{{sitekey}}", SITEKEY)),
        ("POST", "/contact/send") => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).unwrap_or_default();
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let token = field("rampart-captcha-response");
            let same = !token.is_empty() && token == field("cf-turnstile-response");
            let Some(edge) = edge.get().copied() else {
                return html("<p id=\"wrong\">no edge</p>".to_string());
            };
            // A wrong secret first (it must not use the token up), then the
            // real verification, then the same token again.
            let wrong = siteverify(
                edge,
                &host,
                "rs_wrong-secret-0000000000000000000000",
                &token,
            )
            .await;
            let first = siteverify(edge, &host, SECRET, &token).await;
            let again = siteverify(edge, &host, SECRET, &token).await;
            html(format!(
                "<!DOCTYPE html><html lang=\"en\"><head><title>Sent</title></head><body>\
                 <p id=\"fields\">{}</p><p id=\"wrong\">{}</p><p id=\"first\">{}</p><p id=\"again\">{}</p>\
                 <p id=\"message\">{}</p></body></html>",
                if same { "same" } else { "different" },
                summary(&wrong),
                summary(&first),
                summary(&again),
                field("message"),
            ))
        }
        _ => html(format!(
            "<!DOCTYPE html><html lang=\"en\"><head><title>Origin</title></head>\
             <body><h1 id=\"origin-page\">origin {}</h1></body></html>",
            record.path
        )),
    }
}

pub fn html(text: String) -> Response<OriginBody> {
    let mut response = Response::new(full(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The site's backend asks the edge, as it would ask Turnstile.
pub async fn siteverify(edge: SocketAddr, host: &str, secret: &str, token: &str) -> Value {
    let body = serde_urlencoded::to_string([
        ("secret", secret),
        ("response", token),
        ("remoteip", "127.0.0.1"),
    ])
    .unwrap_or_default();
    let request = Request::post("/.rampart/captcha/v1/siteverify")
        .header("host", host)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|e| panic!("request: {e}"));
    send(edge, Proto::Http1, request).await.json()
}

/// `success|hostname|action` or `false|error-codes`.
pub fn summary(v: &Value) -> String {
    if v["success"] == true {
        format!(
            "true|{}|{}",
            v["hostname"].as_str().unwrap_or_default(),
            v["action"].as_str().unwrap_or_default()
        )
    } else {
        let codes: Vec<&str> = v["error-codes"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        format!("false|{}", codes.join(","))
    }
}

/// A contact form as a site would write it for Turnstile, with Rampart's
/// script and class (plus `cf-turnstile`, so the Turnstile field is filled
/// too).
pub const CONTACT_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Contact</title>
<script src="/.rampart/captcha/v1/api.js" async defer></script>
<script>function onVerified(token) { document.getElementById("state").textContent = "verified"; }</script>
</head><body>
<form id="contact" method="post" action="/contact/send">
<label>Message <input name="message" value="hello from the browser"></label>
<div class="rampart-captcha cf-turnstile" data-sitekey="{{sitekey}}" data-mode="non-interactive"
     data-action="contact" data-callback="onVerified"></div>
<button type="submit" id="send">Send</button>
</form>
<p id="state">waiting</p>
</body></html>"#;

pub fn require_browser() {
    if !Browser::available() {
        panic!("chromium and chromium-driver are not installed; scripts/test.sh installs them");
    }
}

/// Polls `check` every 25 ms for up to `secs`.
pub async fn until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out after {secs} s waiting for {what}");
}

/// The text of the origin's marker, or "" while another page is shown.
pub async fn origin_marker(b: &Browser) -> String {
    match b.client.find(Locator::Css("#origin-page")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub async fn wait_origin_page(b: &Browser, path: &str) {
    let want = format!("origin {path}");
    until(60, &want, || async { origin_marker(b).await == want }).await;
}

/// Access-log lines of `host` matching `method`, `path` and `status`.
pub fn count_lines(lines: &[Value], host: &str, method: &str, path: &str, status: u16) -> usize {
    lines
        .iter()
        .filter(|l| {
            l["host"].as_str().is_some_and(|h| h.starts_with(host))
                && l["method"] == method
                && l["path"]
                    .as_str()
                    .is_some_and(|p| p.split('?').next() == Some(path))
                && l["status"] == status
        })
        .count()
}

/// Waits until the access log holds exactly `n` lines of that kind (the
/// writer flushes every 100 ms), and fails if it holds another number.
pub fn expect_log(rampart: &Rampart, host: &str, method: &str, path: &str, status: u16, n: usize) {
    let lines = rampart.access_log_until(|l| count_lines(l, host, method, path, status) >= n);
    assert_eq!(
        count_lines(&lines, host, method, path, status),
        n,
        "{method} {host}{path} → {status}; the log:\n{}",
        lines
            .iter()
            .map(|l| format!(
                "{} {} {} {} {}",
                l["method"], l["host"], l["path"], l["status"], l["rule"]
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
