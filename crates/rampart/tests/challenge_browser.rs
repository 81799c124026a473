//! The challenge and the captcha in a real headless Chromium (Debian's
//! `chromium` under `chromium-driver`), against the real binary and an
//! in-test origin that serves HTML pages: the interstitial's own scripts
//! solve the proof of work in Web Workers and the origin page appears; a
//! reload keeps the clearance; a tampered, deleted or other site's cookie
//! brings the interstitial back; the captcha widget solves on the origin's
//! form and the origin's backend verifies the token through siteverify;
//! with JavaScript off, the no-JavaScript fallback lets the browser through
//! at low threat; the interstitial has the accessibility basics, and an
//! interactive one waits for a press of its focused button (Enter will do).
//! Plus the real `curl`, which never reaches the origin of a challenged
//! page.
//!
//! The protocol side (answers computed in Rust) is `challenge_flow.rs`.
//!
//! Sites are `*.localhost` names: Chromium resolves them to loopback by
//! itself, so the URLs are `http://shop.localhost:<edge port>/…`.
//!
//! With `RAMPART_SOLVE_BENCH=FILE` set, `solve_times_when_asked` measures
//! how long the interstitial takes at several difficulties and writes a
//! Markdown table to FILE (`bench/challenge-solve.sh` runs it); unset, it
//! returns at once.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use browser::Browser;
use bytes::Bytes;
use fantoccini::Locator;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use support::Rampart;
use support::client::{Proto, send};
use support::origin::{self, OriginBody, TestOrigin, full};

const SECRET: &str = "rs_browser-secret-0123456789abcdefghijkl";
const SITEKEY: &str = "rk_browser_contact";
const CLEARANCE: &str = "rampart_clearance";

/// One request as the origin received it.
#[derive(Clone, Debug)]
struct Seen {
    host: String,
    path: String,
    cookie: String,
    at: Instant,
}

/// An origin that answers HTML pages with a marker, serves a form with the
/// captcha widget, and verifies the widget's token through the edge's
/// siteverify like a site's backend would.
struct HtmlOrigin {
    server: TestOrigin,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The edge's HTTP address, known once Rampart is up.
    edge: Arc<OnceLock<SocketAddr>>,
}

