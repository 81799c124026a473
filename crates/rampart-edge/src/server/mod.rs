//! Listeners and client connections: PROXY protocol, TLS, strict HTTP/1
//! framing, HTTP/1.1 and HTTP/2 (ALPN or h2c prior knowledge), header and
//! idle timeouts, graceful shutdown.
//!
//! Idle HTTP/1 keep-alive connections are *parked*: after a short quiet spell
//! hyper's connection (with its read and write buffers) is dropped and only
//! the socket waits for the next request (see [`http1`]).

mod http1;
mod io;
mod reject;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::h1_guard::{GuardConfig, GuardedIo};
use crate::metrics::ListenerMetrics;
use crate::proxy::{self, ConnInfo};
use crate::state::EdgeState;
use crate::upstream::now_millis;
use rampart_limits::{ConnectionGuard, Refused};

use io::{AbortOnClose, ActivityIo, PrefixedIo};

/// The HTTP/2 connection preface a prior-knowledge (h2c) client opens with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

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
    // Every connection task holds a sender; all dropped = all connections done.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let mut accept_loops = tokio::task::JoinSet::new();
    for listener in listeners {
        let metrics = state.metrics.listener(listener.name);
        accept_loops.spawn(accept_loop(
            state.clone(),
            listener,
            metrics,
            alive.clone(),
            shutdown.clone(),
        ));
    }
    drop(alive);
    stop_requested(&mut shutdown).await;
    while accept_loops.join_next().await.is_some() {}
    tracing::info!("stopped accepting; finishing in-flight requests");
    if tokio::time::timeout(grace, all_done.recv()).await.is_err() {
        tracing::warn!(?grace, "grace period over; closing remaining connections");
    }
}

async fn accept_loop(
    state: Arc<EdgeState>,
    edge: EdgeListener,
    metrics: Arc<ListenerMetrics>,
    alive: mpsc::Sender<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = edge.listener.accept() => accepted,
            _ = stop_requested(&mut shutdown) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                metrics.accepted.fetch_add(1, Ordering::Relaxed);
                // Behind a PROXY protocol header the socket peer is the load
                // balancer; the cap applies to the client once it is known.
                let cap = if edge.proxy_protocol {
                    None
                } else {
                    match admit(&state, &metrics, peer) {
                        Ok(guard) => guard,
                        // Closed at once: no task, no TLS, no buffers.
                        Err(()) => continue,
                    }
                };
                let task = Connection {
                    state: state.clone(),
                    transport: edge.transport.clone(),
                    proxy_protocol: edge.proxy_protocol,
                    metrics: metrics.clone(),
                    shutdown: shutdown.clone(),
                    _alive: alive.clone(),
                    cap,
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

/// Counts a new connection against the per-address and per-network caps
/// (`[dos]`). `Err` means refused (and counted); the caller closes it.
/// Trusted proxies are exempt: many clients share their address.
fn admit(
    state: &EdgeState,
    metrics: &ListenerMetrics,
    peer: SocketAddr,
) -> Result<Option<ConnectionGuard>, ()> {
    let ip = crate::client_addr::canonical(peer.ip());
    if state.snapshot().trusted_proxies.contains(ip) {
        return Ok(None);
    }
    match state.security.connections.try_acquire(ip) {
        Ok(guard) => Ok(guard),
        Err(refused) => {
            let counter = match refused {
                Refused::PerIp => &metrics.refused_per_ip,
                Refused::PerPrefix | Refused::TableFull => &metrics.refused_per_prefix,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%ip, %refused, "connection refused");
            Err(())
        }
    }
}

struct Connection {
    state: Arc<EdgeState>,
    transport: Transport,
    proxy_protocol: bool,
    metrics: Arc<ListenerMetrics>,
    shutdown: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
    /// This connection's share of its client's connection cap.
    cap: Option<ConnectionGuard>,
}

struct OpenGauge(Arc<ListenerMetrics>);

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy)]
struct HttpSettings {
    header_timeout: Duration,
    idle: Duration,
    max_head: usize,
    send_timeout: Duration,
    max_streams: u32,
}

