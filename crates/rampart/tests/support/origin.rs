//! In-test origins on loopback: plain echo servers by default, with switches
//! for failure modes (unhealthy, slow, resetting) and HTTP/2 or TLS.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

pub type OriginBody = BoxBody<Bytes, hyper::Error>;
pub type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<OriginBody>> + Send>>
        + Send
        + Sync,
>;

pub fn full(text: impl Into<Bytes>) -> OriginBody {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed()
}

pub struct TestOrigin {
    pub addr: SocketAddr,
    pub name: String,
    /// Requests served (health checks included).
    pub hits: Arc<AtomicUsize>,
    /// `/healthz` answers 503 while false.
    pub healthy: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl TestOrigin {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and closes the listener (connections refused from now on).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    /// HTTP/2 with prior knowledge (h2c) or via ALPN when TLS is on.
    Http2,
    Auto,
}

pub struct OriginBuilder {
    name: String,
    protocol: Protocol,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Option<Handler>,
}

pub fn builder(name: &str) -> OriginBuilder {
    OriginBuilder {
        name: name.to_string(),
        protocol: Protocol::Auto,
        tls: None,
        handler: None,
    }
}

/// An echo origin named `name` (HTTP/1.1 and h2c).
pub async fn start(name: &str) -> TestOrigin {
    builder(name).start().await
}

impl OriginBuilder {
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Serve TLS with a self-signed certificate for localhost / 127.0.0.1.
    pub fn tls(mut self) -> Self {
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap_or_else(|e| panic!("rcgen: {e}"));
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![generated.cert.der().clone()], key)
        })
        .unwrap_or_else(|e| panic!("origin tls: {e}"));
        config.alpn_protocols = match self.protocol {
            Protocol::Http1 => vec![b"http/1.1".to_vec()],
            Protocol::Http2 => vec![b"h2".to_vec()],
            Protocol::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        };
        self.tls = Some(Arc::new(config));
        self
    }

    /// Replace the echo behaviour.
    pub fn handler<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<OriginBody>> + Send + 'static,
    {
        self.handler = Some(Arc::new(move |req| Box::pin(f(req))));
        self
    }

    pub async fn start(self) -> TestOrigin {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind origin: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let hits = Arc::new(AtomicUsize::new(0));
        let healthy = Arc::new(AtomicBool::new(true));
        let name = self.name.clone();
        let handler = self.handler.clone();
        let protocol = self.protocol;
        let tls = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let (hits2, healthy2) = (hits.clone(), healthy.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (name, handler, hits, healthy, tls) = (
                    name.clone(),
                    handler.clone(),
                    hits2.clone(),
                    healthy2.clone(),
                    tls.clone(),
                );
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        hits.fetch_add(1, Ordering::Relaxed);
                        let name = name.clone();
                        let handler = handler.clone();
                        let healthy = healthy.clone();
                        async move {
                            if req.uri().path() == "/healthz" && handler.is_none() {
                                let ok = healthy.load(Ordering::Relaxed);
                                let mut resp = Response::new(full(if ok { "ok" } else { "down" }));
                                if !ok {
                                    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                                }
                                return Ok::<_, Infallible>(resp);
                            }
                            Ok(match handler {
                                Some(h) => h(req).await,
                                None => echo(&name, req).await,
                            })
                        }
                    });
                    let mut builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match protocol {
                        Protocol::Http1 => builder = builder.http1_only(),
                        Protocol::Http2 => builder = builder.http2_only(),
                        Protocol::Auto => {}
                    }
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        TestOrigin {
            addr,
            name: self.name,
            hits,
            healthy,
            task,
        }
    }
}

/// Answers with a JSON description of what it received, so tests can check
/// what the proxy forwarded.
async fn echo(name: &str, req: Request<Incoming>) -> Response<OriginBody> {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let version = format!("{:?}", req.version());
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        let value = serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned());
        match headers.get_mut(k.as_str()) {
            Some(serde_json::Value::Array(list)) => list.push(value),
            _ => {
                headers.insert(
                    k.as_str().to_string(),
                    serde_json::Value::Array(vec![value]),
                );
            }
        }
    }
    let mut body_len = 0usize;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => body_len += frame.data_ref().map_or(0, |d| d.len()),
            Err(_) => break,
        }
    }
    let value = serde_json::json!({
        "origin": name,
        "method": method,
        "uri": uri,
        "version": version,
        "headers": headers,
        "body_len": body_len,
    });
    let mut resp = Response::new(full(value.to_string()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        "x-origin",
        http::HeaderValue::from_str(name).unwrap_or(http::HeaderValue::from_static("?")),
    );
    resp
}
