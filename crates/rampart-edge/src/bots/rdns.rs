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

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
use rampart_config::DnsConfig;
use tokio::sync::watch;

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
const SHARDS: usize = 16;

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

/// Cache key: the address and the bot's suffixes (a fingerprint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub ip: IpAddr,
    pub suffixes: u64,
}

enum Slot {
    Known {
        verified: bool,
        refuted: bool,
        until: Instant,
    },
    /// A lookup task is running; its answer arrives on the channel.
    Pending {
        deadline: Instant,
        answer: watch::Receiver<Option<bool>>,
    },
}

/// What the cache says about a key.
pub enum Probe {
    Known(bool),
    /// Another request's lookup is running: wait for its answer until the
    /// deadline.
    Wait(watch::Receiver<Option<bool>>, Instant),
    /// Start a lookup and announce its answer on the sender.
    Start(watch::Sender<Option<bool>>, Permit),
    /// Too many lookups running: not verified, not cached.
    Busy,
}

/// One running lookup, counted against [`MAX_IN_FLIGHT`] until dropped.
pub struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers per address, in bounded memory, sharded so that crawlers on
/// many threads do not queue on one lock.
pub struct Cache {
    shards: Vec<Mutex<HashMap<Key, Slot>>>,
    per_shard: usize,
    hasher: RandomState,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
}

