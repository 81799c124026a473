//! The validated security settings: custom rules, rate limits, request
//! limits, automatic under-attack mode (per site), and the node-wide parts
//! (operator rules, named IP lists, GeoIP databases, L7 DoS limits).
//!
//! Expressions are kept as text here: they were compiled once during
//! validation (so a bad one is an error with its column), and the edge
//! compiles them again into its snapshot against the lists in scope.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A custom rule: when `expression` matches, take `action`.
/// TOML: `[[site.rules]]` (per site) or `[[rules]]` (operator-wide, evaluated
/// before every site's own). JSON: an element of the site spec's `rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallRule {
    /// `[a-z0-9][a-z0-9_-]*`, at most 63 bytes, unique among the rules of its
    /// site (or among operator rules). Named in the access log and analytics.
    pub id: String,
    /// Free text for people; at most 500 bytes. Default "".
    pub description: String,
    /// A rules-language expression (`rampart_rules`).
    pub expression: String,
    pub action: RuleAction,
    /// Default true. A disabled rule is kept but not evaluated.
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// `action = "block"`, `status` 400–599 (default 403): Rampart's block
    /// page naming the rule and the ray id.
    Block { status: u16 },
    /// `action = "challenge"`, `challenge = "managed" | "js" | "interactive"`
    /// (default managed). Until challenges exist: a 403 page that says so.
    Challenge { kind: ChallengeKind },
    /// `action = "allow"`: skip every remaining security phase.
    Allow,
    /// `action = "skip"`, `skip_phases = ["rate_limits", …]`,
    /// `skip_rules = ["rule-id", …]` (later rules of the same list); at least
    /// one of the two must be non-empty.
    Skip {
        phases: Vec<SecurityPhase>,
        rules: Vec<String>,
    },
    /// `action = "log"`: record the hit and go on.
    Log,
    /// `action = "redirect"`, `redirect_url` (absolute http(s) URL or a path
    /// starting with '/'), `status` 301/302/303/307/308 (default 302).
    Redirect { url: String, status: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChallengeKind {
    #[default]
    Managed,
    Js,
    Interactive,
}

/// Phases a `skip` rule can skip, in the order the edge runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecurityPhase {
    /// "rules": the remaining custom rules (operator and site).
    Rules,
    /// "rate_limits".
    RateLimits,
    /// "under_attack": the under-attack check (manual or automatic).
    UnderAttack,
    /// "bots" (later issue; accepted now so rules need no rewrite).
    Bots,
    /// "waf" (later issue; accepted now so rules need no rewrite).
    Waf,
}

impl SecurityPhase {
    pub const ALL: [Self; 5] = [
        Self::Rules,
        Self::RateLimits,
        Self::UnderAttack,
        Self::Bots,
        Self::Waf,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rules => "rules",
            Self::RateLimits => "rate_limits",
            Self::UnderAttack => "under_attack",
            Self::Bots => "bots",
            Self::Waf => "waf",
        }
    }
}

/// A rate-limit rule. TOML `[[site.rate_limits]]`; JSON `rate_limits[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitRule {
    /// Same shape and uniqueness as a rule id (among the site's rate limits).
    pub id: String,
    pub description: String,
    /// Which requests the rule applies to. Default
    /// [`DEFAULT_RATE_LIMIT_EXPRESSION`] (every request).
    pub expression: String,
    /// What a counter is kept per; at least one. Default `[Ip]`.
    pub characteristics: Vec<Characteristic>,
    /// `period`: 1s to 1d.
    pub period: Duration,
    /// `requests`: counted requests allowed per period, 1 to 1,000,000,000.
    pub requests: u32,
    pub action: LimitAction,
    /// `mitigation_timeout`: 0s to 1d, default = `period`.
    pub mitigation_timeout: Duration,
    /// `counting_expression`: evaluated on the response (may read
    /// `http.response.code` as well as every request field); only requests
    /// whose response matches count. `None`: every matching request counts.
    pub counting_expression: Option<String>,
    pub enabled: bool,
}

/// The expression of a rate limit written without one: every request.
pub const DEFAULT_RATE_LIMIT_EXPRESSION: &str = "true";

/// `characteristics = ["ip", "ip_prefix", "header:x-api-key",
/// "cookie:session", "query_arg:user", "path", "site"]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Characteristic {
    Ip,
    /// The client's /24 (IPv4) or /64 (IPv6).
    IpPrefix,
    /// Lower-cased header name.
    Header(String),
    Cookie(String),
    QueryArg(String),
    Path,
    Site,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LimitAction {
    /// "block": 429 with `Retry-After`.
    #[default]
    Block,
    /// "challenge": the challenge (403 page until challenges exist).
    Challenge,
    /// "log": let it through, record that it would have been limited.
    Log,
}

/// Per-site request limits: `limits = { max_header_count = 100, … }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// 1 to 10,000; default 100. More headers: 431.
    pub max_header_count: u32,
    /// 16 to 1 MiB; default 8 KiB (path and query). Longer: 414.
    pub max_uri_bytes: u32,
    /// Request body bytes; `None` = unlimited. Default 100 MiB. Larger: 413
    /// (declared length up front, or when the streamed body passes it).
    pub max_body_bytes: Option<u64>,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_header_count: 100,
            max_uri_bytes: 8 * 1024,
            max_body_bytes: Some(100 * 1024 * 1024),
        }
    }
}

