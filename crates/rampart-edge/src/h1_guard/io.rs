//! The IO wrapper placed between the client connection and hyper.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::response::ResponseTracker;
use super::{FramingTracker, GuardConfig, RejectResponder, Violation, ensure_connection_close};

#[derive(Debug)]
enum Reject {
    /// No violation.
    None,
    /// Violation found; the reject response has not started yet (valid bytes
    /// before it are still being consumed, or earlier responses are still
    /// being written).
    Pending,
    /// Writing the reject response; writes from above are swallowed.
    Writing {
        buf: Bytes,
        pos: usize,
    },
    Flushing,
    ShuttingDown,
    /// Response sent and write side shut down: reads return EOF.
    Done,
}

/// IO wrapper validating HTTP/1 request framing; see the module docs.
pub struct GuardedIo<T> {
    inner: T,
    tracker: FramingTracker,
    responses: ResponseTracker,
    on_reject: RejectResponder,
    reject: Reject,
    /// The violation was inside a new request head: let the server finish
    /// the responses to earlier requests before sending the reject response.
    defer_reject: bool,
    /// Bytes read from `inner` that the tracker could not accept yet
    /// (waiting for an upgrade decision or for responses to drain).
    stash: Vec<u8>,
    stash_pos: usize,
    /// Reader parked for an internal reason (woken by the write side).
    read_waker: Option<Waker>,
    header_timeout: Option<Duration>,
    /// Deadline for the request head in progress; armed only while a head is
    /// split across reads, so the common one-read head costs no timer.
    head_timer: Option<Pin<Box<Sleep>>>,
    head_timer_armed: bool,
    /// Mirrors `head_timer_armed` for the connection driver, which must not
    /// mistake a client pausing mid-head for an idle connection.
    head_in_progress: Arc<AtomicBool>,
    timed_out: bool,
}

impl<T> std::fmt::Debug for GuardedIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedIo")
            .field("tracker", &self.tracker)
            .field("reject", &self.reject)
            .finish_non_exhaustive()
    }
}

impl<T> GuardedIo<T> {
    pub fn new(inner: T, cfg: GuardConfig, on_reject: RejectResponder) -> Self {
        Self {
            inner,
            tracker: FramingTracker::new(cfg),
            responses: ResponseTracker::new(),
            on_reject,
            reject: Reject::None,
            defer_reject: false,
            stash: Vec::new(),
            stash_pos: 0,
            read_waker: None,
            header_timeout: cfg.header_timeout,
            head_timer: None,
            head_timer_armed: false,
            head_in_progress: Arc::new(AtomicBool::new(false)),
            timed_out: false,
        }
    }

