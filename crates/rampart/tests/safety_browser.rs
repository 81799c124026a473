//! The trust & safety loop in a real headless Chromium, end to end on the
//! real binary: a visitor reports a site through the public form at
//! `/.rampart/abuse` (behind Rampart's own check, which the page's scripts
//! pass, and with the form's captcha widget, whose token the form redeems),
//! an agent finds the report in the urgent queue, suspends the site,
//! and the next visit shows the suspension page within a second; lifting the
//! decision brings the site back as fast.

#[path = "support/browser.rs"]
mod browser;
mod support;

#[path = "support/challenge_web.rs"]
mod challenge_web;

use std::time::{Duration, Instant};

use browser::Browser;
use challenge_web::{HtmlOrigin, require_browser, until, wait_origin_page};
use fantoccini::Locator;
use serde_json::{Value, json};
use support::Rampart;

fn sites(origin: &str) -> String {
    format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.localhost"]
origins = ["{origin}"]

[site.challenge]
difficulty = {{ low = 10, medium = 12, high = 14 }}
"#
    )
}

async fn body_text(b: &Browser) -> String {
    match b.client.find(Locator::Css("body")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn reasons() -> Value {
    json!({
        "decision_ground": "illegal_content",
        "category": "risk_for_public_security",
        "facts": "the page announces an attack on a named person",
        "territorial_scope": "worldwide",
        "content_type": "website",
        "automated_detection": false,
        "automated_decision": false,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn report_triage_suspend_and_lift_through_the_browser() {
    require_browser();
    let origin = HtmlOrigin::start().await;
    let rampart = Rampart::builder().sites(&sites(&origin.url())).start();
    let _ = origin.edge.set(rampart.http);
    let base = format!("http://shop.localhost:{}", rampart.http.port());
    let b = Browser::start().await;

    // The form is behind the check; the page's scripts pass it and come back.
    b.goto(&format!("{base}/.rampart/abuse")).await;
    until(60, "the report form", || async {
        b.exists("select#category").await
    })
    .await;
    b.client
        .execute(
            "document.getElementById('category').value = 'violent_threats';",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("select category: {e}"));
    b.fill(
        "#explanation",
        "This page announces an attack on a named person tonight.",
    )
    .await;
    b.fill("#name", "Rita Reporter").await;
    b.fill("#email", "rita@mail.test").await;
    b.click("input[name=good_faith]").await;
    // The form's captcha widget solves by itself and fills its field.
    let token_script = "return (document.querySelector('input[name=\"rampart-captcha-response\"]') || {}).value || '';";
    until(30, "the captcha widget's token", || async {
        b.client
            .execute(token_script, vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(|t| t.starts_with("r1.")))
            .unwrap_or(false)
    })
    .await;
    let captcha_token = b
        .client
        .execute(token_script, vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let filed_at = Instant::now();
    b.click("form button[type=submit]").await;
    until(20, "the receipt", || async {
        body_text(&b).await.contains("Report received")
    })
    .await;
    let receipt = body_text(&b).await;
    assert!(receipt.contains("reference"), "{receipt}");
    // The form redeemed the widget's token: it is spent for the API too.
    let replay = support::api::Api::anonymous(rampart.admin).post(
        "/api/v1/abuse-reports",
        &serde_json::json!({
            "category": "violent_threats",
            "urls": [format!("{base}/")],
            "explanation": "again",
            "reporter": { "name": "Rita Reporter", "email": "rita@mail.test" },
            "good_faith": true,
            "share_with_owner": "anonymous",
            "share_with_host": "anonymous",
            "captcha": captcha_token,
        }),
    );
    assert!(
        replay.status == 422 && replay.text.contains("timeout-or-duplicate"),
        "{} {}",
        replay.status,
        replay.text
    );

    // The desk sees it in the urgent queue within five seconds.
    let agent = rampart.admin_api();
    let mut case = String::new();
    while filed_at.elapsed() < Duration::from_secs(5) && case.is_empty() {
        let queue = agent.get("/api/v1/cases?queue=urgent").expect(200);
        if let Some(first) = queue
            .as_array()
            .and_then(|a| a.first())
            .or_else(|| queue["cases"].as_array().and_then(|a| a.first()))
        {
            case = first["id"].as_str().unwrap_or_default().to_string();
        }
        if case.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(!case.is_empty(), "no urgent case within 5 s of the report");

    let decision = agent
        .post(
            &format!("/api/v1/cases/{case}/decisions"),
            &json!({ "outcome": "suspend", "reasons": reasons() }),
        )
        .expect(201);
    let decided = Instant::now();
    let decision_id = decision["id"].as_str().unwrap_or_default().to_string();

    // A visitor now sees the suspension page, stating why, not who.
    let mut shown = false;
    while decided.elapsed() < Duration::from_secs(1) && !shown {
        b.goto(&format!("{base}/")).await;
        shown = body_text(&b)
            .await
            .contains("blocked by its security provider");
    }
    assert!(
        shown,
        "the suspension was not shown within 1 s of the decision"
    );
    let page = body_text(&b).await;
    assert!(page.contains("an imminent threat to human life"), "{page}");
    assert!(
        !page.contains("Rita") && !page.contains("rita@mail.test"),
        "{page}"
    );

    agent
        .post(&format!("/api/v1/decisions/{decision_id}/lift"), &json!({}))
        .expect(200);
    let lifted = Instant::now();
    let mut back = false;
    while lifted.elapsed() < Duration::from_secs(1) && !back {
        b.goto(&format!("{base}/")).await;
        back = !body_text(&b)
            .await
            .contains("blocked by its security provider");
    }
    assert!(back, "the site did not come back within 1 s of the lift");
    wait_origin_page(&b, "/").await;
    b.close().await;
}
