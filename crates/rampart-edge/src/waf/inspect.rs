//! One request through a site's WAF: phase 1 on the request line and
//! headers, then the body buffered up to the site's limit and phase 2
//! (where the CRS decides on the anomaly score). A block answers with
//! Rampart's block page naming the request's ray id, which is also the
//! engine's UNIQUE_ID and the security event's reference.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{StatusCode, Version};
use http_body_util::BodyExt as _;
use rampart_config::BodyLimitAction;
use rampart_waf::{HttpRequest, Transaction};

use super::SiteWaf;
use crate::body::EdgeBody;
use crate::exchange::Exchange;
use crate::security::respond::PageCtx;
use crate::security_events::{MatchedRuleEvent, SecurityEvent};

/// Longest matched data kept in an event, in characters.
const MAX_EVENT_DATA: usize = 200;
/// Longest URI kept in an event, in characters.
const MAX_EVENT_URI: usize = 512;
/// Rules kept per event.
const MAX_EVENT_RULES: usize = 32;

pub enum Inspected<'w> {
    /// Forward, with the body to send (buffered, or what is left of it),
    /// and the transaction when the site inspects responses too.
    Pass(Option<EdgeBody>, Option<Box<ResponseCheck<'w>>>),
    Respond(http::Response<EdgeBody>),
}

/// A request's transaction kept for its response (phases 3 and 4).
pub struct ResponseCheck<'w> {
    tx: Transaction<'w>,
    request: HttpRequest,
    waf: &'w SiteWaf,
}

/// Response types worth holding back for phase 4.
const INSPECTED_TYPES: &[&str] = &[
    "text/html",
    "text/plain",
    "text/xml",
    "application/xml",
    "application/xhtml+xml",
    "application/json",
];

/// Largest response body inspected; the rest streams on unseen.
const MAX_RESPONSE_INSPECTED: usize = 512 * 1024;

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn engine_request(parts: &http::request::Parts, host: &str, client: SocketAddr) -> HttpRequest {
    let mut headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    // HTTP/2 carries the host as `:authority`; the rules read it as Host.
    if !parts.headers.contains_key(http::header::HOST) {
        headers.push(("host".to_owned(), host.as_bytes().to_vec()));
    }
    HttpRequest {
        method: parts.method.as_str().to_owned(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        protocol: protocol(parts.version).to_owned(),
        headers,
        body: Vec::new(),
        client,
        server: SocketAddr::from(([0, 0, 0, 0], 0)),
    }
}

/// Reads up to `limit` bytes. `Ok((bytes, None))`: the whole body;
/// `Ok((prefix, Some(rest)))`: it goes on past the limit.
async fn buffer(
    mut body: EdgeBody,
    limit: usize,
) -> Result<(Bytes, Option<EdgeBody>), crate::body::BodyError> {
    let mut collected = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(data) = frame.into_data() {
            collected.extend_from_slice(&data);
            if collected.len() > limit {
                return Ok((collected.freeze(), Some(body)));
            }
        }
    }
    Ok((collected.freeze(), None))
}

