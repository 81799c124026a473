//! Strict HTTP/1 framing end to end: ambiguous or malformed requests sent as
//! raw bytes to the edge's plain listener are refused with 400 (431 for an
//! oversized head), a `Rampart-Ray` header and `Connection: close`, the
//! connection is closed, and the request hidden behind them never reaches the
//! origin.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Response;
use http_body_util::BodyExt;
use support::Rampart;
use support::ops::{Ending, Received, exchange, read_one_response, read_to_end, wait_until};
use support::origin::{self, TestOrigin, full};

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: shop.test\r\n\r\n";
const TIMEOUT: Duration = Duration::from_secs(10);

/// An origin that records `METHOD PATH` of every request it gets and answers
/// with what it saw of the body.
struct Recorder {
    origin: TestOrigin,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let origin = origin::builder("shop")
            .handler(move |req: http::Request<hyper::body::Incoming>| {
                let log = log.clone();
                async move {
                    let line = format!("{} {}", req.method(), req.uri().path());
                    log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                    let path = req.uri().path().to_string();
                    let mut body = req.into_body();
                    let mut len = 0usize;
                    let mut trailers = serde_json::Map::new();
                    let mut complete = true;
                    while let Some(frame) = body.frame().await {
                        match frame {
                            Ok(frame) => {
                                if let Some(data) = frame.data_ref() {
                                    len += data.len();
                                } else if let Some(t) = frame.trailers_ref() {
                                    for (k, v) in t {
                                        trailers.insert(
                                            k.to_string(),
                                            String::from_utf8_lossy(v.as_bytes()).into(),
                                        );
                                    }
                                }
                            }
                            Err(_) => {
                                complete = false;
                                break;
                            }
                        }
                    }
                    let json = serde_json::json!({
                        "path": path,
                        "body_len": len,
                        "complete": complete,
                        "trailers": trailers,
                    });
                    Response::new(full(json.to_string()))
                }
            })
            .start()
            .await;
        Recorder { origin, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn setup() -> (Recorder, Rampart) {
    let recorder = Recorder::start().await;
    let rampart = Rampart::builder()
        .proxy("max_header_bytes = 8192")
        .sites(&format!(
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n",
            recorder.origin.url()
        ))
        .start();
    (recorder, rampart)
}

/// The checks every refused request must pass; returns what went wrong.
fn refusal_problems(received: &Received, status: u16) -> Vec<String> {
    let mut problems = Vec::new();
    if received.ending != Ending::Eof {
        problems.push(format!(
            "connection not closed cleanly: {:?}",
            received.ending
        ));
    }
    let responses = received.responses();
    if responses.len() != 1 {
        problems.push(format!(
            "expected exactly one response, got {}",
            responses.len()
        ));
    }
    let Some(response) = responses.first() else {
        return problems;
    };
    let reason = if status == 431 {
        "Request Header Fields Too Large"
    } else {
        "Bad Request"
    };
    if response.status_line != format!("HTTP/1.1 {status} {reason}") {
        problems.push(format!("status line {:?}", response.status_line));
    }
    match response.header("rampart-ray") {
        Some(ray) if ray.len() == 16 && ray.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            if !response.text().contains(ray) {
                problems.push("the page does not show the ray id".into());
            }
        }
        other => problems.push(format!("Rampart-Ray header: {other:?}")),
    }
    if response.headers_named("connection") != ["close"] {
        problems.push(format!(
            "Connection headers: {:?}",
            response.headers_named("connection")
        ));
    }
    problems
}

struct Case {
    name: &'static str,
    request: String,
    status: u16,
    /// The head is valid and may be forwarded before the body turns out bad.
    body_level: bool,
}

fn case(name: &'static str, request: impl Into<String>) -> Case {
    Case {
        name,
        request: request.into(),
        status: 400,
        body_level: false,
    }
}

fn body_case(name: &'static str, chunked_body: &str) -> Case {
    Case {
        name,
        request: format!(
            "POST /outer HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n{chunked_body}"
        ),
        status: 400,
        body_level: true,
    }
}

/// Runs each case on its own connection, with a smuggled request behind it,
/// and asserts them all (reporting every failing case at once).
async fn run_cases(cases: Vec<Case>) {
    let (recorder, rampart) = setup().await;
    let mut failures = Vec::new();
    for case in &cases {
        let before = recorder.seen().len();
        let bytes = format!("{}{SMUGGLED}", case.request);
        let http = rampart.http;
        let received =
            tokio::task::spawn_blocking(move || exchange(http, bytes.as_bytes(), TIMEOUT))
                .await
                .unwrap_or_else(|e| panic!("join: {e}"));
        let mut problems = refusal_problems(&received, case.status);
        let seen = recorder.seen();
        let new: Vec<&String> = seen.iter().skip(before).collect();
        if new.iter().any(|l| l.contains("/smuggled")) {
            problems.push(format!("the smuggled request reached the origin: {new:?}"));
        }
        if !case.body_level && !new.is_empty() {
            problems.push(format!("the origin was reached: {new:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n  received: {:?}",
                case.name,
                problems.join("; "),
                received.text()
            ));
        }
    }
    // A request on a fresh connection gets through, and by the time it has,
    // nothing from the refused connections is still on its way to the origin.
    let ok = tokio::task::spawn_blocking({
        let http = rampart.http;
        move || {
            exchange(
                http,
                b"GET /control HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n",
                TIMEOUT,
            )
        }
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"));
    assert_eq!(
        ok.responses().first().map(|r| r.status),
        Some(200),
        "control request: {}",
        ok.text()
    );
    assert!(wait_until(Duration::from_secs(5), || recorder
        .seen()
        .iter()
        .any(|l| l == "GET /control")));
    let seen = recorder.seen();
    assert!(
        !seen.iter().any(|l| l.contains("/smuggled")),
        "smuggled requests reached the origin: {seen:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let metrics = rampart.metrics();
    let rejected = metrics
        .lines()
        .find(|l| l.starts_with("rampart_requests_rejected_framing_total{listener=\"http\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<usize>().ok());
    assert_eq!(rejected, Some(cases.len()), "framing rejections counted");
}

const H: &str = "Host: shop.test\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_message_length_is_refused() {
    let post = |headers: &str, body: &str| format!("POST /a HTTP/1.1\r\n{H}{headers}\r\n{body}");
    run_cases(vec![
        case(
            "Content-Length + Transfer-Encoding",
            post(
                "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
        ),
        case(
            "Transfer-Encoding + Content-Length",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                "0\r\n\r\n",
            ),
        ),
        case(
            "two equal Content-Length",
            post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
        ),
        case(
            "two different Content-Length",
            post("Content-Length: 5\r\nContent-Length: 45\r\n", "hello"),
        ),
        case(
            "Content-Length list",
            post("Content-Length: 5, 5\r\n", "hello"),
        ),
        case("Content-Length +5", post("Content-Length: +5\r\n", "hello")),
        case("Content-Length -1", post("Content-Length: -1\r\n", "hello")),
        case(
            "Content-Length 0x5",
            post("Content-Length: 0x5\r\n", "hello"),
        ),
        case(
            "Content-Length ' 5a'",
            post("Content-Length:  5a\r\n", "hello"),
        ),
        case(
            "Content-Length too big",
            post("Content-Length: 99999999999999999999\r\n", "hello"),
        ),
        case(
            "Transfer-Encoding: gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
        ),
        case(
            "Transfer-Encoding: chunked, chunked",
            post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"),
        ),
        case(
            "Transfer-Encoding in HTTP/1.0",
            format!("POST /a HTTP/1.0\r\n{H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ),
        case(
            "space before colon",
            post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"),
        ),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_heads_are_refused() {
    run_cases(vec![
        case(
            "obs-fold continuation",
            format!("GET /a HTTP/1.1\r\n{H}X-Folded: a\r\n b\r\n\r\n"),
        ),
        case(
            "obs-fold with tab",
            format!("GET /a HTTP/1.1\r\n{H}X-Folded: a\r\n\tb\r\n\r\n"),
        ),
        case("bare LF everywhere", "GET /a HTTP/1.1\nHost: shop.test\n\n"),
        case(
            "bare LF after one field",
            "GET /a HTTP/1.1\r\nHost: shop.test\nX-A: b\r\n\r\n",
        ),
        case(
            "bare CR in a value",
            format!("GET /a HTTP/1.1\r\n{H}X-A: b\rc\r\n\r\n"),
        ),
        case(
            "NUL in a value",
            format!("GET /a HTTP/1.1\r\n{H}X-A: b\0c\r\n\r\n"),
        ),
        case(
            "NUL in a name",
            format!("GET /a HTTP/1.1\r\n{H}X-\0A: b\r\n\r\n"),
        ),
        case(
            "control character in a value",
            format!("GET /a HTTP/1.1\r\n{H}X-A: b\x01c\r\n\r\n"),
        ),
        case(
            "field without colon",
            format!("GET /a HTTP/1.1\r\n{H}X-A b\r\n\r\n"),
        ),
        case(
            "HTTP/1.2 request line",
            format!("GET /a HTTP/1.2\r\n{H}\r\n"),
        ),
        Case {
            name: "head over max_header_bytes",
            request: format!(
                "GET /a HTTP/1.1\r\n{H}X-Big: {}\r\n\r\n",
                "a".repeat(10_000)
            ),
            status: 431,
            body_level: false,
        },
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_chunked_bodies_are_refused() {
    run_cases(vec![
        body_case("chunk size zz", "zz\r\nhello\r\n0\r\n\r\n"),
        body_case("chunk size -1", "-1\r\nhello\r\n0\r\n\r\n"),
        body_case(
            "chunk size of 17 hex digits",
            "00000000000000005\r\nhello\r\n0\r\n\r\n",
        ),
        body_case(
            "chunk size overflowing 64 bits",
            "10000000000000000\r\nhello\r\n0\r\n\r\n",
        ),
        body_case(
            "chunk size with trailing garbage",
            "5xyz\r\nhello\r\n0\r\n\r\n",
        ),
        body_case("chunk size with 0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"),
        body_case("empty chunk size", "\r\nhello\r\n0\r\n\r\n"),
        body_case("chunk data not followed by CRLF", "5\r\nhelloXX0\r\n\r\n"),
        body_case("chunk data followed by bare LF", "5\r\nhello\n0\r\n\r\n"),
        body_case("chunk size line with bare LF", "5\nhello\r\n0\r\n\r\n"),
        body_case("bare LF in trailers", "0\r\nX-T: 1\n\r\n"),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_pipelined_and_chunked_requests_pass() {
    let (recorder, rampart) = setup().await;
    let http = rampart.http;
    let received = tokio::task::spawn_blocking(move || {
        exchange(
            http,
            format!(
                "GET /p1 HTTP/1.1\r\n{H}\r\nGET /p2 HTTP/1.1\r\n{H}\r\nGET /p3 HTTP/1.1\r\n{H}\r\nGET /p4 HTTP/1.1\r\n{H}Connection: close\r\n\r\n"
            )
            .as_bytes(),
            TIMEOUT,
        )
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"));
    assert_eq!(received.ending, Ending::Eof, "{}", received.text());
    let responses = received.responses();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200], "{}", received.text());
    let paths: Vec<String> = responses
        .iter()
        .map(|r| r.json()["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(paths, ["/p1", "/p2", "/p3", "/p4"]);
    for r in &responses {
        assert_eq!(r.header("rampart-ray").map(str::len), Some(16));
    }

    // Chunked with extensions (token and quoted values) and trailers.
    let received = tokio::task::spawn_blocking(move || {
        exchange(
            http,
            format!(
                "POST /chunked HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n6 ; name=\"quoted;value\"\r\n world\r\nA;flag\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\n"
            )
            .as_bytes(),
            TIMEOUT,
        )
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"));
    let responses = received.responses();
    assert_eq!(responses.len(), 1, "{}", received.text());
    assert_eq!(responses[0].status, 200, "{}", received.text());
    let json = responses[0].json();
    assert_eq!(json["path"], "/chunked");
    assert_eq!(json["body_len"], 21);
    assert_eq!(json["complete"], true);

    // Content-Length body, then another request on the same kept-alive connection.
    let (first, second) = tokio::task::spawn_blocking(move || {
        let mut stream =
            std::net::TcpStream::connect(http).unwrap_or_else(|e| panic!("connect: {e}"));
        use std::io::Write;
        stream
            .write_all(format!("POST /cl HTTP/1.1\r\n{H}Content-Length: 5\r\n\r\nhello").as_bytes())
            .unwrap_or_else(|e| panic!("write: {e}"));
        let first = read_one_response(&mut stream, TIMEOUT);
        stream
            .write_all(format!("GET /again HTTP/1.1\r\n{H}Connection: close\r\n\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("write: {e}"));
        (first, read_to_end(&mut stream, TIMEOUT))
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"));
    let first = first.unwrap_or_else(|| panic!("no response to the Content-Length POST"));
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["body_len"], 5);
    assert_eq!(
        second.responses().first().map(|r| r.status),
        Some(200),
        "{}",
        second.text()
    );

    let seen = recorder.seen();
    for expected in [
        "GET /p1",
        "GET /p2",
        "GET /p3",
        "GET /p4",
        "POST /chunked",
        "POST /cl",
        "GET /again",
    ] {
        assert!(
            seen.iter().any(|l| l == expected),
            "{expected} missing from {seen:?}"
        );
    }
    assert!(
        rampart
            .metrics()
            .contains("rampart_requests_rejected_framing_total{listener=\"http\"} 0"),
        "valid requests are not counted as framing rejections"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_after_a_refused_request_is_answered() {
    let (recorder, rampart) = setup().await;
    let http = rampart.http;
    let bad = format!("POST /bad HTTP/1.1\r\n{H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc");

    // In the same packet: one 400, then the close; /after is never answered.
    let bytes = format!("{bad}GET /after HTTP/1.1\r\n{H}\r\n");
    let received = tokio::task::spawn_blocking(move || exchange(http, bytes.as_bytes(), TIMEOUT))
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    let problems = refusal_problems(&received, 400);
    assert!(problems.is_empty(), "{problems:?}: {}", received.text());

    // Sent after the 400 arrived: the connection is already closed.
    let late = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut stream =
            std::net::TcpStream::connect(http).unwrap_or_else(|e| panic!("connect: {e}"));
        stream
            .write_all(bad.as_bytes())
            .unwrap_or_else(|e| panic!("write: {e}"));
        let first = read_to_end(&mut stream, TIMEOUT);
        let _ = stream.write_all(format!("GET /after2 HTTP/1.1\r\n{H}\r\n").as_bytes());
        (first, read_to_end(&mut stream, Duration::from_secs(2)))
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"));
    let problems = refusal_problems(&late.0, 400);
    assert!(problems.is_empty(), "{problems:?}: {}", late.0.text());
    assert!(
        late.1.bytes.is_empty(),
        "answered after the close: {}",
        late.1.text()
    );
    assert_ne!(
        late.1.ending,
        Ending::TimedOut,
        "the connection stayed open"
    );

    // A valid request first: it is answered, then the bad one gets the 400.
    let bytes = format!(
        "GET /first HTTP/1.1\r\n{H}\r\nGET /x HTTP/1.1\r\n{H}Transfer-Encoding: identity\r\n\r\n{SMUGGLED}"
    );
    let received = tokio::task::spawn_blocking(move || exchange(http, bytes.as_bytes(), TIMEOUT))
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    assert_eq!(received.ending, Ending::Eof, "{}", received.text());
    let responses = received.responses();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 400], "{}", received.text());
    assert_eq!(responses[0].json()["path"], "/first");
    assert_eq!(responses[1].headers_named("connection"), ["close"]);
    assert!(responses[1].header("rampart-ray").is_some());

    // The same with a broken chunked body after the valid request: the
    // valid one is answered, the broken one gets the 400, nothing else.
    let bytes = format!(
        "GET /second HTTP/1.1\r\n{H}\r\nPOST /outer HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n{SMUGGLED}"
    );
    let received = tokio::task::spawn_blocking(move || exchange(http, bytes.as_bytes(), TIMEOUT))
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    assert_eq!(received.ending, Ending::Eof, "{}", received.text());
    let responses = received.responses();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 400], "{}", received.text());
    assert_eq!(responses[0].json()["path"], "/second");
    assert_eq!(responses[1].headers_named("connection"), ["close"]);

    let seen = recorder.seen();
    assert!(
        seen.iter()
            .all(|l| l == "GET /first" || l == "GET /second" || l == "POST /outer"),
        "only the valid requests (and at most the head of the broken one) reached the origin: {seen:?}"
    );
    assert!(seen.iter().any(|l| l == "GET /first") && seen.iter().any(|l| l == "GET /second"));
}
