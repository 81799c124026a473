//! The dashboard's Security and Lists pages over plain HTTP against the real
//! binary, on SQLite and PostgreSQL: rule, rate-limit and request-limit
//! forms with their errors next to the fields, lists created, replaced,
//! exported and (not) deleted, and a rule's hit on the site's pages.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/dashboard.rs"]
mod dashboard;
mod support;

use std::time::{Duration, Instant};

use browser::{csrf_of, field_error};
use dashboard::signed_in;
use serde_json::json;
use support::api::{create_account, create_site, id};
use support::backends::{Backend, start};
use support::client::{Proto, get, send};
use support::origin;

async fn security_and_lists_pages(backend: Backend) {
    let upstream = origin::start("upstream").await;
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let other = create_account(&admin, "other");
    let site = create_site(&admin, &acme, "shop", &upstream.url());
    let foreign = create_site(&admin, &other, "elsewhere", "http://127.0.0.1:1");
    let mut web = signed_in(&rampart, &admin, "account_owner", Some(&acme));
    let page = format!("/sites/{site}/security");

    let empty = web.get(&page);
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert!(empty.text().contains("id=\"rules-empty\""));
    assert_eq!(web.get(&format!("/sites/{foreign}/security")).status, 404);

    // A bad expression: the column, next to the expression field.
    let rule = |expression: &'static str, action: &'static str| {
        vec![
            ("original", ""),
            ("id", "admin-office"),
            ("expression", expression),
            ("action", action),
            ("enabled", "on"),
        ]
    };
    let bad = web.submit(
        &page,
        &format!("{page}/rules"),
        &rule("http.request.uri.path matches", "block"),
    );
    assert_eq!(bad.status, 422, "{}", bad.text());
    let error = field_error(&bad.text(), "expression");
    assert!(error.contains("column"), "{error}");
    let guarded = "http.request.uri.path eq \"/admin\" and not ip.src in $office";
    let unknown = web.submit(&page, &format!("{page}/rules"), &rule(guarded, "block"));
    assert_eq!(unknown.status, 422);
    assert!(
        field_error(&unknown.text(), "expression").contains("office"),
        "{}",
        unknown.text()
    );

    // Lists: a bad line names itself; then the list, then the rule.
    let bad_list = web.submit(
        "/lists",
        "/lists",
        &[
            ("account", ""),
            ("name", "office"),
            ("entries", "192.0.2.0/24\n10.0.0.999"),
        ],
    );
    assert_eq!(bad_list.status, 422, "{}", bad_list.text());
    assert!(
        field_error(&bad_list.text(), "entries").contains("line 2"),
        "{}",
        bad_list.text()
    );
    let made = web.submit(
        "/lists",
        "/lists",
        &[
            ("account", ""),
            ("name", "office"),
            ("description", "HQ"),
            ("entries", "192.0.2.0/24\n2001:db8::/32"),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.text());
    let lists = web.get("/lists").text();
    assert!(lists.contains("id=\"list-office\""), "{lists}");
    let list = id(&admin
        .get(&format!("/api/v1/lists?account_id={acme}"))
        .expect(200)[0]);
    let export = web.get(&format!("/lists/{list}/export"));
    assert_eq!(export.text(), "192.0.2.0/24\n2001:db8::/32\n");

    let added = web.submit(&page, &format!("{page}/rules"), &rule(guarded, "block"));
    assert_eq!(added.status, 303, "{}", added.text());
    let shown = web.get(&page).text();
    assert!(shown.contains("id=\"rule-admin-office\""), "{shown}");

    // The rule acts at the edge; its hit reaches the site's pages.
    let start = Instant::now();
    loop {
        let status = send(rampart.http, Proto::Http1, get("shop.test", "/admin"))
            .await
            .status;
        if status == 403 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(2), "still {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.post("/-/flush-analytics", &json!({})).expect(200);
    let overview = web.get(&format!("/sites/{site}")).text();
    let hits = overview
        .split("id=\"rule-hits\"")
        .nth(1)
        .unwrap_or_default();
    assert!(hits.contains("admin-office"), "{overview}");
    assert!(
        !overview.contains("id=\"verdict-blocked\">0<"),
        "{overview}"
    );
    let row = web.get(&page).text();
    let row = row
        .split("id=\"rule-admin-office\"")
        .nth(1)
        .unwrap_or_default();
    let row = row.split("</tr>").next().unwrap_or_default();
    assert!(
        row.contains("<td class=\"num\" data-label=\"Hits (24 h)\">1</td>"),
        "{row}"
    );

    // A list a rule uses is not deleted; the page says which rule.
    let refused = web.submit("/lists", &format!("/lists/{list}/delete"), &[]);
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(
        refused.text().contains("admin-office"),
        "{}",
        refused.text()
    );

    // Edit in place, then delete.
    let edit = web.get(&format!("{page}?edit=admin-office")).text();
    assert!(
        edit.contains("name=\"original\" value=\"admin-office\""),
        "{edit}"
    );
    let mut fields = rule(guarded, "log");
    fields[0] = ("original", "admin-office");
    assert_eq!(
        web.submit(&page, &format!("{page}/rules"), &fields).status,
        303
    );
    let rules = admin
        .get(&format!("/api/v1/sites/{site}/rules"))
        .expect(200);
    assert_eq!(rules.as_array().map(Vec::len), Some(1));
    assert_eq!(rules[0]["action"], "log");
    // A second rule, moved above the first.
    let second = [
        ("original", ""),
        ("id", "second"),
        ("expression", "http.request.uri.path eq \"/x\""),
        ("action", "log"),
        ("enabled", "on"),
    ];
    assert_eq!(
        web.submit(&page, &format!("{page}/rules"), &second).status,
        303
    );
    let moved = web.submit(
        &page,
        &format!("{page}/rules/second/move"),
        &[("direction", "up")],
    );
    assert_eq!(moved.status, 303, "{}", moved.text());
    let rules = admin
        .get(&format!("/api/v1/sites/{site}/rules"))
        .expect(200);
    assert_eq!(
        (&rules[0]["id"], &rules[1]["id"]),
        (&json!("second"), &json!("admin-office"))
    );
    assert_eq!(
        web.submit(&page, &format!("{page}/rules/second/delete"), &[])
            .status,
        303
    );
    let deleted = web.submit(&page, &format!("{page}/rules/admin-office/delete"), &[]);
    assert_eq!(deleted.status, 303);
    assert!(web.get(&page).text().contains("id=\"rules-empty\""));

    // Rate limits and request limits.
    let limit = |requests: &'static str| {
        vec![
            ("rl_id", "login"),
            ("rl_requests", requests),
            ("rl_period", "10s"),
            ("rl_characteristics", "ip"),
            ("rl_action", "block"),
        ]
    };
    let bad = web.submit(&page, &format!("{page}/rate-limits"), &limit("lots"));
    assert_eq!(bad.status, 422);
    assert!(
        !field_error(&bad.text(), "rl_requests").is_empty(),
        "{}",
        bad.text()
    );
    assert_eq!(
        web.submit(&page, &format!("{page}/rate-limits"), &limit("5"))
            .status,
        303
    );
    assert!(web.get(&page).text().contains("id=\"rate-limit-login\""));
    let bad = web.submit(
        &page,
        &format!("{page}/limits"),
        &[("max_header_count", "0")],
    );
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(
        !field_error(&bad.text(), "max_header_count").is_empty(),
        "{}",
        bad.text()
    );
    let saved = web.submit(
        &page,
        &format!("{page}/limits"),
        &[("max_header_count", "50"), ("auto_enabled", "on")],
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    let spec = admin.get(&format!("/api/v1/sites/{site}")).expect(200)["spec"].clone();
    assert_eq!(spec["limits"]["max_header_count"], 50);
    assert_eq!(spec["auto_under_attack"]["enabled"], true);
    // The auto-attack timings: a bad one is named on its field, good ones
    // are stored as typed and shown again.
    let bad = web.submit(
        &page,
        &format!("{page}/limits"),
        &[("auto_enabled", "on"), ("auto_window", "2d")],
    );
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(
        !field_error(&bad.text(), "auto_window").is_empty(),
        "{}",
        bad.text()
    );
    let saved = web.submit(
        &page,
        &format!("{page}/limits"),
        &[
            ("max_header_count", "50"),
            ("auto_enabled", "on"),
            ("auto_warmup", "2m"),
            ("auto_window", "10s"),
            ("auto_hold", "1m"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    let auto = admin.get(&format!("/api/v1/sites/{site}")).expect(200)["spec"]["auto_under_attack"]
        .clone();
    assert_eq!(
        (&auto["warmup"], &auto["window"], &auto["hold"]),
        (&json!("2m"), &json!("10s"), &json!("1m"))
    );
    assert!(
        web.get(&page)
            .text()
            .contains(r#"name="auto_hold" value="1m""#),
        "the stored timing is shown"
    );
    assert_eq!(spec["rate_limits"][0]["id"], "login");
    assert!(web.get(&page).text().contains("id=\"auto-attack-state\""));

    // Replace a list's entries, then delete it once unused.
    let replaced = web.submit(
        "/lists",
        &format!("/lists/{list}/import"),
        &[("entries", "198.51.100.7\n")],
    );
    assert_eq!(replaced.status, 303, "{}", replaced.text());
    assert_eq!(
        web.get(&format!("/lists/{list}/export")).text(),
        "198.51.100.7\n"
    );
    assert_eq!(
        web.submit("/lists", &format!("/lists/{list}/delete"), &[])
            .status,
        303
    );

    // Members see the page but no forms, and cannot post.
    let mut member = signed_in(&rampart, &admin, "account_member", Some(&acme));
    let seen = member.get(&page).text();
    assert!(
        !seen.contains("id=\"rule-form\"") && seen.contains("id=\"rate-limit-login\""),
        "{seen}"
    );
    let csrf = csrf_of(&seen);
    let refused = member.post(
        &format!("{page}/rate-limits/login/delete"),
        &[("csrf", &csrf)],
    );
    assert_eq!(refused.status, 403);
}

on_both_backends!(security_and_lists_pages);
