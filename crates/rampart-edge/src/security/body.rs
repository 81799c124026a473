//! The client's request body on its way to the origin: counted for the
//! access log, cut off when it passes the site's `max_body_bytes`, and cut
//! off when it arrives slower than the node's `min_body_rate` (slow POST /
//! RUDY: a few bytes every few seconds hold an origin connection for hours).
//!
//! # Measuring the client's rate, not the origin's
//!
//! Only time spent waiting *for the client* counts: from a poll that found
//! no data (`Pending`) to the poll that found some. When the origin reads
//! slowly, hyper polls this body late but finds data waiting, and none of
//! that time is charged to the client. Each byte buys `1 / min_rate` seconds
//! of waiting and `grace` comes free: once the client has waited longer than
//! `grace + bytes / min_rate`, it is too slow. That holds its average to the
//! minimum over the long run while forgiving a slow start or a late burst.
//! A timer wakes the body at the moment the credit runs out, so a client
//! that sends nothing at all is caught too.
//!
//! When the body is cut off the stream fails; hyper's client abandons the
//! origin request, and the proxy reads [`BodyStats::abort`] to answer 413
//! or 408 (with `Connection: close`) instead of a 502.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::body::BodyError;

/// Why a request body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyAbort {
    TooLarge,
    TooSlow,
}

/// Shared between the body (which hyper's client owns) and the exchange.
#[derive(Debug, Default)]
pub struct BodyStats {
    /// Bytes received from the client so far.
    pub bytes: AtomicU64,
    abort: AtomicU8,
}

impl BodyStats {
    pub fn abort(&self) -> Option<BodyAbort> {
        match self.abort.load(Ordering::Relaxed) {
            1 => Some(BodyAbort::TooLarge),
            2 => Some(BodyAbort::TooSlow),
            _ => None,
        }
    }

    fn set_abort(&self, why: BodyAbort) {
        let code = match why {
            BodyAbort::TooLarge => 1,
            BodyAbort::TooSlow => 2,
        };
        self.abort.store(code, Ordering::Relaxed);
    }
}

/// The minimum-rate rule for one body.
#[derive(Debug, Clone, Copy)]
pub struct MinRate {
    /// Bytes per second, at least 1.
    pub bytes_per_sec: u64,
    pub grace: Duration,
}

/// `B` is hyper's `Incoming` in the proxy; tests use other bodies.
pub struct GuardedBody<B = Incoming> {
    inner: B,
    stats: Arc<BodyStats>,
    max_bytes: Option<u64>,
    min_rate: Option<MinRate>,
    /// Waiting for the client, summed over finished waits.
    waited: Duration,
    /// Start of the wait in progress.
    waiting_since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    failed: bool,
}

impl<B> GuardedBody<B> {
    pub fn new(
        inner: B,
        stats: Arc<BodyStats>,
        max_bytes: Option<u64>,
        min_rate: Option<MinRate>,
    ) -> Self {
        Self {
            inner,
            stats,
            max_bytes,
            min_rate: min_rate.filter(|r| r.bytes_per_sec > 0),
            waited: Duration::ZERO,
            waiting_since: None,
            timer: None,
            failed: false,
        }
    }

