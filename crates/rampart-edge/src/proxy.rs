//! The request path. Every request goes through [`handle`], in this order:
//!
//! 1. routing: Host (or :authority) → site; unknown host → 404 page
//! 2. site policy: HTTP→HTTPS redirect
//! 3. origin: pick by LB policy, forward with pooled connection, retry
//!    idempotent bodiless requests on another origin when the origin failed
//!    before answering, response timeout → 504
//! 4. response: hop-by-hop headers out, HSTS and `Rampart-Ray` in; protocol
//!    switches (WebSocket) become a byte tunnel
//! 5. log: when the response body ends (see [`crate::exchange`])
//!
//! Between 2 and 3, `/.rampart/` paths are answered by the edge itself
//! ([`crate::bots::routes`]: challenge scripts and answers, the captcha
//! service), then run the security phases ([`crate::security`]): request
//! limits, operator and site rules, rate limits, the bot policy (with
//! clearance cookies and verified bots), under-attack mode; the
//! origin step also refuses with 503 when the site's origins are at the
//! node's in-flight cap. Bots and WAF will slot in there too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use http::header::{CONTENT_LENGTH, EXPECT, HOST, LOCATION, STRICT_TRANSPORT_SECURITY, USER_AGENT};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use rampart_config::OriginProtocol;
use tokio::sync::oneshot;

use crate::body::EdgeBody;
use crate::bots;
use crate::client_addr::canonical;
use crate::exchange::{Exchange, ResponseBody};
use crate::headers::{
    ForwardedFacts, is_upgrade_request, set_forwarding_headers, strip_hop_by_hop,
};
use crate::pages::{self, PageKind};
use crate::ray::RayId;
use crate::routing::normalize_host;
use crate::security::body::{BodyAbort, BodyStats, GuardedBody, MinRate};
use crate::security::dos::OriginSlot;
use crate::security::respond::PageCtx;
use crate::security::{self, RequestSecurity};
use crate::snapshot::{Site, Snapshot};
use crate::state::EdgeState;

pub static RAMPART_RAY: HeaderName = HeaderName::from_static("rampart-ray");

/// Facts about the client connection a request arrived on.
pub struct ConnInfo {
    /// The client as far as the transport knows: socket peer or PROXY source.
    pub peer: SocketAddr,
    pub tls: bool,
    /// Requests whose response has not finished; the idle timer waits for zero.
    pub in_flight: Arc<AtomicUsize>,
    /// Requests started on this connection.
    pub requests: AtomicU64,
    /// Set when a request switched protocols (101): the origin's side of the
    /// tunnel, which the connection joins to the client socket.
    pub tunnel: std::sync::Mutex<Option<oneshot::Receiver<Upgraded>>>,
}

impl ConnInfo {
    pub fn new(peer: SocketAddr, tls: bool) -> Self {
        Self {
            peer,
            tls,
            in_flight: Arc::new(AtomicUsize::new(0)),
            requests: AtomicU64::new(0),
            tunnel: std::sync::Mutex::new(None),
        }
    }
}