    /// The framing violation found on this connection, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.tracker.violation()
    }

    /// True while part of a request head has arrived but not all of it
    /// (tracked only when a header timeout is configured).
    pub fn head_in_progress(&self) -> Arc<AtomicBool> {
        self.head_in_progress.clone()
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Whether writes from above must be swallowed. That is the case once
    /// the reject response started, and also while a violation is pending
    /// but no accepted request awaits its response: whatever the server
    /// writes then is its own reaction to the broken bytes it was given
    /// (e.g. hyper's 400 for a partial head), so the reject response starts
    /// instead.
    fn swallowing(&mut self) -> bool {
        match self.reject {
            Reject::None => false,
            Reject::Pending if self.responses_outstanding() && !self.answering_broken_request() => {
                false
            }
            Reject::Pending => {
                self.start_reject();
                true
            }
            _ => true,
        }
    }

    fn start_reject(&mut self) {
        let v = if self.timed_out {
            Violation::HeaderTimeout
        } else {
            self.tracker
                .violation()
                .copied()
                .unwrap_or(Violation::InvalidRequestLine)
        };
        let buf = ensure_connection_close((self.on_reject)(&v));
        self.reject = Reject::Writing { buf, pos: 0 };
    }

    fn on_violation(&mut self) {
        if matches!(self.reject, Reject::None) {
            self.reject = Reject::Pending;
            self.defer_reject = self.tracker.in_request_head();
            self.stash.clear();
            self.stash_pos = 0;
        }
    }

    /// The violation is in the body of the last accepted request, every
    /// earlier response is complete, and the server starts writing: that is
    /// its answer to the broken request (hyper rejects a bad chunk-size byte
    /// as soon as it sees it, before the guard has the whole line; the proxy
    /// then answers 502), so the reject response goes out in its place.
    fn answering_broken_request(&self) -> bool {
        !self.defer_reject && self.tracker.outstanding() == 1 && self.responses.is_idle()
    }

    /// Earlier requests still await (part of) their response.
    fn responses_outstanding(&self) -> bool {
        !self.responses.is_lost() && (self.tracker.outstanding() > 0 || !self.responses.is_idle())
    }

    /// Account for bytes the server wrote; may unblock the reader.
    fn wrote(&mut self, data: &[u8]) {
        if !self.responses.is_finished() {
            self.responses.feed(data, &mut self.tracker);
        }
        if self.responses.is_lost() && self.tracker.is_waiting() {
            self.tracker.resolve_upgrade(false);
        }
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }

    /// Arms the head deadline when a head is left incomplete, disarms it once
    /// the head is complete.
    fn update_head_timer(&mut self) {
        let Some(timeout) = self.header_timeout else {
            return;
        };
        if !self.tracker.head_started() {
            if self.head_timer_armed {
                self.head_timer_armed = false;
                self.head_in_progress.store(false, Ordering::Relaxed);
            }
            return;
        }
        if self.head_timer_armed {
            return;
        }
        let deadline = Instant::now() + timeout;
        match &mut self.head_timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.head_timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.head_timer_armed = true;
        self.head_in_progress.store(true, Ordering::Relaxed);
    }

    /// Whether the head in progress ran out of time (registers the waker).
    fn head_timer_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.head_timer_armed {
            return false;
        }
        match &mut self.head_timer {
            Some(timer) => timer.as_mut().poll(cx).is_ready(),
            None => false,
        }
    }

    fn park(&mut self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        match &self.read_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.read_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T: AsyncWrite + Unpin> GuardedIo<T> {
    /// Drive the reject response: write, flush, shut down.
    fn poll_reject(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.reject {
                Reject::None | Reject::Done => return Poll::Ready(Ok(())),
                Reject::Pending => self.start_reject(),
                Reject::Writing { buf, pos } => match buf.get(*pos..) {
                    Some(rest) if !rest.is_empty() => {
                        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
                        if n == 0 {
                            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                        }
                        *pos = pos.saturating_add(n);
                    }
                    _ => self.reject = Reject::Flushing,
                },
                Reject::Flushing => {
                    ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
                    self.reject = Reject::ShuttingDown;
                }
                Reject::ShuttingDown => {
                    // Best effort: the peer may already be gone.
                    let _ = ready!(Pin::new(&mut self.inner).poll_shutdown(cx));
                    self.reject = Reject::Done;
                }
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.reject {
                Reject::None => {}
                Reject::Pending if this.defer_reject && this.responses_outstanding() => {
                    return this.park(cx);
                }
                _ => {
                    // EOF to the server once the reject response is out (or
                    // could not be written).
                    let _ = ready!(this.poll_reject(cx));
                    this.reject = Reject::Done;
                    return Poll::Ready(Ok(()));
                }
            }
            if this.tracker.is_waiting() {
                return this.park(cx);
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }

            // Bytes held back earlier come first.
            if let Some(held) = this.stash.get(this.stash_pos..).filter(|s| !s.is_empty()) {
                let held = held.get(..buf.remaining()).unwrap_or(held);
                match this.tracker.feed(held) {
                    Ok(n) => {
                        buf.put_slice(held.get(..n).unwrap_or_default());
                        this.stash_pos = this.stash_pos.saturating_add(n);
                        if this.stash_pos >= this.stash.len() {
                            this.stash.clear();
                            this.stash_pos = 0;
                        }
                        if this.tracker.violation().is_some() {
                            this.on_violation();
                        }
                        this.update_head_timer();
                        if n > 0 {
                            return Poll::Ready(Ok(()));
                        }
                    }
                    Err(_) => this.on_violation(),
                }
                continue;
            }

            if this.tracker.is_passthrough() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }

            let before = buf.filled().len();
            if Pin::new(&mut this.inner).poll_read(cx, buf)?.is_pending() {
                if this.head_timer_expired(cx) && matches!(this.reject, Reject::None) {
                    this.timed_out = true;
                    this.head_timer_armed = false;
                    this.reject = Reject::Pending;
                    this.defer_reject = true;
                    continue;
                }
                return Poll::Pending;
            }
            let new = buf.filled().get(before..).unwrap_or_default();
            if new.is_empty() {
                return Poll::Ready(Ok(())); // EOF from the client
            }
            let accepted = this.tracker.feed(new).unwrap_or(0);
            if this.tracker.violation().is_some() {
                this.on_violation();
            } else if let Some(tail) = new.get(accepted..) {
                // Waiting: keep the rest for later.
                this.stash.extend_from_slice(tail);
            }
            buf.set_filled(before.saturating_add(accepted));
            this.update_head_timer();
            if accepted > 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.swallowing() {
            return Poll::Ready(Ok(data.len()));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
        if !this.responses.is_finished() || this.read_waker.is_some() {
            this.wrote(data.get(..n).unwrap_or(data));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.swallowing() {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        if !this.responses.is_finished() || this.read_waker.is_some() {
            let mut left = n;
            for b in bufs {
                if left == 0 {
                    break;
                }
                let part = b.get(..left.min(b.len())).unwrap_or_default();
                left = left.saturating_sub(part.len());
                this.wrote(part);
            }
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.swallowing() {
            // Push the reject response out; its errors are not the server's.
            let _ = ready!(this.poll_reject(cx));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.reject {
            Reject::None => Pin::new(&mut this.inner).poll_shutdown(cx),
            // The server gives up while its responses are incomplete: a reject
            // response appended now could corrupt them; just close.
            Reject::Pending if this.responses_outstanding() => {
                this.reject = Reject::ShuttingDown;
                this.poll_reject(cx)
            }
            _ => this.poll_reject(cx),
        }
    }
}
