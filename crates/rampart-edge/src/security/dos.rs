//! Node-wide L7 DoS defences that are not rules: concurrent connection caps
//! per client address and network, and a cap on requests in flight to one
//! site's origins.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;
use rampart_config::DosConfig;
use rampart_limits::{ConcurrencyConfig, ConcurrencyLimiter, ConnectionGuard, KeyHasher, Refused};

use crate::metrics::SiteMetrics;

/// Open connections per address and per /24 (IPv4) or /64 (IPv6).
///
/// The caps can change on reload: a new limiter is swapped in for new
/// connections, while open ones keep (and release into) the limiter they
/// were counted in. Until those close, the new caps see fewer connections
/// than are open, a brief looseness that is preferable to dropping
/// connections on reload.
pub struct ConnectionCaps {
    /// `None` only if the limits crate refused the configuration, which
    /// validation rules out; then connections are not capped (and a
    /// warning says so) rather than the edge not starting.
    limiter: ArcSwapOption<ConcurrencyLimiter>,
    caps: Mutex<(u32, u32)>,
    hasher: KeyHasher,
}

impl ConnectionCaps {
    pub fn new(dos: &DosConfig, hasher: KeyHasher) -> Self {
        Self {
            limiter: ArcSwapOption::new(limiter(dos, &hasher)),
            caps: Mutex::new(caps_of(dos)),
            hasher,
        }
    }

    /// Applies a reloaded configuration's caps (no-op when unchanged).
    pub fn update(&self, dos: &DosConfig) {
        let mut caps = self.caps.lock().unwrap_or_else(PoisonError::into_inner);
        if *caps != caps_of(dos) {
            *caps = caps_of(dos);
            self.limiter.store(limiter(dos, &self.hasher));
        }
    }

    /// Counts a new connection from `ip`; the guard releases it when the
    /// connection ends.
    pub fn try_acquire(&self, ip: IpAddr) -> Result<Option<ConnectionGuard>, Refused> {
        match &*self.limiter.load() {
            Some(limiter) => limiter.try_acquire(ip).map(Some),
            None => Ok(None),
        }
    }
}

fn caps_of(dos: &DosConfig) -> (u32, u32) {
    (
        dos.max_connections_per_ip.max(1),
        dos.max_connections_per_prefix.max(1),
    )
}

fn limiter(dos: &DosConfig, hasher: &KeyHasher) -> Option<Arc<ConcurrencyLimiter>> {
    let (per_ip, per_prefix) = caps_of(dos);
    let config = ConcurrencyConfig {
        per_ip,
        per_prefix,
        ..ConcurrencyConfig::default()
    };
    match ConcurrencyLimiter::new(config, hasher.clone()) {
        Ok(limiter) => Some(Arc::new(limiter)),
        Err(error) => {
            tracing::warn!(%error, "connection caps not applied");
            None
        }
    }
}

/// One request's place among a site's requests in flight to its origins;
/// released when the exchange ends (the response body is done).
pub struct OriginSlot {
    site: Arc<SiteMetrics>,
}

impl OriginSlot {
    /// Takes a place, or `None` when `max` are in flight: the caller
    /// answers 503 rather than queueing behind an origin that is already
    /// saturated (queueing turns an overload into timeouts for everyone).
    pub fn acquire(site: &Arc<SiteMetrics>, max: u32) -> Option<Self> {
        let counter: &AtomicI64 = &site.origin_in_flight;
        let before = counter.fetch_add(1, Ordering::Relaxed);
        if before >= i64::from(max) {
            counter.fetch_sub(1, Ordering::Relaxed);
            site.overloaded.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Self { site: site.clone() })
    }
}

impl Drop for OriginSlot {
    fn drop(&mut self) {
        self.site.origin_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
