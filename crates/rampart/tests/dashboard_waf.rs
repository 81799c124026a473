//! The dashboard's WAF settings form and Security events page over plain
//! HTTP against the real binary, on SQLite and PostgreSQL: settings saved
//! through the form reach the API, bad values come back beside their
//! fields, readers cannot save, another account's site is 404, and events
//! (with markup in what the client sent) are shown escaped and paged.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/dashboard.rs"]
mod dashboard;
mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use browser::field_error;
use dashboard::signed_in;
use rampart_store::{SecurityEventWrite, SecurityRuleHit, Store};
use support::Rampart;
use support::api::{create_account, create_site};
use support::backends::Backend;

async fn start(backend: Backend) -> (Rampart, Store) {
    support::waf::start_with_rule_set(backend).await
}

fn event(at_ms: i64, n: usize) -> SecurityEventWrite {
    SecurityEventWrite {
        at_ms,
        site: "shop".to_owned(),
        reference: format!("ref-{n}"),
        client_ip: "198.51.100.4".to_owned(),
        method: "GET".to_owned(),
        uri: format!("/q?x=<script>alert({n})</script>"),
        source: "waf".to_owned(),
        action: if n.is_multiple_of(2) {
            "block"
        } else {
            "detect"
        }
        .to_owned(),
        inbound_score: 10,
        outbound_score: 0,
        rules: vec![SecurityRuleHit {
            id: 941100,
            message: "XSS Attack Detected <via> libinjection".to_owned(),
            data: "Matched Data: <img src=x>".to_owned(),
            severity: Some(2),
        }],
    }
}

async fn waf_form_and_events_page(backend: Backend) {
    let (rampart, store) = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let other = create_account(&admin, "other");
    let site = create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    let foreign = create_site(&admin, &other, "elsewhere", "http://127.0.0.1:1");
    let mut web = signed_in(&rampart, &admin, "account_owner", Some(&acme));
    let page = format!("/sites/{site}/security");
    let action = format!("{page}/waf");

    let shown = web.get(&page);
    assert_eq!(shown.status, 200, "{}", shown.text());
    assert!(shown.text().contains("id=\"waf-form\""), "{}", shown.text());

    let fields = |paranoia: &'static str, exclusions: &'static str| {
        vec![
            ("waf_mode", "block"),
            ("waf_paranoia", paranoia),
            ("waf_inbound_threshold", "7"),
            ("waf_outbound_threshold", ""),
            ("waf_request_body_limit", "256KiB"),
            ("waf_body_limit_action", "inspect_partial"),
            ("waf_exclusions", exclusions),
        ]
    };
    // Out of range and a bad exclusion: the API's messages, beside the fields.
    let bad = web.submit(&page, &action, &fields("7", "target=ARGS:password"));
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(
        !field_error(&bad.text(), "waf_paranoia").is_empty(),
        "{}",
        bad.text()
    );
    assert!(
        field_error(&bad.text(), "waf_exclusions").contains("rule_ids"),
        "{}",
        bad.text()
    );
    let typo = web.submit(&page, &action, &fields("2", "ids=abc"));
    assert_eq!(typo.status, 422);
    assert!(field_error(&typo.text(), "waf_exclusions").contains("abc"));
    let waf = admin.get(&format!("/api/v1/sites/{site}/waf")).expect(200);
    assert_eq!(waf["mode"], "off", "nothing was written");

    let saved = web.submit(
        &page,
        &action,
        &fields(
            "2",
            "ids=942100 target=ARGS:password path=/login\ntags=attack-xss",
        ),
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    let waf = admin.get(&format!("/api/v1/sites/{site}/waf")).expect(200);
    assert_eq!(waf["mode"], "block");
    assert_eq!(waf["paranoia"], 2);
    assert_eq!(waf["inbound_threshold"], 7);
    assert_eq!(waf["request_body_limit"], 256 * 1024);
    assert_eq!(waf["body_limit_action"], "inspect_partial");
    assert_eq!(waf["exclusions"][0]["rule_ids"][0], 942100);
    assert_eq!(waf["exclusions"][1]["tags"][0], "attack-xss");
    let again = web.get(&page).text();
    assert!(
        again.contains("ids=942100 target=ARGS:password path=/login"),
        "{again}"
    );

    // Readers see the form but cannot save; another account's site is 404.
    let mut member = signed_in(&rampart, &admin, "account_member", Some(&acme));
    let read = member.get(&page).text();
    assert!(read.contains("id=\"waf-form\""), "{read}");
    let refused = member.submit(&page, &action, &fields("1", ""));
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(
        web.get(&format!("/sites/{foreign}/security-events")).status,
        404
    );

    // Security events: empty, then shown escaped and paged by 50.
    let events = format!("/sites/{site}/security-events");
    let empty = web.get(&events);
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert!(empty.text().contains("id=\"security-events-empty\""));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let batch: Vec<_> = (0..55)
        .map(|n| event(now - 60_000 + i64::try_from(n).unwrap_or(0), n))
        .collect();
    store
        .record_security_events(
            "test",
            &batch,
            rampart_store::SECURITY_EVENTS_RETENTION_MS,
            rampart_store::MAX_EVENTS_PER_SITE,
        )
        .await
        .unwrap_or_else(|e| panic!("record: {e}"));
    let listed = member.get(&events).text();
    assert!(listed.contains("ref-54"), "{listed}");
    assert!(!listed.contains("ref-4<"), "only the newest 50: {listed}");
    assert!(!listed.contains("<script>"), "{listed}");
    assert!(
        listed.contains("&lt;script&gt;alert(54)&lt;/script&gt;"),
        "{listed}"
    );
    assert!(!listed.contains("<img src=x>"), "{listed}");
    assert!(listed.contains("&lt;via&gt;"), "{listed}");
    assert!(listed.contains("Blocked"), "{listed}");
    let older = listed
        .split("id=\"older\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no older link: {listed}"))
        .replace("&amp;", "&");
    let second = member.get(&older).text();
    assert!(second.contains("ref-4<"), "{second}");
    assert!(second.contains("ref-0<"), "{second}");
    assert!(!second.contains("ref-54"), "{second}");
}

on_both_backends!(waf_form_and_events_page);
