//! The counter syncer's round: push the local deltas, read back the
//! totals, merge them.
//!
//! One round is one pipeline, whatever the traffic:
//!
//! * `INCRBY rampart:rl:{KEY}:WINDOW_START n` per key and window hit since
//!   the last round; the reply is the cluster's total for that window.
//! * The first time this node touches a window: `PEXPIRE … 2×period` (an
//!   `INCRBY` keeps the expiry, so once per window per node is enough; the
//!   node that creates the key sets it in the same pipeline) and a `GET` of
//!   the window before it, the other half of the sliding estimate.
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

/// Windows this node has set the expiry of (and read the window before),
/// forgotten a while after they end.
pub(crate) struct CounterSync {
    counters: Arc<LocalCounters>,
    buf: Vec<Delta>,
    touched: HashMap<(LimitKey, u64), u64>,
    last_prune_ms: u64,
}

/// What each reply of the pipeline is.
enum Reply {
    Total(usize),
    Previous {
        key: LimitKey,
        window_start: u64,
        period: Duration,
    },
}

pub(crate) fn counter_key(key: LimitKey, window_start: u64) -> String {
    // The braces are a Redis Cluster hash tag: both windows of one key live
    // in one slot.
    format!("rampart:rl:{{{:032x}}}:{window_start}", key.as_u128())
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
        if self.buf.is_empty() {
            return false;
        }
        let now = unix_ms();
        if now.saturating_sub(self.last_prune_ms) > 1_000 {
            self.touched.retain(|_, until| *until > now);
            self.last_prune_ms = now;
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
            if self.touched.insert((d.key, ws), until).is_none() {
                pipe.cmd("PEXPIRE")
                    .arg(&name)
                    .arg(p.saturating_mul(2))
                    .ignore();
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
        let Some(values) = link
            .query::<Vec<Value>>(conn, &pipe, commands, link.timeout)
            .await
        else {
            // The pushed hits are lost to the totals; this node's own
            // counts keep them. Expiries may not have been set.
            self.touched.clear();
            return true;
        };
        for (reply, value) in replies.iter().zip(values) {
            let Some(total) = as_count(&value) else {
                continue;
            };
            match reply {
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
