//! Edge → store: the analytics flush. Every [`FLUSH_INTERVAL`] the minutes
//! the edge's aggregator has closed are written to the store under this
//! node's id; once an hour, minutes older than the retention are deleted.
//!
//! The store may be down. When it cannot be reached, drained buckets go to
//! the spool (`spool.rs`: on disk, replayed exactly once when it is back).
//! On other failures, or if the disk refuses, they wait here, merged per
//! site and minute, and go with the next flush that succeeds; past
//! [`MAX_PENDING_MINUTES`] distinct minutes the oldest are dropped with a
//! warning, so memory stays bounded.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use rampart_analytics::{MinuteBucket, merge};
use rampart_store::StoreError;
use tokio::sync::{Mutex, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::Control;

/// How often closed minutes are written. The aggregator keeps the current
/// and next minute open, so a minute reaches the store at most this long
/// after it ends.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

/// How often expired minutes are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Distinct minutes kept in memory while the store cannot take them.
pub const MAX_PENDING_MINUTES: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error("the store is not connected; {kept} site-minute(s) of analytics wait in memory")]
    NoStore { kept: usize },
    #[error("the store failed: {error}; {kept} site-minute(s) of analytics wait in memory")]
    Store { error: StoreError, kept: usize },
}

/// Buckets drained from the aggregator and not yet committed. The lock also
/// serializes flushes, so the periodic task and [`Control::flush_analytics_now`]
/// never write the same buckets twice.
#[derive(Default)]
pub(crate) struct Pending {
    buckets: Mutex<Vec<MinuteBucket>>,
    /// Security events drained from the edge and not yet committed
    /// (`security_events.rs`), flushed on the same cadence.
    pub(crate) security_events: Mutex<Vec<rampart_store::SecurityEventWrite>>,
}

impl Control {
    /// Writes everything the edge has counted, the current minute included,
    /// and returns how many site-minutes were stored. For tests, operators
    /// and shutdown: a minute flushed early and its remainder flushed later
    /// are added together by the store.
    /// Failures are logged too, so callers at shutdown may ignore them.
    pub async fn flush_analytics_now(&self) -> Result<usize, FlushError> {
        let result = self.flush_analytics(true).await;
        if let Err(error) = &result {
            tracing::warn!("analytics flush: {error}");
        }
        result
    }

    /// How long stored minutes are kept.
    /// `[analytics] retention` as last loaded from the file.
    pub fn analytics_retention(&self) -> Duration {
        Duration::from_secs(self.analytics_retention_secs.load(Ordering::Relaxed))
    }

    /// Drains closed minutes (all minutes when `all`) and writes them with
    /// whatever an earlier failed flush left.
    async fn flush_analytics(&self, all: bool) -> Result<usize, FlushError> {
        let aggregator = &self.edge.analytics;
        let mut pending = self.analytics.buckets.lock().await;
        let drained = if all {
            aggregator.drain_all()
        } else {
            aggregator.drain_closed(unix_ms(SystemTime::now()))
        };
        if drained.is_empty() && pending.is_empty() {
            return Ok(0);
        }
        pending.extend(drained);
        coalesce(&mut pending, aggregator.config().top_n);
        let dropped = bound(&mut pending, MAX_PENDING_MINUTES);
        if dropped > 0 {
            tracing::warn!(
                requests = dropped,
                "analytics older than {MAX_PENDING_MINUTES} minutes could not be stored and were dropped"
            );
        }
        let Some(store) = self.store() else {
            self.spool_minutes(&mut pending);
            return Err(FlushError::NoStore {
                kept: pending.len(),
            });
        };
        let node_id = self.node_id().await;
        match store.record_minutes(&node_id, &pending).await {
            Ok(stored) => {
                // Committed: never resend (the store would count it twice).
                pending.clear();
                Ok(stored)
            }
            // The transaction rolled back: nothing of it counted, so the
            // whole batch is retried: from the spool when the store is
            // down (it survives a restart there), else from memory.
            Err(error) => {
                if error.is_unavailable() {
                    self.spool_minutes(&mut pending);
                }
                Err(FlushError::Store {
                    error,
                    kept: pending.len(),
                })
            }
        }
    }

    /// Moves pending minutes to the spool as one batch; they stay in
    /// memory if the disk refuses.
    fn spool_minutes(&self, pending: &mut Vec<MinuteBucket>) {
        let entry = crate::spool::Entry::Analytics {
            batch: crate::spool::batch_id("minutes"),
            buckets: std::mem::take(pending),
        };
        if let Err(error) = self.spool.append(&entry) {
            tracing::warn!("analytics wait in memory, the spool failed: {error}");
            if let crate::spool::Entry::Analytics { buckets, .. } = entry {
                *pending = buckets;
            }
        }
    }

