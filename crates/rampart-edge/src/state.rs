//! Node-wide state shared by listeners, the admin server and reloads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;
use rampart_analytics::{Aggregator, AggregatorConfig};
use rampart_config::{Config, GeoipConfig};
use rustls::sign::CertifiedKey;

use crate::access_log::AccessLog;
use crate::geoip::GeoIp;
use crate::metrics::Metrics;
use crate::security::SecurityState;
use crate::security::attack::{AttackSwitch, UnderAttackStatus};
use crate::snapshot::{self, BuildContext, BuildError, Snapshot};
use crate::upstream::{Origin, OriginKey};
use rampart_limits::{Clock, SystemClock};

pub struct EdgeState {
    snapshot: ArcSwap<Snapshot>,
    pub default_cert: Arc<CertifiedKey>,
    pub metrics: Arc<Metrics>,
    pub access_log: AccessLog,
    /// Per-site, per-minute traffic counts; the control plane drains them
    /// into the store. Lives here so that counts survive snapshot swaps.
    pub analytics: Arc<Aggregator>,
    origins: Mutex<HashMap<OriginKey, Weak<Origin>>>,
    /// Rate-limit counters, under-attack detectors, connection caps: kept
    /// across snapshots so a reload gives no client a fresh allowance.
    pub security: SecurityState,
    /// Fallback signing key, spent challenges and tokens, siteverify's
    /// idempotency cache: kept across snapshots so a reload does not make
    /// a solved challenge usable twice.
    pub bots: crate::bots::BotState,
    /// `[geoip]` databases for `ip.src.country` / `ip.src.asnum` and the
    /// analytics' countries; replaced when a reload changes the paths.
    geoip: ArcSwap<GeoIp>,
    geoip_config: Mutex<GeoipConfig>,
    /// The configuration the listeners were bound with.
    pub initial: Config,
    version: AtomicU64,
    install_lock: tokio::sync::Mutex<()>,
    /// Files reports from `/.rampart/abuse`; installed by the control plane.
    abuse_intake: std::sync::OnceLock<Arc<dyn crate::abuse_form::AbuseIntake>>,
    /// WAF findings waiting for the control plane to store them.
    pub security_events: crate::security_events::SecurityEventBuffer,
    /// Compiled WAF rule sets, reused across snapshots.
    waf: crate::waf::WafCache,
    /// The cluster's Redis tier (`[shared]`), started with the state.
    shared: Option<rampart_shared::SharedTier>,
}

#[derive(Debug)]
pub struct ReloadReport {
    pub version: u64,
    pub sites: usize,
    /// Settings that changed but only apply after a restart.
    pub warnings: Vec<String>,
}

impl EdgeState {
    pub fn new(
        config: Config,
        default_cert: Arc<CertifiedKey>,
        metrics: Arc<Metrics>,
        access_log: AccessLog,
    ) -> Result<Arc<Self>, BuildError> {
        let origins = Mutex::new(HashMap::new());
        let security = SecurityState::new(&config.dos, config.shared.is_some())?;
        let bots = crate::bots::BotState::new()?;
        let waf = crate::waf::WafCache::default();
        let geoip = Arc::new(GeoIp::open(&config.geoip)?);
        let first = snapshot::build(
            &config,
            1,
            &BuildContext {
                metrics: &metrics,
                origins: &origins,
                security: &security,
                bots: &bots,
                waf: &waf,
            },
        )?;
        let shared = start_shared(&config, &security, &bots, &metrics);
        let state = Arc::new(Self {
            snapshot: ArcSwap::from_pointee(first),
            default_cert,
            metrics,
            access_log,
            analytics: Arc::new(Aggregator::new(analytics_config())),
            origins,
            security,
            bots,
            geoip: ArcSwap::new(geoip.clone()),
            geoip_config: Mutex::new(config.geoip.clone()),
            initial: config,
            version: AtomicU64::new(1),
            install_lock: tokio::sync::Mutex::new(()),
            abuse_intake: std::sync::OnceLock::new(),
            security_events: Default::default(),
            waf,
            shared,
        });
        spawn_attack_ticker(&state);
        if tokio::runtime::Handle::try_current().is_ok() {
            geoip.watch();
        }
        Ok(state)
    }