/// Per-connection context the protocol drivers share. It travels with the
/// connection (a parked HTTP/1 connection continues in a task of its own), so
/// it also carries what marks the connection as open.
struct Driver {
    state: Arc<EdgeState>,
    metrics: Arc<ListenerMetrics>,
    _open: OpenGauge,
    _alive: mpsc::Sender<()>,
    _cap: Option<ConnectionGuard>,
    conn: Arc<ConnInfo>,
    settings: HttpSettings,
    activity: Arc<AtomicU64>,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, mut stream: TcpStream, mut peer: SocketAddr) {
        self.metrics.open.fetch_add(1, Ordering::Relaxed);
        let open = OpenGauge(self.metrics.clone());
        let _ = stream.set_nodelay(true);
        let settings = {
            let snapshot = self.state.snapshot();
            HttpSettings {
                header_timeout: snapshot.timeouts.request_header,
                idle: snapshot.timeouts.idle,
                max_head: self.state.initial.proxy.max_header_bytes,
                send_timeout: snapshot.dos.send_timeout,
                max_streams: snapshot.dos.max_streams_per_connection.max(1),
            }
        };
        if self.proxy_protocol {
            match Box::pin(crate::proxy_protocol::read_proxy_header(
                &mut stream,
                settings.header_timeout,
            ))
            .await
            {
                Ok(header) => {
                    if let Some(source) = header.source {
                        peer = source;
                    }
                    match admit(&self.state, &self.metrics, peer) {
                        Ok(guard) => self.cap = guard,
                        Err(()) => return,
                    }
                }
                Err(error) => {
                    tracing::debug!(%peer, %error, "PROXY protocol header refused");
                    return;
                }
            }
        }
        match self.transport.clone() {
            Transport::Plain => {
                let conn = ConnInfo::new(peer, false);
                Box::pin(self.serve_http(stream, conn, None, settings, open)).await;
            }
            Transport::Tls(acceptor) => {
                // Boxed, like every large state below: a task is as big as its
                // largest state, and an idle connection should not pay for
                // the handshake's or hyper's.
                let handshake = Box::pin(tokio::time::timeout(
                    settings.header_timeout,
                    acceptor.accept(stream),
                ))
                .await;
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
                let conn = ConnInfo::new(peer, true);
                Box::pin(self.serve_http(tls, conn, Some(h2), settings, open)).await;
            }
        }
    }

    /// `alpn_h2`: the protocol TLS negotiated; `None` on plain TCP, where an
    /// h2c preface decides.
    async fn serve_http<T>(
        self,
        io: T,
        conn: ConnInfo,
        alpn_h2: Option<bool>,
        settings: HttpSettings,
        open: OpenGauge,
    ) where
        T: AsyncRead + AsyncWrite + AbortOnClose + Unpin + Send + 'static,
    {
        let activity = Arc::new(AtomicU64::new(now_millis()));
        let conn = Arc::new(conn);
        let mut io = ActivityIo::new(
            io,
            activity.clone(),
            settings.send_timeout,
            self.metrics.clone(),
        );
        let driver = Driver {
            state: self.state.clone(),
            metrics: self.metrics.clone(),
            _open: open,
            _alive: self._alive.clone(),
            _cap: self.cap,
            conn: conn.clone(),
            settings,
            activity,
            shutdown: self.shutdown.clone(),
        };
        let (h2, prefix) = match alpn_h2 {
            Some(h2) => (h2, Bytes::new()),
            None => match Box::pin(sniff_h2c(&mut io, settings.header_timeout)).await {
                Some(found) => found,
                None => return,
            },
        };
        if h2 {
            Box::pin(driver.serve_h2(PrefixedIo::new(io, prefix))).await;
            return;
        }
        let responder = reject::rejection_responder(self.state.clone(), self.metrics.clone(), conn);
        // The sniffed bytes are replayed below the guard, so they are
        // validated like every other byte the client sends.
        let guarded = GuardedIo::new(
            PrefixedIo::new(io, prefix),
            GuardConfig {
                max_head_bytes: settings.max_head,
                header_timeout: Some(settings.header_timeout),
            },
            responder,
        );
        Box::pin(driver.serve_h1(guarded)).await;
    }
}

/// Reads until the bytes either are the HTTP/2 preface or cannot become it.
/// Returns what was read, to be replayed to the protocol that serves it.
async fn sniff_h2c<T: AsyncRead + Unpin>(io: &mut T, timeout: Duration) -> Option<(bool, Bytes)> {
    let mut buf = BytesMut::with_capacity(H2_PREFACE.len());
    let read = async {
        while buf.len() < H2_PREFACE.len() {
            let n = io.read_buf(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if !H2_PREFACE.starts_with(&buf) {
                return Some(false);
            }
        }
        Some(true)
    };
    let h2 = tokio::time::timeout(timeout, read).await.ok()??;
    Some((h2, buf.freeze()))
}

impl Driver {
    async fn serve_h2<T>(mut self, io: T)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.settings.max_streams)
            // Bounds every header block, CONTINUATION frames included: h2
            // (≥ 0.4.4, CVE-2024-27316 family) stops decoding past it and
            // sends GOAWAY, so a CONTINUATION flood costs one connection.
            .max_header_list_size(self.settings.max_head.min(u32::MAX as usize) as u32)
            // Rapid reset (CVE-2023-44487): a client that opens and cancels
            // streams faster than they are served is sent GOAWAY once this
            // many resets are pending; so is one that keeps provoking
            // protocol errors. Set explicitly so a dependency's default
            // cannot silently loosen them. Header blocks (CONTINUATION
            // included) are bounded by the header list size above.
            .max_pending_accept_reset_streams(20)
            .max_local_error_reset_streams(256);
        let (state, conn) = (self.state.clone(), self.conn.clone());
        let service =
            service_fn(move |request| proxy::handle(state.clone(), conn.clone(), request));
        let mut connection = Box::pin(builder.serve_connection(TokioIo::new(io), service));
        let mut stopping = false;
        // Slowloris over HTTP/2: a client that opens a connection and never
        // completes a request (a HEADERS frame dribbled out, CONTINUATION
        // after CONTINUATION) keeps the idle timer fresh. It must start its
        // first request within the header timeout, as HTTP/1 heads must.
        let first_request = tokio::time::sleep(self.settings.header_timeout);
        tokio::pin!(first_request);
        let mut first_seen = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::trace!(%error, "HTTP/2 client connection ended with an error");
                    }
                    return;
                }
                _ = &mut first_request, if !first_seen => {
                    if self.conn.requests.load(Ordering::Relaxed) > 0 {
                        first_seen = true;
                    } else {
                        self.metrics.h2_head_timeouts.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("closing HTTP/2 connection: no request within the header timeout");
                        return;
                    }
                }
                _ = stop_requested(&mut self.shutdown), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
                _ = idle_expired(&self.activity, &self.conn.in_flight, self.settings.idle) => {
                    tracing::trace!("closing idle HTTP/2 client connection");
                    return;
                }
            }
        }
    }
}

/// Resolves when shutdown is requested (or its sender is gone).
async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
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
