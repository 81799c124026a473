//! SIGKILL during a stream of API writes loses nothing that was acknowledged,
//! on SQLite and PostgreSQL; and the edge serves the restarted store's sites.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use support::Rampart;
use support::backends::{Backend, store_table};
use support::ops::wait_until;

const WRITERS: usize = 4;

async fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let mut rampart = Rampart::builder()
        .tables(&store_table(backend).await)
        .start();
    let api = rampart.admin_api();
    let account = api
        .post("/api/v1/accounts", &json!({ "name": "acme" }))
        .expect(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let api = api.clone();
            let account = account.clone();
            let acknowledged = acknowledged.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let name = format!("w{writer}-{n}");
                    // A connection the kill cuts off is simply not acknowledged.
                    let reply = std::panic::catch_unwind(|| {
                        api.post(
                            &format!("/api/v1/sites?account_id={account}"),
                            &json!({ "name": name, "hosts": [format!("{name}.test")], "origins": ["http://127.0.0.1:1"] }),
                        )
                    });
                    match reply {
                        Ok(reply) if reply.status == 201 => {
                            acknowledged.lock().unwrap_or_else(|e| e.into_inner()).insert(name);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();

    // Kill while the writers are busy: after a good number were acknowledged.
    assert!(wait_until(Duration::from_secs(30), || {
        acknowledged.lock().map(|a| a.len()).unwrap_or(0) >= 40
    }));
    rampart.kill_and_restart();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        let _ = writer.join();
    }

    let acknowledged = acknowledged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let stored: BTreeSet<String> = api
        .get(&format!("/api/v1/sites?account_id={account}"))
        .expect(200)
        .as_array()
        .map(|sites| {
            sites
                .iter()
                .filter_map(|s| s["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after SIGKILL: {lost:?}"
    );
    // No second bootstrap token on a store that already has users.
    assert!(!rampart.stderr().contains("admin token:"));
}

on_both_backends!(acknowledged_writes_survive_sigkill);