pub async fn handle(
    state: Arc<EdgeState>,
    conn: Arc<ConnInfo>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let start = Instant::now();
    let ray = RayId::generate();
    conn.in_flight.fetch_add(1, Ordering::Relaxed);
    conn.requests.fetch_add(1, Ordering::Relaxed);
    let snapshot = state.snapshot().clone();
    let peer_ip = canonical(conn.peer.ip());
    let client_ip = snapshot
        .trusted_proxies
        .client_ip(peer_ip, request.headers());

    let host_value = request_host_value(&request);
    let mut exchange = Box::new(Exchange {
        state: state.clone(),
        ray,
        start,
        site: None,
        site_metrics: snapshot.unrouted_metrics.clone(),
        client_ip,
        method: request.method().clone(),
        host: host_value.clone(),
        uri: request.uri().clone(),
        version: request.version(),
        tls: conn.tls,
        user_agent: request.headers().get(USER_AGENT).cloned(),
        bytes_in: None,
        origin: None,
        origin_status: None,
        origin_duration: None,
        attempts: 0,
        status: 0,
        error: None,
        verdict: rampart_analytics::Verdict::Passed,
        security: RequestSecurity::default(),
        conn_in_flight: conn.in_flight.clone(),
    });

    let host_text = host_value
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .map(normalize_host);
    let json = pages::wants_json(request.headers());

    if snapshot.welcome {
        return Ok(finish(
            pages::welcome(ray, snapshot.config_source.as_deref()),
            exchange,
            None,
            &conn,
        ));
    }
    let Some(host) = host_text else {
        exchange.error = Some("missing host");
        return Ok(finish(
            pages::render(PageKind::BadRequest, ray, "", json, None),
            exchange,
            None,
            &conn,
        ));
    };
    let Some(site) = snapshot.site_for_host(&host) else {
        exchange.error = Some("unknown host");
        return Ok(finish(
            pages::render(PageKind::UnknownHost, ray, &host, json, None),
            exchange,
            None,
            &conn,
        ));
    };
    exchange.site = Some(site.name.clone());
    exchange.site_metrics = site.metrics.clone();
    exchange.security.geo = state.geoip().lookup(exchange.client_ip);

    // Trust & safety decisions come before anything the site configures.
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", PathAndQuery::as_str);
    if let Some(response) = site.enforcement.check(
        request.uri().path(),
        path_and_query,
        request.headers(),
        &crate::enforcement::PageInfo {
            ray,
            host: &host,
            json,
            tls: conn.tls,
        },
    ) {
        exchange.error = Some("enforced");
        exchange.verdict = rampart_analytics::Verdict::Blocked;
        return Ok(finish(response, exchange, Some(site), &conn));
    }

    if request.method() == Method::CONNECT {
        exchange.error = Some("CONNECT refused");
        return Ok(finish(
            pages::render(
                PageKind::MethodNotAllowed,
                ray,
                &host,
                json,
                Some(&site.pages),
            ),
            exchange,
            Some(site),
            &conn,
        ));
    }
    if !conn.tls && site.https_redirect {
        return Ok(finish(
            https_redirect(&snapshot, &host, request.uri()),
            exchange,
            Some(site),
            &conn,
        ));
    }

    let page = PageCtx {
        ray,
        host: &host,
        json,
        templates: Some(&site.pages),
    };
    if request.uri().path() == crate::abuse_form::FORM_PATH {
        let response =
            crate::abuse_form::handle(request, site, &state, exchange.client_ip, conn.tls, &page)
                .await;
        return Ok(finish(response, exchange, Some(site), &conn));
    }
    if bots::routes::is_reserved(request.uri().path()) {
        let ctx = bots::routes::Ctx {
            bots: &site.security.bots,
            state: &state.bots,
            directory: &snapshot.captcha_keys,
            ip: exchange.client_ip,
            tls: conn.tls,
            page,
        };
        let response = bots::routes::handle(request, &ctx).await;
        return Ok(finish(response, exchange, Some(site), &conn));
    }
    exchange.security.bot_verified = bots::verified::check(
        &snapshot.verified_bots,
        &state.bots.rdns,
        request.headers(),
        exchange.client_ip,
    )
    .await;
    if let Some(response) = security::check_request(
        site,
        &state.security,
        &request,
        &host,
        conn.tls,
        &page,
        &mut exchange,
    ) {
        return Ok(finish(response, exchange, Some(site), &conn));
    }

    let (parts, body) = request.into_parts();
    let mut body = guard_body(&snapshot, site, body, &mut exchange);
    let mut response_check = None;
    if let Some(waf) = site.waf.as_ref().filter(|_| !exchange.security.skip_waf) {
        match crate::waf::inspect(waf, &site.name, &parts, body, &host, &page, &mut exchange).await
        {
            crate::waf::Inspected::Pass(forwarded, check) => {
                body = forwarded;
                response_check = check;
            }
            crate::waf::Inspected::Respond(response) => {
                return Ok(finish(response, exchange, Some(site), &conn));
            }
        }
    }
    let response = forward(
        &snapshot,
        site,
        &conn,
        parts,
        body,
        &page,
        peer_ip,
        &mut exchange,
    )
    .await;
    let response = match response_check {
        Some(check) => {
            check
                .check(&site.name, response, &page, &mut exchange)
                .await
        }
        None => response,
    };
    security::count_response(site, &state.security, &exchange, response.status().as_u16());
    Ok(finish(response, exchange, Some(site), &conn))
}

