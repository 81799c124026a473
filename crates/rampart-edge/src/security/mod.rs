//! The security phases of the request path, between the site policy (HTTPS
//! redirect) and the origin, in this order:
//!
//! 1. request limits: URI length (414), header count (431), declared body
//!    size (413); the streamed body is held to the size and to a minimum
//!    data rate on its way to the origin ([`body`])
//! 2. custom rules: operator-wide, then the site's ([`rules`])
//! 3. rate limits ([`ratelimit`]); counting expressions run once the
//!    response status is known ([`count_response`])
//! 4. under-attack mode, manual or automatic ([`attack`])
//!
//! Everything is compiled into the snapshot ([`compile`]); per request the
//! phases borrow the request ([`request`]) and one scratch space per worker
//! thread, so evaluation allocates nothing per rule. Counters, the baseline
//! detectors and connection caps live in [`SecurityState`], which outlives
//! snapshots.

pub mod attack;
pub mod body;
pub mod compile;
pub mod dos;
pub mod ratelimit;
pub mod request;
pub mod respond;
pub mod rules;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use arc_swap::ArcSwap;

use http::{HeaderMap, Request, Response};
use rampart_analytics::Verdict as AnalyticsVerdict;
use rampart_config::{BotAction, DosConfig, SecurityPhase, ThreatLevel};
use rampart_limits::{
    Clock, CountersConfig, Decision, KeyHasher, LimitsError, LocalCounters, Millis, RateLimiter,
    SystemClock,
};

use crate::body::EdgeBody;
use crate::exchange::Exchange;
use crate::geoip::GeoFacts;
use crate::pages::PageKind;
use crate::snapshot::Site;

use crate::bots::page::Challenge;
use attack::{AttackSwitch, IMPLICIT_LIMIT, IMPLICIT_RULE_ID, SiteAttack, SwitchLog};
use compile::PhaseSet;
use ratelimit::{Limited, PendingCounts};
use request::{Hits, RequestView, joined_cookies, with_worker};
use respond::PageCtx;

/// Keys held in the penalty box at once (clients currently limited).
const PENALTY_CAPACITY: usize = 100_000;

/// Security state that must survive snapshot swaps.
pub struct SecurityState {
    /// Builds rate-limit keys. Random per process, until a shared tier
    /// hands over the cluster's seed (`set_limit_seed`): nodes that share
    /// counters must name a client's counter alike.
    hasher: Arc<ArcSwap<KeyHasher>>,
    pub limiter: RateLimiter<Arc<LocalCounters>>,
    attacks: Mutex<HashMap<String, Weak<SiteAttack>>>,
    pub switches: SwitchLog,
    pub connections: dos::ConnectionCaps,
    /// `rampart.under_attack` implicit limit's id, shared with hits.
    implicit_id: Arc<str>,
    /// Named in hits when the bot policy acts without a matching rule.
    bot_policy_id: Arc<str>,
}

impl SecurityState {
    /// Fails only if the limits crate refuses the table sizes, which are
    /// constants here. `shared`: a shared tier will drain the counters'
    /// deltas (`[shared]` is configured).
    pub fn new(dos: &DosConfig, shared: bool) -> Result<Self, LimitsError> {
        let hasher = KeyHasher::random();
        let config = CountersConfig {
            record_deltas: shared,
            ..CountersConfig::default()
        };
        let counters = Arc::new(LocalCounters::new(config, &hasher)?);
        Ok(Self {
            limiter: RateLimiter::new(counters, PENALTY_CAPACITY, &hasher)?,
            attacks: Mutex::new(HashMap::new()),
            switches: SwitchLog::default(),
            connections: dos::ConnectionCaps::new(dos, hasher.clone()),
            implicit_id: IMPLICIT_RULE_ID.into(),
            bot_policy_id: "bot_policy".into(),
            hasher: Arc::new(ArcSwap::from_pointee(hasher)),
        })
    }

    /// The rate-limit counters, for the shared tier's syncer.
    pub fn counters(&self) -> Arc<LocalCounters> {
        self.limiter.store().clone()
    }

