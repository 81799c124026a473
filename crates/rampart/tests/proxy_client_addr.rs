//! Who the client is, and what the origin is told: X-Forwarded-For from
//! untrusted peers is replaced, from trusted proxies extended; Forwarded and
//! X-Forwarded-Proto/Host are set; hop-by-hop fields stop at the proxy in
//! both directions; a PROXY protocol v1/v2 header gives the client address.

mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::client::{Proto, Reply, get, send};
use support::origin::{self, full};
use support::wire::{RawReply, proxy_v1, proxy_v2, raw_exchange, read_until_close, tls_over};
use support::{Rampart, write_cert};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Echoes the request headers as `{"headers": {name: [values]}}` and answers
/// with hop-by-hop fields of its own that must not reach the client.
async fn header_origin() -> origin::TestOrigin {
    origin::builder("headers")
        .handler(|req: Request<Incoming>| async move {
            let mut headers = serde_json::Map::new();
            for (name, value) in req.headers() {
                let value = serde_json::Value::String(
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                );
                match headers.get_mut(name.as_str()) {
                    Some(serde_json::Value::Array(list)) => list.push(value),
                    _ => {
                        headers.insert(
                            name.as_str().to_string(),
                            serde_json::Value::Array(vec![value]),
                        );
                    }
                }
            }
            let mut response =
                Response::new(full(serde_json::json!({ "headers": headers }).to_string()));
            let h = response.headers_mut();
            h.insert("connection", HeaderValue::from_static("x-origin-secret"));
            h.insert("x-origin-secret", HeaderValue::from_static("1"));
            h.insert("keep-alive", HeaderValue::from_static("timeout=99"));
            h.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
            h.insert("x-origin-keep", HeaderValue::from_static("1"));
            response
        })
        .start()
        .await
}

fn site(origin: &origin::TestOrigin, extra: &str) -> String {
    format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\", \"www.shop.test\"]\norigins = [\"{}\"]\n{extra}\n",
        origin.url()
    )
}

fn with_headers(host: &str, path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut request = get(host, path);
    for (name, value) in headers {
        request.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}")),
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{value}: {e}")),
        );
    }
    request
}

/// All values of one header as the origin saw them, joined with ", ".
fn seen(echo: &serde_json::Value, name: &str) -> Option<String> {
    echo["headers"][name].as_array().map(|values| {
        values
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    })
}

fn log_for(rampart: &Rampart, path: &str) -> serde_json::Value {
    let lines = rampart.access_log_until(|l| l.iter().any(|l| l["path"] == path));
    lines
        .into_iter()
        .find(|l| l["path"] == path)
        .unwrap_or_else(|| panic!("no log line for {path}"))
}

