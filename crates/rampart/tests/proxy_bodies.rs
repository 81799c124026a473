//! Large bodies stream through the proxy with flat memory: 1 GiB up (chunked)
//! and 1 GiB down, byte-exact, with Rampart's peak RSS well under the body
//! size even while the receiving side stalls.

mod support;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::Rampart;
use support::origin::{self, OriginBody, Protocol, full};
use support::wire::peak_rss;
use tokio::net::TcpStream;

const GIB: u64 = 1 << 30;
const CHUNK: usize = 64 * 1024;
/// The data repeats with a prime period, so chunk boundaries never line up
/// with it and a lost, doubled or reordered chunk shows.
const PERIOD: usize = 65_521;
const RSS_LIMIT: u64 = 150 * 1024 * 1024;
/// How long a receiver stops reading, mid-transfer, to prove back-pressure.
const STALL: Duration = Duration::from_millis(300);
const STALL_AT: u64 = 256 << 20;

/// `PERIOD + CHUNK` bytes of the pattern, so any chunk is one zero-copy slice.
fn pattern() -> Bytes {
    (0..PERIOD + CHUNK)
        .map(|i| {
            let j = (i % PERIOD) as u32;
            (j.wrapping_mul(2_654_435_761) >> 24) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// A body of `total` pattern bytes, produced chunk by chunk as it is polled.
struct PatternBody {
    data: Bytes,
    sent: u64,
    total: u64,
    /// Announce the length (Content-Length) or not (chunked / no length).
    exact: bool,
}

impl PatternBody {
    fn new(total: u64, exact: bool) -> Self {
        Self {
            data: pattern(),
            sent: 0,
            total,
            exact,
        }
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.sent >= self.total {
            return Poll::Ready(None);
        }
        let offset = (self.sent % PERIOD as u64) as usize;
        let n = (self.total - self.sent).min(CHUNK as u64) as usize;
        let chunk = self.data.slice(offset..offset + n);
        self.sent += n as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.total
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact {
            SizeHint::with_exact(self.total - self.sent)
        } else {
            SizeHint::default()
        }
    }
}

/// Checks received bytes against the pattern, whatever the framing.
struct Verifier {
    data: Bytes,
    received: u64,
    first_mismatch: Option<u64>,
}

impl Verifier {
    fn new() -> Self {
        Self {
            data: pattern(),
            received: 0,
            first_mismatch: None,
        }
    }

    fn feed(&mut self, mut piece: &[u8]) {
        while !piece.is_empty() {
            let offset = (self.received % PERIOD as u64) as usize;
            let n = piece.len().min(CHUNK);
            if self.first_mismatch.is_none() && piece[..n] != self.data[offset..offset + n] {
                self.first_mismatch = Some(self.received);
            }
            piece = &piece[n..];
            self.received += n as u64;
        }
    }

    /// Reads a whole body, stalling once at `STALL_AT` when `stall` is set.
    async fn drain<B>(&mut self, mut body: B, stall: bool)
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let mut stalled = !stall;
        while let Some(frame) = body.frame().await {
            let frame =
                frame.unwrap_or_else(|e| panic!("body broke after {} bytes: {e}", self.received));
            if let Some(data) = frame.data_ref() {
                self.feed(data);
            }
            if !stalled && self.received >= STALL_AT {
                stalled = true;
                tokio::time::sleep(STALL).await;
            }
        }
    }
}

/// The site lifts the default 100 MiB request-body limit: 1 GiB uploads are
/// the point here.
fn site(origin: &str, protocol: &str) -> String {
    format!(
        "[[site]]\nname = \"bulk\"\nhosts = [\"bulk.test\"]\norigins = [{{ url = \"{origin}\", protocol = \"{protocol}\" }}]\n\
         timeouts = {{ origin_response = \"300s\" }}\n\
         limits = {{ max_body_bytes = \"off\" }}\n"
    )
}

/// Origin: `POST /upload` verifies and counts the body (stalling once),
/// `GET /download?n=BYTES` streams the pattern with a Content-Length.
async fn bulk_origin(protocol: Protocol) -> origin::TestOrigin {
    origin::builder("bulk")
        .protocol(protocol)
        .handler(|req: Request<Incoming>| async move {
            match req.uri().path() {
                "/upload" => {
                    let chunked = req
                        .headers()
                        .get(http::header::TRANSFER_ENCODING)
                        .is_some_and(|v| v == "chunked");
                    let content_length = req.headers().get(http::header::CONTENT_LENGTH).cloned();
                    let version = format!("{:?}", req.version());
                    let mut verifier = Verifier::new();
                    verifier.drain(req.into_body(), true).await;
                    let report = serde_json::json!({
                        "bytes": verifier.received,
                        "first_mismatch": verifier.first_mismatch,
                        "chunked": chunked,
                        "content_length": content_length.and_then(|v| v.to_str().ok().map(str::to_string)),
                        "version": version,
                    });
                    Response::new(full(report.to_string()))
                }
                "/download" => {
                    let n: u64 = req
                        .uri()
                        .query()
                        .and_then(|q| q.strip_prefix("n="))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    let body: OriginBody = PatternBody::new(n, true).map_err(|never| match never {}).boxed();
                    Response::new(body)
                }
                _ => {
                    let mut resp = Response::new(full("not found"));
                    *resp.status_mut() = StatusCode::NOT_FOUND;
                    resp
                }
            }
        })
        .start()
        .await
}

enum Side {
    Http1,
    /// h2c prior knowledge to Rampart.
    Http2,
}

async fn request(
    addr: std::net::SocketAddr,
    side: Side,
    req: Request<PatternBody>,
) -> Response<Incoming> {
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let io = TokioIo::new(stream);
    match side {
        Side::Http1 => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .unwrap_or_else(|e| panic!("h1 handshake: {e}"));
            tokio::spawn(conn);
            sender.send_request(req).await
        }
        Side::Http2 => {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .unwrap_or_else(|e| panic!("h2 handshake: {e}"));
            tokio::spawn(conn);
            sender.send_request(req).await
        }
    }
    .unwrap_or_else(|e| panic!("request: {e}"))
}

/// Samples Rampart's resident memory while a transfer runs; returns a handle
/// whose result is the highest VmRSS seen (VmHWM is checked separately).
fn watch_rss(pid: u32, done: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut highest = 0;
        while !done.load(Ordering::Relaxed) {
            highest = highest.max(support::wire::current_rss(pid));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        highest
    })
}

