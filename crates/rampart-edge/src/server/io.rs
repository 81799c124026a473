//! IO wrappers under hyper: activity tracking for the idle timeout, the
//! send timeout for clients that stop reading, and replay of bytes read
//! ahead (h2c sniffing, parked connections).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::metrics::ListenerMetrics;
use crate::upstream::now_millis;

/// Notes the time of the last byte in either direction, for the idle
/// timeout, and closes the connection when the client stops accepting our
/// bytes (slow read): a write that makes no progress for `send_timeout`
/// fails with `TimedOut`, which ends hyper's connection (HTTP/1 and HTTP/2
/// alike, TLS included since this sits under the TLS stream's writes).
pub(super) struct ActivityIo<T> {
    pub(super) inner: T,
    pub(super) last: Arc<AtomicU64>,
    send: SendDeadline,
}

impl<T> ActivityIo<T> {
    pub(super) fn new(
        inner: T,
        last: Arc<AtomicU64>,
        send_timeout: Duration,
        metrics: Arc<ListenerMetrics>,
    ) -> Self {
        Self {
            inner,
            last,
            send: SendDeadline {
                timeout: send_timeout,
                timer: None,
                stalled: false,
                metrics,
            },
        }
    }
}

/// The slow-reader watchdog. The timer is allocated on the first stall and
/// reused, so a connection that never stalls pays one `None`.
struct SendDeadline {
    timeout: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    /// A write is waiting for the client since the timer was armed.
    stalled: bool,
    metrics: Arc<ListenerMetrics>,
}

impl SendDeadline {
    fn progress(&mut self) {
        self.stalled = false;
    }

    /// After a write returned `Pending`: arms the deadline at the first stall
    /// and says whether it has passed (registering the task's waker with the
    /// timer, so the connection is polled again when it does).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timeout.is_zero() {
            return false;
        }
        if !self.stalled {
            self.stalled = true;
            let deadline = Instant::now() + self.timeout;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let expired = self
            .timer
            .as_mut()
            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
        if expired {
            self.metrics.send_timeouts.fetch_add(1, Ordering::Relaxed);
        }
        expired
    }

    fn check<R, T: AbortOnClose>(
        &mut self,
        cx: &mut Context<'_>,
        inner: &T,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match polled {
            Poll::Pending if self.expired(cx) => {
                // Our unsent bytes would otherwise keep the socket (and its
                // send buffer) alive in FIN_WAIT1 for minutes after we close,
                // behind a zero window the client never opens: the memory a
                // slow-read attack is after. Reset instead.
                inner.abort_on_close();
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client accepted no response bytes within the send timeout",
                )))
            }
            other => other,
        }
    }
}

/// A transport that can be told to discard unsent bytes when it closes
/// (`SO_LINGER` 0: the close sends RST instead of waiting to deliver them).
pub(super) trait AbortOnClose {
    fn abort_on_close(&self);
}

impl AbortOnClose for tokio::net::TcpStream {
    fn abort_on_close(&self) {
        // Zero linger never blocks the close (only a non-zero one would).
        let _ = self.set_zero_linger();
    }
}

impl AbortOnClose for tokio_rustls::server::TlsStream<tokio::net::TcpStream> {
    fn abort_on_close(&self) {
        self.get_ref().0.abort_on_close();
    }
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

impl<T: AsyncWrite + AbortOnClose + Unpin> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.last.store(now_millis(), Ordering::Relaxed);
            this.send.progress();
        }
        this.send.check(cx, &this.inner, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.last.store(now_millis(), Ordering::Relaxed);
            this.send.progress();
        }
        this.send.check(cx, &this.inner, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        if matches!(polled, Poll::Ready(Ok(()))) {
            this.send.progress();
        }
        this.send.check(cx, &this.inner, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.send.check(cx, &this.inner, polled)
    }
}

/// Asks the HTTP/1 server above a [`PrefixedIo`] to wind down: its reads see
/// end-of-stream, so hyper finishes the message in progress and stops, leaving
/// the socket open for the driver.
#[derive(Default)]
pub(super) struct EndSignal {
    requested: AtomicBool,
    reader: AtomicWaker,
}

impl EndSignal {
    pub(super) fn request(&self) {
        self.requested.store(true, Ordering::Relaxed);
        self.reader.wake();
    }

    pub(super) fn reset(&self) {
        self.requested.store(false, Ordering::Relaxed);
    }
}

/// Serves `prefix` before reading from `inner`: bytes that were read ahead
/// and belong to the protocol being served.
pub(super) struct PrefixedIo<T> {
    pub(super) inner: T,
    pub(super) prefix: Bytes,
    pub(super) end: Option<Arc<EndSignal>>,
}

impl<T> PrefixedIo<T> {
    pub(super) fn new(inner: T, prefix: Bytes) -> Self {
        Self {
            inner,
            prefix,
            end: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for PrefixedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            if let Some(head) = self.prefix.get(..n) {
                buf.put_slice(head);
            }
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        let ended = |end: &Option<Arc<EndSignal>>| {
            end.as_ref()
                .is_some_and(|e| e.requested.load(Ordering::Relaxed))
        };
        if ended(&self.end) {
            return Poll::Ready(Ok(()));
        }
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if polled.is_pending()
            && let Some(end) = &self.end
        {
            // Register, then look again: a request made in between is not lost.
            end.reader.register(cx.waker());
            if ended(&self.end) {
                return Poll::Ready(Ok(()));
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for PrefixedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    impl AbortOnClose for tokio::io::DuplexStream {
        fn abort_on_close(&self) {}
    }

    fn wrap<T>(io: T, timeout: Duration) -> (ActivityIo<T>, Arc<ListenerMetrics>) {
        let metrics = Arc::new(ListenerMetrics::default());
        let io = ActivityIo::new(io, Arc::new(AtomicU64::new(0)), timeout, metrics.clone());
        (io, metrics)
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_stops_reading_is_cut_off() {
        let (ours, _client) = tokio::io::duplex(64);
        let (mut io, metrics) = wrap(ours, Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        let result = io.write_all(&[0; 1024]).await;
        let err = result.err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::TimedOut));
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert_eq!(metrics.send_timeouts.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_steady_reader_is_not() {
        let (ours, mut client) = tokio::io::duplex(64);
        let (mut io, metrics) = wrap(ours, Duration::from_secs(2));
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut total = 0;
            // 64 bytes a second: every stall is shorter than the timeout.
            while total < 1024 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match client.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
            total
        });
        io.write_all(&[0; 1024])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reader.await.unwrap_or_default(), 1024);
        assert_eq!(metrics.send_timeouts.load(Ordering::Relaxed), 0);
    }
}
