//! HTTP/2 abuse from outside the Rust stack: Python scripts on the `h2`
//! library (Debian python3-h2) in `tests/tools/` attack the real binary's
//! h2c listener — a rapid-reset flood and a CONTINUATION flood written as raw
//! frames. Each script prints one JSON line and exits 0 only when the server
//! sent the attacking connection away in time and still served a bystander
//! connection and a fresh one. Meanwhile this test's own HTTP/2 client asks
//! for a page every 100 ms and must get 200 within 2 s every time.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::attack::{python_with_h2, tools_dir};
use support::{Rampart, origin};

const SHOP: &str = "shop.test";

/// One GET over a new h2c connection; the status or what went wrong.
async fn h2_status(addr: SocketAddr) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| format!("h2 handshake: {e}"))?;
    tokio::spawn(connection);
    let request = http::Request::get(format!("http://{SHOP}/"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?;
    Ok(status)
}

async fn read_pipe<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut text).await;
    }
    text
}

/// Runs `script` against Rampart while probing over HTTP/2 every 100 ms;
/// returns the script's JSON verdict after checking the probes.
async fn run_script(script: &str) -> serde_json::Value {
    let shop = origin::start("shop").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"{SHOP}\"]\norigins = [\"{}\"]\n",
        shop.url()
    ));
    assert_eq!(h2_status(rampart.http).await, Ok(200), "before the attack");

    let started = Instant::now();
    let mut child = tokio::process::Command::new(python_with_h2())
        .arg(tools_dir().join(script))
        .args(["--port", &rampart.http.port().to_string()])
        .args(["--authority", SHOP])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {script}: {e}"));
    let out_task = tokio::spawn(read_pipe(child.stdout.take()));
    let err_task = tokio::spawn(read_pipe(child.stderr.take()));

    // Probe until the script ends (it bounds itself; 60 s is a backstop).
    let mut probes = Vec::new();
    let status = loop {
        let tick = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(2), h2_status(rampart.http))
            .await
            .unwrap_or_else(|_| Err("no answer within 2 s".to_string()));
        probes.push((tick.elapsed(), outcome));
        tokio::select! {
            status = child.wait() => break status,
            _ = tokio::time::sleep_until(tick + Duration::from_millis(100)) => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{script} did not finish"
        );
    };
    let status = status.unwrap_or_else(|e| panic!("wait for {script}: {e}"));
    let stdout = out_task.await.unwrap_or_default();
    let stderr = err_task.await.unwrap_or_default();
    let verdict: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{script} printed no JSON ({status}):\n{stdout}\n{stderr}"));
    eprintln!("{script}: {verdict} in {:?}", started.elapsed());
    assert!(
        status.success() && verdict["ok"] == true,
        "{script} says the attack was not contained ({status}): {verdict}\n{stderr}"
    );
    let bad: Vec<_> = probes.iter().filter(|(_, r)| *r != Ok(200)).collect();
    assert!(
        bad.is_empty(),
        "{} of {} HTTP/2 requests of another client failed during {script}: {bad:?}",
        bad.len(),
        probes.len()
    );
    // Still serving afterwards, on a new connection.
    assert_eq!(h2_status(rampart.http).await, Ok(200), "after {script}");
    verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_rapid_reset_flood_gets_goaway_and_others_are_served() {
    let verdict = run_script("h2_rapid_reset.py").await;
    // The script checks the GOAWAY's code; that it came well before the
    // script's own ceiling is the point.
    let streams = verdict["streams"].as_u64().unwrap_or(u64::MAX);
    assert!(streams < 100_000, "{verdict}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_continuation_flood_is_cut_off_within_bounds() {
    let verdict = run_script("h2_continuation_flood.py").await;
    let bytes = verdict["ended_after_bytes"].as_u64().unwrap_or(u64::MAX);
    assert!(bytes <= 1 << 20, "{verdict}");
}