    /// Something that installs the cluster's limit key seed, for the
    /// shared tier (which calls it after every new connection).
    pub fn seed_hook(&self) -> impl Fn([u8; 16]) + Send + Sync + 'static {
        let hasher = self.hasher.clone();
        move |seed| hasher.store(Arc::new(KeyHasher::from_seed(seed)))
    }

    /// The long-lived under-attack state of site `name` (snapshot build).
    pub fn site_attack(&self, name: &str) -> Arc<SiteAttack> {
        let mut attacks = self.attacks.lock().unwrap_or_else(PoisonError::into_inner);
        attacks.retain(|_, weak| weak.strong_count() > 0);
        if let Some(existing) = attacks.get(name).and_then(Weak::upgrade) {
            return existing;
        }
        let fresh = Arc::new(SiteAttack::default());
        attacks.insert(name.to_string(), Arc::downgrade(&fresh));
        fresh
    }

    /// Feeds every site's request count to its detector (once a second).
    pub fn tick(&self, sites: &[Site], now: Millis) {
        for site in sites {
            let sec = &site.security;
            if let Some(switch) = sec.attack.tick(&site.name, sec.auto_under_attack, now) {
                self.switches.push(switch);
            }
            site.metrics
                .set_under_attack(sec.under_attack, sec.attack.auto_active());
        }
    }

    pub fn recent_switches(&self) -> Vec<AttackSwitch> {
        self.switches.recent()
    }
}

/// What the security phases remember about one request until it ends.
#[derive(Default)]
pub struct RequestSecurity {
    pub hits: Hits,
    /// Counting limits waiting for the response status.
    pub pending: Option<Box<PendingResponse>>,
    /// The request's place among the site's requests in flight to origins.
    pub origin_slot: Option<dos::OriginSlot>,
    /// Country and ASN of the client address (GeoIP).
    pub geo: GeoFacts,
    /// The User-Agent claims a verified bot and the address proves it.
    pub bot_verified: bool,
    /// A rule's `allow` or `skip` of the `waf` phase: the WAF does not run.
    pub skip_waf: bool,
}

/// What a counting expression may read once the request itself is gone.
pub struct PendingResponse {
    counts: PendingCounts,
    headers: HeaderMap,
    host: String,
    cookie: Option<String>,
}

fn now() -> Millis {
    SystemClock.now()
}

