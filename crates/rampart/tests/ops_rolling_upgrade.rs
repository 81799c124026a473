//! A rolling upgrade behind a load balancer drops no request: three nodes
//! behind a real HAProxy (TCP mode, health checks on `/healthz`), clients
//! opening a new connection per request the whole time, and each node in
//! turn stopped with SIGTERM (drained by `node.drain_delay`) and started
//! again, as an operator upgrades one node after another.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::Rampart;
use support::haproxy::{Backend, Haproxy};
use support::ops::{exchange, wait_until};
use support::origin;

const CLIENTS: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn rolling_restart_behind_haproxy_drops_no_request() {
    let origin = origin::start("app").await;
    let sites = format!(
        "[[site]]\nname = \"app\"\nhosts = [\"app.test\"]\norigins = [\"{}\"]\n",
        origin.url()
    );
    let mut nodes: Vec<Rampart> = (0..3)
        .map(|_| {
            Rampart::builder()
                .node("drain_delay = \"1s\"\nshutdown_grace = \"10s\"")
                .sites(&sites)
                .start()
        })
        .collect();
    let backends: Vec<Backend> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| Backend {
            name: format!("n{i}"),
            traffic: node.http,
            health: node.admin,
        })
        .collect();
    let haproxy = Haproxy::start(&backends);
    for b in &backends {
        assert!(
            haproxy.wait_state(&b.name, "UP", Duration::from_secs(10)),
            "{} never came up in HAProxy: {:?}\n{}",
            b.name,
            haproxy.states(),
            haproxy.log()
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, served, failures) = (stop.clone(), served.clone(), failures.clone());
            let addr = haproxy.addr;
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let received = exchange(
                        addr,
                        b"GET /item HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
                        Duration::from_secs(10),
                    );
                    match received.responses().first().map(|r| r.status) {
                        Some(200) => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        other => failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!(
                                "{other:?} ({:?}): {}",
                                received.ending,
                                received.text()
                            )),
                    }
                }
            })
        })
        .collect();
    let progress = |from: usize| {
        wait_until(Duration::from_secs(10), || {
            served.load(Ordering::Relaxed) >= from + 20
        })
    };
    assert!(progress(0), "no traffic through HAProxy");

    for (i, node) in nodes.iter_mut().enumerate() {
        let name = format!("n{i}");
        node.signal("TERM");
        assert!(
            haproxy.wait_state(&name, "DOWN", Duration::from_secs(5)),
            "HAProxy did not take the draining {name} out: {:?}",
            haproxy.states()
        );
        let status = node
            .wait_exit(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{name} did not exit after SIGTERM"));
        assert!(status.success(), "{name}: {status:?}");
        assert!(
            progress(served.load(Ordering::Relaxed)),
            "traffic stopped while {name} was down"
        );
        // The "upgraded" node: the same binary and configuration again.
        node.kill_and_restart();
        assert!(
            haproxy.wait_state(&name, "UP", Duration::from_secs(10)),
            "{name} did not come back: {:?}",
            haproxy.states()
        );
    }
    assert!(progress(served.load(Ordering::Relaxed)));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client
            .join()
            .unwrap_or_else(|_| panic!("client thread panicked"));
    }
    let failures = failures.lock().unwrap_or_else(|e| e.into_inner());
    let total = served.load(Ordering::Relaxed);
    eprintln!("{total} requests served during the rolling restart");
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during the rolling restart, first: {:?}",
        failures.len(),
        total + failures.len(),
        failures.first()
    );
}
