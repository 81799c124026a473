//! Configuration reload: `rampart reload`, SIGHUP and the admin endpoint;
//! refused reloads keep the running configuration; reloads under load drop
//! no request (wrk over HTTP/1.1, h2load over h2c).

mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use support::client::{Proto, Reply, get, send};
use support::ops::{describe, http_call, on_path, position_of, wait_until};
use support::origin::{self, TestOrigin};
use support::{Rampart, write, write_cert};

fn site(name: &str, host: &str, origin: &TestOrigin) -> String {
    format!(
        "[[site]]\nname = \"{name}\"\nhosts = [\"{host}\"]\norigins = [\"{}\"]\n",
        origin.url()
    )
}

/// Polls with fresh connections until `host` answers a reply that `ok`
/// accepts, or `timeout` passes; returns the last reply.
async fn poll_until(
    rampart: &Rampart,
    host: &str,
    timeout: Duration,
    ok: impl Fn(&Reply) -> bool,
) -> (bool, Reply) {
    let deadline = Instant::now() + timeout;
    loop {
        let reply = send(rampart.http, Proto::Http1, get(host, "/")).await;
        if ok(&reply) {
            return (true, reply);
        }
        if Instant::now() >= deadline {
            return (false, reply);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn from(origin: &'static str) -> impl Fn(&Reply) -> bool {
    move |r: &Reply| {
        r.status == 200
            && serde_json::from_slice::<serde_json::Value>(&r.body)
                .is_ok_and(|j| j["origin"] == origin)
    }
}

fn healthz(rampart: &Rampart) -> serde_json::Value {
    let (status, body) =
        http_call(rampart.admin, "GET", "/healthz").unwrap_or_else(|| panic!("admin unreachable"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("healthz JSON ({e}): {body}"))
}

/// The value of a metric line `name{labels} value` in the exposition.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l.as_bytes().get(series.len()) == Some(&b' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

const RELOADS_OK: &str = "rampart_config_reloads_total{result=\"ok\"}";
const RELOADS_ERR: &str = "rampart_config_reloads_total{result=\"error\"}";

#[tokio::test(flavor = "multi_thread")]
async fn reload_routes_new_sites_within_a_second() {
    let alpha = origin::start("alpha").await;
    let beta = origin::start("beta").await;
    let rampart = Rampart::start(&site("shop", "shop.test", &alpha));
    assert_eq!(
        send(rampart.http, Proto::Http1, get("blog.test", "/"))
            .await
            .status,
        404
    );
    assert_eq!(healthz(&rampart)["snapshot_version"], 1);

    // Add a site.
    rampart.rewrite_sites(&format!(
        "{}\n{}",
        site("shop", "shop.test", &alpha),
        site("blog", "blog.test", &beta)
    ));
    let started = Instant::now();
    let output = rampart.reload();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "reloaded: snapshot 2, 2 site(s)",
        "{}",
        describe(&output)
    );
    let (ok, reply) = poll_until(&rampart, "blog.test", Duration::from_secs(1), from("beta")).await;
    assert!(
        ok,
        "blog.test not routed within 1 s of the reload: {} {}",
        reply.status,
        reply.text()
    );
    eprintln!(
        "new site served {:?} after the reload started",
        started.elapsed()
    );
    assert!(from("alpha")(
        &send(rampart.http, Proto::Http1, get("shop.test", "/")).await
    ));

    // Move a host to another origin and drop a site.
    rampart.rewrite_sites(&site("blog", "blog.test", &alpha));
    let output = rampart.reload();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let (ok, reply) =
        poll_until(&rampart, "blog.test", Duration::from_secs(1), from("alpha")).await;
    assert!(ok, "blog.test not moved to alpha: {}", reply.text());
    let (ok, reply) = poll_until(&rampart, "shop.test", Duration::from_secs(1), |r| {
        r.status == 404
    })
    .await;
    assert!(
        ok,
        "shop.test still served after its site was removed: {}",
        reply.status
    );

    let health = healthz(&rampart);
    assert_eq!(health["snapshot_version"], 3);
    assert_eq!(health["sites"], 1);
    assert_eq!(metric(&rampart.metrics(), RELOADS_OK), Some(2.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_reload_is_refused_and_the_old_config_keeps_serving() {
    let alpha = origin::start("alpha").await;
    let beta = origin::start("beta").await;
    let rampart = Rampart::start(&site("shop", "shop.test", &alpha));
    let good = std::fs::read_to_string(&rampart.config_path).unwrap_or_default();
    let path = rampart.config_path.display().to_string();

    // The new file moves shop to beta, but has an unknown key and a bad origin.
    let broken = format!(
        "{}\n{}retires = 2\n\n[[site]]\nname = \"blog\"\nhosts = [\"blog.test\"]\norigins = [\"http//127.0.0.1:1\"]\n",
        good.split("[[site]]").next().unwrap_or_default(),
        site("shop", "shop.test", &beta)
    );
    write(&rampart.config_path, &broken);
    let (key_line, key_col) = position_of(&broken, "retires");
    let (url_line, url_col) = position_of(&broken, "\"http//127.0.0.1:1\"");

    // `rampart reload` checks the file itself and does not send the reload.
    let output = rampart.reload();
    assert_eq!(output.status.code(), Some(64), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{path}:{key_line}:{key_col}: unknown key \"retires\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}:{url_line}:{url_col}: invalid origin URL")),
        "{stderr}"
    );
    assert!(
        stderr.contains("reload not sent: the running configuration stays"),
        "{stderr}"
    );
    assert!(from("alpha")(
        &send(rampart.http, Proto::Http1, get("shop.test", "/")).await
    ));

    // The admin endpoint refuses it with the same positions, as JSON.
    let (status, body) =
        http_call(rampart.admin, "POST", "/-/reload").unwrap_or_else(|| panic!("admin"));
    assert_eq!(status, 422, "{body}");
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["error"]["code"], "invalid_config", "{body}");
    let message = json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("reload refused; the running configuration stays"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{path}:{key_line}:{key_col}: ")),
        "{message}"
    );
    assert!(
        message.contains(&format!("{path}:{url_line}:{url_col}: ")),
        "{message}"
    );

    // SIGHUP: refused the same way, logged, counted.
    rampart.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(5), || metric(
            &rampart.metrics(),
            RELOADS_ERR
        ) == Some(2.0)),
        "SIGHUP reload not counted as refused:\n{}",
        rampart.metrics()
    );
    assert!(
        wait_until(Duration::from_secs(5), || rampart
            .stderr()
            .contains(&format!("{path}:{key_line}:{key_col}: unknown key"))),
        "the refusal and its position are logged; stderr:\n{}",
        rampart.stderr()
    );
    for _ in 0..3 {
        let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
        assert!(
            from("alpha")(&reply),
            "old config must keep serving: {}",
            reply.text()
        );
    }
    assert_eq!(
        send(rampart.http, Proto::Http1, get("blog.test", "/"))
            .await
            .status,
        404
    );
    assert_eq!(healthz(&rampart)["snapshot_version"], 1);
    assert_eq!(metric(&rampart.metrics(), RELOADS_OK), Some(0.0));

    // Fixed: the next reload goes through.
    rampart.rewrite_sites(&site("shop", "shop.test", &beta));
    let output = rampart.reload();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let (ok, reply) = poll_until(&rampart, "shop.test", Duration::from_secs(1), from("beta")).await;
    assert!(ok, "{}", reply.text());
    assert_eq!(healthz(&rampart)["snapshot_version"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_like_rampart_reload() {
    let alpha = origin::start("alpha").await;
    let beta = origin::start("beta").await;
    let rampart = Rampart::start(&site("shop", "shop.test", &alpha));
    assert!(from("alpha")(
        &send(rampart.http, Proto::Http1, get("shop.test", "/")).await
    ));

    rampart.rewrite_sites(&format!(
        "{}\n{}",
        site("shop", "shop.test", &beta),
        site("blog", "blog.test", &alpha)
    ));
    rampart.signal("HUP");
    let (ok, reply) = poll_until(&rampart, "shop.test", Duration::from_secs(2), from("beta")).await;
    assert!(ok, "SIGHUP did not apply the new file: {}", reply.text());
    let (ok, _) = poll_until(&rampart, "blog.test", Duration::from_secs(1), from("alpha")).await;
    assert!(ok);
    assert_eq!(healthz(&rampart)["snapshot_version"], 2);
    assert!(wait_until(Duration::from_secs(2), || metric(
        &rampart.metrics(),
        RELOADS_OK
    ) == Some(1.0)));
    assert!(
        rampart.stderr().contains("configuration reloaded"),
        "stderr:\n{}",
        rampart.stderr()
    );

    // A second SIGHUP with the same file is harmless and bumps the version.
    rampart.signal("HUP");
    assert!(wait_until(
        Duration::from_secs(2),
        || healthz(&rampart)["snapshot_version"] == 3
    ));
    assert!(from("beta")(
        &send(rampart.http, Proto::Http1, get("shop.test", "/")).await
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_reload_endpoint_answers_json() {
    let alpha = origin::start("alpha").await;
    let rampart = Rampart::start(&site("shop", "shop.test", &alpha));

    let (status, body) =
        http_call(rampart.admin, "POST", "/-/reload").unwrap_or_else(|| panic!("admin"));
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        json,
        serde_json::json!({"status": "reloaded", "snapshot_version": 2, "sites": 1, "warnings": []})
    );

    // A setting that only applies on restart: reloaded, with a warning.
    let text = std::fs::read_to_string(&rampart.config_path).unwrap_or_default();
    write(
        &rampart.config_path,
        &text.replacen("[proxy]\n", "[proxy]\nmax_header_bytes = 16384\n", 1),
    );
    let (status, body) =
        http_call(rampart.admin, "POST", "/-/reload").unwrap_or_else(|| panic!("admin"));
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["snapshot_version"], 3);
    let warnings = json["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{body}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap_or_default()
            .contains("max_header_bytes"),
        "{body}"
    );
    // The CLI passes the warning on.
    let output = rampart.reload();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("warning: [proxy] max_header_bytes"),
        "{}",
        describe(&output)
    );

    // A key that does not belong to its certificate is refused with its position.
    let (cert, _, _) = write_cert(rampart.dir.path(), "one", &["shop.test"]);
    let (_, key, _) = write_cert(rampart.dir.path(), "two", &["shop.test"]);
    rampart.rewrite_sites(&format!(
        "{}tls = {{ cert = \"{}\", key = \"{}\" }}\n",
        site("shop", "shop.test", &alpha),
        cert.display(),
        key.display()
    ));
    let (status, body) =
        http_call(rampart.admin, "POST", "/-/reload").unwrap_or_else(|| panic!("admin"));
    assert_eq!(status, 422, "{body}");
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["error"]["code"], "invalid_config", "{body}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("does not belong to the certificate"),
        "{body}"
    );
    let output = rampart.reload();
    assert_eq!(output.status.code(), Some(64), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not belong to the certificate"),
        "{}",
        describe(&output)
    );
    assert!(from("alpha")(
        &send(rampart.http, Proto::Http1, get("shop.test", "/")).await
    ));
    assert_eq!(healthz(&rampart)["snapshot_version"], 4);

    // Only POST reloads.
    let (status, body) =
        http_call(rampart.admin, "GET", "/-/reload").unwrap_or_else(|| panic!("admin"));
    assert_eq!(status, 405, "{body}");
    assert_eq!(healthz(&rampart)["snapshot_version"], 4);
}

/// Flips `shop.test` between the two origins `count` times, `gap` apart,
/// while `running` says the load generator still runs; returns how many
/// reloads happened during the load.
fn reload_while(
    rampart: &Rampart,
    sites: [&str; 2],
    count: usize,
    gap: Duration,
    mut running: impl FnMut() -> bool,
) -> usize {
    let mut during = 0;
    for i in 0..count {
        std::thread::sleep(gap);
        rampart.rewrite_sites(sites[(i + 1) % 2]);
        let output = rampart.reload();
        assert_eq!(
            output.status.code(),
            Some(0),
            "reload {i}: {}",
            describe(&output)
        );
        if running() {
            during += 1;
        }
    }
    during
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_under_wrk_load_fails_no_request() {
    assert!(
        on_path("wrk"),
        "wrk is not installed: install the Debian package `wrk` (apt-get install -y wrk); CI installs it"
    );
    let alpha = origin::start("alpha").await;
    let beta = origin::start("beta").await;
    let sites = [
        site("shop", "shop.test", &alpha),
        site("shop", "shop.test", &beta),
    ];
    let rampart = Rampart::start(&sites[0]);
    assert!(from("alpha")(
        &send(rampart.http, Proto::Http1, get("shop.test", "/")).await
    ));

    let url = format!("http://{}/", rampart.http);
    let wrk = Command::new("wrk")
        .args([
            "-t",
            "2",
            "-c",
            "32",
            "-d",
            "4s",
            "--timeout",
            "10s",
            "-H",
            "Host: shop.test",
            &url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn wrk: {e}"));
    let started = Instant::now();
    let during = reload_while(
        &rampart,
        [&sites[0], &sites[1]],
        10,
        Duration::from_millis(200),
        || started.elapsed() < Duration::from_secs(4),
    );
    let output = wrk
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wrk: {e}"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("wrk with {during} reloads during the run:\n{report}");
    assert!(output.status.success(), "wrk failed:\n{report}");
    assert!(during >= 5, "only {during} reloads happened while wrk ran");
    assert!(
        !report.contains("Socket errors"),
        "wrk saw socket errors:\n{report}"
    );
    assert!(
        !report.contains("Non-2xx or 3xx responses"),
        "wrk saw error responses:\n{report}"
    );
    let requests: u64 = report
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .map(|(n, _)| n.to_string())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in:\n{report}"));
    assert!(
        requests >= 500,
        "too little load to mean anything: {requests} requests"
    );
    assert!(alpha.hits.load(Ordering::Relaxed) > 0 && beta.hits.load(Ordering::Relaxed) > 0);
    assert_eq!(metric(&rampart.metrics(), RELOADS_OK), Some(10.0));
    assert_eq!(
        metric(
            &rampart.metrics(),
            "rampart_requests_total{site=\"shop\",status=\"502\"}"
        ),
        None,
        "no 502 recorded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_under_h2load_load_fails_no_request() {
    if !on_path("h2load") {
        eprintln!(
            "NOTE: skipping reload_under_h2load_load_fails_no_request: h2load (nghttp2-client) is not installed"
        );
        return;
    }
    let alpha = origin::start("alpha").await;
    let beta = origin::start("beta").await;
    let sites = [
        site("shop", "shop.test", &alpha),
        site("shop", "shop.test", &beta),
    ];
    let rampart = Rampart::start(&sites[0]);

    let total = 20_000;
    let mut h2load = Command::new("h2load")
        .args([
            "-n",
            &total.to_string(),
            "-c",
            "8",
            "-m",
            "4",
            "-H",
            ":authority: shop.test",
        ])
        .arg(format!("http://{}/", rampart.http))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn h2load: {e}"));
    let pid = h2load.id();
    let during = reload_while(
        &rampart,
        [&sites[0], &sites[1]],
        10,
        Duration::from_millis(100),
        || {
            // Still running if /proc still has it and it is not a zombie.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.split(' ').nth(2).is_none_or(|state| state != "Z"))
        },
    );
    let finished = support::ops::wait_child(&mut h2load, Duration::from_secs(120));
    if finished.is_none() {
        let _ = h2load.kill();
    }
    let output = h2load
        .wait_with_output()
        .unwrap_or_else(|e| panic!("h2load: {e}"));
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!(
        "h2load with {during} reloads during the run:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        finished.is_some_and(|s| s.success()),
        "h2load failed or hung:\n{report}"
    );
    let line = |prefix: &str| {
        report
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{report}"))
            .to_string()
    };
    assert_eq!(
        line("requests: "),
        format!(
            "requests: {total} total, {total} started, {total} done, {total} succeeded, 0 failed, 0 errored, 0 timeout"
        )
    );
    assert_eq!(
        line("status codes: "),
        format!("status codes: {total} 2xx, 0 3xx, 0 4xx, 0 5xx")
    );
    assert!(
        during >= 3,
        "only {during} reloads happened while h2load ran"
    );
    assert!(alpha.hits.load(Ordering::Relaxed) > 0 && beta.hits.load(Ordering::Relaxed) > 0);
}