/// Runs phases 1–4 for a routed request. `Some` is the response to send
/// instead of forwarding; the exchange records verdict and rule hits.
pub fn check_request<B>(
    site: &Site,
    security: &SecurityState,
    request: &Request<B>,
    host: &str,
    tls: bool,
    ctx: &PageCtx<'_>,
    exchange: &mut Exchange,
) -> Option<Response<EdgeBody>> {
    let sec = &site.security;
    // Every routed request counts towards the baseline, refused ones too:
    // the load is what is measured.
    sec.attack.count_request();
    if let Some(response) = request_limits(sec, request, ctx, exchange) {
        return Some(response);
    }
    if !sec.has_phases() {
        return None;
    }
    let uri = request.uri();
    let view = RequestView {
        ip: exchange.client_ip,
        host,
        method: request.method().as_str(),
        uri: uri.path_and_query().map_or("/", |p| p.as_str()),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        version: request.version(),
        headers: request.headers(),
        tls,
        country: exchange.security.geo.country,
        asn: exchange.security.geo.asn,
    };
    let cookie = joined_cookies(request.headers());
    let mut fields = view.fields(cookie.as_deref());
    let now = now();
    let unix = crate::bots::unix_now();
    fields.clearance = sec
        .bots
        .has_clearance(request.headers(), exchange.client_ip, unix);
    fields.bot_verified = exchange.security.bot_verified;
    let mut skip = PhaseSet::default();
    let hits = &mut exchange.security.hits;
    let mut pending = PendingCounts::default();
    let decided = with_worker(|worker| {
        if let Some(verdict) = rules::evaluate(
            [&sec.operator, &sec.rules],
            &fields,
            worker,
            hits,
            &mut skip,
        ) {
            return Some(Decided::Rule(verdict));
        }
        if !(skip.contains(SecurityPhase::RateLimits) || sec.rate_limits.is_empty())
            && let Some(limited) = ratelimit::check(
                &security.limiter,
                &security.hasher.load(),
                &site.name,
                &sec.rate_limits,
                &sec.lists,
                &fields,
                worker,
                now,
                hits,
                &mut pending,
            )
        {
            return Some(Decided::Limit(limited));
        }
        let policy = sec.bots.policy.as_ref()?;
        if skip.contains(SecurityPhase::Bots)
            || fields.clearance
            || fields.bot_verified
            || sec.bots.feed_exempt(fields.path, request.headers())
        {
            return None;
        }
        let weighed = policy.weigh(&fields, &mut worker.scratch);
        match weighed.action {
            BotAction::Allow => None,
            action => Some(Decided::Bots(action, weighed.top_rule)),
        }
    });
    if skip.contains(SecurityPhase::Waf) {
        exchange.security.skip_waf = true;
    }
    if !pending.is_empty() {
        exchange.security.pending = Some(Box::new(PendingResponse {
            counts: pending,
            headers: request.headers().clone(),
            host: host.to_string(),
            cookie: cookie.clone(),
        }));
    }
    match decided {
        Some(Decided::Rule(rules::Verdict::Allow)) => {
            exchange.security.skip_waf = true;
            return None;
        }
        Some(Decided::Rule(rules::Verdict::Block { status, rule })) => {
            exchange.verdict = AnalyticsVerdict::Blocked;
            return Some(ctx.blocked(status, &rule));
        }
        Some(Decided::Rule(rules::Verdict::Challenge {
            rule,
            level,
            interactive,
        })) => {
            let reason = format!("the security rule \"{rule}\" asks for a browser check");
            let level = level.unwrap_or(sec.managed_level);
            if let Some(r) = challenge(
                site,
                request,
                &Challenge {
                    level,
                    reason: &reason,
                    rule: Some(&rule),
                    interactive,
                },
                ctx,
                exchange,
                unix,
            ) {
                return Some(r);
            }
        }
        Some(Decided::Rule(rules::Verdict::Redirect { location, status })) => {
            return Some(respond::redirect(&location, status));
        }
        Some(Decided::Limit(Limited::Block { retry_after, rule })) => {
            exchange.verdict = AnalyticsVerdict::RateLimited;
            return Some(ctx.rate_limited(retry_after, &rule));
        }
        Some(Decided::Limit(Limited::Challenge { rule })) => {
            // Verified bots are never challenged (they could not pass).
            if !(fields.clearance || fields.bot_verified) {
                let reason = format!("the rate limit \"{rule}\" was exceeded");
                return challenge(
                    site,
                    request,
                    &Challenge {
                        level: ThreatLevel::Medium,
                        reason: &reason,
                        rule: Some(&rule),
                        interactive: false,
                    },
                    ctx,
                    exchange,
                    unix,
                );
            }
        }
        Some(Decided::Bots(BotAction::Block, rule)) => {
            let rule = rule.unwrap_or_else(|| security.bot_policy_id.clone());
            exchange.security.hits.push_decisive(&rule, "block");
            exchange.verdict = AnalyticsVerdict::Blocked;
            return Some(ctx.blocked(http::StatusCode::FORBIDDEN, &rule));
        }
        Some(Decided::Bots(BotAction::Challenge(level), rule)) => {
            let rule = rule.unwrap_or_else(|| security.bot_policy_id.clone());
            exchange.security.hits.push_decisive(&rule, "challenge");
            let reason = "this request looks automated to the site's bot policy";
            if let Some(r) = challenge(
                site,
                request,
                &Challenge {
                    level,
                    reason,
                    rule: Some(&rule),
                    interactive: false,
                },
                ctx,
                exchange,
                unix,
            ) {
                return Some(r);
            }
        }
        Some(Decided::Bots(BotAction::Allow, _)) | None => {}
    }
    if skip.contains(SecurityPhase::UnderAttack) || fields.clearance || fields.bot_verified {
        return None;
    }
    under_attack(site, security, request, &fields, now, ctx, exchange, unix)
}

enum Decided {
    Rule(rules::Verdict),
    Limit(Limited),
    /// The bot policy's action and the heaviest rule that led to it.
    Bots(BotAction, Option<Arc<str>>),
}

/// The interstitial (or, for requests that cannot take it, a 403 saying
/// what to do), counted as challenged. `None`: the request passes, with
/// the no-JavaScript fallback's clearance at low threat.
fn challenge<B>(
    site: &Site,
    request: &Request<B>,
    asked: &Challenge<'_>,
    ctx: &PageCtx<'_>,
    exchange: &mut Exchange,
    unix: u64,
) -> Option<Response<EdgeBody>> {
    let sec = &site.security;
    if asked.level == ThreatLevel::Low
        && sec.bots.settings.nojs_fallback
        && sec
            .bots
            .has_nojs_clearance(request.headers(), exchange.client_ip, unix)
    {
        return None;
    }
    exchange.verdict = AnalyticsVerdict::Challenged;
    let return_to = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Some(crate::bots::page::respond(
        &sec.bots,
        asked,
        request.method(),
        crate::bots::page::safe_return(return_to),
        exchange.client_ip,
        exchange.tls,
        ctx,
        unix,
    ))
}

