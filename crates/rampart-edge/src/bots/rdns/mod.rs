//! Forward-confirmed reverse DNS for `[[verified_bots]]` entries with
//! `rdns` suffixes: the client address's PTR name must lie under one of
//! the bot's domains, and that name's A (or AAAA) records must contain the
//! address again. The second half is what makes it proof: anyone can
//! publish a PTR record saying "crawl-1.googlebot.com" for their own
//! addresses, but only Google can make googlebot.com's forward records
//! point back at them.
//!
//! # Waiting, and why
//!
//! A request whose User-Agent claims such a bot, from an address with no
//! cached answer, **waits for the lookup**, at most [`BUDGET`] (2 s). The
//! alternative — answer "not verified" at once and look up in the
//! background — would challenge every crawler's first request from each
//! new address, and a crawler cannot solve a challenge: it records a 403
//! for the page, which is exactly the harm verified bots exist to avoid.
//! The wait is cheap to bound:
//!
//! * only requests that claim an rdns-verified bot and whose address is
//!   not in the bot's `list` ever get here; everybody else pays nothing;
//! * answers are cached per address: verified for [`TTL_VERIFIED`] (1 h),
//!   disproved for [`TTL_REFUTED`] (10 min), a lookup that failed (time
//!   out, SERVFAIL, no resolver) for [`TTL_FAILED`] (1 min) so a broken
//!   resolver is not asked again on every request;
//! * concurrent requests from one address share one lookup (the first
//!   starts it as a task of its own; the others wait on its answer), so a
//!   crawler's burst costs one lookup, and a request that gives up does
//!   not cancel it;
//! * at most [`MAX_IN_FLIGHT`] lookups run at once. Beyond that a request
//!   is answered "not verified" at once, without caching: a flood of
//!   spoofed User-Agents from many addresses can then get a real crawler
//!   challenged for a moment, but cannot queue up requests or hammer the
//!   resolver;
//! * the cache holds at most [`CAPACITY`] answers; when it is full the
//!   expired ones go first, then the refuted ones (what a flood of
//!   spoofers creates), and verified crawlers last.
//!
//! The answer is cached per address *and* per set of suffixes, so two bots
//! with different domains never share an answer, and a reload that
//! changes a bot's `rdns` starts afresh. The resolver is built from `[dns]`
//! on first use and again when a reload changes `[dns]` (which also drops
//! the cached answers: they came from other servers).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
use rampart_config::DnsConfig;
use tokio::sync::watch;

mod cache;

pub use cache::{Cache, Key, Permit, Probe};

/// The whole of one verification: PTR plus forward lookups.
pub const BUDGET: Duration = Duration::from_secs(2);
/// One query to one server; two fit in the budget.
const QUERY_TIMEOUT: Duration = Duration::from_millis(900);
pub const TTL_VERIFIED: Duration = Duration::from_secs(3600);
pub const TTL_REFUTED: Duration = Duration::from_secs(600);
pub const TTL_FAILED: Duration = Duration::from_secs(60);
pub const CAPACITY: usize = 100_000;
pub const MAX_IN_FLIGHT: usize = 256;
/// PTR names under the bot's domains that are checked forward. Real
/// crawlers have one; more only lets a spoofer's reverse zone make us
/// spend the budget.
const MAX_NAMES: usize = 4;
/// How long a failed resolver setup (unreadable /etc/resolv.conf) is
/// remembered before it is tried again.
const SETUP_RETRY: Duration = Duration::from_secs(60);

/// What one verification found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The PTR name is under the bot's domains and resolves back to the address.
    Verified,
    /// The DNS answered, and the answer disproves the claim.
    Refuted,
    /// No definite answer (timeout, SERVFAIL, no resolver): asked again sooner.
    Failed,
}

impl Outcome {
    fn ttl(self) -> Duration {
        match self {
            Outcome::Verified => TTL_VERIFIED,
            Outcome::Refuted => TTL_REFUTED,
            Outcome::Failed => TTL_FAILED,
        }
    }
}

/// A lookup's failure, as far as caching cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsFail {
    /// NXDOMAIN or an empty answer: a definite "no".
    NoRecords,
    /// Anything else: try again later.
    Other,
}