fn assert_no_response_hop_by_hop(reply: &Reply) {
    for name in ["x-origin-secret", "keep-alive", "proxy-connection"] {
        assert!(
            reply.header(name).is_none(),
            "{name} reached the client: {:?}",
            reply.headers
        );
    }
    assert_ne!(reply.header("connection"), Some("x-origin-secret"));
    assert_eq!(
        reply.header("x-origin-keep"),
        Some("1"),
        "end-to-end fields pass"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_peer_cannot_claim_an_address_and_hop_by_hop_fields_stop() {
    let origin = header_origin().await;
    let rampart = Rampart::start(&site(&origin, ""));

    let request = with_headers(
        "shop.test",
        "/untrusted",
        &[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6;proto=https"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.test"),
            ("connection", "keep-alive, x-secret, x-other-secret"),
            ("x-secret", "1"),
            ("x-other-secret", "2"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("proxy-connection", "keep-alive"),
            ("x-keep", "1"),
        ],
    );
    let reply = send(rampart.http, Proto::Http1, request).await;
    assert_eq!(reply.status, 200);
    let echo = reply.json();
    assert_eq!(
        seen(&echo, "x-forwarded-for").as_deref(),
        Some("127.0.0.1"),
        "{echo}"
    );
    assert_eq!(
        seen(&echo, "forwarded").as_deref(),
        Some("for=127.0.0.1;proto=http;host=shop.test"),
        "{echo}"
    );
    assert_eq!(seen(&echo, "x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(
        seen(&echo, "x-forwarded-host").as_deref(),
        Some("shop.test")
    );
    for name in [
        "x-secret",
        "x-other-secret",
        "keep-alive",
        "te",
        "proxy-connection",
    ] {
        assert_eq!(seen(&echo, name), None, "{name} reached the origin: {echo}");
    }
    assert_ne!(
        seen(&echo, "connection").as_deref(),
        Some("keep-alive, x-secret, x-other-secret")
    );
    assert_eq!(
        seen(&echo, "x-keep").as_deref(),
        Some("1"),
        "end-to-end fields pass"
    );
    assert_eq!(seen(&echo, "host").as_deref(), Some("shop.test"));
    assert_no_response_hop_by_hop(&reply);
    assert_eq!(log_for(&rampart, "/untrusted")["client_ip"], "127.0.0.1");

    // A Connection header cannot take away the fields the proxy relies on.
    let request = with_headers(
        "shop.test",
        "/sneaky",
        &[("connection", "x-forwarded-for, forwarded")],
    );
    let reply = send(rampart.http, Proto::Http1, request).await;
    let echo = reply.json();
    assert_eq!(
        seen(&echo, "x-forwarded-for").as_deref(),
        Some("127.0.0.1"),
        "{echo}"
    );
    assert!(seen(&echo, "forwarded").is_some(), "{echo}");

    // HTTP/2 client: the origin gets the same facts; the response reaches the
    // h2 client without connection-specific fields (which h2 forbids).
    let request = with_headers("www.shop.test", "/h2", &[("x-forwarded-for", "6.6.6.6")]);
    let reply = send(rampart.http, Proto::Http2, request).await;
    assert_eq!(reply.status, 200);
    let echo = reply.json();
    assert_eq!(seen(&echo, "x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        seen(&echo, "x-forwarded-host").as_deref(),
        Some("www.shop.test")
    );
    assert_no_response_hop_by_hop(&reply);
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_proxy_forwarding_headers_are_believed_and_extended() {
    let origin = header_origin().await;
    let rampart = Rampart::builder()
        .proxy("trusted_proxies = [\"127.0.0.1\"]")
        .sites(&site(&origin, ""))
        .start();

    let request = with_headers(
        "shop.test",
        "/one-hop",
        &[
            ("x-forwarded-for", "203.0.113.7"),
            (
                "forwarded",
                "for=203.0.113.7;proto=https;host=www.shop.test",
            ),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "www.shop.test"),
        ],
    );
    let echo = send(rampart.http, Proto::Http1, request).await.json();
    assert_eq!(
        seen(&echo, "x-forwarded-for").as_deref(),
        Some("203.0.113.7, 127.0.0.1"),
        "{echo}"
    );
    assert_eq!(
        seen(&echo, "forwarded").as_deref(),
        Some(
            "for=203.0.113.7;proto=https;host=www.shop.test, for=127.0.0.1;proto=http;host=shop.test"
        ),
        "{echo}"
    );
    assert_eq!(
        seen(&echo, "x-forwarded-proto").as_deref(),
        Some("https"),
        "kept from the trusted hop"
    );
    assert_eq!(
        seen(&echo, "x-forwarded-host").as_deref(),
        Some("www.shop.test"),
        "kept from the trusted hop"
    );
    assert_eq!(log_for(&rampart, "/one-hop")["client_ip"], "203.0.113.7");

    // A chain: the right-most address that is not a trusted proxy is the client.
    let request = with_headers(
        "shop.test",
        "/chain",
        &[
            ("x-forwarded-for", "198.51.100.1, 203.0.113.9"),
            ("x-forwarded-for", "127.0.0.1"),
        ],
    );
    let echo = send(rampart.http, Proto::Http1, request).await.json();
    assert_eq!(
        seen(&echo, "x-forwarded-for").as_deref(),
        Some("198.51.100.1, 203.0.113.9, 127.0.0.1, 127.0.0.1"),
        "{echo}"
    );
    assert_eq!(log_for(&rampart, "/chain")["client_ip"], "203.0.113.9");

    // No header: the trusted peer itself is the client. Garbage: not believed.
    let echo = send(rampart.http, Proto::Http1, get("shop.test", "/direct"))
        .await
        .json();
    assert_eq!(seen(&echo, "x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(seen(&echo, "x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(log_for(&rampart, "/direct")["client_ip"], "127.0.0.1");
    let request = with_headers(
        "shop.test",
        "/garbage",
        &[("x-forwarded-for", "not-an-address")],
    );
    send(rampart.http, Proto::Http1, request).await;
    assert_eq!(log_for(&rampart, "/garbage")["client_ip"], "127.0.0.1");
}

fn plain_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n").into_bytes()
}

async fn via_proxy_header(addr: SocketAddr, header: &[u8], path: &str) -> RawReply {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(&plain_request(path));
    raw_exchange(&mut stream, &bytes).await
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_protocol_header_gives_the_client_address() {
    let origin = header_origin().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    write_cert(dir.path(), "shop", &["shop.test"]);
    let rampart = Rampart::builder()
        .dir(dir)
        .proxy_protocol(true, true)
        .sites(&site(
            &origin,
            "tls = { cert = \"shop.pem\", key = \"shop.key\" }",
        ))
        .start();
    let local = addr("127.0.0.1:80");
    let local6 = addr("[::1]:80");

    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "/v1-tcp4",
            proxy_v1(addr("192.0.2.10:56324"), local),
            "192.0.2.10",
            "for=192.0.2.10;",
        ),
        (
            "/v1-tcp6",
            proxy_v1(addr("[2001:db8::5]:1234"), local6),
            "2001:db8::5",
            "for=\"[2001:db8::5]\";",
        ),
        (
            "/v2-tcp4",
            proxy_v2(addr("198.51.100.20:40000"), local),
            "198.51.100.20",
            "for=198.51.100.20;",
        ),
        (
            "/v2-tcp6",
            proxy_v2(addr("[2001:db8::77]:4321"), local6),
            "2001:db8::77",
            "for=\"[2001:db8::77]\";",
        ),
        // v1 UNKNOWN and v2 LOCAL: use the real connection's address.
        (
            "/v1-unknown",
            b"PROXY UNKNOWN\r\n".to_vec(),
            "127.0.0.1",
            "for=127.0.0.1;",
        ),
        (
            "/v2-local",
            [
                &support::wire::PROXY_V2_SIGNATURE[..],
                &[0x20, 0x00, 0x00, 0x00],
            ]
            .concat(),
            "127.0.0.1",
            "for=127.0.0.1;",
        ),
    ];
    for (path, header, client, forwarded) in &cases {
        let reply = via_proxy_header(rampart.http, header, path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let echo = reply.json();
        assert_eq!(
            seen(&echo, "x-forwarded-for").as_deref(),
            Some(*client),
            "{path}: {echo}"
        );
        assert!(
            seen(&echo, "forwarded")
                .unwrap_or_default()
                .starts_with(forwarded),
            "{path}: {echo}"
        );
        assert_eq!(log_for(&rampart, path)["client_ip"], *client, "{path}");
    }

    // PROXY v2, then h2c prior knowledge on the same connection.
    let mut stream = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .write_all(&proxy_v2(addr("192.0.2.99:5555"), local))
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap_or_else(|e| panic!("h2 handshake: {e}"));
    tokio::spawn(conn);
    let request = Request::get("http://shop.test/v2-h2")
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("h2 request: {e}"));
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("body: {e}"))
        .to_bytes();
    let echo: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(
        seen(&echo, "x-forwarded-for").as_deref(),
        Some("192.0.2.99")
    );
    let line = log_for(&rampart, "/v2-h2");
    assert_eq!(line["client_ip"], "192.0.2.99");
    assert_eq!(line["protocol"], "HTTP/2");

    // PROXY v2 in front of TLS on the https listener.
    let mut stream = TcpStream::connect(rampart.https)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .write_all(&proxy_v2(addr("203.0.113.50:443"), local))
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut tls = tls_over(stream, "shop.test", &[b"http/1.1"]).await;
    let reply = raw_exchange(&mut tls, &plain_request("/v2-tls")).await;
    assert_eq!(reply.status, 200);
    let echo = reply.json();
    assert_eq!(
        seen(&echo, "x-forwarded-for").as_deref(),
        Some("203.0.113.50")
    );
    assert_eq!(seen(&echo, "x-forwarded-proto").as_deref(), Some("https"));
    let line = log_for(&rampart, "/v2-tls");
    assert_eq!(line["client_ip"], "203.0.113.50");
    assert_eq!(line["tls"], true);

    // Without a PROXY header the connection is closed unanswered, and the
    // request never reaches the origin.
    for bytes in [
        plain_request("/no-header"),
        b"PROXY TCP4 banana\r\n".to_vec(),
    ] {
        let mut stream = TcpStream::connect(rampart.http)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let _ = stream.write_all(&bytes).await;
        let answer = read_until_close(&mut stream).await;
        assert!(
            answer.is_empty(),
            "got an answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    // A request sent afterwards is logged; the refused one never is.
    let reply = via_proxy_header(
        rampart.http,
        &proxy_v1(addr("192.0.2.1:1"), local),
        "/marker",
    )
    .await;
    assert_eq!(reply.status, 200);
    let lines = rampart.access_log_until(|l| l.iter().any(|l| l["path"] == "/marker"));
    assert!(lines.iter().any(|l| l["path"] == "/marker"));
    assert!(
        !lines.iter().any(|l| l["path"] == "/no-header"),
        "{lines:?}"
    );
}
