//! The HTTP/1.1 driver: one hyper connection at a time over the client
//! socket, dropped while the client is quiet (parking) and re-created when
//! its next request arrives; protocol switches (WebSocket) become a tunnel.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::io::{EndSignal, PrefixedIo};
use super::{Driver, idle_expired, stop_requested};
use crate::h1_guard::GuardedIo;
use crate::proxy;
use crate::upstream::now_millis;

/// Quiet time after which an idle keep-alive connection gives up hyper's
/// buffers (about 16 KiB). Busy connections never reach it.
const PARK_AFTER: Duration = Duration::from_millis(250);
/// How long the origin side of a protocol switch may take to hand over.
const TUNNEL_HANDOVER: Duration = Duration::from_secs(10);

/// The client socket of an HTTP/1 connection, between hyper connections.
struct H1Socket<U> {
    io: PrefixedIo<GuardedIo<U>>,
    head_in_progress: Arc<AtomicBool>,
    end: Arc<EndSignal>,
}

type BoxedServe = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Driver {
    pub(super) async fn serve_h1<U>(self, guarded: GuardedIo<U>)
    where
        U: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let head_in_progress = guarded.head_in_progress();
        let end = Arc::new(EndSignal::default());
        let mut io = PrefixedIo::new(guarded, Bytes::new());
        io.end = Some(end.clone());
        self.serve_h1_active(H1Socket {
            io,
            head_in_progress,
            end,
        })
        .await;
    }

    fn serve_h1_boxed<U>(self, socket: H1Socket<U>) -> BoxedServe
    where
        U: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Box::pin(self.serve_h1_active(socket))
    }

    /// Runs hyper over the socket until the connection ends, switches
    /// protocols or goes quiet; a quiet connection is handed to a small task
    /// of its own ([`Self::park`]) and this (large) future ends.
    async fn serve_h1_active<U>(mut self, mut socket: H1Socket<U>)
    where
        U: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        loop {
            let end = socket.end.clone();
            end.reset();
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                // No per-request timer in hyper: slow heads are the guard's
                // job, and a quiet connection is parked (then the idle
                // timeout applies) before any such timer could matter.
                .header_read_timeout(None)
                .max_buf_size(self.settings.max_head.max(8192) + 8192)
                // Our end-of-stream signal (and a client that half-closes)
                // must let the request in flight finish, not cancel it.
                .half_close(true);
            let (state, conn) = (self.state.clone(), self.conn.clone());
            let service =
                service_fn(move |request| proxy::handle(state.clone(), conn.clone(), request));
            let mut connection = Box::pin(
                builder
                    .serve_connection(TokioIo::new(socket.io), service)
                    .without_shutdown(),
            );

            let mut stopping = { *self.shutdown.borrow() };
            if stopping {
                end.request();
            }
            let mut parking = false;
            let park_after = PARK_AFTER.min(self.settings.idle);
            let head_in_progress = socket.head_in_progress.clone();
            let result = loop {
                tokio::select! {
                    result = connection.as_mut() => break result,
                    _ = stop_requested(&mut self.shutdown), if !stopping => {
                        // hyper finishes the response in progress, then stops.
                        stopping = true;
                        end.request();
                    }
                    _ = idle_expired(&self.activity, &self.conn.in_flight, park_after), if !parking && !stopping => {
                        if head_in_progress.load(Ordering::Relaxed) {
                            // A client pausing mid-head is not idle; the
                            // guard's header timeout governs it.
                            tokio::time::sleep(park_after).await;
                        } else {
                            parking = true;
                            end.request();
                        }
                    }
                }
            };
            drop(connection);
            let parts = match result {
                Ok(parts) => parts,
                Err(error) => {
                    tracing::trace!(%error, "HTTP/1 client connection ended with an error");
                    return;
                }
            };
            let mut io = parts.io.into_inner();
            // Bytes hyper read but did not use belong to the next request. Copied:
            // even an empty slice of hyper's read buffer would keep its whole
            // allocation alive while the connection is parked.
            io.prefix = if parts.read_buf.is_empty() {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(&parts.read_buf)
            };

            let tunnel = self
                .conn
                .tunnel
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(origin) = tunnel {
                io.end = None;
                tunnel_to_origin(io, origin).await;
                return;
            }
            if !parking || stopping {
                let _ = io.shutdown().await;
                return;
            }
            socket.io = io;
            if socket.io.prefix.is_empty() {
                tokio::spawn(self.park(socket));
                return;
            }
        }
    }

    /// A parked connection: just the socket and this small task, until the
    /// next request arrives (then hyper starts again), the client leaves,
    /// the idle timeout passes or the edge shuts down.
    async fn park<U>(mut self, mut socket: H1Socket<U>)
    where
        U: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        socket.end.reset();
        self.metrics.parked.fetch_add(1, Ordering::Relaxed);
        let woken = self.wait_for_next_request(&mut socket.io).await;
        self.metrics.parked.fetch_sub(1, Ordering::Relaxed);
        if let Some(first) = woken {
            socket.io.prefix = first;
            self.serve_h1_boxed(socket).await;
        }
    }

    /// A parked connection: no hyper state, just the socket. Returns the first
    /// bytes of the next request, or `None` when the client leaves, the idle
    /// timeout passes or the edge shuts down.
    async fn wait_for_next_request<T: AsyncRead + Unpin>(&mut self, io: &mut T) -> Option<Bytes> {
        let idle_ms = self.settings.idle.as_millis() as u64;
        let deadline = self
            .activity
            .load(Ordering::Relaxed)
            .saturating_add(idle_ms);
        let remaining = Duration::from_millis(deadline.saturating_sub(now_millis()));
        // An empty buffer: the read allocates a few bytes only once data is
        // there; hyper reads the rest of the request itself.
        let mut first = BytesMut::new();
        tokio::select! {
            read = io.read_buf(&mut first) => match read {
                Ok(n) if n > 0 => Some(first.freeze()),
                _ => None,
            },
            _ = tokio::time::sleep(remaining) => None,
            _ = stop_requested(&mut self.shutdown) => None,
        }
    }
}

/// After a 101, the client socket and the origin's upgraded connection are
/// joined byte for byte.
async fn tunnel_to_origin<T>(
    mut client: PrefixedIo<T>,
    origin: tokio::sync::oneshot::Receiver<hyper::upgrade::Upgraded>,
) where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let Ok(Ok(origin)) = tokio::time::timeout(TUNNEL_HANDOVER, origin).await else {
        return;
    };
    let mut origin = TokioIo::new(origin);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
}