/// `auto_under_attack = { enabled = true, factor = 4.0, min_rps = 50 }`:
/// switch the site into under-attack mode when its request rate exceeds the
/// learned baseline by `factor` (and is at least `min_rps`), back off with
/// hysteresis. `warmup`, `window` and `hold` tune the timings (mostly for
/// tests and very bursty sites; the defaults suit most).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoUnderAttack {
    /// Default false.
    pub enabled: bool,
    /// 1.5 to 1000; default 4.
    pub factor: f64,
    /// Requests per second below which the site is never considered under
    /// attack; 1 to 10,000,000; default 50.
    pub min_rps: u32,
    /// History learned before anything is flagged; 1 s to 1 day; default
    /// 10 minutes.
    pub warmup: Duration,
    /// Averaging window of the recent rate compared with the baseline; 1 s
    /// to 1 hour; default 30 s.
    pub window: Duration,
    /// How long the recent rate must stay low before the mode switches
    /// back off; 1 s to 1 day; default 5 minutes.
    pub hold: Duration,
}

impl Default for AutoUnderAttack {
    fn default() -> Self {
        Self {
            enabled: false,
            factor: 4.0,
            min_rps: 50,
            warmup: Duration::from_secs(600),
            window: Duration::from_secs(30),
            hold: Duration::from_secs(300),
        }
    }
}

// f64 has no Eq; the values are validated finite, so bitwise equality is fine.
impl Eq for AutoUnderAttack {}

/// Everything security-related of one site, with defaults when absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteSecurity {
    /// `rules`, in evaluation order; at most 1,000 per site.
    pub rules: Vec<FirewallRule>,
    /// `rate_limits`, in order; at most 100 per site.
    pub rate_limits: Vec<RateLimitRule>,
    pub limits: RequestLimits,
    pub auto_under_attack: AutoUnderAttack,
    /// `[site.challenge]`: algorithm, difficulty per threat level, lifetimes.
    pub challenge: crate::ChallengeSettings,
    /// `[site.bots]`: the weighted bot policy.
    pub bots: crate::BotPolicy,
    /// `[[site.captcha]]` and the store's managed keys.
    pub captcha: Vec<crate::CaptchaKey>,
    /// `waf = { … }` / `[site.waf]`: the OWASP CRS through Rampart's engine.
    pub waf: crate::WafSettings,
}

/// A named IP list (`$name` in expressions). TOML `[[lists]]` with `name`
/// and either `file = "path"` (one entry per line, `#` comments) or
/// `items = ["192.0.2.0/24", …]`; from the store for managed lists.
#[derive(Debug, Clone)]
pub struct NamedList {
    /// `[a-z0-9][a-z0-9_]*`, at most 63 bytes.
    pub name: String,
    pub scope: ListScope,
    pub description: String,
    /// Up to 1,000,000 entries.
    pub entries: Arc<rampart_rules::IpList>,
}

/// Who may refer to a list. An account's list shadows an operator list of
/// the same name for that account's sites; operator rules see operator
/// lists only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListScope {
    Operator,
    /// The owning account's id.
    Account(String),
}

/// `[geoip]`: MaxMind-format databases (`.mmdb`), re-read when the file
/// changes. Relative paths resolve against the config file's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoipConfig {
    /// `country_db`: gives `ip.src.country`.
    pub country_db: Option<PathBuf>,
    /// `asn_db`: gives `ip.src.asnum`.
    pub asn_db: Option<PathBuf>,
}

/// `[dos]`: node-wide L7 DoS limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DosConfig {
    /// `max_connections_per_ip`: open client connections per address; 1 to
    /// 1,000,000; default 256. Beyond it new connections are closed at accept.
    pub max_connections_per_ip: u32,
    /// `max_connections_per_prefix`: per /24 (IPv4) or /64 (IPv6); default 1024.
    pub max_connections_per_prefix: u32,
    /// `min_body_rate`: bytes per second a request body must average once
    /// `body_rate_grace` has passed (slow POST / RUDY); 0 disables; default 1024.
    pub min_body_rate: u32,
    /// `body_rate_grace`: default 5s.
    pub body_rate_grace: Duration,
    /// `send_timeout`: a client that accepts no response bytes for this long
    /// is disconnected (slow read); default 30s.
    pub send_timeout: Duration,
    /// `max_streams_per_connection`: HTTP/2 concurrent streams; 1 to 1000; default 100.
    pub max_streams_per_connection: u32,
    /// `max_origin_requests_per_site`: requests in flight to one site's
    /// origins; beyond it the edge answers 503 with `Retry-After` instead of
    /// queueing; 1 to 1,000,000; default 2048.
    pub max_origin_requests_per_site: u32,
}

impl Default for DosConfig {
    fn default() -> Self {
        Self {
            max_connections_per_ip: 256,
            max_connections_per_prefix: 1024,
            min_body_rate: 1024,
            body_rate_grace: Duration::from_secs(5),
            send_timeout: Duration::from_secs(30),
            max_streams_per_connection: 100,
            max_origin_requests_per_site: 2048,
        }
    }
}

/// `[dns]`: where the edge sends its own DNS queries (verified bots'
/// forward-confirmed reverse DNS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsConfig {
    /// `servers`: recursive resolvers as "IP" (port 53) or "IP:PORT", at
    /// most 8, tried in order. Empty (the default, `[dns]` absent): the
    /// system's `/etc/resolv.conf`.
    pub servers: Vec<std::net::SocketAddr>,
}
