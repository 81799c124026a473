//! Security events: what the WAF (and later other phases) found in a
//! request, as the edge recorded it (matched data already truncated and
//! masked), drained by the control plane into this table.
//!
//! Telemetry, not configuration: writes neither bump the store revision
//! nor go to the audit log. The history is bounded: each write deletes a
//! site's events beyond [`MAX_EVENTS_PER_SITE`] and everyone's older than
//! the retention it is given.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::ids::audit_id;
use crate::{Store, StoreError};

/// The table, applied by the migration that lists it in
/// `migrate::MIGRATIONS`. Statements are separated by `;` and contain none.
pub(crate) const SCHEMA: &str = r"
CREATE TABLE security_events (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    node_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    method TEXT NOT NULL,
    uri TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    inbound_score BIGINT NOT NULL,
    outbound_score BIGINT NOT NULL,
    rules TEXT NOT NULL
);
CREATE INDEX security_events_site ON security_events (site_id, id);
CREATE INDEX security_events_reference ON security_events (reference);
CREATE INDEX security_events_at ON security_events (at)
";

/// Events kept per site; older ones go when new ones are written.
pub const MAX_EVENTS_PER_SITE: i64 = 100_000;
/// Default retention of security events: 30 days, in milliseconds.
pub const DEFAULT_RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;
/// The largest page a listing returns.
pub const MAX_PAGE: u32 = 500;

/// One rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityRuleHit {
    pub id: u64,
    pub message: String,
    /// The rule's `logdata`, truncated and masked by the edge.
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
}

/// An event as the edge hands it over; `site` is the site's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEventWrite {
    /// Unix milliseconds.
    pub at_ms: i64,
    pub site: String,
    pub reference: String,
    pub client_ip: String,
    pub method: String,
    pub uri: String,
    pub source: String,
    pub action: String,
    pub inbound_score: i64,
    pub outbound_score: i64,
    pub rules: Vec<SecurityRuleHit>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEventRecord {
    /// Sorts chronologically; the `before` cursor of listings.
    pub id: String,
    pub site_id: String,
    /// Unix milliseconds.
    pub at: i64,
    pub node_id: String,
    /// The reference the block page showed.
    pub reference: String,
    pub client_ip: String,
    pub method: String,
    pub uri: String,
    /// `waf`.
    pub source: String,
    /// `block` or `detect`.
    pub action: String,
    pub inbound_score: i64,
    pub outbound_score: i64,
    pub rules: Vec<SecurityRuleHit>,
}

const COLUMNS: &str = "id, site_id, at, node_id, reference, client_ip, method, uri, source, \
                       action, inbound_score, outbound_score, rules";

fn from_row(row: &AnyRow) -> Result<SecurityEventRecord, StoreError> {
    let rules: String = row.try_get("rules")?;
    Ok(SecurityEventRecord {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        at: row.try_get("at")?,
        node_id: row.try_get("node_id")?,
        reference: row.try_get("reference")?,
        client_ip: row.try_get("client_ip")?,
        method: row.try_get("method")?,
        uri: row.try_get("uri")?,
        source: row.try_get("source")?,
        action: row.try_get("action")?,
        inbound_score: row.try_get("inbound_score")?,
        outbound_score: row.try_get("outbound_score")?,
        rules: serde_json::from_str(&rules).map_err(|e| {
            StoreError::Corrupt(format!("security event rules are not a JSON list: {e}"))
        })?,
    })
}

impl Store {
    /// Writes the edge's events (of sites that exist: a site deleted since
    /// is skipped), then trims the history: events older than
    /// `retention_ms` before now, and each written site's beyond
    /// `max_per_site` (the control plane passes [`MAX_EVENTS_PER_SITE`]). One transaction: on error nothing was
    /// written and the caller keeps the batch. Returns how many were
    /// written.
    pub async fn record_security_events(
        &self,
        node_id: &str,
        events: &[SecurityEventWrite],
        retention_ms: i64,
        max_per_site: i64,
    ) -> Result<usize, StoreError> {
        self.record_security_events_once(node_id, None, events, retention_ms, max_per_site)
            .await
    }

    /// [`Store::record_security_events`] for a batch replayed from a node's
    /// spool: with `batch` set, a batch already applied is not written
    /// again (answers 0).
    pub async fn record_security_events_once(
        &self,
        node_id: &str,
        batch: Option<&str>,
        events: &[SecurityEventWrite],
        retention_ms: i64,
        max_per_site: i64,
    ) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_locked().await?;
        if let Some(batch) = batch
            && !crate::nodes::claim_batch(&mut tx, batch, node_id).await?
        {
            tx.commit().await?;
            return Ok(0);
        }
        let mut site_ids = std::collections::HashMap::new();
        for row in sqlx::query("SELECT id, name FROM sites")
            .fetch_all(&mut *tx)
            .await?
        {
            let id: String = row.try_get("id")?;
            let name: String = row.try_get("name")?;
            site_ids.insert(name, id);
        }
        let insert = format!(
            "INSERT INTO security_events ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        let mut written = 0;
        let mut touched: Vec<&String> = Vec::new();
        for event in events {
            let Some(site_id) = site_ids.get(&event.site) else {
                continue;
            };
            let rules = serde_json::to_string(&event.rules)
                .map_err(|e| StoreError::Corrupt(format!("cannot encode event rules: {e}")))?;
            sqlx::query(&insert)
                .bind(audit_id(event.at_ms))
                .bind(site_id.as_str())
                .bind(event.at_ms)
                .bind(node_id)
                .bind(event.reference.as_str())
                .bind(event.client_ip.as_str())
                .bind(event.method.as_str())
                .bind(event.uri.as_str())
                .bind(event.source.as_str())
                .bind(event.action.as_str())
                .bind(event.inbound_score)
                .bind(event.outbound_score)
                .bind(rules)
                .execute(&mut *tx)
                .await?;
            written += 1;
            if !touched.contains(&site_id) {
                touched.push(site_id);
            }
        }
        let cutoff = crate::ids::now_ms().saturating_sub(retention_ms);
        sqlx::query("DELETE FROM security_events WHERE at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        for site_id in touched {
            // The id of the newest event past the cap, if there is one;
            // it and everything older go.
            sqlx::query(
                "DELETE FROM security_events WHERE site_id = $1 AND id <= \
                 (SELECT id FROM security_events WHERE site_id = $1 \
                  ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(site_id.as_str())
            .bind(max_per_site.max(1))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(written)
    }

    /// A site's events, newest first: at most `limit` (1 to [`MAX_PAGE`]),
    /// older than the event `before` when given.
    pub async fn security_events(
        &self,
        site_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        let limit = i64::from(limit.clamp(1, MAX_PAGE));
        let rows = match before {
            Some(before) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM security_events WHERE site_id = $1 AND id < $2 \
                     ORDER BY id DESC LIMIT $3"
                ))
                .bind(site_id)
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM security_events WHERE site_id = $1 \
                     ORDER BY id DESC LIMIT $2"
                ))
                .bind(site_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    /// The events with a block page's reference (one, unless two nodes
    /// happened to make the same reference), newest first.
    pub async fn security_events_by_reference(
        &self,
        reference: &str,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM security_events WHERE reference = $1 ORDER BY id DESC LIMIT 10"
        ))
        .bind(reference)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
