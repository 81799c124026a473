//! Rules and rate limits through the admin API, on SQLite and
//! PostgreSQL: site and operator rules, 422 with the field and column,
//! lists in scope, 409 for lists in use, a rule created through the API
//! blocking at the edge and counted in analytics, and a file list gone on
//! reload leaving the site up. The lists endpoints themselves are in
//! `api_lists.rs`.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::Rampart;
use support::api::{create_account, create_site, id, post_text};
use support::backends::{Backend, start, store_table};
use support::client::{Proto, get, send};
use support::origin;

/// Rules and rate limits: validation with fields and columns, lists in
/// scope, 409 for a list in use.
async fn rules_validation_and_lists_in_use(backend: Backend) {
    let rampart = start(backend).await;
    let api = rampart.admin_api();
    let acme = create_account(&api, "acme");
    let other = create_account(&api, "other");
    let site = create_site(&api, &acme, "shop", "http://127.0.0.1:1");
    let rules = format!("/api/v1/sites/{site}/rules");
    assert_eq!(api.get(&rules).expect(200), json!([]));

    let bad = api.put(
        &rules,
        &json!([
            { "id": "ok", "expression": "true", "action": "log" },
            { "id": "wp", "expression": "http.request.uri.path matches", "action": "block" }
        ]),
    );
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.field(), "rules[1].expression");
    let message = bad.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("column"), "{message}");
    let unknown_key = api.put(
        &rules,
        &json!([{ "id": "a", "expression": "true", "action": "log", "colour": 1 }]),
    );
    assert_eq!(
        (unknown_key.status, unknown_key.field()),
        (422, "rules[0].colour")
    );

    // Lists: the account's and the operator's are known, another account's not.
    api.post(
        "/api/v1/lists",
        &json!({ "name": "office", "account_id": acme, "items": ["192.0.2.0/24"] }),
    )
    .expect(201);
    let theirs = id(&api
        .post(
            "/api/v1/lists",
            &json!({ "name": "theirs", "account_id": other }),
        )
        .expect(201));
    let global = id(&api
        .post(
            "/api/v1/lists",
            &json!({ "name": "tor", "items": ["198.51.100.0/24"] }),
        )
        .expect(201));
    let foreign = api.put(
        &rules,
        &json!([{ "id": "x", "expression": "ip.src in $theirs", "action": "block" }]),
    );
    assert_eq!(foreign.status, 422, "{}", foreign.text);
    assert_eq!(foreign.field(), "rules[0].expression");
    assert!(foreign.text.contains("theirs"), "{}", foreign.text);

    let saved = api
        .put(
            &rules,
            &json!([
                { "id": "office-only", "expression": "not ip.src in $office and http.request.uri.path eq \"/admin\"", "action": "block" },
                { "id": "no-tor", "expression": "ip.src in $tor", "action": "challenge" }
            ]),
        )
        .expect(200);
    assert_eq!(saved.as_array().map(Vec::len), Some(2));
    assert_eq!(api.get(&rules).expect(200), saved);
    let spec = api.get(&format!("/api/v1/sites/{site}")).expect(200)["spec"].clone();
    assert_eq!(spec["rules"], saved);

    let limits = format!("/api/v1/sites/{site}/rate_limits");
    let bad_limit = api.put(
        &limits,
        &json!([{ "id": "l", "period": "0s", "requests": 10 }]),
    );
    assert_eq!(bad_limit.status, 422, "{}", bad_limit.text);
    assert!(
        bad_limit.field().starts_with("rate_limits[0]"),
        "{}",
        bad_limit.text
    );
    let saved_limits = api
        .put(
            &limits,
            &json!([{ "id": "login", "expression": "http.request.uri.path eq \"/login\" and not ip.src in $office",
                      "period": "10s", "requests": 5 }]),
        )
        .expect(200);
    assert_eq!(saved_limits[0]["id"], "login");

    // In use: neither deleted nor renamed; 409 names the users.
    let office = api
        .get(&format!("/api/v1/lists?account_id={acme}"))
        .expect(200);
    let office = id(&office[0]);
    let refused = api.delete(&format!("/api/v1/lists/{office}"));
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.text.contains("office-only")
            && refused.text.contains("login")
            && refused.text.contains("shop"),
        "{}",
        refused.text
    );
    let rename = api.patch(&format!("/api/v1/lists/{office}"), &json!({ "name": "hq" }));
    assert_eq!(rename.status, 409, "{}", rename.text);
    assert_eq!(api.delete(&format!("/api/v1/lists/{global}")).status, 409);
    // Another account's list of the same name is not in use.
    api.delete(&format!("/api/v1/lists/{theirs}")).expect(204);

    let openapi = api.get("/api/v1/openapi.json").expect(200);
    for path in [
        "/api/v1/lists",
        "/api/v1/lists/{id}",
        "/api/v1/lists/{id}/items",
        "/api/v1/operator/rules",
        "/api/v1/sites/{site}/rules",
        "/api/v1/sites/{site}/rate_limits",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} not in the OpenAPI document"
        );
    }

    // Operator rules: same shape, operator lists only.
    let operator = "/api/v1/operator/rules";
    assert_eq!(api.get(operator).expect(200), json!([]));
    let scoped = api.put(
        operator,
        &json!([{ "id": "o", "expression": "ip.src in $office", "action": "block" }]),
    );
    assert_eq!(
        (scoped.status, scoped.field()),
        (422, "rules[0].expression")
    );
    api.put(
        operator,
        &json!([{ "id": "o", "expression": "ip.src in $tor", "action": "log" }]),
    )
    .expect(200);
    api.put(&rules, &json!([])).expect(200);
    api.put(&limits, &json!([])).expect(200);
    let refused = api.delete(&format!("/api/v1/lists/{global}"));
    assert!(
        refused.text.contains("operator rule 'o'"),
        "{}",
        refused.text
    );
    api.put(operator, &json!([])).expect(200);
    api.delete(&format!("/api/v1/lists/{global}")).expect(204);
    api.delete(&format!("/api/v1/lists/{office}")).expect(204);
}

