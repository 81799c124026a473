//! Graceful shutdown on SIGTERM / SIGINT: listeners close at once, requests in
//! flight finish, idle connections are closed, and `node.shutdown_grace`
//! bounds how long the process waits.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::Response;
use support::Rampart;
use support::ops::{
    Ending, Received, connection_refused, exchange, http_call, read_one_response, read_to_end,
    wait_until,
};
use support::origin::{self, TestOrigin, full};
use tokio::sync::Notify;

/// 256 KiB that a truncated or mixed-up body cannot match by accident.
fn big_body() -> Vec<u8> {
    (0..256 * 1024u32).map(|i| (i % 251) as u8).collect()
}

/// An origin whose `/slow` waits for `gate` (or `delay`) and counts arrivals;
/// every other path answers "ok" at once.
async fn gated_origin(
    gate: Arc<Notify>,
    delay: Option<Duration>,
) -> (TestOrigin, Arc<AtomicUsize>) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let seen = arrived.clone();
    let origin = origin::builder("slow")
        .handler(move |req: http::Request<hyper::body::Incoming>| {
            let gate = gate.clone();
            let seen = seen.clone();
            async move {
                if req.uri().path() != "/slow" {
                    return Response::new(full("ok"));
                }
                seen.fetch_add(1, Ordering::SeqCst);
                match delay {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => gate.notified().await,
                }
                Response::new(full(big_body()))
            }
        })
        .start()
        .await;
    (origin, arrived)
}

fn start(origin: &TestOrigin, grace: &str) -> Rampart {
    Rampart::builder()
        .node(&format!("shutdown_grace = \"{grace}\""))
        .sites(&format!(
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n",
            origin.url()
        ))
        .start()
}

/// Sends a keep-alive GET on a new connection from another thread and reads
/// until the server closes it.
fn request_in_background(addr: SocketAddr, path: &str) -> std::thread::JoinHandle<Received> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: shop.test\r\n\r\n");
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"));
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("write: {e}"));
        read_to_end(&mut stream, Duration::from_secs(60))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let gate = Arc::new(Notify::new());
    let (origin, arrived) = gated_origin(gate.clone(), None).await;
    let mut rampart = start(&origin, "20s");
    let pid_file = rampart.dir.path().join("data").join("rampart.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file)
            .unwrap_or_default()
            .trim(),
        rampart.pid().to_string()
    );

    // An idle kept-alive connection, which must not hold up the shutdown.
    let mut idle = TcpStream::connect(rampart.http).unwrap_or_else(|e| panic!("connect: {e}"));
    idle.write_all(b"GET /fast HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        .unwrap_or_else(|e| panic!("write: {e}"));
    let first = read_one_response(&mut idle, Duration::from_secs(10));
    assert_eq!(first.map(|r| r.status), Some(200));

    let in_flight = request_in_background(rampart.http, "/slow");
    assert!(
        wait_until(Duration::from_secs(10), || arrived.load(Ordering::SeqCst)
            == 1),
        "the request did not reach the origin"
    );

    rampart.signal("TERM");
    let signalled = Instant::now();
    for (name, addr) in [
        ("http", rampart.http),
        ("https", rampart.https),
        ("admin", rampart.admin),
    ] {
        assert!(
            wait_until(Duration::from_secs(5), || connection_refused(addr)),
            "the {name} listener still accepts after SIGTERM"
        );
    }
    eprintln!("listeners closed {:?} after SIGTERM", signalled.elapsed());

    // The idle connection is closed without a response.
    let rest = read_to_end(&mut idle, Duration::from_secs(5));
    assert_eq!(rest.ending, Ending::Eof, "idle connection not closed");
    assert!(rest.bytes.is_empty(), "unexpected bytes: {}", rest.text());

    // Still running: it waits for the request in flight.
    assert!(
        rampart.wait_exit(Duration::from_millis(300)).is_none(),
        "exited with a request in flight"
    );
    gate.notify_one();

    let received = in_flight
        .join()
        .unwrap_or_else(|_| panic!("client thread panicked"));
    let responses = received.responses();
    assert_eq!(responses.len(), 1, "{:?}", received.ending);
    assert_eq!(responses[0].status, 200);
    assert!(responses[0].header("rampart-ray").is_some());
    assert_eq!(responses[0].body.len(), big_body().len(), "full body");
    assert!(responses[0].body == big_body(), "body intact");
    assert_eq!(
        received.ending,
        Ending::Eof,
        "connection closed after the response"
    );

    let status = rampart
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| {
            panic!(
                "no exit after the last request; stderr:\n{}",
                rampart.stderr()
            )
        });
    assert!(
        status.success(),
        "{status:?}; stderr:\n{}",
        rampart.stderr()
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(15),
        "took {:?}: it should not wait for the grace period",
        signalled.elapsed()
    );
    let stderr = rampart.stderr();
    assert!(
        stderr.contains("stopped accepting; finishing in-flight requests"),
        "{stderr}"
    );
    assert!(stderr.contains("rampart stopped"), "{stderr}");
    assert!(!stderr.contains("grace period over"), "{stderr}");
    assert!(!pid_file.exists(), "pid file removed");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_grace_bounds_a_slow_request() {
    let (origin, arrived) =
        gated_origin(Arc::new(Notify::new()), Some(Duration::from_secs(30))).await;
    let mut rampart = start(&origin, "1s");
    let in_flight = request_in_background(rampart.http, "/slow");
    assert!(
        wait_until(Duration::from_secs(10), || arrived.load(Ordering::SeqCst)
            == 1),
        "the request did not reach the origin"
    );

    rampart.signal("TERM");
    let signalled = Instant::now();
    let status = rampart
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| {
            panic!(
                "still running 15 s after SIGTERM; stderr:\n{}",
                rampart.stderr()
            )
        });
    let took = signalled.elapsed();
    eprintln!("exited {took:?} after SIGTERM with shutdown_grace = 1s");
    assert!(
        status.success(),
        "{status:?}; stderr:\n{}",
        rampart.stderr()
    );
    assert!(
        took >= Duration::from_millis(900),
        "exited after {took:?}, before the grace period"
    );
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} with a 1 s grace period"
    );
    assert!(
        rampart.stderr().contains("grace period over"),
        "{}",
        rampart.stderr()
    );

    // The client is cut off, never given a (partial) success.
    let received = in_flight
        .join()
        .unwrap_or_else(|_| panic!("client thread panicked"));
    assert_ne!(received.ending, Ending::TimedOut);
    assert!(
        received.responses().iter().all(|r| r.status != 200),
        "{}",
        received.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_edge_exits_at_once_on_sigterm_and_sigint() {
    let (origin, _) = gated_origin(Arc::new(Notify::new()), None).await;
    for signal in ["TERM", "INT"] {
        let mut rampart = start(&origin, "30s");
        rampart.signal(signal);
        let signalled = Instant::now();
        let status = rampart
            .wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no exit after SIG{signal}; stderr:\n{}", rampart.stderr()));
        assert!(status.success(), "SIG{signal}: {status:?}");
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "SIG{signal} took {:?} with nothing in flight",
            signalled.elapsed()
        );
        assert!(connection_refused(rampart.http));
    }
}

