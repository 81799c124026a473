//! Listeners and client connections: PROXY protocol, TLS, strict HTTP/1
//! framing, HTTP/1.1 and HTTP/2 (ALPN or h2c prior knowledge), header and
//! idle timeouts, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::access_log::AccessLogRecord;
use crate::h1_guard::{GuardConfig, GuardedIo, RejectResponder, Violation};
use crate::metrics::ListenerMetrics;
use crate::proxy::{self, ConnInfo};
use crate::ray::RayId;
use crate::state::EdgeState;
use crate::upstream::now_millis;

#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(TlsAcceptor),
}

pub struct EdgeListener {
    pub name: &'static str,
    pub listener: TcpListener,
    pub transport: Transport,
    pub proxy_protocol: bool,
}

/// Accepts connections until `shutdown` turns true, then waits (at most
/// `grace`) for in-flight requests to finish.
pub async fn serve(
    state: Arc<EdgeState>,
    listeners: Vec<EdgeListener>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let graceful = Arc::new(GracefulShutdown::new());
    let mut accept_loops = tokio::task::JoinSet::new();
    for listener in listeners {
        let metrics = state.metrics.listener(listener.name);
        accept_loops.spawn(accept_loop(
            state.clone(),
            listener,
            metrics,
            graceful.clone(),
            shutdown.clone(),
        ));
    }
    let _ = shutdown.wait_for(|stop| *stop).await;
    while accept_loops.join_next().await.is_some() {}
    tracing::info!("stopped accepting; finishing in-flight requests");
    let graceful = Arc::try_unwrap(graceful).unwrap_or_else(|_| GracefulShutdown::new());
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(?grace, "grace period over; closing remaining connections");
    }
}