impl From<NetError> for DnsFail {
    fn from(e: NetError) -> Self {
        if e.is_no_records_found() {
            DnsFail::NoRecords
        } else {
            DnsFail::Other
        }
    }
}

/// The two lookups verification needs; the resolver in service, or a
/// fake in tests.
pub trait Lookups: Send + Sync + 'static {
    /// PTR names of `ip`, lowercase ASCII.
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Result<Vec<String>, DnsFail>> + Send;
    /// A records of `name` when `v6` is false, AAAA when true.
    fn forward(
        &self,
        name: &str,
        v6: bool,
    ) -> impl Future<Output = Result<Vec<IpAddr>, DnsFail>> + Send;
}

impl Lookups for TokioResolver {
    async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsFail> {
        let lookup = self.reverse_lookup(ip).await?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(ptr) => Some(ptr.0.to_ascii().to_ascii_lowercase()),
                _ => None,
            })
            .collect())
    }

    async fn forward(&self, name: &str, v6: bool) -> Result<Vec<IpAddr>, DnsFail> {
        // Absolute: the search domains of resolv.conf must not apply.
        let mut name = Name::from_ascii(name).map_err(|_| DnsFail::NoRecords)?;
        name.set_fqdn(true);
        let lookup = if v6 {
            self.ipv6_lookup(name).await?
        } else {
            self.ipv4_lookup(name).await?
        };
        // Only the address type asked for: a CNAME on the way is fine,
        // its target's address records are the answer.
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) if !v6 => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) if v6 => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect())
    }
}