fn score(tx: &Transaction<'_>, name: &str) -> i64 {
    tx.tx_var(name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Matched data as an event may keep it: nothing from a field whose name
/// says it holds a secret, and at most [`MAX_EVENT_DATA`] characters.
pub(crate) fn masked(data: &str) -> String {
    const SECRET_NAMES: &[&str] = &[
        "pass", "pwd", "secret", "token", "auth", "cookie", "session", "api_key", "apikey", "card",
        "cvv", "ssn",
    ];
    let lower = data.to_ascii_lowercase();
    if SECRET_NAMES.iter().any(|n| lower.contains(n)) {
        return "[masked: matched in a field that may hold a secret]".to_owned();
    }
    let mut out: String = data.chars().take(MAX_EVENT_DATA).collect();
    if data.chars().count() > MAX_EVENT_DATA {
        out.push('…');
    }
    out
}

fn event(
    tx: &Transaction<'_>,
    request: &HttpRequest,
    site: &str,
    exchange: &Exchange,
    action: &'static str,
) -> SecurityEvent {
    let rules = tx
        .matched_rules()
        .iter()
        .filter(|r| r.logged)
        .take(MAX_EVENT_RULES)
        .map(|r| MatchedRuleEvent {
            id: r.id,
            message: r.message.chars().take(MAX_EVENT_DATA).collect(),
            data: masked(&r.data),
            severity: r.severity,
        })
        .collect();
    SecurityEvent {
        at_ms: crate::exchange::unix_ms(std::time::SystemTime::now()),
        site: site.to_owned(),
        reference: exchange.ray.to_string(),
        client_ip: exchange.client_ip,
        method: request.method.clone(),
        uri: request.uri.chars().take(MAX_EVENT_URI).collect(),
        source: "waf",
        action,
        inbound_score: score(tx, "blocking_inbound_anomaly_score"),
        outbound_score: score(tx, "blocking_outbound_anomaly_score"),
        rules,
    }
}

/// A disruptive rule fired: counted, recorded as a security event, and
/// answered with the block page naming the ray.
fn blocked_response(
    tx: &Transaction<'_>,
    request: &HttpRequest,
    site: &str,
    interruption: &rampart_waf::Interruption,
    page: &PageCtx<'_>,
    exchange: &mut Exchange,
) -> http::Response<EdgeBody> {
    let rule: Arc<str> = format!("waf-{}", interruption.rule_id).into();
    exchange.security.hits.push_decisive(&rule, "block");
    exchange.verdict = rampart_analytics::Verdict::Blocked;
    exchange
        .state
        .security_events
        .push(event(tx, request, site, exchange, "block"));
    let status = StatusCode::from_u16(interruption.status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::FORBIDDEN);
    page.blocked(status, &rule)
}

/// Detection only: what would have been blocked is counted and recorded.
fn detected(tx: &Transaction<'_>, request: &HttpRequest, site: &str, exchange: &mut Exchange) {
    let rule: Arc<str> = Arc::from("waf");
    exchange.security.hits.push(&rule, "log");
    exchange
        .state
        .security_events
        .push(event(tx, request, site, exchange, "detect"));
}

/// Runs the WAF over a request (`parts` and its body, `None` when it has
/// none) for `site`.
pub async fn inspect<'w>(
    waf: &'w SiteWaf,
    site: &str,
    parts: &http::request::Parts,
    body: Option<EdgeBody>,
    host: &str,
    page: &PageCtx<'_>,
    exchange: &mut Exchange,
) -> Inspected<'w> {
    let client = SocketAddr::new(exchange.client_ip, 0);
    let mut request = engine_request(parts, host, client);
    let reference = exchange.ray.to_string();
    let mut tx = waf.rules.transaction(&reference);
    let mut blocked = tx.process_request_headers(&request).cloned();
    let mut forward_body = body;
    if blocked.is_none() {
        if let Some(body) = forward_body.take() {
            let limit = usize::try_from(waf.settings.request_body_limit).unwrap_or(usize::MAX);
            match buffer(body, limit).await {
                Ok((bytes, None)) => {
                    request.body = bytes.to_vec();
                    forward_body = Some(EdgeBody::full(bytes));
                }
                Ok((prefix, Some(rest))) => match waf.settings.body_limit_action {
                    BodyLimitAction::Reject => {
                        exchange.error = Some("request body over the WAF's inspection limit");
                        return Inspected::Respond(page.body_aborted(
                            crate::pages::PageKind::PayloadTooLarge,
                            "the body is larger than this site's firewall inspects",
                        ));
                    }
                    BodyLimitAction::InspectPartial => {
                        request.body = prefix.get(..limit).unwrap_or(&prefix).to_vec();
                        forward_body = Some(EdgeBody::Prefixed(Some(prefix), Box::new(rest)));
                    }
                },
                Err(error) => {
                    let (kind, why) = match error {
                        crate::body::BodyError::TooSlow => (
                            crate::pages::PageKind::RequestTimeout,
                            "the body arrived below the minimum data rate",
                        ),
                        crate::body::BodyError::TooLarge => (
                            crate::pages::PageKind::PayloadTooLarge,
                            "the body grew past the size this site accepts",
                        ),
                        crate::body::BodyError::Hyper(_) => (
                            crate::pages::PageKind::BadRequest,
                            "the body broke off before it was complete",
                        ),
                    };
                    exchange.error = Some("request body unreadable for the WAF");
                    return Inspected::Respond(page.body_aborted(kind, why));
                }
            }
        }
        blocked = tx.process_request_body(&request).cloned();
    }
    let threshold = i64::from(waf.settings.inbound_threshold);
    if blocked.is_some() || !waf.settings.inspect_responses {
        tx.process_logging();
    }
    match blocked {
        Some(interruption) => Inspected::Respond(blocked_response(
            &tx,
            &request,
            site,
            &interruption,
            page,
            exchange,
        )),
        None => {
            if score(&tx, "blocking_inbound_anomaly_score") >= threshold {
                detected(&tx, &request, site, exchange);
            }
            let check = waf.settings.inspect_responses.then(|| {
                Box::new(ResponseCheck {
                    tx,
                    request: HttpRequest {
                        body: Vec::new(),
                        ..request
                    },
                    waf,
                })
            });
            Inspected::Pass(forward_body, check)
        }
    }
}

