//! IO-level tests of `GuardedIo`: over `tokio::io::duplex`, with a scripted
//! server and with a real hyper HTTP/1 server.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rampart_edge::h1_guard::{GuardConfig, GuardedIo, RejectResponder, Violation};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

const REJECT: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad";
const REJECT_CLOSE: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbad";

fn responder() -> RejectResponder {
    Arc::new(|_: &Violation| Bytes::from_static(REJECT))
}

fn guarded() -> (DuplexStream, GuardedIo<DuplexStream>) {
    let (client, server) = duplex(1 << 20);
    (
        client,
        GuardedIo::new(server, GuardConfig::default(), responder()),
    )
}

async fn read_all(io: &mut DuplexStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), io.read_to_end(&mut out))
        .await
        .expect("peer never closed")
        .unwrap();
    out
}

#[tokio::test]
async fn cl_te_request_gets_exactly_the_reject_response() {
    let (mut client, mut server) = guarded();
    let request = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nhello";
    client.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    server.read_to_end(&mut seen).await.unwrap();
    // The server only ever saw an incomplete head, then EOF.
    assert!(request.starts_with(&seen));
    assert!(memchr::memmem::find(&seen, b"\r\n\r\n").is_none());
    assert_eq!(
        server.violation(),
        Some(&Violation::ContentLengthWithTransferEncoding)
    );
    // Later writes from the server are swallowed.
    server.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
    server.flush().await.unwrap();
    server.shutdown().await.unwrap();
    assert_eq!(read_all(&mut client).await, REJECT_CLOSE);
}

#[tokio::test]
async fn reject_waits_for_earlier_responses() {
    let (mut client, server) = guarded();
    client
        .write_all(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\nBad Header\r\n\r\n")
        .await
        .unwrap();
    let (mut rd, mut wr) = tokio::io::split(server);
    let mut buf = vec![0u8; 4096];
    let n = rd.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n"));
    // The reject is held back while response 1 is outstanding...
    let parked = tokio::time::timeout(Duration::from_millis(50), rd.read(&mut buf)).await;
    assert!(parked.is_err(), "reader should be parked");
    // ...and follows it once it is complete.
    wr.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        .await
        .unwrap();
    assert_eq!(rd.read(&mut buf).await.unwrap(), 0);
    let mut expected = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    expected.extend_from_slice(REJECT_CLOSE);
    assert_eq!(read_all(&mut client).await, expected);
}

#[tokio::test]
async fn upgrade_switches_to_passthrough_after_101() {
    let (mut client, mut server) = guarded();
    let head = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let frames = b"\x81\x05hello\n\n\0\r\x00GET / HTTP/1.1\nX: y\n\n";
    client.write_all(head).await.unwrap();
    client.write_all(frames).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = server.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], head, "tunnel bytes are held until the 101");
    server
        .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < frames.len() {
        let n = server.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, frames);
    server.write_all(b"\x81\x02ok").await.unwrap();
    drop(server);
    assert!(read_all(&mut client).await.ends_with(b"\r\n\r\n\x81\x02ok"));
}

#[tokio::test]
async fn refused_upgrade_keeps_guarding() {
    let (mut client, mut server) = guarded();
    let head = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
    client.write_all(head).await.unwrap();
    client
        .write_all(b"GET /admin HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = server.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], head);
    let not_found = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
    server.write_all(not_found).await.unwrap();
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).await.unwrap();
    assert!(memchr::memmem::find(&rest, b"\r\n\r\n").is_none());
    assert_eq!(server.violation(), Some(&Violation::DuplicateContentLength));
    let mut expected = not_found.to_vec();
    expected.extend_from_slice(REJECT_CLOSE);
    assert_eq!(read_all(&mut client).await, expected);
}

#[tokio::test]
async fn h2_preface_passes_through() {
    let (mut client, mut server) = guarded();
    let mut input = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    input.extend_from_slice(b"\0\0\0\x04\0\0\0\0\0\n\n\r\0garbage");
    for piece in input.chunks(5) {
        client.write_all(piece).await.unwrap();
    }
    drop(client);
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, input);
    assert_eq!(server.violation(), None);
}