async fn accept_loop(
    state: Arc<EdgeState>,
    edge: EdgeListener,
    metrics: Arc<ListenerMetrics>,
    graceful: Arc<GracefulShutdown>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = edge.listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                metrics.accepted.fetch_add(1, Ordering::Relaxed);
                let task = Connection {
                    state: state.clone(),
                    transport: edge.transport.clone(),
                    proxy_protocol: edge.proxy_protocol,
                    metrics: metrics.clone(),
                    watcher: graceful.watcher(),
                };
                tokio::spawn(task.run(stream, peer));
            }
            Err(error) => {
                // Usually EMFILE: back off instead of spinning.
                tracing::warn!(listener = edge.name, %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

struct Connection {
    state: Arc<EdgeState>,
    transport: Transport,
    proxy_protocol: bool,
    metrics: Arc<ListenerMetrics>,
    watcher: Watcher,
}

struct OpenGauge(Arc<ListenerMetrics>);

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connection {
    async fn run(self, mut stream: TcpStream, mut peer: SocketAddr) {
        self.metrics.open.fetch_add(1, Ordering::Relaxed);
        let _open = OpenGauge(self.metrics.clone());
        let _ = stream.set_nodelay(true);
        let (header_timeout, idle, max_head) = {
            let snapshot = self.state.snapshot();
            (
                snapshot.timeouts.request_header,
                snapshot.timeouts.idle,
                self.state.initial.proxy.max_header_bytes,
            )
        };
        if self.proxy_protocol {
            match crate::proxy_protocol::read_proxy_header(&mut stream, header_timeout).await {
                Ok(header) => {
                    if let Some(source) = header.source {
                        peer = source;
                    }
                }
                Err(error) => {
                    tracing::debug!(%peer, %error, "PROXY protocol header refused");
                    return;
                }
            }
        }
        let settings = HttpSettings {
            header_timeout,
            idle,
            max_head,
        };
        match self.transport.clone() {
            Transport::Plain => {
                let conn = ConnInfo {
                    peer,
                    tls: false,
                    sni: None,
                    in_flight: Arc::new(AtomicUsize::new(0)),
                };
                self.serve_http(stream, conn, true, settings).await;
            }
            Transport::Tls(acceptor) => {
                let handshake = tokio::time::timeout(header_timeout, acceptor.accept(stream)).await;
                let tls = match handshake {
                    Ok(Ok(tls)) => tls,
                    _ => {
                        self.metrics
                            .tls_handshake_failures
                            .fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                let (_, session) = tls.get_ref();
                let h2 = session.alpn_protocol() == Some(b"h2");
                let conn = ConnInfo {
                    peer,
                    tls: true,
                    sni: session.server_name().map(Into::into),
                    in_flight: Arc::new(AtomicUsize::new(0)),
                };
                self.serve_http(tls, conn, !h2, settings).await;
            }
        }
    }

    /// `guard`: inspect HTTP/1 framing (anything but an ALPN-negotiated h2).
    async fn serve_http<T>(self, io: T, conn: ConnInfo, guard: bool, settings: HttpSettings)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(AtomicU64::new(now_millis()));
        let in_flight = conn.in_flight.clone();
        let conn = Arc::new(conn);
        let io = ActivityIo {
            inner: io,
            last: activity.clone(),
        };
        if guard {
            let responder =
                rejection_responder(self.state.clone(), self.metrics.clone(), conn.clone());
            let guarded = GuardedIo::new(
                io,
                GuardConfig {
                    max_head_bytes: settings.max_head,
                    header_timeout: Some(settings.header_timeout),
                },
                responder,
            );
            self.drive(guarded, conn, settings, activity, in_flight)
                .await;
        } else {
            self.drive(io, conn, settings, activity, in_flight).await;
        }
    }

    async fn drive<T>(
        self,
        io: T,
        conn: Arc<ConnInfo>,
        settings: HttpSettings,
        activity: Arc<AtomicU64>,
        in_flight: Arc<AtomicUsize>,
    ) where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.idle)
            .max_buf_size(settings.max_head.max(8192) + 8192);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(256)
            .max_header_list_size(settings.max_head.min(u32::MAX as usize) as u32);
        let state = self.state.clone();
        let service =
            service_fn(move |request| proxy::handle(state.clone(), conn.clone(), request));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let connection = self.watcher.watch(connection);
        tokio::select! {
            result = connection => {
                if let Err(error) = result {
                    tracing::trace!(%error, "client connection ended with an error");
                }
            }
            _ = idle_expired(&activity, &in_flight, settings.idle) => {
                tracing::trace!("closing idle client connection");
            }
        }
    }
}

#[derive(Clone, Copy)]
struct HttpSettings {
    header_timeout: Duration,
    idle: Duration,
    max_head: usize,
}

/// Resolves once the connection has had no traffic for `idle` while no request
/// was in flight (a slow origin is the response timeout's business).
async fn idle_expired(activity: &AtomicU64, in_flight: &AtomicUsize, idle: Duration) {
    let idle_ms = idle.as_millis() as u64;
    loop {
        let deadline = activity.load(Ordering::Relaxed).saturating_add(idle_ms);
        let now = now_millis();
        if now >= deadline {
            if in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
            tokio::time::sleep(idle).await;
        } else {
            tokio::time::sleep(Duration::from_millis(deadline - now)).await;
        }
    }
}

fn rejection_responder(
    state: Arc<EdgeState>,
    metrics: Arc<ListenerMetrics>,
    conn: Arc<ConnInfo>,
) -> RejectResponder {
    Arc::new(move |violation: &Violation| {
        metrics.rejected_framing.fetch_add(1, Ordering::Relaxed);
        let ray = RayId::generate();
        let status = violation.status();
        let reason = if status == 431 {
            "Request Header Fields Too Large"
        } else {
            "Bad Request"
        };
        let detail = violation.to_string();
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} {reason}</title></head><body><h1>Error {status}: {reason}</h1><p>The request was refused because its HTTP framing is invalid or ambiguous: {}.</p><p>Reference id (Rampart-Ray): <code>{ray}</code></p></body></html>\n",
            crate::pages::escape_html(&detail)
        );
        let error = format!("framing: {detail}");
        state.access_log.write(&AccessLogRecord {
            ray,
            site: "-",
            client_ip: crate::client_addr::canonical(conn.peer.ip()),
            method: "-",
            host: "",
            path: "",
            protocol: "HTTP/1.1",
            tls: conn.tls,
            status,
            bytes_in: 0,
            bytes_out: body.len() as u64,
            origin: None,
            origin_status: None,
            attempts: 0,
            duration: Duration::ZERO,
            origin_duration: None,
            user_agent: None,
            error: Some(&error),
        });
        Bytes::from(format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nRampart-Ray: {ray}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    })
}

/// Notes the time of the last byte in either direction, for the idle timeout.
struct ActivityIo<T> {
    inner: T,
    last: Arc<AtomicU64>,
}

impl<T: AsyncRead + Unpin> AsyncRead for ActivityIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.last.store(now_millis(), Ordering::Relaxed);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.last.store(now_millis(), Ordering::Relaxed);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.last.store(now_millis(), Ordering::Relaxed);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Binds a listener, with the address in the error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, std::io::Error> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// A boxed future, for callers that store the server.
pub type ServeFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