    /// The shared tier's status, `None` without `[shared]`.
    pub fn shared_status(&self) -> Option<&Arc<rampart_shared::SharedStatus>> {
        self.shared.as_ref().map(|t| t.status())
    }

    /// `"off"`, `"ok"` or `"degraded"`: the shared tier's state, for the
    /// node heartbeat and health answers.
    pub fn shared_state_label(&self) -> &'static str {
        self.shared_status().map_or("off", |s| s.state_label())
    }

    /// The GeoIP databases in service (lock-free).
    pub fn geoip(&self) -> arc_swap::Guard<Arc<GeoIp>> {
        self.geoip.load()
    }

    /// Opens the databases again when a reload changed `[geoip]`. Reading
    /// and verifying a database is blocking work, so it runs on the blocking
    /// pool; a failure keeps the databases in service.
    async fn reopen_geoip(&self, next: &GeoipConfig) {
        {
            let current = self.geoip_config.lock().unwrap_or_else(|e| e.into_inner());
            if *current == *next {
                return;
            }
        }
        let config = next.clone();
        match tokio::task::spawn_blocking(move || GeoIp::open(&config)).await {
            Ok(Ok(geoip)) => {
                let geoip = Arc::new(geoip);
                self.geoip.store(geoip.clone());
                geoip.watch();
                *self.geoip_config.lock().unwrap_or_else(|e| e.into_inner()) = next.clone();
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "[geoip] not reloaded; the databases in service stay");
            }
            Err(error) => tracing::warn!(%error, "[geoip] reload task failed"),
        }
    }

    /// A site's under-attack state (manual setting, automatic detection,
    /// rates), or `None` when no site has that name. For the dashboard.
    /// Installs the report intake (once; later calls are ignored).
    pub fn set_abuse_intake(&self, intake: Arc<dyn crate::abuse_form::AbuseIntake>) {
        let _ = self.abuse_intake.set(intake);
    }

    pub fn abuse_intake(&self) -> Option<&Arc<dyn crate::abuse_form::AbuseIntake>> {
        self.abuse_intake.get()
    }

    /// Redeems a token of the abuse form's captcha (the form on any site,
    /// or the public report API): once, within its lifetime, signed by the
    /// current or previous key.
    pub fn redeem_abuse_captcha(
        &self,
        response: &str,
    ) -> Result<(), rampart_challenge::captcha::ErrorCode> {
        rampart_challenge::captcha::redeem_own(
            &self.snapshot().ring,
            &self.bots.spent,
            rampart_challenge::captcha::ABUSE_FORM_SITEKEY,
            response,
            crate::bots::unix_now(),
        )
    }

    pub fn under_attack_status(&self, site: &str) -> Option<UnderAttackStatus> {
        let snapshot = self.snapshot();
        let site = snapshot.site_named(site)?;
        let sec = &site.security;
        Some(sec.attack.status(sec.under_attack, sec.auto_under_attack))
    }

    /// The last automatic under-attack switches of every site (at most 64),
    /// oldest first. For the dashboard.
    pub fn recent_attack_switches(&self) -> Vec<AttackSwitch> {
        self.security.recent_switches()
    }

    /// One detector tick at `now`: what the background task does every
    /// second (public so tests can drive time).
    pub fn tick_attack_detection(&self, now: rampart_limits::Millis) {
        let before = self.security.switches.total.load(Ordering::Relaxed);
        self.security.tick(&self.snapshot().sites, now);
        let after = self.security.switches.total.load(Ordering::Relaxed);
        self.metrics
            .attack_switches
            .fetch_add(after.saturating_sub(before), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    /// Swaps in a snapshot built from `config`: the file's node-wide settings
    /// with the sites the control plane compiled. On error the running
    /// snapshot stays. Serialized so versions increase in install order.
    pub async fn install(&self, config: &Config) -> Result<ReloadReport, BuildError> {
        let _serialized = self.install_lock.lock().await;
        let version = self.version.fetch_add(1, Ordering::Relaxed) + 1;
        let next = snapshot::build(
            config,
            version,
            &BuildContext {
                metrics: &self.metrics,
                origins: &self.origins,
                security: &self.security,
                bots: &self.bots,
                waf: &self.waf,
            },
        )?;
        let in_use: Vec<_> = next
            .sites
            .iter()
            .filter_map(|s| s.waf.as_ref().map(|w| w.rules.clone()))
            .collect();
        self.waf.retain_used(&in_use);
        self.security.connections.update(&config.dos);
        self.reopen_geoip(&config.geoip).await;
        let sites = next.sites.len();
        self.snapshot.store(Arc::new(next));
        Ok(ReloadReport {
            version,
            sites,
            warnings: restart_only_changes(&self.initial, config),
        })
    }
}

/// Ticks the under-attack detectors once a second for as long as the state
/// lives. Needs a tokio runtime; without one (plain unit tests) there is no
/// automatic detection, and tests drive [`EdgeState::tick_attack_detection`].
fn spawn_attack_ticker(state: &Arc<EdgeState>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(state);
    runtime.spawn(async move {
        // Ticks half-way through wall-clock seconds, kept in that phase
        // (Skip, not Delay): with a detector bucket of one second, a tick
        // near the boundary would land now in one bucket, now in the next,
        // giving one bucket two seconds' count and the next none.
        let second = std::time::Duration::from_secs(1);
        let into_second = SystemClock.now().0 % 1_000;
        let to_half = (1_500 - into_second) % 1_000;
        let start = tokio::time::Instant::now() + std::time::Duration::from_millis(to_half);
        let mut every = tokio::time::interval_at(start, second);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // One tick at once, as before the alignment: it sets the sites'
        // gauges right after start.
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) {
                every.tick().await;
            }
            let Some(state) = weak.upgrade() else {
                return;
            };
            state.tick_attack_detection(SystemClock.now());
        }
    });
}