/// Stamps the response with the ray id and site headers and ties the body to
/// the exchange so that logging happens when the body is done.
fn finish(
    mut response: Response<EdgeBody>,
    mut exchange: Box<Exchange>,
    site: Option<&Site>,
    conn: &ConnInfo,
) -> Response<ResponseBody> {
    // hyper writes the response's version on HTTP/1: never echo an origin's 1.0.
    *response.version_mut() = Version::HTTP_11;
    let headers = response.headers_mut();
    headers.insert(&RAMPART_RAY, exchange.ray.header_value());
    if conn.tls
        && let Some(hsts) = site.and_then(|s| s.hsts.as_ref())
    {
        headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    exchange.status = response.status().as_u16();
    response.map(|body| ResponseBody::new(body, exchange))
}

/// The host the client asked for: the URI authority for HTTP/2 and
/// absolute-form requests, the Host header otherwise.
fn request_host_value<B>(request: &Request<B>) -> Option<HeaderValue> {
    if let Some(authority) = request.uri().authority() {
        return HeaderValue::from_str(authority.as_str()).ok();
    }
    request.headers().get(HOST).cloned()
}

fn https_redirect(snapshot: &Snapshot, host: &str, uri: &Uri) -> Response<EdgeBody> {
    let port = match snapshot.https_port {
        Some(443) | None => String::new(),
        Some(port) => format!(":{port}"),
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let path = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    let location = format!("https://{host}{port}{path}");
    let mut response = Response::new(EdgeBody::Empty);
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

enum Attempt {
    Response(Response<Incoming>),
    Timeout,
    /// The origin failed before sending any response byte.
    Failed {
        connect: bool,
    },
    /// The response was malformed or broke off: bytes came, so no retry.
    Broken,
}

/// The client's body held to the site's size limit and the node's minimum
/// data rate; `None` when the request has none.
fn guard_body(
    snapshot: &Snapshot,
    site: &Site,
    body: Incoming,
    exchange: &mut Exchange,
) -> Option<EdgeBody> {
    if body.is_end_stream() {
        return None;
    }
    let stats = Arc::new(BodyStats::default());
    exchange.bytes_in = Some(stats.clone());
    let dos = &snapshot.dos;
    let min_rate = (dos.min_body_rate > 0).then_some(MinRate {
        bytes_per_sec: u64::from(dos.min_body_rate),
        grace: dos.body_rate_grace,
    });
    Some(EdgeBody::Guarded(Box::new(GuardedBody::new(
        body,
        stats,
        site.security.limits.max_body_bytes,
        min_rate,
    ))))
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    snapshot: &Snapshot,
    site: &Site,
    conn: &ConnInfo,
    mut parts: http::request::Parts,
    body: Option<EdgeBody>,
    page: &PageCtx<'_>,
    peer_ip: std::net::IpAddr,
    exchange: &mut Exchange,
) -> Response<EdgeBody> {
    let (ray, host, json) = (exchange.ray, page.host, page.json);
    // Overload protection: past the cap the origins are saturated, and
    // queueing more would only turn the overload into timeouts for all.
    match OriginSlot::acquire(&site.metrics, snapshot.dos.max_origin_requests_per_site) {
        Some(slot) => exchange.security.origin_slot = Some(slot),
        None => {
            exchange.error = Some("site overloaded");
            return page.overloaded();
        }
    }
    let upgrade = parts.version == Version::HTTP_11 && is_upgrade_request(&parts.headers);
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers, upgrade);
    if headers.contains_key(EXPECT) {
        // hyper answers 100-continue itself when the body is first read.
        headers.remove(EXPECT);
    }
    // The site's host travels as the upstream URI's authority: the origin's
    // pinned client turns it into `Host` (HTTP/1) or `:authority` (HTTP/2,
    // where a second, different `Host` would make the request malformed).
    let site_authority = exchange
        .host
        .as_ref()
        .and_then(|v| Authority::try_from(v.as_bytes()).ok());
    headers.remove(HOST);
    set_forwarding_headers(
        headers,
        &ForwardedFacts {
            client_ip: exchange.client_ip,
            peer_ip,
            peer_trusted: snapshot.trusted_proxies.contains(peer_ip),
            tls: conn.tls,
            host,
        },
    );
    headers.insert(&RAMPART_RAY, ray.header_value());

    let has_body = body.is_some();
    let mut body = body;
    if !has_body && parts.headers.get(CONTENT_LENGTH).is_some_and(|v| v != "0") {
        parts.headers.remove(CONTENT_LENGTH);
    }
    let replayable = !has_body && parts.method.is_idempotent() && !upgrade;
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));

    let mut tried: Vec<usize> = Vec::new();
    let max_attempts = if replayable {
        site.retries.saturating_add(1)
    } else {
        1
    };
    let outcome = loop {
        let Some(index) = site.upstream.pick(exchange.client_ip, &tried) else {
            break if tried.is_empty() {
                exchange.error = Some("no healthy origin");
                Err(PageKind::NoHealthyOrigin)
            } else {
                Err(PageKind::BadGateway)
            };
        };
        tried.push(index);
        let Some(origin) = site.upstream.origins.get(index) else {
            break Err(PageKind::BadGateway);
        };
        // The last attempt may consume the original headers; earlier ones copy.
        let last = exchange.attempts + 1 >= max_attempts;
        let attempt_headers = if last {
            std::mem::take(&mut parts.headers)
        } else {
            parts.headers.clone()
        };
        let mut upstream = Request::new(body.take().unwrap_or(EdgeBody::Empty));
        *upstream.method_mut() = parts.method.clone();
        let authority = site_authority.as_ref().unwrap_or(&origin.authority);
        *upstream.uri_mut() = origin_uri(&origin.scheme, authority, &path);
        *upstream.version_mut() = if origin.protocol == OriginProtocol::Http2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        *upstream.headers_mut() = attempt_headers;

        if let Some(previous) = exchange.origin.replace(origin.clone()) {
            // A retry moves the in-flight count to the origin now being tried.
            previous.metrics.outstanding.fetch_sub(1, Ordering::Relaxed);
        }
        origin.metrics.outstanding.fetch_add(1, Ordering::Relaxed);
        exchange.attempts += 1;
        origin.metrics.requests.fetch_add(1, Ordering::Relaxed);

        let sent_at = Instant::now();
        let attempt = match tokio::time::timeout(
            site.timeouts.origin_response,
            origin.client.request(upstream),
        )
        .await
        {
            Err(_) => Attempt::Timeout,
            Ok(Ok(response)) => Attempt::Response(response),
            Ok(Err(error)) => classify(&error),
        };
        if !matches!(attempt, Attempt::Response(_))
            && let Some(abort) = exchange.bytes_in.as_ref().and_then(|b| b.abort())
        {
            // The origin request failed because we cut the client's body
            // off: say so, rather than blaming the origin with a 502.
            return match abort {
                BodyAbort::TooLarge => {
                    exchange.error = Some("request body too large");
                    page.body_aborted(
                        PageKind::PayloadTooLarge,
                        "the body grew past the size this site accepts",
                    )
                }
                BodyAbort::TooSlow => {
                    exchange.error = Some("request body too slow");
                    page.body_aborted(
                        PageKind::RequestTimeout,
                        "the body arrived below the minimum data rate",
                    )
                }
            };
        }
        match attempt {
            Attempt::Response(response) => {
                origin.record_success();
                exchange.origin_duration = Some(sent_at.elapsed());
                exchange.origin_status = Some(response.status().as_u16());
                break Ok(response);
            }
            Attempt::Timeout => {
                origin.metrics.timeouts.fetch_add(1, Ordering::Relaxed);
                exchange.error = Some("origin response timeout");
                break Err(PageKind::GatewayTimeout);
            }
            Attempt::Failed { connect } => {
                if connect {
                    origin.record_connect_failure();
                    exchange.error = Some("origin connect failed");
                } else {
                    exchange.error = Some("origin closed before responding");
                }
                if exchange.attempts >= max_attempts {
                    break Err(PageKind::BadGateway);
                }
                origin.metrics.retries.fetch_add(1, Ordering::Relaxed);
            }
            Attempt::Broken => {
                exchange.error = Some("invalid origin response");
                break Err(PageKind::BadGateway);
            }
        }
    };

    let mut response = match outcome {
        Ok(response) => response,
        Err(kind) => return pages::render(kind, ray, host, json, Some(&site.pages)),
    };
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if upgrade {
            // The client connection's driver joins this to the client socket
            // once hyper has written the 101.
            let (origin_side, tunnel) = oneshot::channel();
            let origin_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                if let Ok(upgraded) = origin_upgrade.await {
                    let _ = origin_side.send(upgraded);
                }
            });
            *conn.tunnel.lock().unwrap_or_else(|e| e.into_inner()) = Some(tunnel);
            strip_hop_by_hop(response.headers_mut(), true);
            return response.map(EdgeBody::Stream);
        }
        // A 101 nobody asked for cannot be relayed.
        exchange.error = Some("unexpected 101 from origin");
        return pages::render(PageKind::BadGateway, ray, host, json, Some(&site.pages));
    }
    strip_hop_by_hop(response.headers_mut(), false);
    response.map(EdgeBody::Stream)
}

fn classify(error: &hyper_util::client::legacy::Error) -> Attempt {
    if error.is_connect() {
        return Attempt::Failed { connect: true };
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(hyper_error) = inner.downcast_ref::<hyper::Error>() {
            if hyper_error.is_parse()
                || hyper_error.is_parse_status()
                || hyper_error.is_body_write_aborted()
            {
                return Attempt::Broken;
            }
            return Attempt::Failed { connect: false };
        }
        source = inner.source();
    }
    Attempt::Failed { connect: false }
}

fn origin_uri(scheme: &http::uri::Scheme, authority: &Authority, path: &PathAndQuery) -> Uri {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(path.clone());
    Uri::from_parts(parts).unwrap_or_default()
}