impl ResponseCheck<'_> {
    /// Phases 3 and 4 over the origin's response: a leak the rules catch
    /// (in block mode) replaces it with the block page. Compressed bodies
    /// are passed on uninspected: the rules read text.
    pub async fn check(
        mut self,
        site: &str,
        response: http::Response<EdgeBody>,
        page: &PageCtx<'_>,
        exchange: &mut Exchange,
    ) -> http::Response<EdgeBody> {
        let (parts, body) = response.into_parts();
        let mut seen = rampart_waf::HttpResponse {
            status: parts.status.as_u16(),
            protocol: "HTTP/1.1".to_owned(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: Vec::new(),
        };
        let mut blocked = self.tx.process_response_headers(&seen).cloned();
        let mut body = body;
        let encoded = parts
            .headers
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"));
        // Only documents are held back to be read; streams (event streams,
        // media, downloads) and upgrades flow on untouched.
        let document = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| INSPECTED_TYPES.contains(&m.as_str()));
        if blocked.is_none()
            && !encoded
            && document
            && parts.status != StatusCode::SWITCHING_PROTOCOLS
        {
            match buffer(body, MAX_RESPONSE_INSPECTED).await {
                Ok((bytes, rest)) => {
                    seen.body = bytes
                        .get(..MAX_RESPONSE_INSPECTED)
                        .unwrap_or(&bytes)
                        .to_vec();
                    body = match rest {
                        None => EdgeBody::full(bytes),
                        Some(rest) => EdgeBody::Prefixed(Some(bytes), Box::new(rest)),
                    };
                    blocked = self.tx.process_response_body(&seen).cloned();
                }
                Err(_) => {
                    exchange.error = Some("origin response broke off");
                    return page.limit(
                        crate::pages::PageKind::BadGateway,
                        "the origin's response broke off",
                    );
                }
            }
        }
        self.tx.process_logging();
        let threshold = i64::from(self.waf.settings.outbound_threshold);
        match blocked {
            Some(interruption) => {
                blocked_response(&self.tx, &self.request, site, &interruption, page, exchange)
            }
            None => {
                if score(&self.tx, "blocking_outbound_anomaly_score") >= threshold {
                    detected(&self.tx, &self.request, site, exchange);
                }
                http::Response::from_parts(parts, body)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn secrets_are_masked_and_data_truncated() {
        assert!(masked("Matched Data: x found within ARGS:password: x").starts_with("[masked"));
        assert!(masked("within REQUEST_COOKIES:sessionid").starts_with("[masked"));
        let long = "a".repeat(1000);
        assert_eq!(masked(&long).chars().count(), 201);
        assert_eq!(masked("ARGS:q: <script>"), "ARGS:q: <script>");
    }
}