impl HtmlOrigin {
    async fn start() -> Self {
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

    fn url(&self) -> String {
        self.server.url()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

async fn serve(
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

fn html(text: String) -> Response<OriginBody> {
    let mut response = Response::new(full(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The site's backend asks the edge, as it would ask Turnstile.
async fn siteverify(edge: SocketAddr, host: &str, secret: &str, token: &str) -> Value {
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
fn summary(v: &Value) -> String {
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
const CONTACT_PAGE: &str = r#"<!DOCTYPE html>
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

fn sites(origin: &str) -> String {
    format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.localhost"]
origins = ["{origin}"]

[site.challenge]
difficulty = {{ low = 10, medium = 12, high = 14 }}

[[site.rules]]
id = "guard"
expression = 'starts_with(http.request.uri.path, "/guarded")'
action = "challenge"
challenge = "js"

[[site.rules]]
id = "press"
expression = 'starts_with(http.request.uri.path, "/hard")'
action = "challenge"
challenge = "interactive"

[[site.captcha]]
sitekey = "{SITEKEY}"
secret = "{SECRET}"
hostnames = ["shop.localhost"]

[[site]]
name = "blog"
hosts = ["blog.localhost"]
origins = ["{origin}"]

[site.challenge]
difficulty = {{ low = 10, medium = 12, high = 14 }}

[[site.rules]]
id = "guard"
expression = 'starts_with(http.request.uri.path, "/guarded")'
action = "challenge"
challenge = "js"

[[site]]
name = "calm"
hosts = ["calm.localhost"]
origins = ["{origin}"]
security_level = "low"

[site.challenge]
difficulty = {{ low = 10, medium = 12, high = 14 }}

[[site.rules]]
id = "all"
expression = "true"
action = "challenge"
"#
    )
}

async fn start() -> (HtmlOrigin, Rampart) {
    let origin = HtmlOrigin::start().await;
    let rampart = Rampart::builder().sites(&sites(&origin.url())).start();
    let _ = origin.edge.set(rampart.http);
    (origin, rampart)
}

fn require_browser() {
    if !Browser::available() {
        panic!("chromium and chromium-driver are not installed; scripts/test.sh installs them");
    }
}

/// Polls `check` every 25 ms for up to `secs`.
async fn until<F, Fut>(secs: u64, what: &str, mut check: F)
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
async fn origin_marker(b: &Browser) -> String {
    match b.client.find(Locator::Css("#origin-page")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_origin_page(b: &Browser, path: &str) {
    let want = format!("origin {path}");
    until(60, &want, || async { origin_marker(b).await == want }).await;
}

/// Access-log lines of `host` matching `method`, `path` and `status`.
fn count_lines(lines: &[Value], host: &str, method: &str, path: &str, status: u16) -> usize {
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
fn expect_log(rampart: &Rampart, host: &str, method: &str, path: &str, status: u16, n: usize) {
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

async fn clearance_value(b: &Browser) -> String {
    b.client
        .get_named_cookie(CLEARANCE)
        .await
        .unwrap_or_else(|e| panic!("no clearance cookie: {e}"))
        .value()
        .to_string()
}

/// Replaces the current site's clearance cookie with one of value
/// `value`. WebDriver's add-cookie always makes a domain cookie, which
/// would sit beside the edge's host-only one; the page's own
/// `document.cookie` makes a host-only cookie the edge's next Set-Cookie
/// replaces, as it would replace a cookie an attacker planted.
async fn set_clearance(b: &Browser, value: &str) {
    b.client
        .delete_cookie(CLEARANCE)
        .await
        .unwrap_or_else(|e| panic!("delete cookie: {e}"));
    b.client
        .execute(
            "document.cookie = arguments[0] + '=' + arguments[1] + '; path=/; samesite=lax';",
            vec![json!(CLEARANCE), json!(value)],
        )
        .await
        .unwrap_or_else(|e| panic!("set cookie: {e}"));
    assert_eq!(clearance_value(b).await, value);
}

/// Every cookie of that name the browser holds for the current page.
async fn clearances(b: &Browser) -> Vec<String> {
    b.client
        .get_all_cookies()
        .await
        .unwrap_or_else(|e| panic!("cookies: {e}"))
        .iter()
        .filter(|c| c.name() == CLEARANCE)
        .map(|c| c.value().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_solves_the_interstitial_and_keeps_its_clearance_until_the_cookie_is_bad() {
    require_browser();
    let (origin, rampart) = start().await;
    let shop = format!("http://shop.localhost:{}", rampart.http.port());
    let blog = format!("http://blog.localhost:{}", rampart.http.port());
    let b = Browser::start().await;

    // First visit: the interstitial, solved by its own scripts, then the
    // page asked for, query included.
    b.goto(&format!("{shop}/guarded/page?x=1")).await;
    wait_origin_page(&b, "/guarded/page").await;
    assert_eq!(b.path().await, "/guarded/page?x=1");
    expect_log(&rampart, "shop.localhost", "GET", "/guarded/page", 403, 1);
    expect_log(
        &rampart,
        "shop.localhost",
        "POST",
        "/.rampart/challenge/v1/verify",
        303,
        1,
    );
    let first = clearance_value(&b).await;
    assert!(first.starts_with("c1."), "{first}");
    let guarded: Vec<Seen> = origin
        .seen()
        .into_iter()
        .filter(|s| s.path.starts_with("/guarded"))
        .collect();
    assert_eq!(guarded.len(), 1, "{guarded:?}");
    assert!(
        guarded[0].cookie.contains(&format!("{CLEARANCE}={first}")),
        "the origin was reached without the clearance: {guarded:?}"
    );

    // A reload and another guarded page: straight to the origin.
    b.client
        .refresh()
        .await
        .unwrap_or_else(|e| panic!("reload: {e}"));
    wait_origin_page(&b, "/guarded/page").await;
    b.goto(&format!("{shop}/guarded/other")).await;
    wait_origin_page(&b, "/guarded/other").await;
    expect_log(&rampart, "shop.localhost", "GET", "/guarded/page", 200, 2);
    expect_log(&rampart, "shop.localhost", "GET", "/guarded/other", 200, 1);
    expect_log(&rampart, "shop.localhost", "GET", "/guarded/page", 403, 1);
    expect_log(
        &rampart,
        "shop.localhost",
        "POST",
        "/.rampart/challenge/v1/verify",
        303,
        1,
    );

    // One character of the cookie changed: the interstitial again (it
    // solves again, so the page still comes, with a new clearance).
    let mut tampered = first.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8_lossy(&tampered).into_owned();
    set_clearance(&b, &tampered).await;
    b.goto(&format!("{shop}/guarded/page")).await;
    wait_origin_page(&b, "/guarded/page").await;
    expect_log(&rampart, "shop.localhost", "GET", "/guarded/page", 403, 2);
    expect_log(
        &rampart,
        "shop.localhost",
        "POST",
        "/.rampart/challenge/v1/verify",
        303,
        2,
    );
    let now = clearances(&b).await;
    assert!(
        now.len() == 1 && now[0] != tampered,
        "a new clearance should replace the bad one: {now:?}"
    );

    // No cookie at all: the interstitial again.
    b.client
        .delete_cookie(CLEARANCE)
        .await
        .unwrap_or_else(|e| panic!("delete cookie: {e}"));
    b.goto(&format!("{shop}/guarded/page")).await;
    wait_origin_page(&b, "/guarded/page").await;
    expect_log(&rampart, "shop.localhost", "GET", "/guarded/page", 403, 3);
    expect_log(
        &rampart,
        "shop.localhost",
        "POST",
        "/.rampart/challenge/v1/verify",
        303,
        3,
    );

    // A clearance the same browser won on another site is worth nothing
    // here.
    b.goto(&format!("{blog}/guarded/post")).await;
    wait_origin_page(&b, "/guarded/post").await;
    expect_log(
        &rampart,
        "blog.localhost",
        "POST",
        "/.rampart/challenge/v1/verify",
        303,
        1,
    );
    let blogs = clearance_value(&b).await;
    b.goto(&format!("{shop}/open")).await;
    wait_origin_page(&b, "/open").await;
    set_clearance(&b, &blogs).await;
    b.goto(&format!("{shop}/guarded/page")).await;
    wait_origin_page(&b, "/guarded/page").await;
    expect_log(&rampart, "shop.localhost", "GET", "/guarded/page", 403, 4);
    expect_log(
        &rampart,
        "shop.localhost",
        "POST",
        "/.rampart/challenge/v1/verify",
        303,
        4,
    );

    // Whatever the browser held, the origin only ever saw valid clearances
    // on guarded pages.
    for s in origin.seen() {
        if s.path.starts_with("/guarded") {
            assert!(
                !s.cookie.contains(&tampered),
                "the tampered cookie reached the origin: {s:?}"
            );
            if s.host.starts_with("shop.") {
                assert!(
                    !s.cookie.contains(&format!("{CLEARANCE}={blogs}")),
                    "blog's cookie let a shop page through: {s:?}"
                );
            }
        }
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interstitial_has_the_accessibility_basics_and_an_interactive_check_starts_from_the_keyboard()
 {
    require_browser();
    let (origin, rampart) = start().await;
    let shop = format!("http://shop.localhost:{}", rampart.http.port());
    let b = Browser::start().await;

    // "/hard" is an interactive challenge: the page waits for a press, so
    // it can be looked at without racing the work.
    b.goto(&format!("{shop}/hard/page")).await;
    until(30, "the start button", || async {
        b.text_of("#rp-msg").await.contains("Verify you are human")
    })
    .await;
    let lang = b.attr_of("html", "lang").await.unwrap_or_default();
    assert!(!lang.is_empty(), "<html> has no lang");
    let title = b
        .client
        .title()
        .await
        .unwrap_or_else(|e| panic!("title: {e}"));
    assert!(!title.is_empty(), "the page has no title");
    assert!(b.exists("main h1").await, "no main heading");
    assert_eq!(
        b.attr_of("#rp-status", "role").await.as_deref(),
        Some("status")
    );
    assert_eq!(
        b.attr_of("#rp-status", "aria-live").await.as_deref(),
        Some("polite")
    );
    assert!(
        b.attr_of("#rp-progress", "aria-label")
            .await
            .is_some_and(|l| !l.is_empty()),
        "the progress bar has no accessible name"
    );
    assert_eq!(
        b.attr_of(".spin", "aria-hidden").await.as_deref(),
        Some("true"),
        "the spinner is decoration"
    );
    // The button is a real button, shown, and has the focus, so Enter
    // starts the check.
    let focused = b
        .client
        .active_element()
        .await
        .unwrap_or_else(|e| panic!("active element: {e}"));
    assert_eq!(
        focused.attr("id").await.ok().flatten().as_deref(),
        Some("rp-start"),
        "the start button should have the focus"
    );
    assert_eq!(focused.tag_name().await.ok().as_deref(), Some("button"));
    assert!(focused.is_displayed().await.unwrap_or(false));
    // Nothing was worked on or sent while the page waited.
    let progress = b
        .client
        .execute(
            "return document.getElementById('rp-progress').value",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("progress: {e}"));
    assert_eq!(progress, json!(0));
    expect_log(
        &rampart,
        "shop.localhost",
        "POST",
        "/.rampart/challenge/v1/verify",
        303,
        0,
    );
    focused
        .send_keys("\u{E007}")
        .await
        .unwrap_or_else(|e| panic!("press Enter: {e}"));
    wait_origin_page(&b, "/hard/page").await;
    expect_log(&rampart, "shop.localhost", "GET", "/hard/page", 403, 1);
    expect_log(
        &rampart,
        "shop.localhost",
        "POST",
        "/.rampart/challenge/v1/verify",
        303,
        1,
    );
    assert_eq!(
        origin
            .seen()
            .iter()
            .filter(|s| s.path == "/hard/page")
            .count(),
        1
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_captcha_widget_token_is_verified_by_the_origin_through_siteverify() {
    require_browser();
    let (origin, rampart) = start().await;
    let shop = format!("http://shop.localhost:{}", rampart.http.port());
    let b = Browser::start().await;

    b.goto(&format!("{shop}/contact")).await;
    until(60, "the widget's callback", || async {
        b.text_of("#state").await == "verified"
    })
    .await;
    let rampart_field = b
        .attr_of("input[name='rampart-captcha-response']", "value")
        .await
        .unwrap_or_default();
    let turnstile_field = b
        .attr_of("input[name='cf-turnstile-response']", "value")
        .await
        .unwrap_or_default();
    assert!(!rampart_field.is_empty(), "the widget filled no token");
    assert_eq!(rampart_field, turnstile_field);
    // The widget's own status line is a live region too.
    assert_eq!(
        b.attr_of(".rmpc-status", "role").await.as_deref(),
        Some("status")
    );
    assert!(b.text_of(".rmpc-box").await.contains("Success"));

    b.click("#send").await;
    until(30, "the origin's answer", || async {
        b.exists("#first").await
    })
    .await;
    assert_eq!(b.text_of("#fields").await, "same");
    assert_eq!(b.text_of("#wrong").await, "false|invalid-input-secret");
    assert_eq!(b.text_of("#first").await, "true|shop.localhost|contact");
    assert_eq!(b.text_of("#again").await, "false|timeout-or-duplicate");
    assert_eq!(b.text_of("#message").await, "hello from the browser");
    assert!(
        origin.seen().iter().any(|s| s.path == "/contact/send"),
        "the form never reached the origin"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_the_fallback_lets_a_browser_through_at_low_threat_only() {
    require_browser();
    let (origin, rampart) = start().await;
    let port = rampart.http.port();
    let b = Browser::start_with(
        &[],
        json!({ "profile.managed_default_content_settings.javascript": 2 }),
    )
    .await;

    // The medium ("js") challenge on shop offers no way around the work:
    // the page says to turn JavaScript on and does not move.
    b.goto(&format!("http://shop.localhost:{port}/guarded/page"))
        .await;
    assert!(b.exists("#rp-status").await, "not the interstitial");
    assert!(
        !b.exists("meta[http-equiv='refresh']").await,
        "a medium challenge must not offer the no-JavaScript fallback"
    );
    let main = b.text_of("main").await;
    assert!(main.contains("JavaScript"), "{main}");
    // JavaScript really is off: the script never touched the status.
    let status = b
        .client
        .find(Locator::Css("#rp-msg"))
        .await
        .unwrap_or_else(|e| panic!("status: {e}"))
        .prop("textContent")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    assert_eq!(status, "Starting the check…");

    // calm is security_level = low: its managed challenge offers the
    // fallback, a meta refresh after 4 s paired with a cookie.
    let started = Instant::now();
    b.goto(&format!("http://calm.localhost:{port}/article"))
        .await;
    let shown = b.text_of("main").await;
    assert!(shown.contains("continues by itself"), "{shown}");
    wait_origin_page(&b, "/article").await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(4),
        "through after {waited:?}, before the fallback's wait"
    );
    assert_eq!(b.path().await, "/article");
    // The clearance holds for the next page.
    b.goto(&format!("http://calm.localhost:{port}/next")).await;
    wait_origin_page(&b, "/next").await;
    expect_log(&rampart, "calm.localhost", "GET", "/next", 200, 1);
    expect_log(&rampart, "calm.localhost", "GET", "/next", 403, 0);
    assert!(
        origin
            .seen()
            .iter()
            .filter(|s| s.host.starts_with("shop."))
            .all(|s| !s.path.starts_with("/guarded")),
        "a browser without JavaScript reached a js-challenged page"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_without_a_cookie_never_reaches_the_origin_of_a_challenged_page() {
    let (origin, rampart) = start().await;
    let port = rampart.http.port();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let jar = dir.path().join("jar");
    let curl = |extra: &[&str], path: &str| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", "-D", "-"])
            .arg("--resolve")
            .arg(format!("shop.localhost:{port}:127.0.0.1"))
            .args(extra)
            .arg(format!("http://shop.localhost:{port}{path}"))
            .output()
            .unwrap_or_else(|e| panic!("curl (scripts/test.sh installs it): {e}"));
        assert!(out.status.success(), "curl: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let status_of = |reply: &str| -> u16 {
        reply
            .lines()
            .rfind(|l| l.starts_with("HTTP/"))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };

    let plain = curl(&[], "/guarded/page");
    assert_eq!(status_of(&plain), 403, "{plain}");
    assert!(
        plain.to_ascii_lowercase().contains("rampart-challenge: 1"),
        "{plain}"
    );
    assert!(plain.contains("id=\"rampart-challenge\""), "{plain}");
    assert!(!plain.contains("origin /guarded"), "{plain}");

    // Following redirects and keeping cookies changes nothing: the page
    // wants work done in JavaScript.
    let jar_arg = jar.display().to_string();
    let browserish = curl(
        &["-L", "-c", &jar_arg, "-b", &jar_arg, "-A", "Mozilla/5.0"],
        "/guarded/page",
    );
    assert_eq!(status_of(&browserish), 403, "{browserish}");
    let again = curl(&["-b", &jar_arg], "/guarded/page");
    assert_eq!(status_of(&again), 403);
    // A form post gets the plain refusal, not the page.
    let post = curl(&["-d", "a=1"], "/guarded/form");
    assert_eq!(status_of(&post), 403, "{post}");
    assert!(post.contains("web browser"), "{post}");
    // A made-up answer buys nothing either.
    let forged = curl(
        &[
            "-d",
            "challenge=x&nonce=1&return=/guarded/page",
            "-c",
            &jar_arg,
        ],
        "/.rampart/challenge/v1/verify",
    );
    assert_eq!(status_of(&forged), 403, "{forged}");
    assert!(
        !forged
            .to_ascii_lowercase()
            .contains("set-cookie: rampart_clearance")
    );

    // The open part of the site is served, so the origin is reachable.
    let open = curl(&[], "/open");
    assert_eq!(status_of(&open), 200, "{open}");
    assert!(open.contains("origin /open"));
    let seen = origin.seen();
    assert!(
        seen.iter().all(|s| s.path == "/open"),
        "the origin saw more than the open page: {seen:?}"
    );
    assert_eq!(seen.len(), 1);
}

// ---- solve-time measurement (RAMPART_SOLVE_BENCH=FILE) ----

/// One configuration measured: a site whose every level is `difficulty`.
struct Case {
    label: &'static str,
    algorithm: &'static str,
    difficulty: u8,
    runs: usize,
}

fn bench_cases(runs_scale: f64) -> Vec<Case> {
    let n = |base: usize| ((base as f64 * runs_scale).round() as usize).max(3);
    vec![
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 12,
            runs: n(20),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 14,
            runs: n(20),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 16,
            runs: n(20),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 18,
            runs: n(20),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 20,
            runs: n(15),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 22,
            runs: n(10),
        },
        Case {
            label: "scrypt N=2^12 (config default)",
            algorithm: "scrypt12",
            difficulty: 3,
            runs: n(10),
        },
        Case {
            label: "scrypt N=2^12 (config default)",
            algorithm: "scrypt12",
            difficulty: 5,
            runs: n(10),
        },
        Case {
            label: "scrypt N=2^10",
            algorithm: "scrypt10",
            difficulty: 3,
            runs: n(10),
        },
        Case {
            label: "scrypt N=2^10",
            algorithm: "scrypt10",
            difficulty: 5,
            runs: n(10),
        },
    ]
}

fn bench_site(i: usize, case: &Case, origin: &str) -> String {
    let algorithm = match case.algorithm {
        "scrypt12" => "algorithm = \"scrypt\"\nscrypt = { n_log2 = 12, r = 8, p = 1 }\n",
        "scrypt10" => "algorithm = \"scrypt\"\nscrypt = { n_log2 = 10, r = 8, p = 1 }\n",
        _ => "algorithm = \"sha256\"\n",
    };
    let d = case.difficulty;
    format!(
        r#"
[[site]]
name = "bench{i}"
hosts = ["bench{i}.localhost"]
origins = ["{origin}"]

[site.challenge]
{algorithm}difficulty = {{ low = {d}, medium = {d}, high = {d} }}

[[site.rules]]
id = "bench"
expression = 'starts_with(http.request.uri.path, "/bench")'
action = "challenge"
challenge = "js"
"#
    )
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solve_times_when_asked() {
    let Some(out) = std::env::var_os("RAMPART_SOLVE_BENCH") else {
        return;
    };
    require_browser();
    let scale: f64 = std::env::var("RAMPART_SOLVE_RUNS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let only: Option<String> = std::env::var("RAMPART_SOLVE_ONLY").ok();
    let cases: Vec<Case> = bench_cases(scale)
        .into_iter()
        .filter(|c| {
            only.as_deref().is_none_or(|o| {
                o.split(',')
                    .any(|w| w == format!("{}:{}", c.algorithm, c.difficulty))
            })
        })
        .collect();
    let origin = HtmlOrigin::start().await;
    let mut toml = String::new();
    for (i, case) in cases.iter().enumerate() {
        toml.push_str(&bench_site(i, case, &origin.url()));
    }
    let rampart = Rampart::builder().sites(&toml).start();
    let port = rampart.http.port();
    let b = Browser::start().await;

    // Warm-up: the browser's first navigation and worker start-up are not
    // what a visitor pays on a warm browser; one solve at the easiest site.
    b.goto(&format!("http://bench0.localhost:{port}/bench-warmup"))
        .await;
    wait_origin_page(&b, "/bench-warmup").await;
    b.client
        .delete_all_cookies()
        .await
        .unwrap_or_else(|e| panic!("delete cookies: {e}"));

    let mut report = String::from(
        "| algorithm | difficulty (bits) | expected tries | runs | median ms | p90 ms | min ms | max ms | mean ms |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut raw = String::new();
    for (i, case) in cases.iter().enumerate() {
        let host = format!("bench{i}.localhost");
        let mut samples = Vec::with_capacity(case.runs);
        for run in 0..case.runs {
            let path = format!("/bench-{run}");
            let url = format!("http://{host}:{port}{path}");
            let t0 = Instant::now();
            b.goto(&url).await;
            wait_origin_page(&b, &path).await;
            let at = origin
                .seen()
                .iter()
                .find(|s| s.path == path && s.host.starts_with(&host))
                .map(|s| s.at)
                .unwrap_or_else(|| panic!("the origin never saw {path}"));
            samples.push(at.duration_since(t0).as_secs_f64() * 1000.0);
            // The next run is a fresh visitor: no clearance from this one.
            b.client
                .delete_all_cookies()
                .await
                .unwrap_or_else(|e| panic!("delete cookies: {e}"));
        }
        let mut sorted = samples.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        let tries = 1u64 << case.difficulty;
        report.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |\n",
            case.label,
            case.difficulty,
            tries,
            case.runs,
            median(&sorted),
            percentile(&sorted, 90.0),
            sorted[0],
            sorted[sorted.len() - 1],
            mean,
        ));
        raw.push_str(&format!(
            "{} d={}: {}\n",
            case.label,
            case.difficulty,
            samples
                .iter()
                .map(|s| format!("{s:.0}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        eprintln!("{} d={} done", case.label, case.difficulty);
    }
    b.close().await;
    let text = format!("{report}\nRaw samples (ms, in run order):\n\n```\n{raw}```\n");
    std::fs::write(&out, text).unwrap_or_else(|e| panic!("write {out:?}: {e}"));
}
