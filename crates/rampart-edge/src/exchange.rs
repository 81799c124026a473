//! What Rampart remembers about one request until its response body is done:
//! then the access log line is written, metrics and analytics are recorded
//! and in-flight counts drop. Doing this when the body ends (or is dropped on
//! a client abort) makes bytes-out and duration true for streamed responses.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use rampart_analytics::{CacheStatus, RequestEvent, Verdict};

use crate::access_log::AccessLogRecord;
use crate::body::{BodyError, EdgeBody};
use crate::metrics::SiteMetrics;
use crate::ray::RayId;
use crate::security::RequestSecurity;
use crate::security::body::{BodyAbort, BodyStats};
use crate::security::request::MAX_HITS;
use crate::state::EdgeState;
use crate::upstream::Origin;

pub struct Exchange {
    pub state: Arc<EdgeState>,
    pub ray: RayId,
    pub start: Instant,
    pub site: Option<Arc<str>>,
    pub site_metrics: Arc<SiteMetrics>,
    pub client_ip: IpAddr,
    pub method: Method,
    pub host: Option<HeaderValue>,
    pub uri: Uri,
    pub version: Version,
    pub tls: bool,
    pub user_agent: Option<HeaderValue>,
    /// The request body's byte count (and whether it was cut off).
    pub bytes_in: Option<Arc<BodyStats>>,
    pub origin: Option<Arc<Origin>>,
    pub origin_status: Option<u16>,
    pub origin_duration: Option<Duration>,
    pub attempts: u32,
    pub status: u16,
    pub error: Option<&'static str>,
    /// What the security phases decided.
    pub verdict: Verdict,
    /// Rules that hit, pending response counts, the origin slot.
    pub security: RequestSecurity,
    pub conn_in_flight: Arc<AtomicUsize>,
}

impl Exchange {
    fn finish(&self, bytes_out: u64) {
        if let Some(origin) = &self.origin {
            origin.metrics.outstanding.fetch_sub(1, Ordering::Relaxed);
        }
        self.conn_in_flight.fetch_sub(1, Ordering::Relaxed);
        let elapsed = self.start.elapsed();
        let bytes_in = self
            .bytes_in
            .as_ref()
            .map_or(0, |c| c.bytes.load(Ordering::Relaxed));
        self.site_metrics
            .record(self.status, elapsed, bytes_in, bytes_out);
        self.site_metrics.record_verdict(self.verdict);
        match self.bytes_in.as_ref().and_then(|b| b.abort()) {
            Some(BodyAbort::TooSlow) => {
                self.state
                    .metrics
                    .body_too_slow
                    .fetch_add(1, Ordering::Relaxed);
            }
            Some(BodyAbort::TooLarge) => {
                self.state
                    .metrics
                    .body_too_large
                    .fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }
        let mut ids = [""; MAX_HITS];
        let rules_hit = self.security.hits.as_strs(&mut ids);
        // Requests no site claimed (unknown host, no Host, the welcome page)
        // are not per-site traffic: they show in the unrouted metrics and the
        // access log only. Counted before the log line is written, so a
        // request that is in the log is also in the analytics.
        if let Some(site) = &self.site {
            self.state.analytics.record(
                site,
                &RequestEvent {
                    status: self.status,
                    bytes_in,
                    bytes_out,
                    verdict: self.verdict,
                    cache: CacheStatus::None,
                    client_ip: self.client_ip,
                    country: self.security.geo.country,
                    path: self.uri.path(),
                    rules_hit,
                    unix_ms: unix_ms(SystemTime::now()),
                },
            );
        }
        let log = &self.state.access_log;
        if !log.enabled() {
            return;
        }
        let host = self
            .host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        log.write(&AccessLogRecord {
            ray: self.ray,
            site: self.site.as_deref().unwrap_or("-"),
            client_ip: self.client_ip,
            method: self.method.as_str(),
            host,
            path: self.uri.path_and_query().map_or("/", |p| p.as_str()),
            protocol: version_str(self.version),
            tls: self.tls,
            status: self.status,
            bytes_in,
            bytes_out,
            origin: self.origin.as_ref().map(|o| &*o.label),
            origin_status: self.origin_status,
            attempts: self.attempts,
            duration: elapsed,
            origin_duration: self.origin_duration,
            user_agent: self.user_agent.as_ref().and_then(|v| v.to_str().ok()),
            error: self.error,
            rule: self.security.hits.primary(),
            rules_hit,
        });
    }
}

/// A clock before 1970 counts as 1970 rather than dropping the event.
pub(crate) fn unix_ms(now: SystemTime) -> i64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub fn version_str(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}

/// The response body handed to hyper: counts bytes and finishes the exchange
/// exactly once, at end of stream or on drop.
pub struct ResponseBody {
    inner: EdgeBody,
    exchange: Option<Box<Exchange>>,
    bytes_out: u64,
}

impl ResponseBody {
    pub fn new(inner: EdgeBody, exchange: Box<Exchange>) -> Self {
        Self {
            inner,
            exchange: Some(exchange),
            bytes_out: 0,
        }
    }

    /// For responses outside any exchange (admin listener).
    pub fn plain(inner: EdgeBody) -> Self {
        Self {
            inner,
            exchange: None,
            bytes_out: 0,
        }
    }

    fn finish(&mut self) {
        if let Some(exchange) = self.exchange.take() {
            exchange.finish(self.bytes_out);
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes_out += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Err(_))) => {
                if let Some(exchange) = this.exchange.as_mut() {
                    exchange.error.get_or_insert("origin body error");
                }
                this.finish();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::unix_ms;
    use std::time::{Duration, SystemTime};

    #[test]
    fn unix_ms_of_the_clock() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(unix_ms(at), 1_700_000_000_123);
        assert_eq!(unix_ms(SystemTime::UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
