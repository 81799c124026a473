//! The dashboard's operator rules page over plain HTTP against the real
//! binary, on SQLite and PostgreSQL: an operator admin's rule blocks at
//! every site's edge within a second, a bad expression shows its column
//! next to the field, trust & safety reads but cannot write, and account
//! users do not get the page.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/dashboard.rs"]
mod dashboard;
mod support;

use std::time::{Duration, Instant};

use browser::{csrf_of, field_error};
use dashboard::signed_in;
use serde_json::json;
use support::api::{create_account, create_site};
use support::backends::{Backend, start};
use support::client::{Proto, get, send};
use support::origin;

const PAGE: &str = "/operator/rules";

fn rule(id: &'static str, expression: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("original", ""),
        ("id", id),
        ("expression", expression),
        ("action", "block"),
        ("enabled", "on"),
    ]
}

async fn operator_rules_page(backend: Backend) {
    let upstream = origin::start("upstream").await;
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", &upstream.url());

    let mut operator = signed_in(&rampart, &admin, "operator_admin", None);
    let empty = operator.get(PAGE);
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert!(
        empty.text().contains("id=\"rules-empty\""),
        "{}",
        empty.text()
    );
    assert!(empty.text().contains("href=\"/operator/rules\""));

    // A bad expression: the column, next to the expression field; nothing
    // is stored.
    let bad = operator.submit(
        PAGE,
        PAGE,
        &rule("no-probe", "http.request.uri.path matches"),
    );
    assert_eq!(bad.status, 422, "{}", bad.text());
    let error = field_error(&bad.text(), "expression");
    assert!(error.contains("column"), "{error}");
    assert!(
        bad.text().contains("value=\"no-probe\""),
        "the form keeps what was typed: {}",
        bad.text()
    );
    assert_eq!(admin.get("/api/v1/operator/rules").expect(200), json!([]));

    // A good rule blocks a request to the account's site within a second.
    let added = operator.submit(
        PAGE,
        PAGE,
        &rule("no-probe", "http.request.uri.path eq \"/probe\""),
    );
    assert_eq!(added.status, 303, "{}", added.text());
    let start = Instant::now();
    loop {
        let status = send(rampart.http, Proto::Http1, get("shop.test", "/probe"))
            .await
            .status;
        if status == 403 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(1), "still {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shown = operator.get(PAGE).text();
    assert!(shown.contains("id=\"rule-no-probe\""), "{shown}");
    let audit = admin.get("/api/v1/audit").expect(200);
    assert!(
        audit
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["action"] == "operator_rules.update")),
        "{audit}"
    );

    // Edit, add, move, delete: the API sees each.
    let mut edited = rule("no-probe", "http.request.uri.path eq \"/probe2\"");
    edited[0] = ("original", "no-probe");
    assert_eq!(operator.submit(PAGE, PAGE, &edited).status, 303);
    assert_eq!(
        operator.submit(PAGE, PAGE, &rule("second", "false")).status,
        303
    );
    let moved = operator.submit(PAGE, &format!("{PAGE}/second/move"), &[("direction", "up")]);
    assert_eq!(moved.status, 303, "{}", moved.text());
    let rules = admin.get("/api/v1/operator/rules").expect(200);
    assert_eq!(
        (&rules[0]["id"], &rules[1]["id"], &rules[1]["expression"]),
        (
            &json!("second"),
            &json!("no-probe"),
            &json!("http.request.uri.path eq \"/probe2\"")
        )
    );
    assert_eq!(
        operator
            .submit(PAGE, &format!("{PAGE}/second/delete"), &[])
            .status,
        303
    );
    assert_eq!(
        admin.get("/api/v1/operator/rules").expect(200)[0]["id"],
        "no-probe"
    );

    // Trust & safety: the list, no forms, and posts refused.
    let mut ts = signed_in(&rampart, &admin, "trust_safety", None);
    let seen = ts.get(PAGE);
    assert_eq!(seen.status, 200, "{}", seen.text());
    let seen = seen.text();
    assert!(
        seen.contains("id=\"rule-no-probe\"")
            && seen.contains("id=\"read-only\"")
            && !seen.contains("id=\"rule-form\"")
            && !seen.contains("/delete"),
        "{seen}"
    );
    let csrf = csrf_of(&seen);
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend(rule("sneaky", "true"));
    assert_eq!(ts.post(PAGE, &fields).status, 403);
    assert_eq!(
        ts.post(&format!("{PAGE}/no-probe/delete"), &[("csrf", &csrf)])
            .status,
        403
    );
    assert_eq!(
        admin
            .get("/api/v1/operator/rules")
            .expect(200)
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Account users: no link, no page, no writes.
    let mut owner = signed_in(&rampart, &admin, "account_owner", Some(&acme));
    let sites = owner.get("/sites").text();
    assert!(!sites.contains("href=\"/operator/rules\""), "{sites}");
    let status = owner.get(PAGE).status;
    assert!(status == 403 || status == 404, "{status}");
    let csrf = owner.csrf("/sites");
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend(rule("sneaky", "true"));
    let status = owner.post(PAGE, &fields).status;
    assert!(status == 403 || status == 404, "{status}");
}

on_both_backends!(operator_rules_page);
