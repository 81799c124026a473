//! Origins: their live state (health, ejection, in-flight count), the choice
//! of origin per request, and the pooled clients that reach them.
//!
//! Origin state outlives snapshots: a reload that keeps an origin keeps its
//! health history and its pooled connections.

mod clients;
mod health;
mod lb;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::uri::{Authority, Scheme};
use rampart_config::{HealthCheckConfig, LbPolicy, OriginProtocol};

pub use clients::{AcceptAnyCertificate, ClientKey, OriginClient, origin_client};
pub use health::spawn_health_check;
pub use lb::Balancer;

use crate::metrics::OriginMetrics;

/// How long a connect failure keeps an origin out of rotation.
const PASSIVE_EJECTION: Duration = Duration::from_secs(10);

pub struct Origin {
    pub label: Arc<str>,
    pub scheme: Scheme,
    pub authority: Authority,
    pub weight: u32,
    pub protocol: OriginProtocol,
    pub client: OriginClient,
    pub metrics: Arc<OriginMetrics>,
    health_up: AtomicBool,
    consecutive_ok: AtomicU32,
    consecutive_fail: AtomicU32,
    /// Milliseconds since process start; 0 = not ejected.
    ejected_until: AtomicU64,
}

impl Origin {
    pub fn new(
        label: Arc<str>,
        scheme: Scheme,
        authority: Authority,
        weight: u32,
        protocol: OriginProtocol,
        client: OriginClient,
        metrics: Arc<OriginMetrics>,
    ) -> Self {
        metrics.healthy.store(1, Ordering::Relaxed);
        Self {
            label,
            scheme,
            authority,
            weight: weight.max(1),
            protocol,
            client,
            metrics,
            health_up: AtomicBool::new(true),
            consecutive_ok: AtomicU32::new(0),
            consecutive_fail: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
        }
    }

    pub fn is_health_up(&self) -> bool {
        self.health_up.load(Ordering::Relaxed)
    }

    pub fn is_ejected(&self, now: u64) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && now < until
    }

    pub fn in_rotation(&self, now: u64) -> bool {
        self.is_health_up() && !self.is_ejected(now)
    }

    /// Passive health: a failed connect takes the origin out for a while.
    pub fn record_connect_failure(&self) {
        self.metrics
            .connect_failures
            .fetch_add(1, Ordering::Relaxed);
        let until = now_millis() + PASSIVE_EJECTION.as_millis() as u64;
        self.ejected_until.store(until, Ordering::Relaxed);
        self.refresh_gauge();
    }

    pub fn record_success(&self) {
        if self.ejected_until.load(Ordering::Relaxed) != 0 {
            self.ejected_until.store(0, Ordering::Relaxed);
            self.refresh_gauge();
        }
    }

    /// Active health: rise/fall thresholds decide transitions.
    pub fn record_health_check(&self, ok: bool, rise: u32, fall: u32) {
        if ok {
            self.consecutive_fail.store(0, Ordering::Relaxed);
            let n = self.consecutive_ok.fetch_add(1, Ordering::Relaxed) + 1;
            if !self.is_health_up() && n >= rise {
                self.health_up.store(true, Ordering::Relaxed);
                tracing::info!(origin = %self.label, "origin is healthy again");
            }
            // A passing check also ends a passive ejection early.
            self.ejected_until.store(0, Ordering::Relaxed);
        } else {
            self.consecutive_ok.store(0, Ordering::Relaxed);
            let n = self.consecutive_fail.fetch_add(1, Ordering::Relaxed) + 1;
            if self.is_health_up() && n >= fall {
                self.health_up.store(false, Ordering::Relaxed);
                tracing::warn!(origin = %self.label, "origin failed its health checks; taken out of rotation");
            }
        }
        self.refresh_gauge();
    }

    fn refresh_gauge(&self) {
        let up = self.in_rotation(now_millis());
        self.metrics.healthy.store(i64::from(up), Ordering::Relaxed);
    }
}

/// Milliseconds since the first call; monotonic.
pub fn now_millis() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// The origins of one site and how to choose between them.
pub struct Upstream {
    pub origins: Vec<Arc<Origin>>,
    pub balancer: Balancer,
}

impl Upstream {
    pub fn new(origins: Vec<Arc<Origin>>, policy: LbPolicy) -> Self {
        let balancer = Balancer::new(policy, &origins);
        Self { origins, balancer }
    }

    /// Picks an origin not in `tried`, preferring those in rotation.
    pub fn pick(&self, client_ip: IpAddr, tried: &[usize]) -> Option<usize> {
        self.balancer.pick(&self.origins, client_ip, tried)
    }
}

/// Identity of an origin's long-lived state across reloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginKey {
    pub site: String,
    pub url: String,
    pub client: ClientKey,
    pub health: Option<HealthKey>,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthKey {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    pub host: String,
}

impl HealthKey {
    pub fn new(cfg: &HealthCheckConfig, host: String) -> Self {
        Self {
            path: cfg.path.clone(),
            interval: cfg.interval,
            timeout: cfg.timeout,
            rise: cfg.rise.max(1),
            fall: cfg.fall.max(1),
            host,
        }
    }
}