async fn upload(side: Side, origin_protocol: Protocol, size: u64) {
    let origin = bulk_origin(origin_protocol).await;
    let protocol = if origin_protocol == Protocol::Http2 {
        "http2"
    } else {
        "http1"
    };
    let rampart = Rampart::start(&site(&origin.url(), protocol));
    let pid = rampart.pid();
    let before = peak_rss(pid);
    let done = Arc::new(AtomicBool::new(false));
    let watcher = watch_rss(pid, done.clone());

    let started = Instant::now();
    let uri = match side {
        Side::Http1 => "/upload".to_string(),
        Side::Http2 => "http://bulk.test/upload".to_string(),
    };
    let mut req = Request::post(uri)
        .body(PatternBody::new(size, false))
        .unwrap_or_else(|e| panic!("request: {e}"));
    if matches!(side, Side::Http1) {
        req.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("bulk.test"),
        );
    }
    let response = request(rampart.http, side, req).await;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("response body: {e}"))
        .to_bytes();
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let highest_rss = watcher.await.unwrap_or(0);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let report: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("report ({e}): {body:?}"));

    let peak = peak_rss(pid);
    eprintln!(
        "upload of {} MiB took {elapsed:?}; rampart VmHWM {} MiB (at start {} MiB, highest sampled VmRSS {} MiB); origin saw {report}",
        size >> 20,
        peak >> 20,
        before >> 20,
        highest_rss >> 20
    );
    assert_eq!(report["bytes"], size, "every byte reached the origin");
    assert_eq!(
        report["first_mismatch"],
        serde_json::Value::Null,
        "bytes arrived intact and in order"
    );
    assert_eq!(
        report["content_length"],
        serde_json::Value::Null,
        "length was never announced"
    );
    if origin_protocol == Protocol::Http1 {
        assert_eq!(
            report["chunked"], true,
            "streamed to the origin with chunked encoding"
        );
    } else {
        assert_eq!(report["version"], "HTTP/2.0");
    }
    assert!(
        peak < RSS_LIMIT,
        "rampart peak RSS {} MiB ≥ {} MiB",
        peak >> 20,
        RSS_LIMIT >> 20
    );

    let lines = rampart.access_log_until(|l| l.iter().any(|l| l["path"] == "/upload"));
    let line = lines
        .iter()
        .find(|l| l["path"] == "/upload")
        .unwrap_or_else(|| panic!("no log line: {lines:?}"));
    assert_eq!(line["bytes_in"], size);
    assert_eq!(line["status"], 200);
}

