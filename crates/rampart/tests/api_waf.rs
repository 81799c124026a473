//! WAF settings and security events through the admin API, against the
//! real binary, on SQLite and PostgreSQL: settings round-trip through
//! `/sites/{id}/waf` and the site's own spec, bad values are 422 at their
//! field, `crs` is refused through the API, readers read and do not write,
//! another account gets 404; events written through the store's own
//! function are listed newest first, paged, found by reference, and hidden
//! from other accounts. A file site keeps its own CRS directory.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use rampart_store::{SecurityEventWrite, SecurityRuleHit, Store};
use serde_json::{Value, json};
use support::Rampart;
use support::api::{create_account, id, person};
use support::backends::Backend;

async fn start(backend: Backend) -> (Rampart, Store) {
    support::waf::start_with_rule_set(backend).await
}

fn defaults() -> Value {
    json!({
        "mode": "off", "paranoia": 1, "inbound_threshold": 5, "outbound_threshold": 4,
        "request_body_limit": 131072, "body_limit_action": "reject", "inspect_responses": false
    })
}

async fn settings_round_trip_and_refusals(backend: Backend) {
    let (rampart, _store) = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let other = create_account(&admin, "other");
    let owner = person(&admin, "owner@acme.test", "account_owner", Some(&acme));
    let member = person(&admin, "member@acme.test", "account_member", Some(&acme));
    let stranger = person(&admin, "owner@other.test", "account_owner", Some(&other));
    let site = id(&owner
        .post(
            "/api/v1/sites",
            &json!({ "name": "shop", "hosts": ["shop.test"], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201));
    let waf = format!("/api/v1/sites/{site}/waf");

    assert_eq!(owner.get(&waf).expect(200), defaults());

    let wanted = json!({
        "mode": "block", "paranoia": 2, "inbound_threshold": 10,
        "request_body_limit": "1MiB", "body_limit_action": "inspect_partial",
        "exclusions": [
            { "rule_ids": [942100], "target": "ARGS:password", "path": "/login" },
            { "tags": ["attack-xss"] }
        ]
    });
    let saved = owner.put(&waf, &wanted).expect(200);
    assert_eq!(saved["mode"], "block");
    assert_eq!(saved["paranoia"], 2);
    assert_eq!(saved["inbound_threshold"], 10);
    assert_eq!(saved["outbound_threshold"], 4);
    assert_eq!(saved["request_body_limit"], 1 << 20);
    assert_eq!(saved["body_limit_action"], "inspect_partial");
    assert_eq!(saved["exclusions"][0]["target"], "ARGS:password");
    assert_eq!(saved["exclusions"][1]["tags"], json!(["attack-xss"]));
    assert_eq!(member.get(&waf).expect(200), saved);
    // The same object in the site's spec, and a PATCH of the site reaches it.
    let spec = owner.get(&format!("/api/v1/sites/{site}")).expect(200);
    assert_eq!(spec["spec"]["waf"]["mode"], "block", "{spec}");
    owner
        .patch(
            &format!("/api/v1/sites/{site}"),
            &json!({ "waf": { "mode": "detect" } }),
        )
        .expect(200);
    assert_eq!(owner.get(&waf).expect(200)["mode"], "detect");

    // Bad values: 422 at the field, nothing written.
    let bad: &[(Value, &str, &str)] = &[
        (json!({ "mode": "on" }), "waf.mode", "invalid"),
        (json!({ "paranoia": 5 }), "waf.paranoia", "out_of_range"),
        (json!({ "paranoia": "high" }), "waf.paranoia", ""),
        (
            json!({ "request_body_limit": "off" }),
            "waf.request_body_limit",
            "invalid",
        ),
        (
            json!({ "exclusions": [{ "path": "/x" }] }),
            "waf.exclusions[0].rule_ids",
            "required",
        ),
        (
            json!({ "exclusions": [{ "tags": ["a"], "target": "args password" }] }),
            "waf.exclusions[0].target",
            "invalid",
        ),
        (json!({ "colour": "red" }), "waf.colour", "unknown_field"),
        (json!({ "crs": "/etc" }), "waf.crs", "forbidden"),
    ];
    for (body, field, code) in bad {
        let reply = owner.put(&waf, body);
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
        assert_eq!(reply.field(), *field, "{body}: {}", reply.text);
        if !code.is_empty() {
            assert_eq!(reply.code(), *code, "{body}: {}", reply.text);
        }
    }
    let crs = owner.put(&waf, &json!({ "crs": "/etc" }));
    assert!(
        crs.text.contains("cannot be set through the API"),
        "{}",
        crs.text
    );
    // `crs` through the site's own PUT/PATCH is refused the same way.
    let patched = owner.patch(
        &format!("/api/v1/sites/{site}"),
        &json!({ "waf": { "crs": "/" } }),
    );
    assert_eq!(
        (patched.status, patched.field()),
        (422, "waf.crs"),
        "{}",
        patched.text
    );
    assert_eq!(owner.get(&waf).expect(200)["mode"], "detect");

    // Readers read; other accounts see nothing.
    assert_eq!(member.put(&waf, &json!({ "mode": "off" })).status, 403);
    assert_eq!(stranger.get(&waf).status, 404);
    assert_eq!(stranger.put(&waf, &json!({ "mode": "off" })).status, 404);
    assert_eq!(stranger.put(&waf, &json!({ "paranoia": 9 })).status, 404);

    // Back to the defaults: the spec loses its `waf`.
    assert_eq!(owner.put(&waf, &json!({})).expect(200), defaults());
    let spec = owner.get(&format!("/api/v1/sites/{site}")).expect(200);
    assert!(spec["spec"].get("waf").is_none(), "{spec}");

    assert!(
        !rampart.stderr().contains("could not be built"),
        "{}",
        rampart.stderr()
    );

    let doc = admin.get("/api/v1/openapi.json").expect(200);
    for path in [
        "/api/v1/sites/{site}/waf",
        "/api/v1/sites/{site}/security-events",
        "/api/v1/security-events/{reference}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} not documented");
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn event(site: &str, at_ms: i64, reference: &str) -> SecurityEventWrite {
    SecurityEventWrite {
        at_ms,
        site: site.to_owned(),
        reference: reference.to_owned(),
        client_ip: "203.0.113.9".to_owned(),
        method: "GET".to_owned(),
        uri: "/search?q=<script>alert(1)</script>".to_owned(),
        source: "waf".to_owned(),
        action: "block".to_owned(),
        inbound_score: 15,
        outbound_score: 0,
        rules: vec![SecurityRuleHit {
            id: 941100,
            message: "XSS Attack Detected via libinjection".to_owned(),
            data: "Matched Data: XSS data found within ARGS:q".to_owned(),
            severity: Some(2),
        }],
    }
}

async fn security_events_listed_and_isolated(backend: Backend) {
    let (rampart, store) = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let other = create_account(&admin, "other");
    let owner = person(&admin, "owner@acme.test", "account_owner", Some(&acme));
    let member = person(&admin, "member@acme.test", "account_member", Some(&acme));
    let stranger = person(&admin, "owner@other.test", "account_owner", Some(&other));
    let site = id(&owner
        .post(
            "/api/v1/sites",
            &json!({ "name": "shop", "hosts": ["shop.test"], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201));
    let events = format!("/api/v1/sites/{site}/security-events");
    assert_eq!(owner.get(&events).expect(200), json!([]));

    let now = now_ms();
    let batch: Vec<_> = (0..5)
        .map(|i| event("shop", now - 5000 + i * 1000, &format!("ref{i}")))
        .collect();
    let written = store
        .record_security_events(
            "test",
            &batch,
            rampart_store::SECURITY_EVENTS_RETENTION_MS,
            rampart_store::MAX_EVENTS_PER_SITE,
        )
        .await
        .unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!(written, 5);

    let page = member.get(&format!("{events}?limit=2")).expect(200);
    let refs: Vec<&str> = page
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["reference"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(refs, ["ref4", "ref3"]);
    let first = &page[0];
    assert_eq!(first["site"], site.as_str());
    assert_eq!(first["uri"], "/search?q=<script>alert(1)</script>");
    assert_eq!(first["rules"][0]["id"], 941100);
    assert_eq!(first["inbound_score"], 15);
    let cursor = page[1]["id"].as_str().unwrap_or_default();
    let next = owner
        .get(&format!("{events}?limit=10&before={cursor}"))
        .expect(200);
    assert_eq!(next.as_array().map(Vec::len), Some(3));
    assert_eq!(next[0]["reference"], "ref2");

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("before=a%20b", "before"),
    ] {
        let reply = owner.get(&format!("{events}?{query}"));
        assert_eq!(
            (reply.status, reply.field()),
            (422, field),
            "{query}: {}",
            reply.text
        );
    }

    // By reference: the operator and the site's readers; not other accounts.
    let found = admin.get("/api/v1/security-events/ref3").expect(200);
    assert_eq!(found[0]["reference"], "ref3");
    assert_eq!(owner.get("/api/v1/security-events/ref3").expect(200), found);
    assert_eq!(admin.get("/api/v1/security-events/nope").status, 404);
    assert_eq!(stranger.get("/api/v1/security-events/ref3").status, 404);
    let listing = stranger.get(&events);
    assert_eq!(listing.status, 404);
    assert!(!listing.text.contains("ref3"), "{}", listing.text);
}

on_both_backends!(
    settings_round_trip_and_refusals,
    security_events_listed_and_isolated
);

/// A file site keeps its own CRS directory through the store (the
/// snapshot compiles it), shows it, and is read-only through the API.
#[test]
fn a_file_site_keeps_its_crs() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    support::waf::rule_set(&dir.path().join("crs"), "# rules\n");
    let crs = dir.path().join("crs");
    let rampart = Rampart::builder()
        .dir(dir)
        .tables("[waf]\ncrs = \"crs\"\n")
        .sites(
            "[[site]]\nname = \"filed\"\nhosts = [\"filed.test\"]\norigins = [\"http://127.0.0.1:1\"]\nwaf = { mode = \"detect\", paranoia = 3, crs = \"crs\" }\n",
        )
        .start();
    let admin = rampart.admin_api();
    let shown = admin.get("/api/v1/sites/filed/waf").expect(200);
    assert_eq!(shown["mode"], "detect");
    assert_eq!(shown["paranoia"], 3);
    assert_eq!(shown["crs"], crs.display().to_string());
    let put = admin.put("/api/v1/sites/filed/waf", &json!({ "mode": "off" }));
    assert_eq!(
        (put.status, put.code()),
        (409, "file_managed"),
        "{}",
        put.text
    );
    assert!(
        !rampart.stderr().contains("left out of the snapshot"),
        "{}",
        rampart.stderr()
    );
}

/// Without `[waf] crs` the node has no rule set: a site may keep the WAF
/// off, and turning it on is refused at the write (through `/waf` and the
/// site's own PATCH), not by a failing snapshot build later.
#[test]
fn without_a_rule_set_the_waf_stays_off() {
    let rampart = Rampart::start("");
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let site = id(&admin
        .post(
            &format!("/api/v1/sites?account_id={acme}"),
            &json!({ "name": "shop", "hosts": ["shop.test"], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201));
    let waf = format!("/api/v1/sites/{site}/waf");
    let on = admin.put(&waf, &json!({ "mode": "detect" }));
    assert_eq!(
        (on.status, on.field(), on.code()),
        (422, "waf.mode", "no_rule_set"),
        "{}",
        on.text
    );
    assert!(on.text.contains("[waf] crs"), "{}", on.text);
    let patched = admin.patch(
        &format!("/api/v1/sites/{site}"),
        &json!({ "waf": { "mode": "block" } }),
    );
    assert_eq!(
        (patched.status, patched.field()),
        (422, "waf.mode"),
        "{}",
        patched.text
    );
    admin
        .put(&waf, &json!({ "mode": "off", "paranoia": 3 }))
        .expect(200);
}
