//! Single use across nodes: `SET rampart:spent:ID 1 NX EXAT expires_at`.
//!
//! The edge asks its local spent set first (which also stops replays on
//! the same node without a round trip), then this one. When Redis does not
//! answer within the tier's timeout the answer is
//! [`SharedSpend::Unavailable`] and the edge goes by its local set alone:
//! the cluster keeps serving, at the price that a token could be redeemed
//! once per node while Redis is down. That is the issue's rule ("nodes fall
//! back to local limits and local token sets, keep serving"); a replay on
//! the same node is still refused.

use std::sync::Arc;

use redis::Value;

use crate::link::Link;

/// What the shared set said about an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedSpend {
    /// Recorded now: the first use in the cluster.
    First,
    /// Another node (or this one) redeemed it already.
    AlreadySpent,
    /// Redis did not answer in time: decide locally.
    Unavailable,
}

/// The cluster-wide spent set. Cheap to clone.
#[derive(Clone)]
pub struct SharedSpentSet {
    link: Arc<Link>,
}

impl std::fmt::Debug for SharedSpentSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSpentSet").finish_non_exhaustive()
    }
}

pub(crate) fn spent_key(id: [u8; 16]) -> String {
    format!("rampart:spent:{:032x}", u128::from_be_bytes(id))
}

impl SharedSpentSet {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self { link }
    }

    /// Marks `id` spent until `expires_at` (unix seconds) unless it is
    /// already. Waits at most the tier's timeout and never connects: with
    /// no connection the answer is `Unavailable` at once.
    pub async fn spend(&self, id: [u8; 16], expires_at: u64) -> SharedSpend {
        let Some(mut conn) = self.link.current() else {
            self.link.status.fell_back();
            return SharedSpend::Unavailable;
        };
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(spent_key(id))
            .arg(1)
            .arg("NX")
            .arg("EXAT")
            .arg(expires_at);
        match self
            .link
            .query::<Vec<Value>>(&mut conn, &pipe, 1, self.link.timeout)
            .await
            .as_deref()
        {
            Some([Value::Nil]) => SharedSpend::AlreadySpent,
            Some([_]) => SharedSpend::First,
            _ => {
                self.link.status.fell_back();
                SharedSpend::Unavailable
            }
        }
    }
}
