//! A test HTTP client over one fresh connection per request, with full
//! control of SNI, ALPN and protocol (hyper's low-level client).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The leaf certificate the server presented (TLS only).
    pub peer_cert: Option<Vec<u8>>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn ray(&self) -> String {
        self.header("rampart-ray")
            .unwrap_or_else(|| panic!("no Rampart-Ray header"))
            .to_string()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http1,
    /// h2c prior knowledge on plain TCP, ALPN h2 on TLS.
    Http2,
}

/// `Request` with a host and path, no body.
pub fn get(host: &str, path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header(http::header::HOST, host)
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("request: {e}"))
}

/// Sends one request over a new plain-TCP connection.
pub async fn send(addr: SocketAddr, proto: Proto, request: Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    exchange(TokioIo::new(stream), proto, request, None).await
}

/// Sends one request over TLS with SNI `sni`, trusting only `root_der`.
pub async fn send_tls(
    addr: SocketAddr,
    sni: &str,
    root_der: &[u8],
    proto: Proto,
    request: Request<Full<Bytes>>,
) -> Reply {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(root_der.to_vec()))
        .unwrap_or_else(|e| panic!("root: {e}"));
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap_or_else(|e| panic!("tls: {e}"))
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = match proto {
        Proto::Http1 => vec![b"http/1.1".to_vec()],
        Proto::Http2 => vec![b"h2".to_vec()],
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let name = ServerName::try_from(sni.to_string()).unwrap_or_else(|e| panic!("sni: {e}"));
    let tls = connector
        .connect(name, stream)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with SNI {sni}: {e}"));
    let peer_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec());
    let mut reply = exchange(TokioIo::new(tls), proto, request, None).await;
    reply.peer_cert = peer_cert;
    reply
}

async fn exchange<T>(
    io: TokioIo<T>,
    proto: Proto,
    request: Request<Full<Bytes>>,
    _: Option<()>,
) -> Reply
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let response = match proto {
        Proto::Http1 => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .unwrap_or_else(|e| panic!("h1 handshake: {e}"));
            tokio::spawn(conn);
            sender.send_request(request).await
        }
        Proto::Http2 => {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .unwrap_or_else(|e| panic!("h2 handshake: {e}"));
            tokio::spawn(conn);
            let mut request = request;
            // HTTP/2 carries the host in :authority.
            if let Some(host) = request.headers().get(http::header::HOST).cloned() {
                let uri = format!(
                    "http://{}{}",
                    host.to_str().unwrap_or("localhost"),
                    request.uri().path_and_query().map_or("/", |p| p.as_str())
                );
                *request.uri_mut() = uri.parse().unwrap_or_else(|e| panic!("uri: {e}"));
                request.headers_mut().remove(http::header::HOST);
            }
            sender.send_request(request).await
        }
    }
    .unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("body: {e}"))
        .to_bytes();
    Reply {
        status,
        version,
        headers,
        body,
        peer_cert: None,
    }
}
