//! The admin API against the real server, on SQLite and on PostgreSQL:
//! first-start token, site lifecycle reaching the edge within a second,
//! validation errors, file-managed sites, OpenAPI, tokens.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::api::{Api, bootstrap_token};
use support::backends::{Backend, store_table};
use support::client::{Proto, get, send};
use support::{Rampart, origin};

async fn start(backend: Backend, sites: &str) -> Rampart {
    Rampart::builder()
        .tables(&store_table(backend).await)
        .sites(sites)
        .start()
}

/// What the edge answers for `host`: the origin's name, "welcome" for the
/// page of an edge without sites, or the status.
async fn edge_answer(rampart: &Rampart, host: &str) -> String {
    let reply = send(rampart.http, Proto::Http1, get(host, "/")).await;
    if reply.status == 200 {
        let json = reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("application/json");
        if json {
            reply.json()["origin"].as_str().unwrap_or("").to_owned()
        } else {
            "welcome".to_owned()
        }
    } else {
        reply.status.as_u16().to_string()
    }
}

/// Polls the edge until `host` answers `expected`; returns how long it took.
async fn until_edge(rampart: &Rampart, host: &str, expected: &str) -> Duration {
    let start = Instant::now();
    loop {
        let answer = edge_answer(rampart, host).await;
        if answer == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{host} still answers {answer}, wanted {expected}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn create_account(api: &Api, name: &str) -> String {
    api.post("/api/v1/accounts", &json!({ "name": name }))
        .expect(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn changes_reach_the_edge_within_a_second(backend: Backend) {
    let first = origin::start("first").await;
    let second = origin::start("second").await;
    let rampart = start(backend, "").await;
    let stderr = rampart.stderr();
    assert!(
        bootstrap_token(&stderr).is_some_and(|t| t.starts_with("rpt_")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l == format!("dashboard: http://{}/", rampart.admin)),
        "{stderr}"
    );
    let api = rampart.admin_api();
    let me = api.get("/api/v1/me").expect(200);
    assert_eq!(me["token"]["role"], "operator_admin");

    let account = create_account(&api, "acme");
    let created = api
        .post(
            &format!("/api/v1/sites?account_id={account}"),
            &json!({ "name": "shop", "hosts": ["shop.test"], "origins": [first.url()] }),
        )
        .expect(201);
    assert_eq!(created["account_id"], account.as_str());
    assert_eq!(created["file_managed"], false);
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let took = until_edge(&rampart, "shop.test", "first").await;
    assert!(took < Duration::from_secs(1), "create took {took:?}");

    api.patch(
        &format!("/api/v1/sites/{id}"),
        &json!({ "origins": [second.url()] }),
    )
    .expect(200);
    let took = until_edge(&rampart, "shop.test", "second").await;
    assert!(took < Duration::from_secs(1), "update took {took:?}");

    let flipped = api
        .patch("/api/v1/sites/shop", &json!({ "under_attack": true }))
        .expect(200);
    assert_eq!(flipped["spec"]["under_attack"], true);
    assert_eq!(
        api.get(&format!("/api/v1/sites/{id}")).expect(200)["spec"]["under_attack"],
        true
    );

    api.delete(&format!("/api/v1/sites/{id}")).expect(204);
    let took = until_edge(&rampart, "shop.test", "welcome").await;
    assert!(took < Duration::from_secs(1), "delete took {took:?}");
    assert_eq!(api.get(&format!("/api/v1/sites/{id}")).status, 404);

    let audit = api.get("/api/v1/audit").expect(200);
    let actions: Vec<&str> = audit
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    for action in [
        "account.create",
        "site.create",
        "site.update",
        "site.delete",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let update = audit
        .as_array()
        .and_then(|a| a.iter().find(|e| e["action"] == "site.update"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(update["actor_label"], "admin@rampart.local");
    assert_eq!(update["actor_role"], "operator_admin");
    assert_ne!(update["before"], update["after"]);
}

async fn bad_input_gets_a_clear_error(backend: Backend) {
    let rampart = start(backend, "").await;
    let api = rampart.admin_api();
    let acme = create_account(&api, "acme");
    let other = create_account(&api, "other");
    let sites = format!("/api/v1/sites?account_id={acme}");

    let bad_origin = api.post(
        &sites,
        &json!({ "name": "shop", "hosts": ["shop.test"], "origins": ["ftp://x"] }),
    );
    assert_eq!(bad_origin.status, 422, "{}", bad_origin.text);
    assert!(
        bad_origin.field().starts_with("origins[0]"),
        "{}",
        bad_origin.text
    );
    assert!(
        !bad_origin.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .is_empty()
    );

    let unknown = api.post(
        &sites,
        &json!({ "name": "shop", "hosts": ["shop.test"], "origins": ["http://127.0.0.1:1"], "colour": "red" }),
    );
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert_eq!(unknown.code(), "unknown_field");
    assert_eq!(unknown.field(), "colour");

    let missing = api.post(&sites, &json!({ "hosts": ["shop.test"] }));
    assert_eq!(missing.status, 422, "{}", missing.text);
    assert_eq!(missing.field(), "name");

    let syntax = api.raw("POST", &sites, "application/json", b"{\"name\": ");
    assert_eq!(syntax.status, 422, "{}", syntax.text);
    assert_eq!(syntax.code(), "invalid_json");

    let form = api.raw(
        "POST",
        &sites,
        "application/x-www-form-urlencoded",
        b"name=x",
    );
    assert_eq!(form.status, 415, "{}", form.text);

    api.post(
        &sites,
        &json!({ "name": "shop", "hosts": ["shop.test", "*.shop.test"], "origins": ["http://127.0.0.1:1"] }),
    )
    .expect(201);
    let taken = api.post(
        &format!("/api/v1/sites?account_id={other}"),
        &json!({ "name": "copy", "hosts": ["*.shop.test"], "origins": ["http://127.0.0.1:1"] }),
    );
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert_eq!(taken.field(), "hosts");
    assert!(taken.text.contains("*.shop.test"), "{}", taken.text);

    assert_eq!(
        Api::anonymous(rampart.admin).get("/api/v1/sites").status,
        401
    );
    let forged = api.with_token("rpt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(forged.get("/api/v1/sites").code(), "unauthorized");
    assert_eq!(api.get("/api/v1/nothing-here").status, 404);
}

async fn file_sites_are_provisioned_read_only(backend: Backend) {
    let origin = origin::start("filed").await;
    let rampart = start(
        backend,
        &format!(
            "[[site]]\nname = \"filed\"\nhosts = [\"filed.test\"]\norigins = [\"{}\"]\n",
            origin.url()
        ),
    )
    .await;
    assert_eq!(edge_answer(&rampart, "filed.test").await, "filed");
    let api = rampart.admin_api();
    let sites = api.get("/api/v1/sites").expect(200);
    let filed = sites
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "filed"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(filed["file_managed"], true, "{sites}");
    assert_eq!(filed["hosts"], json!(["filed.test"]));

    let patched = api.patch("/api/v1/sites/filed", &json!({ "under_attack": true }));
    assert_eq!(patched.status, 409, "{}", patched.text);
    assert_eq!(patched.code(), "file_managed");
    assert_eq!(api.delete("/api/v1/sites/filed").code(), "file_managed");

    rampart.rewrite_sites("");
    let reload = rampart.reload();
    assert!(
        reload.status.success(),
        "{}",
        support::ops::describe(&reload)
    );
    until_edge(&rampart, "filed.test", "welcome").await;
    assert_eq!(api.get("/api/v1/sites/filed").status, 404);
}

async fn tokens_are_shown_once_and_work_until_deleted(backend: Backend) {
    let rampart = start(backend, "").await;
    let api = rampart.admin_api();
    let created = api
        .post(
            "/api/v1/tokens",
            &json!({ "name": "ci", "role": "trust_safety" }),
        )
        .expect(201);
    let secret = created["secret"].as_str().unwrap_or_default().to_owned();
    let id = created["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(secret.starts_with("rpt_") && secret.len() > 40, "{created}");
    let listed = api.get("/api/v1/tokens").expect(200);
    assert!(!listed.to_string().contains(&secret), "{listed}");
    assert!(!listed.to_string().contains("hash"), "{listed}");

    let ci = api.with_token(&secret);
    assert_eq!(
        ci.get("/api/v1/me").expect(200)["token"]["role"],
        "trust_safety"
    );
    // Trust & safety reads, but does not change sites or accounts.
    ci.get("/api/v1/accounts").expect(200);
    assert_eq!(
        ci.post("/api/v1/accounts", &json!({ "name": "x" })).status,
        403
    );

    let escalate = api.post(
        "/api/v1/tokens",
        &json!({ "name": "x", "role": "account_owner" }),
    );
    assert_eq!(escalate.status, 422, "{}", escalate.text);
    assert_eq!(escalate.field(), "role");

    api.delete(&format!("/api/v1/tokens/{id}")).expect(204);
    assert_eq!(ci.get("/api/v1/me").status, 401);

    if backend == Backend::Sqlite {
        let db = std::fs::read(rampart.dir.path().join("data/rampart.db")).unwrap_or_default();
        let wal = std::fs::read(rampart.dir.path().join("data/rampart.db-wal")).unwrap_or_default();
        let admin = bootstrap_token(&rampart.stderr()).unwrap_or_default();
        for bytes in [&db, &wal] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains(&secret) && !text.contains(&admin),
                "a token secret is stored in clear"
            );
        }
    }
}

async fn openapi_describes_the_api(backend: Backend) {
    let rampart = start(backend, "").await;
    let doc = Api::anonymous(rampart.admin)
        .get("/api/v1/openapi.json")
        .expect(200);
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "{doc}"
    );
    for path in [
        "/api/v1/sites",
        "/api/v1/sites/{site}",
        "/api/v1/accounts",
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/audit",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    // The site document is described field by field, not as a bare object.
    let spec = &doc["components"]["schemas"]["SiteSpec"];
    for field in [
        "name",
        "hosts",
        "origins",
        "tls",
        "under_attack",
        "security_level",
    ] {
        assert!(
            spec["properties"].get(field).is_some(),
            "SiteSpec.{field} missing: {spec}"
        );
    }
}

on_both_backends!(
    changes_reach_the_edge_within_a_second,
    bad_input_gets_a_clear_error,
    file_sites_are_provisioned_read_only,
    tokens_are_shown_once_and_work_until_deleted,
    openapi_describes_the_api,
);
