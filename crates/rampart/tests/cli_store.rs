//! `rampart token|account|site` against the same store as a running server,
//! and the store's version guard as an operator meets it.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Rampart;
use support::api::Api;
use support::client::{Proto, get, send};
use support::ops::{describe, run_rampart, wait_until};

fn last_line(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_changes_reach_a_running_server() {
    let origin = support::origin::start("cli").await;
    let rampart = Rampart::builder().start();
    let config = rampart.config_path.clone();
    let cwd = rampart.dir.path();

    let created = run_rampart(
        ["token", "create", "--config"]
            .into_iter()
            .map(Into::into)
            .chain([config.clone().into_os_string()])
            .chain(["--role".into(), "operator-admin".into()]),
        cwd,
    );
    assert!(created.status.success(), "{}", describe(&created));
    let token = last_line(&created);
    assert!(token.starts_with("rpt_"), "{}", describe(&created));
    let api = Api::new(rampart.admin, &token);
    assert_eq!(api.get("/api/v1/me").expect(200)["role"], "operator_admin");

    let config_arg = config.to_string_lossy().into_owned();
    let account = run_rampart(["account", "create", "acme", "--config", &config_arg], cwd);
    assert!(account.status.success(), "{}", describe(&account));
    let listed = run_rampart(["account", "list", "--config", &config_arg], cwd);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("\tacme"),
        "{}",
        describe(&listed)
    );

    // The site's rules may use its account's lists.
    let accounts = api.get("/api/v1/accounts").expect(200);
    let acme = accounts[0]["id"].as_str().unwrap_or_default().to_owned();
    api.post(
        "/api/v1/lists",
        &json!({ "name": "office", "account_id": acme, "items": ["192.0.2.0/24"] }),
    )
    .expect(201);
    let spec = rampart.dir.path().join("site.json");
    std::fs::write(
        &spec,
        json!({ "name": "clisite", "hosts": ["cli.test"], "origins": [origin.url()],
                "rules": [{ "id": "office", "expression": "ip.src in $office", "action": "block" }] })
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("write spec: {e}"));
    let site = run_rampart(
        [
            "site",
            "create",
            "--account",
            "acme",
            "--spec",
            &spec.to_string_lossy(),
            "--config",
            &config_arg,
        ],
        cwd,
    );
    assert!(site.status.success(), "{}", describe(&site));
    // The running server notices the store changed without being told.
    let mut served = false;
    for _ in 0..200 {
        let reply = send(rampart.http, Proto::Http1, get("cli.test", "/")).await;
        if reply.status == 200 && reply.text().contains("\"cli\"") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "the CLI-created site never reached the edge");
    let sites = run_rampart(["site", "list", "--config", &config_arg], cwd);
    assert!(
        String::from_utf8_lossy(&sites.stdout).contains("clisite"),
        "{}",
        describe(&sites)
    );

    let bad = std::fs::write(
        &spec,
        r#"{"name": "x", "hosts": [], "origins": [], "colour": 1}"#,
    );
    assert!(bad.is_ok());
    let refused = run_rampart(
        [
            "site",
            "create",
            "--account",
            "acme",
            "--spec",
            &spec.to_string_lossy(),
            "--config",
            &config_arg,
        ],
        cwd,
    );
    assert_eq!(refused.status.code(), Some(65), "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("colour"),
        "{}",
        describe(&refused)
    );

    let deleted = run_rampart(["site", "delete", "clisite", "--config", &config_arg], cwd);
    assert!(deleted.status.success(), "{}", describe(&deleted));
    let bad_role = run_rampart(
        ["token", "create", "--config", &config_arg, "--role", "root"],
        cwd,
    );
    assert_eq!(bad_role.status.code(), Some(64), "{}", describe(&bad_role));
    let owner = run_rampart(
        [
            "token",
            "create",
            "--config",
            &config_arg,
            "--role",
            "account-owner",
            "--account",
            "acme",
        ],
        cwd,
    );
    assert!(owner.status.success(), "{}", describe(&owner));
    let owner_api = Api::new(rampart.admin, &last_line(&owner));
    let me = owner_api.get("/api/v1/me").expect(200);
    assert_eq!(me["role"], "account_owner");
    assert!(wait_until(Duration::from_secs(5), || {
        owner_api
            .get("/api/v1/sites")
            .expect(200)
            .as_array()
            .is_some_and(Vec::is_empty)
    }));
}

#[test]
fn a_store_from_a_newer_rampart_is_refused() {
    let mut rampart = Rampart::builder().start();
    let db = rampart.dir.path().join("data/rampart.db");
    // Pretend a newer rampart migrated this store further.
    let python = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             c.execute(\"INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)\"); \
             c.commit()",
        )
        .arg(&db)
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    assert!(python.status.success(), "{}", describe(&python));
    let status = rampart.stop_and_serve_once();
    assert_eq!(status.status.code(), Some(64), "{}", describe(&status));
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        stderr.contains("999") && stderr.contains("newer"),
        "{stderr}"
    );
}