#[tokio::test]
async fn many_small_reads_of_a_valid_stream() {
    let (mut client, mut server) = guarded();
    let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    input.extend_from_slice(b"400\r\n");
    input.extend(std::iter::repeat_n(b'\n', 0x400));
    input.extend_from_slice(b"\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    let expected = input.clone();
    let writer = tokio::spawn(async move {
        for b in input.chunks(1) {
            client.write_all(b).await.unwrap();
        }
        client
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 3];
    while got.len() < expected.len() {
        let n = server.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, expected);
    drop(writer.await.unwrap());
}

// ---- with hyper ------------------------------------------------------------

async fn service(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let connect = req.method() == hyper::Method::CONNECT;
    if connect && req.uri().authority().is_some_and(|a| a.host() == "deny") {
        let mut resp = Response::new(Full::default());
        *resp.status_mut() = StatusCode::FORBIDDEN;
        return Ok(resp);
    }
    if connect || (req.uri().path() == "/ws" && req.headers().contains_key(hyper::header::UPGRADE))
    {
        tokio::spawn(async move {
            if let Ok(up) = hyper::upgrade::on(req).await {
                let mut io = TokioIo::new(up);
                let mut buf = [0u8; 64];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        if connect {
            return Ok(Response::new(Full::default()));
        }
        let mut resp = Response::new(Full::default());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.headers_mut()
            .insert("upgrade", "echo".parse().unwrap());
        resp.headers_mut()
            .insert("connection", "upgrade".parse().unwrap());
        return Ok(resp);
    }
    let body = http_body_util::BodyExt::collect(req.into_body())
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "len={}",
        body.len()
    )))))
}

/// Runs a hyper HTTP/1 server behind the guard; returns everything the
/// client received until the server closed. (The client does not half-close
/// before `then`: hyper drops pipelined requests it has not started once it
/// sees EOF, so valid sequences end with `Connection: close`.)
async fn hyper_exchange(input: &[u8], then: Option<&[u8]>) -> Vec<u8> {
    let (client, server) = duplex(1 << 20);
    let io = GuardedIo::new(server, GuardConfig::default(), responder());
    let conn = tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(io), service_fn(service))
            .with_upgrades(),
    );
    exchange(client, input, then, conn).await
}

async fn exchange<F>(
    mut client: DuplexStream,
    input: &[u8],
    then: Option<&[u8]>,
    conn: tokio::task::JoinHandle<F>,
) -> Vec<u8> {
    client.write_all(input).await.unwrap();
    if let Some(more) = then {
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.write_all(more).await.unwrap();
        // Half-close: the echo tunnel ends, which closes the connection.
        client.shutdown().await.unwrap();
    }
    let out = read_all(&mut client).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn hyper_valid_pipelined_requests() {
    let out = text(
        &hyper_exchange(
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
            None,
        )
        .await,
    );
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3, "{out}");
    assert!(
        out.contains("len=0") && out.contains("len=3") && out.ends_with("len=2"),
        "{out}"
    );
}

#[tokio::test]
async fn hyper_smuggling_attempts_get_the_guard_response() {
    let attacks: &[&[u8]] = &[
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
        // hyper rejects these partial heads itself; its own 400 is swallowed.
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\0\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\n\r\n",
    ];
    for attack in attacks {
        assert_eq!(
            hyper_exchange(attack, None).await,
            REJECT_CLOSE,
            "{}",
            text(attack)
        );
    }
}

#[tokio::test]
async fn hyper_valid_then_invalid_pipelined() {
    let out = hyper_exchange(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost : a\r\n\r\n",
        None,
    )
    .await;
    let out = text(&out);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(
        out.ends_with(std::str::from_utf8(REJECT_CLOSE).unwrap()),
        "{out}"
    );
    assert_eq!(out.matches("HTTP/1.1").count(), 2, "{out}");
}

#[tokio::test]
async fn hyper_websocket_style_upgrade_tunnels_arbitrary_bytes() {
    let head = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n";
    let mut input = head.to_vec();
    input.extend_from_slice(b"\n\0 not http \r\r\n");
    let out = hyper_exchange(&input, Some(b"GET / HTTP/1.1\nmore\n\n")).await;
    let out = text(&out);
    assert!(
        out.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{out}"
    );
    assert!(
        out.ends_with("\r\n\r\n\n\0 not http \r\r\nGET / HTTP/1.1\nmore\n\n"),
        "{out}"
    );
}

#[tokio::test]
async fn hyper_refused_upgrade_then_smuggled_request() {
    // hyper keeps the connection alive after a non-101 answer to an upgrade
    // request, so what follows must still be inspected.
    let out = hyper_exchange(
        b"GET /no HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        None,
    )
    .await;
    let out = text(&out);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(
        out.ends_with(std::str::from_utf8(REJECT_CLOSE).unwrap()),
        "{out}"
    );
}

#[tokio::test]
async fn hyper_connect_tunnel_and_refused_connect() {
    let out = hyper_exchange(
        b"CONNECT up:443 HTTP/1.1\r\nHost: up:443\r\n\r\n\x16\x03\x01\0\n",
        Some(b"\r\r\0"),
    )
    .await;
    let out = text(&out);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n\x16\x03\x01\0\n\r\r\0"), "{out}");

    let out = hyper_exchange(
        b"CONNECT deny:443 HTTP/1.1\r\nHost: deny:443\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        None,
    )
    .await;
    let out = text(&out);
    assert!(out.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{out}");
    assert!(
        out.ends_with(std::str::from_utf8(REJECT_CLOSE).unwrap()),
        "{out}"
    );
}