impl Cache {
    pub fn new(capacity: usize, max_in_flight: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight,
        }
    }

    fn shard(&self, key: &Key) -> MutexGuard<'_, HashMap<Key, Slot>> {
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        // A panic while holding a shard leaves a consistent map (every
        // change is one insert or remove), so the poison is ignored.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn permit(&self) -> Option<Permit> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_in_flight).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit(self.in_flight.clone()))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn probe(&self, key: Key, now: Instant) -> Probe {
        let mut shard = self.shard(&key);
        match shard.get(&key) {
            Some(Slot::Known {
                verified, until, ..
            }) if *until > now => return Probe::Known(*verified),
            Some(Slot::Pending { deadline, answer }) if *deadline > now => {
                return Probe::Wait(answer.clone(), *deadline);
            }
            // Expired, or a lookup that never reported (its task was lost
            // with a runtime shutting down): look up again.
            _ => {}
        }
        let Some(permit) = self.permit() else {
            return Probe::Busy;
        };
        let (tx, rx) = watch::channel(None);
        // The task's own timeout fires at BUDGET; the margin lets its
        // answer land before waiters give up on it.
        let deadline = now + BUDGET + Duration::from_millis(100);
        insert(
            &mut shard,
            self.per_shard,
            key,
            Slot::Pending {
                deadline,
                answer: rx,
            },
            now,
        );
        Probe::Start(tx, permit)
    }

    /// Records a finished lookup.
    pub fn settle(&self, key: Key, outcome: Outcome, now: Instant) {
        let slot = Slot::Known {
            verified: outcome == Outcome::Verified,
            refuted: outcome != Outcome::Verified,
            until: now + outcome.ttl(),
        };
        insert(&mut self.shard(&key), self.per_shard, key, slot, now);
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Inserts, making room first when the shard is full: expired answers,
/// then refuted ones, then (all verified or pending) an arbitrary eighth.
/// Each sweep frees room for many inserts, so the cost stays amortised.
fn insert(map: &mut HashMap<Key, Slot>, cap: usize, key: Key, slot: Slot, now: Instant) {
    if map.len() >= cap && !map.contains_key(&key) {
        map.retain(|_, s| match s {
            Slot::Known { until, .. } => *until > now,
            Slot::Pending { deadline, .. } => *deadline > now,
        });
        if map.len() >= cap {
            map.retain(|_, s| !matches!(s, Slot::Known { refuted: true, .. }));
        }
        if map.len() >= cap {
            let drop: Vec<Key> = map.keys().take(cap.div_ceil(8)).copied().collect();
            for k in drop {
                map.remove(&k);
            }
        }
    }
    map.insert(key, slot);
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
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn key(last: u8) -> Key {
        Key {
            ip: IpAddr::from([192, 0, 2, last]),
            suffixes: 7,
        }
    }

    fn suffixes() -> Vec<String> {
        vec!["googlebot.com".into(), "google.com".into()]
    }

    #[test]
    fn names_must_be_under_a_suffix() {
        let s = suffixes();
        assert!(under("crawl-66-249-66-1.googlebot.com.", &s));
        assert!(under("CRAWL-1.GoogleBot.Com", &s));
        assert!(under("google.com", &s));
        assert!(!under("evilgooglebot.com", &s));
        assert!(!under("googlebot.com.evil.test", &s));
        assert!(!under("com", &s));
        assert!(!under("", &s));
        assert!(!under("é.googlebot.co", &s));
    }

    #[test]
    fn answers_live_for_their_ttl() {
        let cache = Cache::new(100, 10);
        let t0 = Instant::now();
        for (last, outcome) in [
            (1, Outcome::Verified),
            (2, Outcome::Refuted),
            (3, Outcome::Failed),
        ] {
            let k = key(last);
            let Probe::Start(tx, _permit) = cache.probe(k, t0) else {
                panic!("first probe must start a lookup");
            };
            assert!(matches!(cache.probe(k, t0), Probe::Wait(..)));
            cache.settle(k, outcome, t0);
            drop(tx);
            let verified = outcome == Outcome::Verified;
            let before = t0 + outcome.ttl() - Duration::from_secs(1);
            assert!(matches!(cache.probe(k, before), Probe::Known(v) if v == verified));
            let after = t0 + outcome.ttl();
            assert!(matches!(cache.probe(k, after), Probe::Start(..)));
        }
        assert_eq!(cache.in_flight(), 0, "permits are returned when dropped");
    }

    #[test]
    fn keys_differ_by_suffix_set() {
        let cache = Cache::new(100, 10);
        let now = Instant::now();
        let a = key(1);
        let b = Key {
            suffixes: 8,
            ..key(1)
        };
        let _start = cache.probe(a, now);
        cache.settle(a, Outcome::Verified, now);
        assert!(matches!(cache.probe(a, now), Probe::Known(true)));
        assert!(matches!(cache.probe(b, now), Probe::Start(..)));
    }

    #[test]
    fn lookups_in_flight_are_bounded() {
        let cache = Cache::new(100, 2);
        let now = Instant::now();
        let first = cache.probe(key(1), now);
        let second = cache.probe(key(2), now);
        assert!(matches!(cache.probe(key(3), now), Probe::Busy));
        // Busy is not cached: once a lookup ends, the address is tried.
        drop(first);
        assert!(matches!(cache.probe(key(3), now), Probe::Start(..)));
        drop(second);
    }

    #[test]
    fn a_lost_lookup_is_started_again() {
        let cache = Cache::new(100, 10);
        let now = Instant::now();
        let lost = cache.probe(key(1), now);
        drop(lost);
        assert!(matches!(cache.probe(key(1), now), Probe::Wait(..)));
        let later = now + BUDGET + Duration::from_secs(1);
        assert!(matches!(cache.probe(key(1), later), Probe::Start(..)));
    }

    #[test]
    fn full_cache_drops_expired_then_refuted_and_keeps_crawlers() {
        // One shard's worth per shard: 16 × 8.
        let cache = Cache::new(SHARDS * 8, 1_000_000);
        let now = Instant::now();
        let good: Vec<Key> = (0..16).map(key).collect();
        for k in &good {
            let _ = cache.probe(*k, now);
            cache.settle(*k, Outcome::Verified, now);
        }
        // A flood of spoofers from many addresses.
        for i in 0..5000u32 {
            let k = Key {
                ip: IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]),
                suffixes: 7,
            };
            let _ = cache.probe(k, now);
            cache.settle(k, Outcome::Refuted, now);
        }
        assert!(cache.len() <= SHARDS * 8, "bounded: {}", cache.len());
        for k in &good {
            assert!(
                matches!(cache.probe(*k, now), Probe::Known(true)),
                "{k:?} evicted"
            );
        }
    }

    #[test]
    fn full_of_crawlers_still_takes_new_ones() {
        let cache = Cache::new(SHARDS * 8, 1_000_000);
        let now = Instant::now();
        for i in 0..2000u32 {
            let k = Key {
                ip: IpAddr::from([10, 0, (i >> 8) as u8, i as u8]),
                suffixes: 7,
            };
            let _ = cache.probe(k, now);
            cache.settle(k, Outcome::Verified, now);
            assert!(matches!(cache.probe(k, now), Probe::Known(true)));
        }
        assert!(cache.len() <= SHARDS * 8);
    }

    /// PTR and forward records in memory; counts PTR lookups.
    #[derive(Default)]
    struct FakeDns {
        ptr: HashMap<IpAddr, Result<Vec<String>, DnsFail>>,
        forward: HashMap<String, Result<Vec<IpAddr>, DnsFail>>,
        ptr_calls: AtomicUsize,
        delay: Duration,
    }

    impl Lookups for FakeDns {
        async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsFail> {
            self.ptr_calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.ptr
                .get(&ip)
                .cloned()
                .unwrap_or(Err(DnsFail::NoRecords))
        }

        async fn forward(&self, name: &str, v6: bool) -> Result<Vec<IpAddr>, DnsFail> {
            let all = self
                .forward
                .get(name)
                .cloned()
                .unwrap_or(Err(DnsFail::NoRecords))?;
            Ok(all.into_iter().filter(|ip| ip.is_ipv6() == v6).collect())
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn fake() -> FakeDns {
        let mut dns = FakeDns::default();
        let ptr_map = &mut dns.ptr;
        let mut ptr = |a: &str, names: &[&str]| {
            ptr_map.insert(ip(a), Ok(names.iter().map(|s| s.to_string()).collect()));
        };
        ptr("66.249.66.1", &["crawl-66-249-66-1.googlebot.com."]);
        // Says googlebot, but googlebot.com does not point back.
        ptr("203.0.113.9", &["crawl-66-249-66-1.googlebot.com."]);
        // Not under the bot's domains (and would point back).
        ptr("198.51.100.7", &["crawler.example.net."]);
        // Several names, the second one proves it.
        ptr(
            "66.249.66.2",
            &["foo.example.", "x.googlebot.com.", "crawl-2.google.com."],
        );
        ptr("2001:4860:4801::1", &["crawl-v6.googlebot.com."]);
        ptr("192.0.2.51", &["flaky.googlebot.com."]);
        dns.ptr.insert(ip("192.0.2.50"), Err(DnsFail::Other));
        let mut fwd = |n: &str, r: Result<Vec<IpAddr>, DnsFail>| {
            dns.forward.insert(n.to_string(), r);
        };
        fwd(
            "crawl-66-249-66-1.googlebot.com.",
            Ok(vec![ip("66.249.66.1")]),
        );
        fwd("crawler.example.net.", Ok(vec![ip("198.51.100.7")]));
        fwd("x.googlebot.com.", Ok(vec![ip("66.249.66.99")]));
        fwd("crawl-2.google.com.", Ok(vec![ip("66.249.66.2")]));
        fwd(
            "crawl-v6.googlebot.com.",
            Ok(vec![ip("66.249.66.3"), ip("2001:4860:4801::1")]),
        );
        fwd("flaky.googlebot.com.", Err(DnsFail::Other));
        dns
    }

    #[tokio::test]
    async fn forward_confirmation() {
        let dns = fake();
        let s = suffixes();
        let cases = [
            ("66.249.66.1", Outcome::Verified),
            ("203.0.113.9", Outcome::Refuted),
            ("198.51.100.7", Outcome::Refuted),
            ("66.249.66.2", Outcome::Verified),
            ("2001:4860:4801::1", Outcome::Verified),
            ("192.0.2.99", Outcome::Refuted),
            ("192.0.2.50", Outcome::Failed),
            ("192.0.2.51", Outcome::Failed),
        ];
        for (addr, want) in cases {
            assert_eq!(fcrdns(&dns, ip(addr), &s).await, want, "{addr}");
        }
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_lookup() {
        let dns = Arc::new(FakeDns {
            delay: Duration::from_millis(50),
            ..fake()
        });
        let cache = Arc::new(Cache::new(100, 10));
        let k = Key {
            ip: ip("66.249.66.1"),
            suffixes: 1,
        };
        let s = suffixes();
        let answers: Vec<Answer> = (0..20)
            .map(|_| verify_with(&cache, k, &s, || Some(dns.clone())))
            .collect();
        let mut verified = 0;
        for a in answers {
            let v = match a {
                Answer::Now(v) => v,
                Answer::Later(w) => w.await,
            };
            verified += usize::from(v);
        }
        assert_eq!(verified, 20);
        assert_eq!(dns.ptr_calls.load(Ordering::SeqCst), 1);
        // Later requests are answered from the cache, without waiting.
        assert!(matches!(
            verify_with(&cache, k, &s, || Some(dns.clone())),
            Answer::Now(true)
        ));
        assert_eq!(dns.ptr_calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_resolver_costs_at_most_the_budget() {
        let dns = Arc::new(FakeDns {
            delay: Duration::from_secs(30),
            ..fake()
        });
        let cache = Arc::new(Cache::new(100, 10));
        let k = Key {
            ip: ip("66.249.66.1"),
            suffixes: 1,
        };
        let started = tokio::time::Instant::now();
        let Answer::Later(w) = verify_with(&cache, k, &suffixes(), || Some(dns.clone())) else {
            panic!("a lookup must start");
        };
        assert!(!w.await);
        assert!(started.elapsed() <= BUDGET + Duration::from_millis(200));
        // Let the task record its failure.
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(cache.in_flight(), 0);
    }

    #[tokio::test]
    async fn no_resolver_is_a_failure_answered_at_once() {
        let cache = Arc::new(Cache::new(100, 10));
        let k = key(1);
        let answer = verify_with::<FakeDns, _>(&cache, k, &suffixes(), || None);
        assert!(matches!(answer, Answer::Now(false)));
        assert!(matches!(
            cache.probe(k, Instant::now()),
            Probe::Known(false)
        ));
        assert_eq!(cache.in_flight(), 0);
    }
}
