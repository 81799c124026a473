//! `rampart audit verify` on the store of a running server: intact after
//! real API writes (exit 0), and after one row is changed behind the
//! store's back it names that entry (exit 65).

mod support;

use serde_json::json;
use sqlx::Connection as _;
use support::Rampart;
use support::ops::{describe, run_rampart};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_entry_that_was_changed() {
    let rampart = Rampart::builder().start();
    let api = rampart.admin_api();
    for name in ["acme", "globex", "initech"] {
        api.post("/api/v1/accounts", &json!({ "name": name }))
            .expect(201);
    }
    let config = rampart.config_path.to_string_lossy().into_owned();
    let cwd = rampart.dir.path();

    let intact = run_rampart(["audit", "verify", "--config", &config], cwd);
    assert!(intact.status.success(), "{}", describe(&intact));
    assert!(
        String::from_utf8_lossy(&intact.stdout).contains("audit log intact"),
        "{}",
        describe(&intact)
    );

    // Rewrite history: the second account was "evil corp" all along.
    let db = cwd.join("data").join("rampart.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    let row: (String, i64) = sqlx::query_as(
        "SELECT id, seq FROM audit_log WHERE action = 'account.create' AND after LIKE '%globex%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("find the entry: {e}"));
    sqlx::query("UPDATE audit_log SET after = replace(after, 'globex', 'evil corp') WHERE id = ?")
        .bind(&row.0)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("tamper: {e}"));
    conn.close().await.unwrap_or_else(|e| panic!("close: {e}"));

    let broken = run_rampart(["audit", "verify", "--config", &config], cwd);
    assert_eq!(broken.status.code(), Some(65), "{}", describe(&broken));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains(&format!("entry #{}", row.1)) && stderr.contains(&row.0),
        "{}",
        describe(&broken)
    );
    assert!(stderr.contains("changed"), "{}", describe(&broken));
}
