//! The response the framing guard sends when it refuses a request: a short
//! page with the ray id, counted in metrics and written to the access log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use crate::access_log::AccessLogRecord;
use crate::h1_guard::{RejectResponder, Violation};
use crate::metrics::ListenerMetrics;
use crate::proxy::ConnInfo;
use crate::ray::RayId;
use crate::state::EdgeState;

pub(super) fn rejection_responder(
    state: Arc<EdgeState>,
    metrics: Arc<ListenerMetrics>,
    conn: Arc<ConnInfo>,
) -> RejectResponder {
    Arc::new(move |violation: &Violation| {
        metrics.rejected_framing.fetch_add(1, Ordering::Relaxed);
        let ray = RayId::generate();
        let status = violation.status();
        let reason = if status == 431 {
            "Request Header Fields Too Large"
        } else {
            "Bad Request"
        };
        let detail = violation.to_string();
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} {reason}</title></head><body><h1>Error {status}: {reason}</h1><p>The request was refused because its HTTP framing is invalid or ambiguous: {}.</p><p>Reference id (Rampart-Ray): <code>{ray}</code></p></body></html>\n",
            crate::pages::escape_html(&detail)
        );
        let error = format!("framing: {detail}");
        state.access_log.write(&AccessLogRecord {
            ray,
            site: "-",
            client_ip: crate::client_addr::canonical(conn.peer.ip()),
            method: "-",
            host: "",
            path: "",
            protocol: "HTTP/1.1",
            tls: conn.tls,
            status,
            bytes_in: 0,
            bytes_out: body.len() as u64,
            origin: None,
            origin_status: None,
            attempts: 0,
            duration: Duration::ZERO,
            origin_duration: None,
            user_agent: None,
            error: Some(&error),
            rule: None,
            rules_hit: &[],
        });
        Bytes::from(format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nRampart-Ray: {ray}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    })
}