/// A rule written through the API blocks at the edge within a second, and
/// its hit shows in the site's analytics.
async fn a_rule_blocks_at_the_edge_and_is_counted(backend: Backend) {
    let upstream = origin::start("upstream").await;
    let rampart = start(backend).await;
    let api = rampart.admin_api();
    let acme = create_account(&api, "acme");
    let site = create_site(&api, &acme, "shop", &upstream.url());
    let status = |path: &'static str| {
        let addr = rampart.http;
        async move {
            send(addr, Proto::Http1, get("shop.test", path))
                .await
                .status
                .as_u16()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while status("/admin").await != 200 {
        assert!(Instant::now() < deadline, "the site never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let list = id(&api
        .post(
            "/api/v1/lists",
            &json!({ "name": "office", "account_id": acme, "items": ["192.0.2.0/24"] }),
        )
        .expect(201));
    let written = Instant::now();
    api.put(
        &format!("/api/v1/sites/{site}/rules"),
        &json!([{ "id": "admin-office-only", "expression": "http.request.uri.path eq \"/admin\" and not ip.src in $office", "action": "block" }]),
    )
    .expect(200);
    while status("/admin").await != 403 {
        assert!(
            written.elapsed() < Duration::from_secs(1),
            "the rule did not apply within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status("/").await, 200);
    // Loopback joins the list: the rule lets it through again.
    post_text(
        &api,
        &format!("/api/v1/lists/{list}/items"),
        "127.0.0.0/8\n",
    )
    .expect(200);
    let appended = Instant::now();
    while status("/admin").await != 200 {
        assert!(
            appended.elapsed() < Duration::from_secs(1),
            "the list change did not apply within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    api.post("/-/flush-analytics", &json!({})).expect(200);
    let analytics = api
        .get(&format!("/api/v1/sites/{site}/analytics"))
        .expect(200);
    let rules = analytics["top"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        rules
            .iter()
            .any(|r| r[0] == "admin-office-only" && r[1].as_u64() >= Some(1)),
        "{analytics}"
    );
    let blocked: u64 = analytics["series"]
        .as_array()
        .map(|s| s.iter().filter_map(|m| m["blocked"].as_u64()).sum())
        .unwrap_or(0);
    assert!(blocked >= 1, "{analytics}");
}

/// A file list that a stored rule names goes away on reload: the site stays
/// up, only the rules naming the list stop, the others still act.
async fn a_list_gone_from_the_file_leaves_the_site_up(backend: Backend) {
    let upstream = origin::start("upstream").await;
    let rampart = Rampart::builder()
        .tables(&store_table(backend).await)
        .tables("[[lists]]\nname = \"partners\"\nitems = [\"192.0.2.0/24\"]\n")
        .start();
    let api = rampart.admin_api();
    let acme = create_account(&api, "acme");
    let site = create_site(&api, &acme, "shop", &upstream.url());
    api.put(
        &format!("/api/v1/sites/{site}/rules"),
        &json!([
            { "id": "partners-only", "expression": "http.request.uri.path eq \"/p\" and not ip.src in $partners", "action": "block" },
            { "id": "no-x", "expression": "http.request.uri.path eq \"/x\"", "action": "block" }
        ]),
    )
    .expect(200);
    let status = |path: &'static str| {
        let addr = rampart.http;
        async move {
            send(addr, Proto::Http1, get("shop.test", path))
                .await
                .status
                .as_u16()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while status("/p").await != 403 {
        assert!(Instant::now() < deadline, "the rule never applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let config = std::fs::read_to_string(&rampart.config_path).unwrap_or_default();
    let without = config.replace(
        "[[lists]]\nname = \"partners\"\nitems = [\"192.0.2.0/24\"]\n",
        "",
    );
    assert_ne!(config, without);
    support::write(&rampart.config_path, &without);
    let reload = rampart.reload();
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while status("/p").await != 200 {
        assert!(
            Instant::now() < deadline,
            "the site or the rule is gone: {}",
            rampart.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status("/x").await, 403, "the other rule still acts");
    assert!(
        rampart.stderr().contains("partners"),
        "{}",
        rampart.stderr()
    );
}

on_both_backends!(
    a_list_gone_from_the_file_leaves_the_site_up,
    rules_validation_and_lists_in_use,
    a_rule_blocks_at_the_edge_and_is_counted,
);