    fn fail(&mut self, why: BodyAbort) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.failed = true;
        self.stats.set_abort(why);
        Poll::Ready(Some(Err(match why {
            BodyAbort::TooLarge => BodyError::TooLarge,
            BodyAbort::TooSlow => BodyError::TooSlow,
        })))
    }

    /// Called when the client has nothing for us: is it too slow already,
    /// and if not, arm the timer for the moment it would be.
    fn check_rate_while_waiting(&mut self, cx: &mut Context<'_>) -> Result<(), BodyAbort> {
        let Some(rate) = self.min_rate else {
            return Ok(());
        };
        let now = Instant::now();
        let since = *self.waiting_since.get_or_insert(now);
        let waited = self.waited + now.saturating_duration_since(since);
        let bytes = self.stats.bytes.load(Ordering::Relaxed);
        // Waiting time the bytes so far pay for; integer milliseconds, so a
        // huge count cannot overflow a float conversion.
        let earned = Duration::from_millis(bytes.saturating_mul(1000) / rate.bytes_per_sec);
        // The grace is credit on top of what the bytes earn: a client must
        // keep its average up, but a burst that arrives a little late (or a
        // slow start) is not punished at the first dip.
        let allowed = earned.saturating_add(rate.grace);
        if waited >= allowed {
            return Err(BodyAbort::TooSlow);
        }
        let deadline = now + (allowed - waited);
        let timer = match &mut self.timer {
            Some(timer) => {
                timer.as_mut().reset(deadline);
                timer
            }
            None => self
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        if timer.as_mut().poll(cx).is_ready() {
            return Err(BodyAbort::TooSlow);
        }
        Ok(())
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                if let Some(data) = frame.data_ref() {
                    let total = this
                        .stats
                        .bytes
                        .fetch_add(data.len() as u64, Ordering::Relaxed)
                        .saturating_add(data.len() as u64);
                    if this.max_bytes.is_some_and(|max| total > max) {
                        return this.fail(BodyAbort::TooLarge);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.check_rate_while_waiting(cx) {
                Ok(()) => Poll::Pending,
                Err(why) => this.fail(why),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    /// A request body the test feeds by hand.
    struct Fed(mpsc::Receiver<Bytes>);

    impl Body for Fed {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
        }
    }

    fn guarded(
        max: Option<u64>,
        rate: Option<MinRate>,
    ) -> (mpsc::Sender<Bytes>, GuardedBody<Fed>, Arc<BodyStats>) {
        let (tx, rx) = mpsc::channel(16);
        let stats = Arc::new(BodyStats::default());
        (
            tx,
            GuardedBody::new(Fed(rx), stats.clone(), max, rate),
            stats,
        )
    }

    const RATE: MinRate = MinRate {
        bytes_per_sec: 1000,
        grace: Duration::from_secs(1),
    };

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_cut_off_after_the_grace() {
        let (tx, mut body, stats) = guarded(None, Some(RATE));
        tx.send(Bytes::from_static(&[1; 100]))
            .await
            .unwrap_or_default();
        assert!(body.frame().await.is_some_and(|f| f.is_ok()));
        let started = Instant::now();
        let end = body.frame().await;
        assert!(matches!(end, Some(Err(BodyError::TooSlow))), "{end:?}");
        // The grace is a second, and 100 bytes buy 100 ms more.
        let waited = started.elapsed();
        assert_eq!(waited, Duration::from_millis(1100));
        assert_eq!(stats.abort(), Some(BodyAbort::TooSlow));
        assert!(body.frame().await.is_none(), "ends after the error");
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_buy_time_and_a_steady_client_passes() {
        let (tx, mut body, stats) = guarded(None, Some(RATE));
        let feeder = tokio::spawn(async move {
            for _ in 0..10 {
                // 1,000 bytes every 900 ms: above the minimum.
                tokio::time::sleep(Duration::from_millis(900)).await;
                if tx.send(Bytes::from_static(&[2; 1000])).await.is_err() {
                    return;
                }
            }
        });
        let mut got = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.unwrap_or_else(|e| panic!("{e}"));
            got += frame.data_ref().map_or(0, |d| d.len());
        }
        assert_eq!(got, 10_000);
        assert_eq!(stats.abort(), None);
        let _ = feeder.await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_cut_off_once_the_average_falls_below() {
        let (tx, mut body, _) = guarded(None, Some(RATE));
        let feeder = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if tx.send(Bytes::from_static(&[3; 10])).await.is_err() {
                    return;
                }
            }
        });
        let started = Instant::now();
        let outcome = loop {
            match body.frame().await {
                Some(Ok(_)) => continue,
                other => break other,
            }
        };
        assert!(
            matches!(outcome, Some(Err(BodyError::TooSlow))),
            "{outcome:?}"
        );
        // 20 bytes a second against 1,000: credit runs out soon after the grace.
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        feeder.abort();
    }

    #[tokio::test]
    async fn the_size_limit_cuts_off_a_streamed_body() {
        let (tx, mut body, stats) = guarded(Some(150), None);
        tx.send(Bytes::from_static(&[4; 100]))
            .await
            .unwrap_or_default();
        tx.send(Bytes::from_static(&[4; 100]))
            .await
            .unwrap_or_default();
        assert!(body.frame().await.is_some_and(|f| f.is_ok()));
        assert!(matches!(body.frame().await, Some(Err(BodyError::TooLarge))));
        assert_eq!(stats.abort(), Some(BodyAbort::TooLarge));
        assert_eq!(stats.bytes.load(Ordering::Relaxed), 200);
    }
}
