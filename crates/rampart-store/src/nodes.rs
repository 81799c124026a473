//! Cluster nodes: each `rampart serve` writes a heartbeat row (version, the
//! store revision its snapshot was built from, the state of its shared
//! tier) so operators see every node and when it was last heard from.
//!
//! Also the ledger of spooled batches: a node that buffered analytics or
//! security events on its disk while the store was down writes each batch
//! with its id in the same transaction, so a batch replayed after a crash
//! between commit and spool cleanup is not counted twice.

use serde::{Deserialize, Serialize};
use sqlx::{Any, Row as _, Transaction};

use crate::{Store, StoreError};

/// The tables, applied by the migration that lists it in
/// `migrate::MIGRATIONS`. Statements are separated by `;` and contain none.
pub(crate) const SCHEMA: &str = r"
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    snapshot_version BIGINT NOT NULL,
    store_revision BIGINT NOT NULL,
    shared_state TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE TABLE spool_batches (
    id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);
CREATE INDEX spool_batches_applied ON spool_batches (applied_at)
";

/// What a node says about itself on each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHeartbeat {
    pub id: String,
    /// The rampart version the node runs.
    pub version: String,
    /// The version of the edge snapshot it serves.
    pub snapshot_version: i64,
    /// The store revision that snapshot was built from.
    pub store_revision: i64,
    /// The shared tier's state (`off`, `up`, `degraded`, …).
    pub shared_state: String,
    /// Unix ms.
    pub started_at: i64,
    /// Unix ms; the node's clock.
    pub last_seen: i64,
}

/// Requests a node served, from the analytics rows it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRequests {
    pub node_id: String,
    pub requests: i64,
    pub blocked: i64,
}

impl Store {
    /// Writes (or replaces) the node's row. Not audited and no revision
    /// bump: the edge reads none of it.
    pub async fn heartbeat(&self, beat: &NodeHeartbeat) -> Result<(), StoreError> {
        // Through the writer, so SQLite's writers queue rather than race.
        let mut tx = self.begin_locked().await?;
        sqlx::query(
            "INSERT INTO nodes (id, version, snapshot_version, store_revision, shared_state,
                                started_at, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version,
                snapshot_version = excluded.snapshot_version,
                store_revision = excluded.store_revision,
                shared_state = excluded.shared_state,
                started_at = excluded.started_at,
                last_seen = excluded.last_seen",
        )
        .bind(beat.id.as_str())
        .bind(beat.version.as_str())
        .bind(beat.snapshot_version)
        .bind(beat.store_revision)
        .bind(beat.shared_state.as_str())
        .bind(beat.started_at)
        .bind(beat.last_seen)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every node that ever sent a heartbeat, by id.
    pub async fn list_nodes(&self) -> Result<Vec<NodeHeartbeat>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, version, snapshot_version, store_revision, shared_state, started_at,
                    last_seen FROM nodes ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(NodeHeartbeat {
                    id: row.try_get("id")?,
                    version: row.try_get("version")?,
                    snapshot_version: row.try_get("snapshot_version")?,
                    store_revision: row.try_get("store_revision")?,
                    shared_state: row.try_get("shared_state")?,
                    started_at: row.try_get("started_at")?,
                    last_seen: row.try_get("last_seen")?,
                })
            })
            .collect()
    }

    /// Removes a node's row (a node retired for good); whether it existed.
    pub async fn forget_node(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_locked().await?;
        let done = sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Requests per node over every site, from minutes at or after
    /// `since_minute` (unix seconds).
    pub async fn requests_by_node(
        &self,
        since_minute: i64,
    ) -> Result<Vec<NodeRequests>, StoreError> {
        let rows = sqlx::query(
            "SELECT node_id, CAST(SUM(requests) AS BIGINT) AS requests,
                    CAST(SUM(blocked) AS BIGINT) AS blocked
             FROM analytics_minutes WHERE minute >= $1 GROUP BY node_id ORDER BY node_id",
        )
        .bind(since_minute)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(NodeRequests {
                    node_id: row.try_get("node_id")?,
                    requests: row.try_get("requests")?,
                    blocked: row.try_get("blocked")?,
                })
            })
            .collect()
    }
}

/// Records batch `id` as applied inside `tx`; false when it already was
/// (the caller then writes nothing and commits).
pub(crate) async fn claim_batch(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    node_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO spool_batches (id, node_id, applied_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(node_id)
    .bind(crate::ids::now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
