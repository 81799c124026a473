//! A configuration with 1,000 sites: it checks, starts, routes and reloads
//! in reasonable time.

mod support;

use std::time::{Duration, Instant};

use support::Rampart;
use support::client::{Proto, get, send};
use support::ops::{describe, http_call, run_rampart};
use support::origin::{self, TestOrigin};

const SITES: usize = 1000;

fn many_sites(origins: &[TestOrigin]) -> String {
    let mut text = String::with_capacity(SITES * 160);
    for i in 0..SITES {
        let origin = &origins[i % origins.len()];
        text.push_str(&format!(
            "[[site]]\nname = \"site-{i}\"\nhosts = [\"s{i}.test\", \"*.s{i}.test\"]\norigins = [\"{}\"]\n\n",
            origin.url()
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_sites_check_start_route_and_reload() {
    let origins = [origin::start("even").await, origin::start("odd").await];
    let sites = many_sites(&origins);

    // check-config on the bare sites file.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("many.toml");
    support::write(&path, &sites);
    let started = Instant::now();
    let output = run_rampart(
        [
            std::ffi::OsStr::new("check-config"),
            "--config".as_ref(),
            path.as_os_str(),
        ],
        dir.path(),
    );
    eprintln!("check-config of {SITES} sites took {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{}: ok ({SITES} sites)", path.display())
    );

    // serve: time to readiness.
    let started = Instant::now();
    let rampart = Rampart::start(&sites);
    let ready = started.elapsed();
    eprintln!("serve with {SITES} sites was ready after {ready:?}");
    assert!(ready < Duration::from_secs(5), "ready after {ready:?}");

    let (status, body) =
        http_call(rampart.admin, "GET", "/healthz").unwrap_or_else(|| panic!("admin"));
    assert_eq!(status, 200);
    let health: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(health["sites"], SITES);

    for i in [0usize, 1, 499, 998, 999] {
        let expected = if i % 2 == 0 { "even" } else { "odd" };
        for host in [format!("s{i}.test"), format!("www.s{i}.test")] {
            let reply = send(rampart.http, Proto::Http1, get(&host, "/")).await;
            assert_eq!(reply.status, 200, "{host}");
            assert_eq!(reply.json()["origin"], expected, "{host}");
        }
    }
    assert_eq!(
        send(rampart.http, Proto::Http1, get("s1000.test", "/"))
            .await
            .status,
        404
    );

    // Reloading the same 1,000 sites.
    let started = Instant::now();
    let output = rampart.reload();
    eprintln!("reload of {SITES} sites took {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&format!("{SITES} site(s)")),
        "{}",
        describe(&output)
    );
    let reply = send(rampart.http, Proto::Http1, get("s777.test", "/")).await;
    assert_eq!(reply.json()["origin"], "odd");
}
