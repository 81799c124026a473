//! Edge → store: security events. On the analytics flush's cadence the
//! edge's buffer (`EdgeState::security_events`) is drained and written
//! under this node's id. While the store is unreachable they go to the
//! spool, like analytics minutes; on other failures they wait here, at
//! most [`MAX_PENDING_EVENTS`], past which the oldest are dropped with a
//! warning.

use rampart_edge::security_events::SecurityEvent;
use rampart_store::{
    MAX_EVENTS_PER_SITE, SECURITY_EVENTS_RETENTION_MS, SecurityEventWrite, SecurityRuleHit,
};

use crate::Control;
use crate::analytics::FlushError;

/// Events kept in memory while the store cannot take them.
pub const MAX_PENDING_EVENTS: usize = 10_000;

/// The store's form of an edge event.
pub(crate) fn to_write(event: SecurityEvent) -> SecurityEventWrite {
    SecurityEventWrite {
        at_ms: event.at_ms,
        site: event.site,
        reference: event.reference,
        client_ip: event.client_ip.to_string(),
        method: event.method,
        uri: event.uri,
        source: event.source.to_owned(),
        action: event.action.to_owned(),
        inbound_score: event.inbound_score,
        outbound_score: event.outbound_score,
        rules: event
            .rules
            .into_iter()
            .map(|r| SecurityRuleHit {
                id: r.id,
                message: r.message,
                data: r.data,
                severity: r.severity,
            })
            .collect(),
    }
}

/// Keeps the newest `max` events; returns how many were dropped.
pub(crate) fn bound(events: &mut Vec<SecurityEventWrite>, max: usize) -> usize {
    let excess = events.len().saturating_sub(max);
    events.drain(..excess);
    excess
}

impl Control {
    /// Drains the edge's security events and writes them with whatever an
    /// earlier failed flush left; returns how many were stored.
    pub async fn flush_security_events(&self) -> Result<usize, FlushError> {
        let mut pending = self.analytics.security_events.lock().await;
        let (drained, dropped_at_edge) = self.edge.security_events.drain();
        if dropped_at_edge > 0 {
            tracing::warn!(
                dropped = dropped_at_edge,
                "security events beyond the edge's buffer were dropped"
            );
        }
        if drained.is_empty() && pending.is_empty() {
            return Ok(0);
        }
        pending.extend(drained.into_iter().map(to_write));
        let dropped = bound(&mut pending, MAX_PENDING_EVENTS);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "security events beyond {MAX_PENDING_EVENTS} could not be stored and were dropped"
            );
        }
        let Some(store) = self.store() else {
            self.spool_events(&mut pending);
            return Err(FlushError::NoStore {
                kept: pending.len(),
            });
        };
        let node_id = self.node_id().await;
        match store
            .record_security_events(
                &node_id,
                &pending,
                SECURITY_EVENTS_RETENTION_MS,
                MAX_EVENTS_PER_SITE,
            )
            .await
        {
            Ok(stored) => {
                pending.clear();
                Ok(stored)
            }
            Err(error) => {
                if error.is_unavailable() {
                    self.spool_events(&mut pending);
                }
                Err(FlushError::Store {
                    error,
                    kept: pending.len(),
                })
            }
        }
    }

    /// Moves pending events to the spool as one batch; they stay in
    /// memory if the disk refuses.
    fn spool_events(&self, pending: &mut Vec<SecurityEventWrite>) {
        let entry = crate::spool::Entry::SecurityEvents {
            batch: crate::spool::batch_id("events"),
            events: std::mem::take(pending),
        };
        if let Err(error) = self.spool.append(&entry) {
            tracing::warn!("security events wait in memory, the spool failed: {error}");
            if let crate::spool::Entry::SecurityEvents { events, .. } = entry {
                *pending = events;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_edge::security_events::MatchedRuleEvent;

    #[test]
    fn edge_events_convert_and_pending_is_bounded() {
        let event = SecurityEvent {
            at_ms: 5,
            site: "shop".into(),
            reference: "r1".into(),
            client_ip: "2001:db8::1".parse().unwrap(),
            method: "POST".into(),
            uri: "/login".into(),
            source: "waf",
            action: "detect",
            inbound_score: 7,
            outbound_score: 1,
            rules: vec![MatchedRuleEvent {
                id: 942100,
                message: "SQL Injection".into(),
                data: "x".into(),
                severity: Some(2),
            }],
        };
        let w = to_write(event);
        assert_eq!(w.client_ip, "2001:db8::1");
        assert_eq!((w.source.as_str(), w.action.as_str()), ("waf", "detect"));
        assert_eq!(w.rules[0].id, 942100);
        let mut events = vec![w.clone(), w.clone(), w];
        events[2].reference = "newest".into();
        assert_eq!(bound(&mut events, 2), 1);
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].reference, "newest");
        assert_eq!(bound(&mut events, 2), 0);
    }
}
