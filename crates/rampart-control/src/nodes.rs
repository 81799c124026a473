//! This node in the cluster: its heartbeat row in the store (version,
//! snapshot, shared tier) and the spool's flush once the store is back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rampart_store::{MAX_EVENTS_PER_SITE, NodeHeartbeat, SECURITY_EVENTS_RETENTION_MS};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use rampart_edge::metrics::write_scalar;

use crate::Control;
use crate::api::safety::intake::{apply_spooled, retry_or_refuse};
use crate::spool::{Applied, Entry};

/// How often a node writes its heartbeat.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);

/// A node not heard from for this long shows as `stale`.
pub const STALE_AFTER: Duration = Duration::from_secs(15);

/// How often the spool is tried while it holds entries.
const SPOOL_RETRY: Duration = Duration::from_secs(1);

impl Control {
    /// This node's heartbeat as of now.
    pub async fn heartbeat_row(&self) -> NodeHeartbeat {
        NodeHeartbeat {
            id: self.node_id().await,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            snapshot_version: i64::try_from(self.edge.snapshot().version).unwrap_or(i64::MAX),
            store_revision: self.applied_revision.load(Ordering::Acquire),
            shared_state: self.edge.shared_state_label().to_owned(),
            started_at: self.started_at,
            last_seen: crate::api::tokens::now_ms(),
        }
    }

    pub(crate) async fn node_id(&self) -> String {
        self.file.lock().await.node.id.clone()
    }

    /// The spool's figures in Prometheus text.
    pub fn spool_metrics(&self) -> String {
        let stats = &self.spool.stats;
        let mut out = String::new();
        for (name, kind, help, value) in [
            (
                "rampart_spool_entries",
                "gauge",
                "Writes waiting on local disk for the store (reports, analytics and security event batches).",
                &stats.entries,
            ),
            (
                "rampart_spool_bytes",
                "gauge",
                "Size of the waiting writes.",
                &stats.bytes,
            ),
            (
                "rampart_spool_flushed_total",
                "counter",
                "Spooled writes stored since start.",
                &stats.flushed,
            ),
            (
                "rampart_spool_rejected_total",
                "counter",
                "Spool lines that were corrupt or refused by the store, set aside.",
                &stats.rejected,
            ),
        ] {
            write_scalar(&mut out, name, kind, help, value.load(Ordering::Relaxed));
        }
        out
    }

    /// Entries waiting in the spool for the store.
    pub fn spool_backlog(&self) -> u64 {
        self.spool.backlog()
    }

    /// Writes what the spool holds to the store, oldest first, until it
    /// fails; returns how many entries went.
    pub async fn flush_spool(&self) -> usize {
        if self.store().is_none() {
            return 0;
        }
        let node_id = self.node_id().await;
        let result = self
            .spool
            .flush(|entry| self.apply_spooled(entry, &node_id))
            .await;
        match result {
            Ok(done) => {
                if done > 0 {
                    tracing::info!(
                        entries = done,
                        left = self.spool.backlog(),
                        "spooled writes stored"
                    );
                }
                done
            }
            Err(error) => {
                tracing::error!("cannot read the spool: {error}");
                0
            }
        }
    }

    async fn apply_spooled(&self, entry: Entry, node_id: &str) -> Applied {
        let Some(store) = self.store() else {
            return Applied::Unavailable;
        };
        let result = match entry {
            Entry::Report(report) => return apply_spooled(self, *report).await,
            Entry::Analytics { batch, buckets } => store
                .record_minutes_once(node_id, Some(&batch), &buckets)
                .await
                .map(drop),
            Entry::SecurityEvents { batch, events } => store
                .record_security_events_once(
                    node_id,
                    Some(&batch),
                    &events,
                    SECURITY_EVENTS_RETENTION_MS,
                    MAX_EVENTS_PER_SITE,
                )
                .await
                .map(drop),
        };
        match result {
            Ok(()) => Applied::Done,
            Err(error) => retry_or_refuse(error),
        }
    }
}

/// Every [`HEARTBEAT_INTERVAL`] writes this node's row; while the spool
/// holds entries, tries to flush it every second. Ends at shutdown with a
/// last flush attempt.
pub async fn run_node_loop(control: Arc<Control>, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(SPOOL_RETRY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut next_beat = Instant::now();
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
        if control.spool.backlog() > 0 {
            control.flush_spool().await;
        }
        if Instant::now() < next_beat {
            continue;
        }
        next_beat = Instant::now() + HEARTBEAT_INTERVAL;
        let Some(store) = control.store() else {
            continue;
        };
        let beat = control.heartbeat_row().await;
        match store.heartbeat(&beat).await {
            Ok(()) => failing = false,
            Err(error) => {
                if !failing {
                    tracing::warn!("node heartbeat: {error}");
                }
                failing = true;
            }
        }
    }
    if control.spool.backlog() > 0 {
        control.flush_spool().await;
    }
}
