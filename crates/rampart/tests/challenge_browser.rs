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
//! The solve-time measurement is `challenge_solve_times.rs`.

#[path = "support/browser.rs"]
mod browser;
mod support;

#[path = "support/challenge_web.rs"]
mod challenge_web;

use std::time::{Duration, Instant};

use browser::Browser;
use challenge_web::{
    HtmlOrigin, SECRET, SITEKEY, Seen, expect_log, require_browser, until, wait_origin_page,
};
use fantoccini::Locator;
use serde_json::json;
use support::Rampart;

const CLEARANCE: &str = "rampart_clearance";

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
