//! WebSocket through the proxy: the Upgrade reaches the origin, the 101 comes
//! back, and then bytes flow both ways as a tunnel (ws:// and wss://).

mod support;

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use support::{Rampart, write_cert};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::{Bytes, Message};

type SeenHeaders = Arc<Mutex<Vec<http::HeaderMap>>>;

/// A tokio-tungstenite echo server on its own listener; records the headers
/// of every handshake request it accepted.
async fn ws_echo_origin() -> (String, SeenHeaders, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"))
    );
    let seen: SeenHeaders = Arc::default();
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let seen = seen2.clone();
            tokio::spawn(async move {
                // tungstenite's callback signature, large error type and all.
                #[allow(clippy::result_large_err)]
                let callback = |request: &Request, response: Response| {
                    seen.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(request.headers().clone());
                    Ok(response)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() {
                        break;
                    }
                    let data = message.is_text() || message.is_binary();
                    if data && ws.send(message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen, task)
}

/// Runs the client side of a session over `stream`: text and binary messages
/// of assorted sizes, a ping, then a clean close.
async fn converse<S>(stream: S, url: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = url
        .into_client_request()
        .unwrap_or_else(|e| panic!("request: {e}"));
    let (mut ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap_or_else(|e| panic!("WebSocket handshake through rampart ({url}): {e}"));
    assert_eq!(response.status(), 101);
    assert_eq!(
        response.headers().get("rampart-ray").map(|v| v.len()),
        Some(16),
        "101 carries the ray id"
    );

    let big: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    let messages = vec![
        Message::text("hello"),
        Message::binary(Bytes::from_static(&[0, 1, 2, 255])),
        Message::text("ünïcødé ✓"),
        Message::binary(Bytes::new()),
        Message::text("x".repeat(70_000)),
        Message::binary(Bytes::from(big)),
        Message::text("bye"),
    ];
    // One at a time, then a burst.
    for message in &messages {
        ws.send(message.clone())
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
        let echoed = next_data(&mut ws).await;
        assert_eq!(&echoed, message);
    }
    for message in &messages {
        ws.send(message.clone())
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
    }
    for message in &messages {
        assert_eq!(&next_data(&mut ws).await, message);
    }

    ws.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap_or_else(|e| panic!("ping: {e}"));
    match ws.next().await {
        Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"are you there"),
        Some(Ok(other)) => panic!("expected a pong, got {other:?}"),
        Some(Err(e)) => panic!("read: {e}"),
        None => panic!("closed before the pong"),
    }

    ws.close(None)
        .await
        .unwrap_or_else(|e| panic!("close: {e}"));
    // The origin's close frame comes back, then the stream ends.
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Close(_)) | Err(_) => {}
            Ok(other) => panic!("data after close: {other:?}"),
        }
    }
}

async fn next_data<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Message
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
        .await
        .unwrap_or_else(|_| panic!("no echo within 10 s"));
    match next {
        Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
        other => panic!("expected an echoed message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_echo_through_the_proxy() {
    let (origin_url, seen, _origin) = ws_echo_origin().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    write_cert(dir.path(), "chat", &["chat.test"]);
    let rampart = Rampart::builder()
        .dir(dir)
        .sites(&format!(
            "[[site]]\nname = \"chat\"\nhosts = [\"chat.test\"]\norigins = [\"{origin_url}\"]\n\
             tls = {{ cert = \"chat.pem\", key = \"chat.key\" }}\n"
        ))
        .start();

    // ws:// — several sessions at once.
    let sessions: Vec<_> = (0..3)
        .map(|i| {
            let addr = rampart.http;
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr)
                    .await
                    .unwrap_or_else(|e| panic!("connect: {e}"));
                converse(stream, &format!("ws://chat.test/socket?n={i}")).await;
            })
        })
        .collect();
    for session in sessions {
        session.await.unwrap_or_else(|e| panic!("session: {e}"));
    }

    // wss:// — TLS terminated at the edge, plain WebSocket to the origin.
    let stream = TcpStream::connect(rampart.https)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let tls = support::wire::tls_over(stream, "chat.test", &[b"http/1.1"]).await;
    converse(tls, "wss://chat.test/secure").await;

    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen.len(), 4, "every handshake reached the origin");
    for headers in &seen {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        assert!(
            get("upgrade").eq_ignore_ascii_case("websocket"),
            "{headers:?}"
        );
        assert!(
            get("connection").to_ascii_lowercase().contains("upgrade"),
            "{headers:?}"
        );
        assert!(!get("sec-websocket-key").is_empty(), "{headers:?}");
        assert_eq!(get("host"), "chat.test");
        assert_eq!(get("x-forwarded-for"), "127.0.0.1");
        assert_eq!(get("rampart-ray").len(), 16);
    }
    assert_eq!(
        seen.iter()
            .filter(|h| h.get("x-forwarded-proto").is_some_and(|v| v == "https"))
            .count(),
        1,
        "the wss session is marked https"
    );

    let lines = rampart.access_log_until(|l| l.iter().filter(|l| l["status"] == 101).count() >= 4);
    let upgrades: Vec<_> = lines.iter().filter(|l| l["status"] == 101).collect();
    assert_eq!(upgrades.len(), 4, "{lines:?}");
    assert!(
        upgrades
            .iter()
            .all(|l| l["origin_status"] == 101 && l["site"] == "chat")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_refused_by_origin_is_an_ordinary_response() {
    // The echo origin ignores Upgrade and answers 200: the client gets that
    // 200 (no tunnel, no 101), and the origin never saw hop-by-hop leftovers.
    let origin = support::origin::start("plain").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"plain\"\nhosts = [\"plain.test\"]\norigins = [\"{}\"]\n",
        origin.url()
    ));
    let stream = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let request = "ws://plain.test/socket"
        .into_client_request()
        .unwrap_or_else(|e| panic!("request: {e}"));
    match tokio_tungstenite::client_async(request, stream).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 200);
            let body = response.body().clone().unwrap_or_default();
            let echo: serde_json::Value =
                serde_json::from_slice(&body).unwrap_or_else(|e| panic!("echo JSON: {e}"));
            assert_eq!(
                echo["headers"]["upgrade"][0], "websocket",
                "Upgrade forwarded: {echo}"
            );
        }
        Ok(_) => panic!("a WebSocket was established with an origin that refused it"),
        Err(e) => panic!("unexpected error: {e}"),
    }
}