fn restart_only_changes(running: &Config, next: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    if running.listen.http != next.listen.http
        || running.listen.https != next.listen.https
        || running.listen.admin != next.listen.admin
    {
        warnings.push("[listen] changed: listeners are bound at start; restart to apply".into());
    }
    if running.log != next.log {
        warnings.push("[log] changed: the access log target applies after a restart".into());
    }
    if running.node.data_dir != next.node.data_dir || running.node.workers != next.node.workers {
        warnings.push("[node] changed: data_dir and workers apply after a restart".into());
    }
    // Client timeouts are read from the snapshot per connection; the head
    // size limit is fixed when the listeners start.
    if running.proxy.max_header_bytes != next.proxy.max_header_bytes {
        warnings.push("[proxy] max_header_bytes applies after a restart".into());
    }
    if running.shared != next.shared {
        warnings
            .push("[shared] changed: the Redis tier connects at start; restart to apply".into());
    }

    warnings
}

/// Sized for an edge with many sites rather than a few very busy ones: up to
/// 1,024 sites per minute get their own figures (the rest count as "other"),
/// and each keeps 64 heavy hitters per dimension, which still finds any
/// client, path or rule above 1/64 of a site's traffic. The worst case (every
/// site flooded with distinct 128-byte paths in every open minute) stays
/// bounded; `analytics_memory_bound_is_sane` pins it.
pub fn analytics_config() -> AggregatorConfig {
    AggregatorConfig {
        max_sites: 1024,
        tracked_keys: 64,
        max_key_bytes: 128,
        ..AggregatorConfig::default()
    }
}

/// Starts the Redis tier when `[shared]` is configured (and a runtime is
/// there to run its task): counters' deltas, the limit key seed, the
/// cluster's spent set and the status for `/metrics`. Connection happens in
/// the background; until then the node is degraded and decides alone.
fn start_shared(
    config: &Config,
    security: &SecurityState,
    bots: &crate::bots::BotState,
    metrics: &Metrics,
) -> Option<rampart_shared::SharedTier> {
    let shared = config.shared.as_ref()?;
    tokio::runtime::Handle::try_current().ok()?;
    match rampart_shared::SharedTier::start(
        shared,
        Some(security.counters()),
        Box::new(security.seed_hook()),
    ) {
        Ok(tier) => {
            bots.set_shared_spent(tier.spent().clone());
            metrics.set_shared_status(tier.status().clone());
            tracing::info!(redis = ?shared.redis, "shared tier configured");
            Some(tier)
        }
        Err(e) => {
            tracing::error!(error = %e, "shared tier not started; this node counts and redeems tokens alone");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn analytics_memory_bound_is_sane() {
        let bound = super::analytics_config().worst_case_bytes();
        assert!(bound < 512 << 20, "worst case {} MiB", bound >> 20);
    }
}
