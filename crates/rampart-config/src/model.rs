//! The validated configuration. A value of these types is a configuration that
//! passed every check: addresses parsed, hosts unique, certificates readable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A whole node configuration, as read from `rampart.toml` (or the defaults).
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from; `None` for the embedded defaults.
    pub source: Option<PathBuf>,
    pub node: NodeConfig,
    pub listen: ListenConfig,
    pub log: LogConfig,
    pub proxy: ProxyConfig,
    pub store: StoreConfig,
    /// `[shared]`: the Redis tier of a cluster; `None`: this node alone.
    pub shared: Option<crate::SharedConfig>,
    pub admin: AdminConfig,
    pub analytics: AnalyticsConfig,
    /// `[notify]`: SMTP server, sender and webhook secret.
    pub notify: crate::NotifyConfig,
    /// `[geoip]`.
    pub geoip: crate::GeoipConfig,
    /// `[dos]`.
    pub dos: crate::DosConfig,
    /// `[dns]`: the resolvers used to verify bots by reverse DNS.
    pub dns: crate::DnsConfig,
    /// `[waf]`: the node's CRS directory.
    pub waf: crate::WafNodeConfig,
    /// `[[rules]]`: operator-wide rules, evaluated before every site's own.
    pub rules: Vec<crate::FirewallRule>,
    /// `[[lists]]` from the file, plus managed lists from the store.
    pub lists: Vec<crate::NamedList>,
    /// `[[verified_bots]]`: crawlers and monitors let through by proof of origin.
    pub verified_bots: Vec<crate::VerifiedBot>,
    /// Challenge signing keys, newest first, from the store (shared by every
    /// node). Empty: the edge signs with a key of its own process.
    pub challenge_keys: Vec<crate::ChallengeKey>,
    pub sites: Vec<SiteConfig>,
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// `node.id`, default: "edge-1".
    pub id: String,
    /// `node.data_dir`, default "./rampart-data", relative paths resolve against
    /// the config file's directory (or the working directory for defaults).
    pub data_dir: PathBuf,
    /// `node.workers`: runtime worker threads; default = available cores.
    pub workers: Option<usize>,
    /// `node.shutdown_grace`: how long SIGTERM waits for in-flight requests. Default 30s.
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// `listen.http`: default 127.0.0.1:8080. The string "off" disables it.
    pub http: Option<ListenerConfig>,
    /// `listen.https`: default 127.0.0.1:8443. "off" disables it.
    pub https: Option<ListenerConfig>,
    /// `listen.admin`: default 127.0.0.1:9090. "off" disables it.
    pub admin: Option<SocketAddr>,
}

/// A listener is written either as `"127.0.0.1:8080"` or as
/// `{ addr = "127.0.0.1:8080", proxy_protocol = true }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub addr: SocketAddr,
    /// Expect a PROXY protocol v1 or v2 header on every connection.
    pub proxy_protocol: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `log.access`: "off", "stdout" (default) or a file path.
    pub access: AccessLogTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    Off,
    Stdout,
    File(PathBuf),
}

/// `[store]`: where sites and other managed state live.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoreConfig {
    /// `store.url`: `"postgres://…"` or `"sqlite://path"` (a relative SQLite
    /// path is resolved against the config file's directory at load time).
    /// `None`: an embedded SQLite database in `node.data_dir`.
    pub url: Option<String>,
}

// A postgres URL usually carries a password; `Debug` output ends up in logs.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.url.as_deref().map(redact_password))
            .finish()
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `[analytics]`: how long per-minute traffic figures stay in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsConfig {
    /// `analytics.retention`, 1h to 3650d; default 30d.
    pub retention: Duration,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// `[admin]`: the management dashboard and API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminConfig {
    /// `admin.public_url`: the dashboard's address as users reach it (behind
    /// a reverse proxy it differs from `listen.admin`); an `http://` or
    /// `https://` URL. `None`: the caller derives one from `listen.admin`.
    pub public_url: Option<String>,
}

/// `[proxy]`: node-wide proxy behaviour.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `proxy.trusted_proxies`: peers whose X-Forwarded-For is believed. IPs or CIDRs.
    pub trusted_proxies: Vec<IpNet>,
    /// `proxy.timeouts`: defaults for every site.
    pub timeouts: Timeouts,
    /// `proxy.max_header_bytes`: largest request head accepted. Default 64 KiB.
    pub max_header_bytes: usize,
}

