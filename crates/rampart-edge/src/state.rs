//! Node-wide state shared by listeners, the admin server and reloads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;
use rampart_analytics::{Aggregator, AggregatorConfig};
use rampart_config::Config;
use rustls::sign::CertifiedKey;

use crate::access_log::AccessLog;
use crate::metrics::Metrics;
use crate::snapshot::{self, BuildContext, BuildError, Snapshot};
use crate::upstream::{Origin, OriginKey};

pub struct EdgeState {
    snapshot: ArcSwap<Snapshot>,
    pub default_cert: Arc<CertifiedKey>,
    pub metrics: Arc<Metrics>,
    pub access_log: AccessLog,
    /// Per-site, per-minute traffic counts; the control plane drains them
    /// into the store. Lives here so that counts survive snapshot swaps.
    pub analytics: Arc<Aggregator>,
    origins: Mutex<HashMap<OriginKey, Weak<Origin>>>,
    /// The configuration the listeners were bound with.
    pub initial: Config,
    version: AtomicU64,
    install_lock: tokio::sync::Mutex<()>,
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
        let first = snapshot::build(
            &config,
            1,
            &BuildContext {
                metrics: &metrics,
                origins: &origins,
            },
        )?;
        Ok(Arc::new(Self {
            snapshot: ArcSwap::from_pointee(first),
            default_cert,
            metrics,
            access_log,
            analytics: Arc::new(Aggregator::new(analytics_config())),
            origins,
            initial: config,
            version: AtomicU64::new(1),
            install_lock: tokio::sync::Mutex::new(()),
        }))
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
            },
        )?;
        let sites = next.sites.len();
        self.snapshot.store(Arc::new(next));
        Ok(ReloadReport {
            version,
            sites,
            warnings: restart_only_changes(&self.initial, config),
        })
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn analytics_memory_bound_is_sane() {
        let bound = super::analytics_config().worst_case_bytes();
        assert!(bound < 512 << 20, "worst case {} MiB", bound >> 20);
    }
}
