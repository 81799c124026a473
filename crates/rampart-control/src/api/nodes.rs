//! `GET /api/v1/nodes`: every node of the cluster as its heartbeats left
//! it, for operators.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use rampart_store::NodeHeartbeat;
use serde::Serialize;

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::store;
use crate::Control;
use crate::nodes::STALE_AFTER;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeView {
    pub id: String,
    /// The rampart version the node runs.
    pub version: String,
    /// The version of the edge snapshot it serves.
    pub snapshot_version: i64,
    /// The store revision that snapshot was built from.
    pub store_revision: i64,
    /// The shared tier (Redis): `off`, or the state the node reported.
    pub shared_state: String,
    /// Unix ms.
    pub started_at: i64,
    /// Unix ms of the last heartbeat.
    pub last_seen: i64,
    /// `up`, or `stale` when no heartbeat came for 15 s.
    pub status: String,
    /// Whether this is the node answering.
    pub this_node: bool,
}

impl NodeView {
    pub(crate) fn from_row(row: NodeHeartbeat, now_ms: i64, this_node: &str) -> Self {
        let stale_ms = i64::try_from(STALE_AFTER.as_millis()).unwrap_or(i64::MAX);
        let status = if now_ms.saturating_sub(row.last_seen) > stale_ms {
            "stale"
        } else {
            "up"
        };
        NodeView {
            this_node: row.id == this_node,
            id: row.id,
            version: row.version,
            snapshot_version: row.snapshot_version,
            store_revision: row.store_revision,
            shared_state: row.shared_state,
            started_at: row.started_at,
            last_seen: row.last_seen,
            status: status.to_owned(),
        }
    }
}

/// Every node with its computed status. This node's row is its live
/// state rather than its last heartbeat, so it never shows stale (or
/// missing, before its first beat) to itself; nothing is written.
pub(crate) async fn list_views(control: &Control) -> ApiResult<Vec<NodeView>> {
    let mut rows = store(control)?.list_nodes().await?;
    let me = control.heartbeat_row().await;
    let now = me.last_seen;
    let id = me.id.clone();
    match rows.iter_mut().find(|row| row.id == id) {
        Some(row) => *row = me,
        None => {
            rows.push(me);
            rows.sort_by(|a, b| a.id.cmp(&b.id));
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| NodeView::from_row(row, now, &id))
        .collect())
}

#[utoipa::path(get, path = "/api/v1/nodes", tag = "cluster",
    responses((status = 200, body = [NodeView]), (status = 403, body = super::error::ErrorBody)))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
) -> ApiResult<Json<Vec<NodeView>>> {
    if !principal.is_operator() {
        return Err(ApiError::forbidden(
            "only operators may see the cluster's nodes",
        ));
    }
    Ok(Json(list_views(&control).await?))
}