/// Under attack, clients without a clearance get a high-threat challenge,
/// and the strict implicit limit caps how often one address may ask for
/// one (see [`attack`]).
#[allow(clippy::too_many_arguments)]
fn under_attack<B>(
    site: &Site,
    security: &SecurityState,
    request: &Request<B>,
    fields: &rampart_rules::RequestFields<'_>,
    now: Millis,
    ctx: &PageCtx<'_>,
    exchange: &mut Exchange,
    unix: u64,
) -> Option<Response<EdgeBody>> {
    let sec = &site.security;
    if !(sec.under_attack || sec.attack.auto_active()) {
        return None;
    }
    let key = security
        .hasher
        .load()
        .key()
        .site(&*site.name)
        .rule(IMPLICIT_RULE_ID)
        .client_ip(fields.ip)
        .finish();
    let Decision::Limit { retry_after } = security.limiter.check(&IMPLICIT_LIMIT, &key, now) else {
        if sec.bots.feed_exempt(fields.path, request.headers()) {
            return None;
        }
        exchange
            .security
            .hits
            .push_decisive(&security.implicit_id, "challenge");
        let reason = "the site is under attack, so every visitor is checked";
        return challenge(
            site,
            request,
            &Challenge {
                level: ThreatLevel::High,
                reason,
                rule: None,
                interactive: false,
            },
            ctx,
            exchange,
            unix,
        );
    };
    exchange
        .security
        .hits
        .push_decisive(&security.implicit_id, "rate_limit");
    exchange.verdict = AnalyticsVerdict::RateLimited;
    Some(ctx.rate_limited(retry_after, IMPLICIT_RULE_ID))
}

/// Phase 1: limits on the request head (and the declared body size).
fn request_limits<B>(
    sec: &compile::SiteSecurity,
    request: &Request<B>,
    ctx: &PageCtx<'_>,
    exchange: &mut Exchange,
) -> Option<Response<EdgeBody>> {
    let limits = &sec.limits;
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(1, |p| p.as_str().len());
    let refused = if uri_len > limits.max_uri_bytes as usize {
        Some((
            PageKind::UriTooLong,
            "URI too long",
            format!(
                "the address is {uri_len} bytes; this site accepts at most {}",
                limits.max_uri_bytes
            ),
        ))
    } else if request.headers().len() > limits.max_header_count as usize {
        Some((
            PageKind::HeaderFieldsTooLarge,
            "too many headers",
            format!(
                "the request has {} header fields; this site accepts at most {}",
                request.headers().len(),
                limits.max_header_count
            ),
        ))
    } else {
        match (
            request::declared_length(request.headers()),
            limits.max_body_bytes,
        ) {
            (Some(declared), Some(max)) if declared > max => Some((
                PageKind::PayloadTooLarge,
                "request body too large",
                format!("the body is {declared} bytes; this site accepts at most {max}"),
            )),
            _ => None,
        }
    };
    let (kind, error, reason) = refused?;
    exchange.verdict = AnalyticsVerdict::Blocked;
    exchange.error = Some(error);
    Some(ctx.limit(kind, &reason))
}

/// Evaluates the counting expressions of the limits that matched the
/// request, now that the response status is known.
pub fn count_response(site: &Site, security: &SecurityState, exchange: &Exchange, status: u16) {
    let Some(pending) = exchange.security.pending.as_deref() else {
        return;
    };
    let uri = &exchange.uri;
    let view = RequestView {
        ip: exchange.client_ip,
        host: &pending.host,
        method: exchange.method.as_str(),
        uri: uri.path_and_query().map_or("/", |p| p.as_str()),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        version: exchange.version,
        headers: &pending.headers,
        tls: exchange.tls,
        country: exchange.security.geo.country,
        asn: exchange.security.geo.asn,
    };
    let mut fields = view.fields(pending.cookie.as_deref());
    fields.response_code = status;
    with_worker(|worker| {
        ratelimit::count_response(
            &security.limiter,
            &site.security.rate_limits,
            &site.security.lists,
            &fields,
            worker,
            &pending.counts,
            now(),
        );
    });
}
