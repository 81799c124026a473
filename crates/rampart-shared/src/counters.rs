//! The counter syncer's round: push the local deltas, read back the
//! totals, merge them.
//!
//! One round is one pipeline, whatever the traffic:
//!
//! * `INCRBY rampart:{rl}:KEY:WINDOW_START n` per key and window hit since
//!   the last round; the reply is the cluster's total for that window.
//! * The first time this node touches a window: `PEXPIRE … 2×period` (an
//!   `INCRBY` keeps the expiry, so once per window per node is enough; the
//!   node that creates the key sets it in the same pipeline) and a `GET` of
//!   the window before it, the other half of the sliding estimate.
//!
//! * Every tenth round, one `MGET` of the keys this node hit in their
//!   current window but not in this round, so its view of keys it sees
//!   rarely is at most 250 ms old.
//!
//! So a busy key costs one command per round per node (every 25 ms by
//! default), not one per request. The replies go to
//! [`LocalCounters::merge_remote`]; requests never wait for any of it.
//!
//! While Redis is unreachable the round does not drain: deltas of the
//! current and previous window wait in the counters and are pushed when the
//! connection is back, so the totals catch up.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_limits::{Delta, LimitKey, LocalCounters, Millis};
use redis::Value;

use crate::link::{Conn, Link};

const SYNC_TIMEOUT_MIN: Duration = Duration::from_millis(500);

/// Windows this node has set the expiry of (and read the window before),
/// forgotten a while after they end.
pub(crate) struct CounterSync {
    counters: Arc<LocalCounters>,
    buf: Vec<Delta>,
    /// (key, window start) → (forget after, period).
    touched: HashMap<(LimitKey, u64), (u64, Duration)>,
    last_prune_ms: u64,
    rounds: u64,
    /// Keys read back by the periodic refresh (reused).
    refresh: Vec<(LimitKey, u64, Duration)>,
}

/// Every this many rounds (250 ms at the default 25 ms), the totals of keys
/// this node hit in their current window but not in this round are read
/// back too, in one `MGET`: a node that sees a client rarely (a login limit
/// behind a round-robin balancer) then decides on totals at most that old,
/// not on the ones from its own last hit.
const REFRESH_EVERY: u64 = 10;
/// Most keys one refresh reads (an arbitrary sample of the touched ones).
const MAX_REFRESH: usize = 512;

/// What each reply of the pipeline is.
enum Reply {
    Expiry,
    Total(usize),
    Previous {
        key: LimitKey,
        window_start: u64,
        period: Duration,
    },
    /// The `MGET` of `self.refresh`.
    Refresh,
}

pub(crate) fn counter_key(key: LimitKey, window_start: u64) -> String {
    // `{rl}` is a Redis Cluster hash tag: every counter lives in one slot,
    // so a round stays one pipeline to one node (redis-rs sends a cluster
    // pipeline to the node of its first key). The price is that one master
    // carries all counter traffic, a few commands per node per round.
    format!("rampart:{{rl}}:{:032x}:{window_start}", key.as_u128())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl CounterSync {
    pub(crate) fn new(counters: Arc<LocalCounters>) -> Self {
        Self {
            counters,
            buf: Vec::new(),
            touched: HashMap::new(),
            last_prune_ms: 0,
            rounds: 0,
            refresh: Vec::new(),
        }
    }

    /// A new connection may be a new (empty) Redis: set expiries again.
    pub(crate) fn reset(&mut self) {
        self.touched.clear();
    }

    /// One round. `false` when there was nothing to send.
    pub(crate) async fn round(&mut self, link: &Link, conn: &mut Conn) -> bool {
        self.buf.clear();
        self.counters.drain_deltas(&mut self.buf);
        self.rounds = self.rounds.wrapping_add(1);
        let refreshing = self.rounds.is_multiple_of(REFRESH_EVERY) && !self.touched.is_empty();
        if self.buf.is_empty() && !refreshing {
            return false;
        }
        let now = unix_ms();
        if now.saturating_sub(self.last_prune_ms) > 1_000 {
            self.touched.retain(|_, (until, _)| *until > now);
            self.last_prune_ms = now;
        }
        self.refresh.clear();
        if refreshing {
            let pushed: std::collections::HashSet<(LimitKey, u64)> =
                self.buf.iter().map(|d| (d.key, d.window_start.0)).collect();
            let current = self.touched.iter().filter(|((key, ws), (_, period))| {
                let p = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
                now < ws.saturating_add(p) && !pushed.contains(&(*key, *ws))
            });
            self.refresh.extend(
                current
                    .take(MAX_REFRESH)
                    .map(|((key, ws), (_, period))| (*key, *ws, *period)),
            );
        }
        let mut pipe = redis::pipe();
        let mut replies = Vec::with_capacity(self.buf.len() + 4);
        let mut commands = 0u64;
        for (i, d) in self.buf.iter().enumerate() {
            let ws = d.window_start.0;
            let p = u64::try_from(d.period.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let name = counter_key(d.key, ws);
            pipe.cmd("INCRBY").arg(&name).arg(d.count);
            replies.push(Reply::Total(i));
            commands += 1;
            let until = ws.saturating_add(p.saturating_mul(2));
            if self
                .touched
                .insert((d.key, ws), (until, d.period))
                .is_none()
            {
                // Not `.ignore()`d: redis-rs's cluster pipelines return
                // every reply, so each command keeps a slot in `replies`.
                pipe.cmd("PEXPIRE").arg(&name).arg(p.saturating_mul(2));
                replies.push(Reply::Expiry);
                commands += 1;
                if let Some(prev) = ws.checked_sub(p) {
                    pipe.cmd("GET").arg(counter_key(d.key, prev));
                    replies.push(Reply::Previous {
                        key: d.key,
                        window_start: prev,
                        period: d.period,
                    });
                    commands += 1;
                }
            }
        }
        if !self.refresh.is_empty() {
            let mget = pipe.cmd("MGET");
            for (key, ws, _) in &self.refresh {
                mget.arg(counter_key(*key, *ws));
            }
            replies.push(Reply::Refresh);
            commands += 1;
        }
        if commands == 0 {
            return false;
        }
        // Off the request path: a round may take longer than a token
        // redemption may wait, e.g. with many keys in one batch.
        let timeout = (link.timeout * 5).max(SYNC_TIMEOUT_MIN);
        let Some(values) = link
            .query::<Vec<Value>>(conn, &pipe, commands, timeout)
            .await
        else {
            // The pushed hits are lost to the totals; this node's own
            // counts keep them. Expiries may not have been set.
            self.touched.clear();
            return true;
        };
        for (reply, value) in replies.iter().zip(values) {
            if let (Reply::Refresh, Value::Array(items)) = (reply, &value) {
                for ((key, ws, period), item) in self.refresh.iter().zip(items) {
                    if let Some(total) = as_count(item) {
                        self.counters.merge_remote(key, Millis(*ws), *period, total);
                    }
                }
                continue;
            }
            let Some(total) = as_count(&value) else {
                continue;
            };
            match reply {
                Reply::Expiry | Reply::Refresh => {}
                Reply::Total(i) => {
                    if let Some(d) = self.buf.get(*i) {
                        self.counters
                            .merge_remote(&d.key, d.window_start, d.period, total);
                    }
                }
                Reply::Previous {
                    key,
                    window_start,
                    period,
                } => {
                    self.counters
                        .merge_remote(key, Millis(*window_start), *period, total);
                }
            }
        }
        true
    }
}

fn as_count(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}
