//! Rampart's shared tier for cluster mode, on Redis (or Valkey) through
//! redis-rs: one server, Redis Cluster or Sentinel (`[shared] url`).
//!
//! * Rate-limit counters: each node keeps deciding on its own
//!   [`LocalCounters`] at once; a background task pushes the hits of the
//!   last few tens of milliseconds in one pipeline and merges the cluster's
//!   totals back (see `counters.rs`). The limit key hash seed is shared
//!   through Redis so every node names a client's counter alike.
//! * [`SharedSpentSet`]: captcha tokens and solved challenges redeemed once
//!   in the whole cluster.
//! * [`SharedStatus`]: off / ok / degraded and operation counters, for
//!   metrics and the node heartbeat.
//!
//! Nothing here is on a request's critical path except
//! [`SharedSpentSet::spend`], which is bounded by `[shared] timeout` and
//! answers at once when there is no connection. When Redis is down every
//! node falls back to its local counters and local spent set and keeps
//! serving; the background task reconnects with backoff by itself.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod counters;
mod link;
mod spent;
mod status;

use std::sync::Arc;
use std::time::Duration;

use rampart_config::SharedConfig;
use rampart_limits::LocalCounters;
use redis::Value;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

pub use spent::{SharedSpend, SharedSpentSet};
pub use status::{SharedState, SharedStatus};

use counters::CounterSync;
use link::Link;

/// Why the tier could not be set up (no I/O happens at set-up, so these
/// are configuration problems the config crate did not catch).
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("shared.url names no host")]
    NoHosts,
    #[error("redis client: {0}")]
    Redis(String),
}

impl SharedError {
    fn redis(e: redis::RedisError) -> Self {
        Self::Redis(e.to_string())
    }
}

/// Where the limit key seed lives: every node builds rate-limit keys with
/// it, so the same client hits the same counter on every node.
const SEED_KEY: &str = "rampart:limits:seed";
/// Without other traffic, a PING this often notices Redis going away (and
/// coming back) for the status.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// Called with the cluster's 16-byte limit key seed whenever it is read
/// (after every new connection).
pub type SeedHook = Box<dyn Fn([u8; 16]) + Send + Sync>;

/// A running shared tier: the connection, its background task, the spent
/// set and the status. Dropping it stops the task.
pub struct SharedTier {
    link: Arc<Link>,
    spent: SharedSpentSet,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTier")
            .field("state", &self.link.status.state_label())
            .finish_non_exhaustive()
    }
}

impl SharedTier {
    /// Starts the background task (on the current tokio runtime): connect,
    /// read the key seed, then every `sync_interval` push `counters`'
    /// deltas (when given; they must record deltas) and merge the totals.
    /// Returns at once; the status is degraded until Redis answers.
    pub fn start(
        config: &SharedConfig,
        counters: Option<Arc<LocalCounters>>,
        on_seed: SeedHook,
    ) -> Result<Self, SharedError> {
        let link = Arc::new(Link::new(config)?);
        let task = tokio::spawn(run(
            link.clone(),
            counters.map(CounterSync::new),
            config.sync_interval,
            on_seed,
        ));
        Ok(Self {
            spent: SharedSpentSet::new(link.clone()),
            link,
            task,
        })
    }

    /// The status, shared with whoever reports it.
    pub fn status(&self) -> &Arc<SharedStatus> {
        &self.link.status
    }

    /// The cluster-wide spent set.
    pub fn spent(&self) -> &SharedSpentSet {
        &self.spent
    }
}

impl Drop for SharedTier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    link: Arc<Link>,
    mut sync: Option<CounterSync>,
    interval: Duration,
    on_seed: SeedHook,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut generation = None;
    let mut last_io = Instant::now();
    loop {
        tick.tick().await;
        let Some(mut conn) = link.ensure().await else {
            continue;
        };
        if generation != Some(link.generation()) {
            // A new connection, maybe to a new or emptied Redis: read (or
            // plant) the seed before pushing any counter under it.
            if !seed(&link, &mut conn, &on_seed).await {
                continue;
            }
            generation = Some(link.generation());
            if let Some(sync) = &mut sync {
                sync.reset();
            }
            last_io = Instant::now();
        }
        let sent = match &mut sync {
            Some(sync) => sync.round(&link, &mut conn).await,
            None => false,
        };
        if sent {
            last_io = Instant::now();
        } else if last_io.elapsed() >= HEALTH_EVERY {
            let mut pipe = redis::pipe();
            pipe.cmd("PING");
            let _ = link
                .query::<Vec<Value>>(
                    &mut conn,
                    &pipe,
                    1,
                    link.timeout.max(Duration::from_millis(500)),
                )
                .await;
            last_io = Instant::now();
        }
    }
}

/// Plants a random seed unless one exists, reads the one that does, and
/// hands it over. `false` when Redis did not answer.
async fn seed(link: &Link, conn: &mut link::Conn, on_seed: &SeedHook) -> bool {
    let fresh: [u8; 16] = rand::random();
    let mut pipe = redis::pipe();
    // Both replies are read (no `.ignore()`): redis-rs's cluster
    // pipelines return every reply.
    pipe.cmd("SET").arg(SEED_KEY).arg(hex(&fresh)).arg("NX");
    pipe.cmd("GET").arg(SEED_KEY);
    let timeout = link.timeout.max(Duration::from_millis(500));
    let Some(values) = link.query::<Vec<Value>>(conn, &pipe, 2, timeout).await else {
        return false;
    };
    let text = match values.get(1) {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        _ => String::new(),
    };
    match unhex(&text) {
        Some(seed) => {
            on_seed(seed);
            true
        }
        None => {
            tracing::warn!(
                key = SEED_KEY,
                "shared tier: the limit key seed in Redis is not 32 hex digits; using the local one"
            );
            on_seed(fresh);
            true
        }
    }
}

fn hex(bytes: &[u8; 16]) -> String {
    format!("{:032x}", u128::from_be_bytes(*bytes))
}

fn unhex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    u128::from_str_radix(text, 16).ok().map(u128::to_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_round_trips_through_hex() {
        let seed = [7u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255];
        assert_eq!(unhex(&hex(&seed)), Some(seed));
        assert_eq!(unhex("xyz"), None);
    }
}