/// Written as `timeouts = { connect = "5s", request_header = "10s", idle = "60s", origin_response = "60s" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Origin TCP (+TLS) connect. Default 5s.
    pub connect: Duration,
    /// Client must send a complete request head within this. Default 10s.
    pub request_header: Duration,
    /// A client connection with no traffic and no request in flight is closed. Default 60s.
    pub idle: Duration,
    /// Origin must start its response within this. Default 60s.
    pub origin_response: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteConfig {
    /// `name`: unique, `[a-z0-9][a-z0-9_-]*`, at most 63 bytes.
    pub name: String,
    /// `hosts`: at least one; lowercased; exact names or `*.suffix` wildcards.
    pub hosts: Vec<HostPattern>,
    /// `origins`: at least one.
    pub origins: Vec<OriginConfig>,
    /// `lb`: "round_robin" (default), "least_outstanding", "ip_hash".
    pub lb: LbPolicy,
    /// `health`: active health checks; `None` when the key is absent.
    pub health: Option<HealthCheckConfig>,
    /// `tls = { cert = "…", key = "…" }`, paths relative to the config file
    /// (or PEM text in a site spec).
    pub tls: Option<TlsCertConfig>,
    /// `https_redirect`: send plain-HTTP requests to https with 308. Default false.
    pub https_redirect: bool,
    /// `hsts = { max_age = "365d", include_subdomains = true, preload = false }`.
    pub hsts: Option<HstsConfig>,
    /// `origin_tls_verify`: verify https origins' certificates. Default true.
    pub origin_tls_verify: bool,
    /// `retries`: extra attempts on other origins for idempotent requests whose
    /// connection failed before any response byte. Default 1.
    pub retries: u32,
    /// `timeouts`: per-site overrides, merged over `[proxy] timeouts`.
    pub timeouts: Timeouts,
    /// `pages = { not_found = "…", bad_gateway = "…", service_unavailable = "…", gateway_timeout = "…" }`:
    /// template files (relative to the config file) read at load time, or
    /// the template text itself in a site spec.
    pub pages: PageTemplates,
    /// `security_level`: how suspicious a request must look before it is
    /// challenged. "off", "low", "medium" (default), "high".
    pub security_level: SecurityLevel,
    /// `under_attack`: challenge every browser request. Default false.
    pub under_attack: bool,
    /// `rules`, `rate_limits`, `limits`, `auto_under_attack`.
    pub security: crate::SiteSecurity,
    /// The owning account's id (store sites); decides which `$lists` the
    /// site's rules see. `None` for sites only in the file.
    pub account: Option<String>,
    /// Trust & safety decisions in force (from the store's decisions; empty
    /// for file sites until the control plane adds them).
    pub enforcement: Vec<crate::Enforcement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityLevel {
    Off,
    Low,
    #[default]
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `shop.test`; IP literals too, IPv4 as `10.0.0.1` and IPv6 canonical
    /// without brackets (`::1`), matching `normalize_host` in the edge.
    Exact(String),
    /// `*.shop.test` is stored as `Wildcard(".shop.test")`; it matches any name
    /// that ends with the suffix and has at least one label before it.
    Wildcard(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginConfig {
    /// `http://host:port` or `https://host:port` (no path, no query). Always
    /// normalised at load time: lowercase host and an explicit port (80/443
    /// filled in), so `url.port_u16()` is always `Some`.
    pub url: http::Uri,
    /// `weight`, default 1 (only written in the table form).
    pub weight: u32,
    /// `protocol`: "http1" (default for http://), "http2", or "auto" (ALPN, default for https://).
    pub protocol: OriginProtocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OriginProtocol {
    Http1,
    Http2,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LbPolicy {
    #[default]
    RoundRobin,
    LeastOutstanding,
    IpHash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Must start with '/'. Default "/".
    pub path: String,
    /// Default 5s.
    pub interval: Duration,
    /// Default 2s; must be less than or equal to interval.
    pub timeout: Duration,
    /// Consecutive successes to mark an origin up. Default 2.
    pub rise: u32,
    /// Consecutive failures to mark it down. Default 3.
    pub fall: u32,
    /// Host header to send; default: the first exact host of the site, filled
    /// in at load time. Ready to use as a header value (IPv6 bracketed). `None` only when the key is absent and the site has
    /// wildcard hosts only (then send the origin's authority).
    pub host: Option<String>,
}

/// A certificate chain and key, loaded and parsed at config load time.
#[derive(Debug, PartialEq, Eq)]
pub struct TlsCertConfig {
    /// Where the PEM came from, for messages and for telling file-managed
    /// certificates from ones kept in the store.
    pub source: TlsSource,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for TlsCertConfig {
    fn clone(&self) -> Self {
        Self {
            source: self.source.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// `tls = { cert = "…", key = "…" }` in the config file; resolved paths.
    Files {
        cert_path: PathBuf,
        key_path: PathBuf,
    },
    /// PEM text inside a site spec (admin API or store).
    Spec,
}

impl std::fmt::Display for TlsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Files {
                cert_path,
                key_path,
            } => write!(f, "{} and {}", cert_path.display(), key_path.display()),
            Self::Spec => f.write_str("PEM in the site spec"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HstsConfig {
    pub max_age: Duration,
    pub include_subdomains: bool,
    pub preload: bool,
}

/// Per-site page templates (file contents). Placeholders: `{{status}}`,
/// `{{title}}`, `{{message}}`, `{{ray_id}}`, `{{host}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageTemplates {
    pub not_found: Option<String>,
    pub bad_gateway: Option<String>,
    pub service_unavailable: Option<String>,
    pub gateway_timeout: Option<String>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request_header: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            origin_response: Duration::from_secs(60),
        }
    }
}

/// As written in configuration: `shop.test`, `*.shop.test`, `::1`.
impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Wildcard(suffix) => write!(f, "*{suffix}"),
        }
    }
}

// The names below are the configuration spellings (TOML and site specs);
// they are part of the file format and the API, so they never change.

impl LbPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::LeastOutstanding => "least_outstanding",
            Self::IpHash => "ip_hash",
        }
    }
}

impl OriginProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http1 => "http1",
            Self::Http2 => "http2",
            Self::Auto => "auto",
        }
    }
}

impl SecurityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}