async fn download(side: Side, origin_protocol: Protocol, size: u64) {
    let origin = bulk_origin(origin_protocol).await;
    let protocol = if origin_protocol == Protocol::Http2 {
        "http2"
    } else {
        "http1"
    };
    let rampart = Rampart::start(&site(&origin.url(), protocol));
    let pid = rampart.pid();
    let before = peak_rss(pid);
    let done = Arc::new(AtomicBool::new(false));
    let watcher = watch_rss(pid, done.clone());

    let started = Instant::now();
    let path = format!("/download?n={size}");
    let uri = match side {
        Side::Http1 => path.clone(),
        Side::Http2 => format!("http://bulk.test{path}"),
    };
    let mut req = Request::get(uri)
        .body(PatternBody::new(0, true))
        .unwrap_or_else(|e| panic!("request: {e}"));
    if matches!(side, Side::Http1) {
        req.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("bulk.test"),
        );
    }
    let response = request(rampart.http, side, req).await;
    assert_eq!(response.status(), 200);
    let length = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut verifier = Verifier::new();
    verifier.drain(response.into_body(), true).await;
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let highest_rss = watcher.await.unwrap_or(0);

    let peak = peak_rss(pid);
    eprintln!(
        "download of {} MiB took {elapsed:?}; rampart VmHWM {} MiB (at start {} MiB, highest sampled VmRSS {} MiB)",
        size >> 20,
        peak >> 20,
        before >> 20,
        highest_rss >> 20
    );
    assert_eq!(length, Some(size), "Content-Length passed through");
    assert_eq!(verifier.received, size, "every byte reached the client");
    assert_eq!(
        verifier.first_mismatch, None,
        "bytes arrived intact and in order"
    );
    assert!(
        peak < RSS_LIMIT,
        "rampart peak RSS {} MiB ≥ {} MiB",
        peak >> 20,
        RSS_LIMIT >> 20
    );

    let lines = rampart.access_log_until(|l| l.iter().any(|l| l["path"] == path.as_str()));
    let line = lines
        .iter()
        .find(|l| l["path"] == path.as_str())
        .unwrap_or_else(|| panic!("no log line: {lines:?}"));
    assert_eq!(line["bytes_out"], size);
    assert_eq!(line["status"], 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_gib_chunked_upload_streams_with_flat_memory() {
    upload(Side::Http1, Protocol::Http1, GIB).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_gib_download_streams_with_flat_memory() {
    download(Side::Http1, Protocol::Http1, GIB).await;
}

/// HTTP/2 on both sides: flow control must hold the memory flat too.
#[tokio::test(flavor = "multi_thread")]
async fn http2_bodies_stream_both_ways_with_flat_memory() {
    upload(Side::Http2, Protocol::Http2, 256 << 20).await;
    download(Side::Http2, Protocol::Http2, 256 << 20).await;
}
