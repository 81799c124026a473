//! The guard's request-head deadline: a head trickled in slower than the
//! header timeout gets 408 and the connection closes; time spent idle between
//! keep-alive requests does not count.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rampart_edge::h1_guard::{GuardConfig, GuardedIo, RejectResponder, Violation};
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

fn guarded(timeout: Duration) -> (tokio::io::DuplexStream, GuardedIo<tokio::io::DuplexStream>) {
    let (client, server) = duplex(1 << 16);
    let responder: RejectResponder = Arc::new(|v: &Violation| {
        Bytes::from(format!(
            "HTTP/1.1 {} X\r\nContent-Length: 0\r\n\r\n",
            v.status()
        ))
    });
    let cfg = GuardConfig {
        max_head_bytes: 8192,
        header_timeout: Some(timeout),
    };
    (client, GuardedIo::new(server, cfg, responder))
}

#[tokio::test(start_paused = true)]
async fn slow_head_gets_408_and_eof() {
    let (mut client, mut server) = guarded(Duration::from_secs(10));
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap_or_default();
    let mut buf = vec![0u8; 1024];
    let n = server.read(&mut buf).await.unwrap_or(0);
    assert_eq!(buf.get(..n), Some(&b"GET / HTTP/1.1\r\nHost: a\r\n"[..]));
    // The rest of the head never comes: after the deadline the server side
    // sees EOF and the client gets the 408.
    let n = server.read(&mut buf).await.unwrap_or(usize::MAX);
    assert_eq!(n, 0, "server side reads EOF after the deadline");
    let mut reply = Vec::new();
    let _ = client.read_to_end(&mut reply).await;
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("Connection: close"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn idle_between_requests_is_not_a_slow_head() {
    let (mut client, mut server) = guarded(Duration::from_secs(10));
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap_or_default();
    let mut buf = vec![0u8; 1024];
    let n = server.read(&mut buf).await.unwrap_or(0);
    assert!(n > 0);
    server
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap_or_default();
    // A long pause with no bytes, then a complete request: still accepted.
    tokio::time::sleep(Duration::from_secs(60)).await;
    client
        .write_all(b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap_or_default();
    let n = server.read(&mut buf).await.unwrap_or(0);
    assert_eq!(
        buf.get(..n),
        Some(&b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"[..])
    );
    assert!(server.violation().is_none());
}