    /// Deletes minutes older than the retention; returns the rows deleted.
    async fn purge_analytics(&self) -> Result<u64, FlushError> {
        let store = self.store().ok_or(FlushError::NoStore { kept: 0 })?;
        let now = unix_ms(SystemTime::now()) / 1000;
        let retention = i64::try_from(self.analytics_retention().as_secs()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(retention).div_euclid(60) * 60;
        store
            .purge_analytics(cutoff)
            .await
            .map_err(|error| FlushError::Store { error, kept: 0 })
    }
}

/// Flushes closed minutes every [`FLUSH_INTERVAL`] and purges expired ones
/// every hour until shutdown, then flushes everything, the open minute
/// included. Requests still finishing after the shutdown signal are caught
/// by a last [`Control::flush_analytics_now`] once the edge has stopped.
/// Failures are logged once per change of state, not on every tick.
pub async fn run_analytics_flush(control: Arc<Control>, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval_at(Instant::now() + FLUSH_INTERVAL, FLUSH_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    let mut last_purge: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
        let result = control.flush_analytics(false).await;
        report(&mut failing, result);
        // The store's state is already reported by the analytics flush.
        if let Err(error) = control.flush_security_events().await {
            tracing::debug!("security events flush: {error}");
        }
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_INTERVAL) {
            match control.purge_analytics().await {
                Ok(deleted) => {
                    last_purge = Some(Instant::now());
                    if deleted > 0 {
                        tracing::info!(deleted, "expired analytics minutes deleted");
                    }
                }
                // The flush above already says when the store is failing;
                // the purge is retried on the next tick.
                Err(error) => tracing::debug!("analytics purge: {error}"),
            }
        }
    }
    // Logs its own failure.
    let _ = control.flush_analytics_now().await;
    if let Err(error) = control.flush_security_events().await {
        tracing::warn!("security events flush at shutdown: {error}");
    }
}

fn report(failing: &mut bool, result: Result<usize, FlushError>) {
    match result {
        Ok(stored) => {
            if *failing {
                tracing::info!(stored, "analytics stored again");
            }
            *failing = false;
        }
        // A start without the store logs that itself; counts wait meanwhile.
        Err(FlushError::NoStore { .. }) => {}
        Err(error) => {
            if !*failing {
                tracing::error!("{error}");
            }
            *failing = true;
        }
    }
}

/// Merges buckets of the same site and minute (a retried batch plus newly
/// drained parts of the same minute), so pending memory grows with distinct
/// site-minutes, not with the number of failed flushes.
fn coalesce(buckets: &mut Vec<MinuteBucket>, top_n: usize) {
    buckets.sort_by(|a, b| (&a.site, a.minute).cmp(&(&b.site, b.minute)));
    let mut out: Vec<MinuteBucket> = Vec::with_capacity(buckets.len());
    for bucket in buckets.drain(..) {
        match out.last_mut() {
            Some(last) if last.site == bucket.site && last.minute == bucket.minute => {
                merge(last, &bucket, top_n);
            }
            _ => out.push(bucket),
        }
    }
    *buckets = out;
}

/// Keeps the newest `max_minutes` distinct minutes; returns how many
/// requests the dropped buckets held.
fn bound(buckets: &mut Vec<MinuteBucket>, max_minutes: usize) -> u64 {
    let mut minutes: Vec<i64> = buckets.iter().map(|b| b.minute).collect();
    minutes.sort_unstable_by(|a, b| b.cmp(a));
    minutes.dedup();
    let Some(&oldest_kept) = minutes.get(max_minutes.saturating_sub(1)) else {
        return 0;
    };
    let mut dropped = 0u64;
    buckets.retain(|b| {
        let keep = b.minute >= oldest_kept;
        if !keep {
            dropped = dropped.saturating_add(b.counters.requests);
        }
        keep
    });
    dropped
}

/// A clock before 1970 reads as 1970.
fn unix_ms(now: SystemTime) -> i64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(site: &str, minute: i64, requests: u64) -> MinuteBucket {
        MinuteBucket {
            site: site.to_owned(),
            minute,
            counters: rampart_analytics::Counters {
                requests,
                ..Default::default()
            },
            top_paths: vec![("/".to_owned(), requests)],
            ..MinuteBucket::default()
        }
    }

    #[test]
    fn coalesce_merges_same_site_and_minute() {
        let mut buckets = vec![
            bucket("b", 60, 1),
            bucket("a", 60, 2),
            bucket("b", 60, 3),
            bucket("b", 120, 4),
        ];
        coalesce(&mut buckets, 10);
        let got: Vec<(&str, i64, u64)> = buckets
            .iter()
            .map(|b| (b.site.as_str(), b.minute, b.counters.requests))
            .collect();
        assert_eq!(got, vec![("a", 60, 2), ("b", 60, 4), ("b", 120, 4)]);
        assert_eq!(buckets[1].top_paths, vec![("/".to_owned(), 4)]);
    }

    #[test]
    fn bound_drops_the_oldest_minutes() {
        let mut buckets: Vec<MinuteBucket> = (0..5)
            .flat_map(|m| [bucket("a", m * 60, 1), bucket("b", m * 60, 10)])
            .collect();
        assert_eq!(bound(&mut buckets, 3), 22);
        assert_eq!(buckets.len(), 6);
        assert!(buckets.iter().all(|b| b.minute >= 120));
        assert_eq!(bound(&mut buckets, 3), 0);
        assert_eq!(bound(&mut Vec::new(), 3), 0);
    }
}