/// Behind a load balancer (`node.drain_delay`): SIGTERM fails `/healthz` at
/// once while the node still serves new connections, and only after the
/// delay do the listeners close; a second SIGTERM cuts the delay short.
#[tokio::test(flavor = "multi_thread")]
async fn drain_delay_fails_health_checks_while_still_serving() {
    let (origin, _) = gated_origin(Arc::new(Notify::new()), None).await;
    let sites = format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n",
        origin.url()
    );
    let healthz = |rampart: &Rampart| http_call(rampart.admin, "GET", "/healthz");
    let mut rampart = Rampart::builder()
        .node("shutdown_grace = \"5s\"\ndrain_delay = \"3s\"")
        .sites(&sites)
        .start();
    assert_eq!(healthz(&rampart).map(|(status, _)| status), Some(200));

    rampart.signal("TERM");
    let signalled = Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || healthz(&rampart).is_some_and(
            |(status, body)| status == 503 && body.contains("\"draining\"")
        )),
        "/healthz did not turn 503 draining after SIGTERM: {:?}",
        healthz(&rampart)
    );
    let served = exchange(
        rampart.http,
        b"GET /fast HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(
        served.responses().first().map(|r| r.status),
        Some(200),
        "a new connection during the drain delay was not served: {}",
        served.text()
    );
    assert!(
        wait_until(Duration::from_secs(15), || connection_refused(rampart.http)),
        "the listener never closed"
    );
    assert!(
        signalled.elapsed() >= Duration::from_secs(3),
        "the listener closed {:?} after SIGTERM, before the 3 s drain delay",
        signalled.elapsed()
    );
    let status = rampart
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no exit after the drain; stderr:\n{}", rampart.stderr()));
    assert!(status.success(), "{status:?}");

    // An operator in a hurry: the second signal stops without the delay.
    let mut rampart = Rampart::builder()
        .node("drain_delay = \"600s\"")
        .sites(&sites)
        .start();
    rampart.signal("TERM");
    assert!(wait_until(Duration::from_secs(5), || healthz(&rampart)
        .is_some_and(|(status, _)| status == 503)));
    rampart.signal("TERM");
    let status = rampart
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("a second SIGTERM did not end the drain delay"));
    assert!(status.success(), "{status:?}");
}