/// Whether `name` (from PTR) is `suffix` or under it; `suffixes` are
/// lowercase without a leading dot (the config normalises them).
pub fn under(name: &str, suffixes: &[String]) -> bool {
    let name = name.trim_end_matches('.');
    suffixes.iter().any(|suffix| {
        name.len() >= suffix.len()
            && name
                .get(name.len() - suffix.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            && (name.len() == suffix.len()
                || name.as_bytes().get(name.len() - suffix.len() - 1) == Some(&b'.'))
    })
}

/// Forward-confirmed reverse DNS of `ip` against `suffixes`. The caller
/// bounds the time.
pub async fn fcrdns<L: Lookups>(lookups: &L, ip: IpAddr, suffixes: &[String]) -> Outcome {
    let names = match lookups.ptr(ip).await {
        Ok(names) => names,
        Err(DnsFail::NoRecords) => return Outcome::Refuted,
        Err(DnsFail::Other) => return Outcome::Failed,
    };
    let mut failed = false;
    // Names outside the bot's domains are never looked up: a spoofer's
    // PTR may name a zone whose servers answer slowly on purpose.
    for name in names.iter().filter(|n| under(n, suffixes)).take(MAX_NAMES) {
        match lookups.forward(name, ip.is_ipv6()).await {
            Ok(addrs) if addrs.contains(&ip) => return Outcome::Verified,
            Ok(_) | Err(DnsFail::NoRecords) => {}
            Err(DnsFail::Other) => failed = true,
        }
    }
    if failed {
        Outcome::Failed
    } else {
        Outcome::Refuted
    }
}

/// Verification state that outlives snapshots: the answers and the
/// resolver (in `BotState`).
pub struct Rdns {
    cache: Arc<Cache>,
    upstream: Mutex<Option<Upstream>>,
}

struct Upstream {
    dns: DnsConfig,
    resolver: Option<Arc<TokioResolver>>,
    built: Instant,
}

impl Default for Rdns {
    fn default() -> Self {
        Self::new()
    }
}

/// A boxed wait, so the request's own future stays small: only requests
/// that actually wait pay for the allocation.
pub type Wait = Pin<Box<dyn Future<Output = bool> + Send>>;

/// The cache's answer now, or a wait for it.
pub enum Answer {
    Now(bool),
    Later(Wait),
}

impl Rdns {
    pub fn new() -> Self {
        Self {
            cache: Arc::new(Cache::new(CAPACITY, MAX_IN_FLIGHT)),
            upstream: Mutex::new(None),
        }
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Whether `ip` is named under `suffixes` (forward-confirmed), by the
    /// resolvers of `dns`. Needs a tokio runtime when a lookup starts.
    pub fn verify(&self, dns: &DnsConfig, key: Key, suffixes: &[String]) -> Answer {
        let cache = self.cache.clone();
        let resolver = || self.resolver(dns);
        verify_with(&cache, key, suffixes, resolver)
    }

    /// The resolver for `dns`: built on first use and again when `[dns]`
    /// changed. Building reads /etc/resolv.conf when no servers are given
    /// (a small file, once per change).
    fn resolver(&self, dns: &DnsConfig) -> Option<Arc<TokioResolver>> {
        let mut upstream = self.upstream.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(u) = upstream.as_ref()
            && u.dns == *dns
            && (u.resolver.is_some() || now.duration_since(u.built) < SETUP_RETRY)
        {
            return u.resolver.clone();
        }
        if upstream.as_ref().is_some_and(|u| u.dns != *dns) {
            // Answers from other servers; and the old key set may hide
            // a fixed misconfiguration for up to an hour.
            self.cache.clear();
        }
        let resolver = match build_resolver(dns) {
            Ok(r) => Some(Arc::new(r)),
            Err(error) => {
                tracing::warn!(%error, "[dns]: no resolver; bots are not verified by reverse DNS");
                None
            }
        };
        *upstream = Some(Upstream {
            dns: dns.clone(),
            resolver: resolver.clone(),
            built: now,
        });
        resolver
    }
}

/// The cache-and-coalesce logic over any [`Lookups`]; `lookups` is only
/// called when a lookup starts.
pub fn verify_with<L, F>(cache: &Arc<Cache>, key: Key, suffixes: &[String], lookups: F) -> Answer
where
    L: Lookups,
    F: FnOnce() -> Option<Arc<L>>,
{
    let now = Instant::now();
    match cache.probe(key, now) {
        Probe::Known(verified) => Answer::Now(verified),
        Probe::Busy => Answer::Now(false),
        Probe::Wait(answer, deadline) => Answer::Later(Box::pin(wait(answer, deadline))),
        Probe::Start(tx, permit) => {
            let Some(lookups) = lookups() else {
                drop(permit);
                cache.settle(key, Outcome::Failed, now);
                tx.send_replace(Some(false));
                return Answer::Now(false);
            };
            let answer = tx.subscribe();
            let suffixes = suffixes.to_vec();
            let task_cache = cache.clone();
            // A task of its own: the answer is cached even when the request
            // that started it is gone, and later requests share it.
            tokio::spawn(async move {
                let _permit = permit;
                let outcome = tokio::time::timeout(BUDGET, fcrdns(&*lookups, key.ip, &suffixes))
                    .await
                    .unwrap_or(Outcome::Failed);
                tracing::debug!(ip = %key.ip, ?outcome, "verified bots: reverse DNS");
                task_cache.settle(key, outcome, Instant::now());
                tx.send_replace(Some(outcome == Outcome::Verified));
            });
            Answer::Later(Box::pin(wait(answer, now + BUDGET)))
        }
    }
}

async fn wait(mut answer: watch::Receiver<Option<bool>>, deadline: Instant) -> bool {
    let deadline = tokio::time::Instant::from_std(deadline);
    match tokio::time::timeout_at(deadline, answer.wait_for(Option::is_some)).await {
        Ok(Ok(v)) => v.unwrap_or(false),
        // Timed out, or the task is gone without answering.
        Ok(Err(_)) | Err(_) => false,
    }
}

fn build_resolver(dns: &DnsConfig) -> Result<TokioResolver, NetError> {
    let (config, mut opts) = if dns.servers.is_empty() {
        hickory_resolver::system_conf::read_system_conf()?
    } else {
        let servers = dns
            .servers
            .iter()
            .map(|addr| {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut server.connections {
                    c.port = addr.port();
                }
                server
            })
            .collect();
        (
            ResolverConfig::from_name_servers(servers),
            ResolverOpts::default(),
        )
    };
    opts.timeout = QUERY_TIMEOUT;
    opts.attempts = 1;
    // The answer must come from DNS, where the bot's operator publishes it,
    // not from this machine's /etc/hosts.
    opts.use_hosts_file = ResolveHosts::Never;
    // Our cache keeps the answers that matter; the resolver's own only
    // needs to cover one verification's lookups.
    opts.cache_size = 1024;
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = opts;
    builder.build()
}

#[cfg(test)]
mod tests;
