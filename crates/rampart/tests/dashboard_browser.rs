//! The dashboard in a real headless Chromium: sign in with the first-start
//! token, create an account and a site through the forms, see the site
//! proxied at the edge, send traffic and see the chart drawn with it, flip
//! under-attack mode, get a settings error next to its field, add a rule
//! (after its error) that blocks at the edge, and create a list.
//!
//! With `RAMPART_SCREENSHOTS=DIR` set, the pages are also saved as PNGs
//! there (that is how `docs/screenshots/` is made).

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use browser::Browser;
use serde_json::json;
use support::backends::{Backend, store_table};
use support::client::{Proto, get, send};
use support::{Rampart, origin};

const WIDE: u32 = 1280;
const PHONE: u32 = 360;

/// Polls `check` every 50 ms for up to `secs`; the page or the edge catches
/// up in its own time, and a fixed sleep would be either slow or flaky.
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn dashboard_end_to_end(backend: Backend) {
    if !Browser::available() {
        panic!("chromium and chromium-driver are not installed; scripts/test.sh installs them");
    }
    let shots: Option<PathBuf> = std::env::var_os("RAMPART_SCREENSHOTS")
        .filter(|_| backend == Backend::Sqlite)
        .map(PathBuf::from);
    let shop = origin::start("shop-origin").await;
    let rampart = Rampart::builder()
        .tables(&store_table(backend).await)
        .start();
    let api = rampart.admin_api();
    let token = api.token.clone().unwrap_or_default();
    let base = format!("http://{}", rampart.admin);
    let b = Browser::start().await;
    b.client
        .set_window_size(WIDE, 900)
        .await
        .unwrap_or_else(|e| panic!("resize: {e}"));

    // Sign in with the first-start token.
    b.goto(&format!("{base}/")).await;
    assert_eq!(b.path().await, "/login");
    if let Some(dir) = &shots {
        b.screenshot(dir, WIDE, "login").await;
    }
    b.fill("#f-token", &token).await;
    b.click("form:has(#f-token) button[type=submit]").await;
    until(10, "the sites page", || async {
        b.path().await == "/sites"
    })
    .await;
    assert!(b.text_of(".who").await.contains("admin@rampart.local"));

    // A new account, then a site in it through the form.
    b.fill("#f-account-name", "acme").await;
    b.click("form[action='/accounts'] button[type=submit]")
        .await;
    until(10, "the account's sites", || async {
        b.path().await.contains("done=account-created")
    })
    .await;
    assert!(
        b.text_of("[role=status]")
            .await
            .contains("account was created")
    );
    b.click("a.button[href^='/sites/new']").await;
    until(10, "the new site form", || async {
        b.exists("#f-name").await
    })
    .await;
    b.fill("#f-name", "shop").await;
    b.fill("#f-hosts", "shop.test").await;
    b.fill("#f-origins", &shop.url()).await;
    b.click("form[action='/sites/new'] button[type=submit]")
        .await;
    until(10, "the new site's page", || async {
        b.path().await.contains("done=site-created")
    })
    .await;
    assert_eq!(b.text_of("h1").await, "shop");
    let site_path = b
        .path()
        .await
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();

    // The edge serves it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
        if reply.status == 200 && reply.text().contains("shop-origin") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "shop.test is not proxied: {}",
            reply.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Traffic shows in the chart once the edge's counts are flushed.
    assert!(b.exists("#chart-empty").await || b.exists("#traffic-chart").await);
    for i in 0..30 {
        let path = if i % 3 == 0 { "/cart" } else { "/" };
        let reply = send(rampart.http, Proto::Http1, get("shop.test", path)).await;
        assert_eq!(reply.status, 200);
    }
    api.post("/-/flush-analytics", &json!({})).expect(200);
    b.goto(&format!("{base}{site_path}")).await;
    until(10, "the chart with data", || async {
        if b.exists("#traffic-chart").await {
            return true;
        }
        api.post("/-/flush-analytics", &json!({})).expect(200);
        let _ = b.client.refresh().await;
        false
    })
    .await;
    let total: u64 = b
        .text_of("#total-requests")
        .await
        .replace(',', "")
        .parse()
        .unwrap_or(0);
    assert!(total >= 30, "chart total {total}");
    let points = b
        .client
        .find(fantoccini::Locator::Css("#traffic-chart"))
        .await
        .unwrap_or_else(|e| panic!("chart: {e}"))
        .attr("data-points")
        .await
        .ok()
        .flatten();
    assert_eq!(points.as_deref(), Some("60"));
    // Not rendered, so not "text": read the DOM.
    let desc = b
        .client
        .find(fantoccini::Locator::Css("#chart-desc"))
        .await
        .unwrap_or_else(|e| panic!("chart description: {e}"))
        .prop("textContent")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    assert!(desc.contains(" requests, "), "{desc}");
    assert!(b.text_of("#top-title ~ .grid").await.contains("/cart"));
    if let Some(dir) = &shots {
        b.screenshot(dir, WIDE, "site").await;
        b.screenshot(dir, PHONE, "site-phone").await;
        b.client
            .set_window_size(WIDE, 900)
            .await
            .unwrap_or_else(|e| panic!("resize: {e}"));
    }
    b.click(".range a[href$='range=24h']").await;
    until(10, "the day range", || async {
        b.path().await.ends_with("range=24h")
    })
    .await;
    let points = b
        .client
        .find(fantoccini::Locator::Css("#traffic-chart"))
        .await
        .unwrap_or_else(|e| panic!("chart: {e}"))
        .attr("data-points")
        .await
        .ok()
        .flatten();
    assert_eq!(points.as_deref(), Some("1440"));

    // Under-attack mode, on and off again, from the keyboard-reachable button.
    assert!(b.text_of("#under-attack-state").await.starts_with("Off."));
    b.click("#under-attack-toggle").await;
    until(10, "under-attack on", || async {
        b.path().await.contains("done=under-attack-on")
    })
    .await;
    assert!(b.text_of("#under-attack-state").await.starts_with("On."));
    assert!(
        b.text_of("[role=status]")
            .await
            .contains("Under-attack mode is on")
    );
    let site = api.get("/api/v1/sites/shop").expect(200);
    assert_eq!(site["spec"]["under_attack"], true);
    assert!(b.text_of("#changes").await.contains("under_attack"));
    // The keyboard: Enter on the focused button.
    b.client
        .find(fantoccini::Locator::Css("#under-attack-toggle"))
        .await
        .unwrap_or_else(|e| panic!("toggle: {e}"))
        .send_keys(fantoccini::key::Key::Enter.to_string().as_str())
        .await
        .unwrap_or_else(|e| panic!("press Enter: {e}"));
    until(10, "under-attack off", || async {
        b.path().await.contains("done=under-attack-off")
    })
    .await;
    assert!(b.text_of("#under-attack-state").await.starts_with("Off."));

    // A bad value in the settings shows next to its field, input kept.
    b.click("a[href$='/settings']").await;
    until(10, "the settings form", || async {
        b.exists("#f-health_interval").await
    })
    .await;
    b.fill("#f-health_interval", "every now and then").await;
    b.click("form[action$='/settings'] button[type=submit]")
        .await;
    until(10, "the settings error", || async {
        b.exists("#f-health_interval-error").await
    })
    .await;
    assert!(
        b.text_of("#f-health_interval-error")
            .await
            .contains("invalid duration")
    );
    let field = b
        .client
        .find(fantoccini::Locator::Css("#f-health_interval"))
        .await
        .unwrap_or_else(|e| panic!("field: {e}"));
    assert_eq!(
        field.attr("aria-invalid").await.ok().flatten().as_deref(),
        Some("true")
    );
    assert_eq!(
        field.prop("value").await.ok().flatten().as_deref(),
        Some("every now and then")
    );
    assert!(b.text_of(".error-summary").await.contains("not saved"));
    if let Some(dir) = &shots {
        b.screenshot(dir, WIDE, "settings-error").await;
    }

    // Security: a rule with a bad expression gets the column next to the
    // field; fixed, it blocks at the edge.
    b.click("nav[aria-label=Site] a[href$='/security']").await;
    until(10, "the security page", || async {
        b.exists("#rule-form").await
    })
    .await;
    b.fill("#f-id", "no-blocked").await;
    b.fill("#f-expression", "http.request.uri.path eq").await;
    b.click("#rule-form button[type=submit]").await;
    until(10, "the rule error", || async {
        b.exists("#f-expression-error").await
    })
    .await;
    assert!(b.text_of("#f-expression-error").await.contains("column"));
    assert!(b.text_of(".error-summary").await.contains("not saved"));
    b.fill("#f-expression", "http.request.uri.path eq \"/blocked\"")
        .await;
    b.click("#rule-form button[type=submit]").await;
    until(10, "the rule saved", || async {
        b.path().await.contains("done=security-saved")
    })
    .await;
    assert!(b.text_of("#rules").await.contains("no-blocked"));
    until(2, "the rule at the edge", || async {
        send(rampart.http, Proto::Http1, get("shop.test", "/blocked"))
            .await
            .status
            == 403
    })
    .await;
    if let Some(dir) = &shots {
        b.screenshot(dir, WIDE, "security").await;
    }
    b.click("nav[aria-label=Main] a[href='/lists']").await;
    until(10, "the lists page", || async {
        b.exists("#new-list").await
    })
    .await;
    b.fill("#f-name", "office").await;
    b.fill("#f-entries", "192.0.2.0/24\n2001:db8::/32").await;
    b.click("#new-list button[type=submit]").await;
    until(10, "the list created", || async {
        b.exists("#list-office").await
    })
    .await;
    assert!(b.text_of("#list-office").await.contains("2"));
    if let Some(dir) = &shots {
        b.screenshot(dir, WIDE, "lists").await;
    }

    // Sites list and tokens page.
    b.goto(&format!("{base}/sites")).await;
    assert!(b.text_of("#sites").await.contains("shop.test"));
    // The first Tab reaches the skip link, which moves focus to the content.
    let body = b
        .client
        .find(fantoccini::Locator::Css("body"))
        .await
        .unwrap_or_else(|e| panic!("body: {e}"));
    body.send_keys(fantoccini::key::Key::Tab.to_string().as_str())
        .await
        .unwrap_or_else(|e| panic!("press Tab: {e}"));
    let focused = b
        .client
        .active_element()
        .await
        .unwrap_or_else(|e| panic!("focus: {e}"));
    assert_eq!(focused.text().await.unwrap_or_default(), "Skip to content");
    focused
        .send_keys(fantoccini::key::Key::Enter.to_string().as_str())
        .await
        .unwrap_or_else(|e| panic!("press Enter: {e}"));
    let focused = b
        .client
        .active_element()
        .await
        .unwrap_or_else(|e| panic!("focus: {e}"));
    assert_eq!(
        focused.attr("id").await.ok().flatten().as_deref(),
        Some("main")
    );
    if let Some(dir) = &shots {
        b.screenshot(dir, WIDE, "sites").await;
        b.screenshot(dir, PHONE, "sites-phone").await;
        b.client
            .set_window_size(WIDE, 900)
            .await
            .unwrap_or_else(|e| panic!("resize: {e}"));
    }
    b.click("nav[aria-label=Main] a[href='/tokens']").await;
    until(10, "the tokens page", || async {
        b.exists("#tokens").await
    })
    .await;
    assert!(b.text_of("#tokens").await.contains("first start"));
    if let Some(dir) = &shots {
        b.screenshot(dir, WIDE, "tokens").await;
    }

    // Sign out.
    b.click(".who button[type=submit]").await;
    until(10, "the sign-in page", || async {
        b.path().await.starts_with("/login")
    })
    .await;
    assert!(b.text_of("[role=status]").await.contains("signed out"));
    b.goto(&format!("{base}/sites")).await;
    assert!(b.path().await.starts_with("/login"));
    b.close().await;
}

on_both_backends!(dashboard_end_to_end);
