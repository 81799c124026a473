//! Security events: what the WAF (and later other phases) found in a
//! request, kept on the edge in a bounded buffer until the control plane
//! drains it into the store. Matched data is truncated and has secrets
//! masked before it gets here: nothing downstream sees more.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;

/// Events kept between drains; past this the oldest are dropped and
/// counted, so a flood cannot grow memory.
pub const BUFFER_CAPACITY: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRuleEvent {
    pub id: u64,
    pub message: String,
    /// The rule's `logdata`, truncated and masked.
    pub data: String,
    pub severity: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// Unix milliseconds.
    pub at_ms: i64,
    pub site: String,
    /// The reference shown on the block page (the WAF's UNIQUE_ID).
    pub reference: String,
    pub client_ip: IpAddr,
    pub method: String,
    /// Path and query, truncated.
    pub uri: String,
    /// `waf`.
    pub source: &'static str,
    /// `block` (the visitor got the block page) or `detect` (logged only).
    pub action: &'static str,
    pub inbound_score: i64,
    pub outbound_score: i64,
    pub rules: Vec<MatchedRuleEvent>,
}

#[derive(Debug, Default)]
pub struct SecurityEventBuffer {
    inner: Mutex<(VecDeque<SecurityEvent>, u64)>,
}

impl SecurityEventBuffer {
    pub fn push(&self, event: SecurityEvent) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (queue, dropped) = &mut *guard;
        if queue.len() >= BUFFER_CAPACITY {
            queue.pop_front();
            *dropped = dropped.saturating_add(1);
        }
        queue.push_back(event);
    }

    /// Everything buffered, oldest first, and how many were dropped since
    /// the last drain.
    pub fn drain(&self) -> (Vec<SecurityEvent>, u64) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (queue, dropped) = &mut *guard;
        let events = queue.drain(..).collect();
        (events, std::mem::take(dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> SecurityEvent {
        SecurityEvent {
            at_ms: i64::try_from(n).unwrap_or(0),
            site: "shop".into(),
            reference: format!("r{n}"),
            client_ip: "192.0.2.1".parse().unwrap(),
            method: "GET".into(),
            uri: "/".into(),
            source: "waf",
            action: "block",
            inbound_score: 5,
            outbound_score: 0,
            rules: Vec::new(),
        }
    }

    #[test]
    fn the_buffer_is_bounded_and_counts_what_it_dropped() {
        let buffer = SecurityEventBuffer::default();
        for n in 0..BUFFER_CAPACITY + 3 {
            buffer.push(event(n));
        }
        let (events, dropped) = buffer.drain();
        assert_eq!((events.len(), dropped), (BUFFER_CAPACITY, 3));
        assert_eq!(events.first().map(|e| e.reference.as_str()), Some("r3"));
        assert_eq!(buffer.drain(), (Vec::new(), 0));
    }
}
