//! Rampart's control plane: the admin API, and the loop that keeps the edge's
//! snapshot equal to the store.
//!
//! The edge never waits on the store. Writes land in the store; a change of
//! the store's revision counter makes [`Control::sync`] compile every site
//! again and swap the edge's snapshot, and the last good set of sites is kept
//! in the data dir so a restart without the store still serves.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod analytics;
pub mod api;
mod bootstrap;
pub mod dashboard;
mod enforcement;
mod iplists;
mod list_cache;
mod listen;
mod nodes;
pub mod notify;
mod password;
mod persisted;
mod security_events;
mod signing_keys;
pub mod spool;
mod start;
mod sync;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rampart_config::Config;
use rampart_edge::state::EdgeState;
use rampart_store::Store;
use tokio::sync::Notify;

pub use analytics::{FlushError, run_analytics_flush};
pub use bootstrap::{BOOTSTRAP_EMAIL, Bootstrap, FILE_ACCOUNT, bootstrap};
pub use nodes::{HEARTBEAT_INTERVAL, STALE_AFTER, run_node_loop};
pub use notify::run_notify_loop;
pub use start::{Prepared, StartError, open_store, prepare};
pub use sync::{ReloadError, SyncError};

pub struct Control {
    store: OnceLock<Store>,
    pub edge: Arc<EdgeState>,
    /// The configuration file as last loaded: node-wide settings and the
    /// file-managed sites.
    file: tokio::sync::Mutex<Config>,
    data_dir: PathBuf,
    /// Store revision the running snapshot was built from; -1 forces a rebuild.
    applied_revision: AtomicI64,
    /// Wakes the sync loop right after a write through this node's API, so
    /// its own changes show without waiting for the next poll.
    changed: Notify,
    /// Where the dashboard is reachable, printed at start.
    pub public_url: String,
    /// Analytics drained from the edge and not yet in the store.
    analytics: analytics::Pending,
    /// `[analytics] retention`, updated on reload.
    analytics_retention_secs: AtomicU64,
    /// The store's IP lists, parsed, between rebuilds.
    lists: list_cache::ListCache,
    /// When the trust & safety decisions in force next change without a
    /// store write (a scheduled decision takes effect, one expires), unix
    /// ms; the sync loop rebuilds then even if the revision did not move.
    enforcement_due: AtomicI64,
    /// Set by SIGTERM: `/healthz` answers 503 so load balancers stop
    /// sending new connections while this node still serves.
    draining: AtomicBool,
    /// Writes the store could not take while it was down, on disk.
    spool: spool::Spool,
    /// When this process started, unix ms.
    started_at: i64,
}

/// The `$names` the rules of `account`'s sites (operator rules: `None`)
/// may use: the account's lists and the operator's, in the store and in the
/// configuration file. For checking a site spec before it is stored
/// (`compile_site_with_lists`), as the API and the command line do.
pub async fn lists_in_scope(
    store: &Store,
    file_lists: &[rampart_config::NamedList],
    account: Option<&str>,
) -> Result<std::collections::HashSet<String>, rampart_store::StoreError> {
    use rampart_store::ListsOf;
    let mut names: std::collections::HashSet<String> = file_lists
        .iter()
        .filter(|l| l.scope == rampart_config::ListScope::Operator)
        .map(|l| l.name.clone())
        .collect();
    names.extend(
        store
            .list_ip_lists(ListsOf::Operator)
            .await?
            .into_iter()
            .map(|l| l.name),
    );
    if let Some(account) = account {
        names.extend(
            store
                .list_ip_lists(ListsOf::Account(account))
                .await?
                .into_iter()
                .map(|l| l.name),
        );
    }
    Ok(names)
}

impl Control {
    /// `file` is the configuration as read from the file; `prepared` what
    /// the edge was started with.
    pub fn new(
        edge: Arc<EdgeState>,
        file: Config,
        mut prepared: Prepared,
        public_url: String,
    ) -> Arc<Self> {
        let store = OnceLock::new();
        let file_data_dir = file.node.data_dir.clone();
        let lists = prepared.take_lists();
        let applied = prepared.revision();
        let enforcement_due = prepared.enforcement_due();
        if let Some(connected) = prepared.store {
            let _ = store.set(connected);
        }
        let control = Arc::new(Self {
            store,
            edge,
            data_dir: file.node.data_dir.clone(),
            analytics_retention_secs: AtomicU64::new(file.analytics.retention.as_secs()),
            file: tokio::sync::Mutex::new(file),
            applied_revision: AtomicI64::new(applied),
            changed: Notify::new(),
            public_url,
            analytics: analytics::Pending::default(),
            lists,
            enforcement_due: AtomicI64::new(enforcement_due),
            draining: AtomicBool::new(false),
            spool: spool::Spool::open(&file_data_dir),
            started_at: api::tokens::now_ms(),
        });
        control
            .edge
            .set_abuse_intake(Arc::new(api::safety::intake::FormIntake(Arc::downgrade(
                &control,
            ))));
        control
    }

    /// The node is shutting down: health checks fail from now on, while
    /// requests are still served until the listeners close.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether [`Control::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The store, once connected. Set once; a store that was reachable and
    /// went away shows as failing queries, not as `None`.
    pub fn store(&self) -> Option<&Store> {
        self.store.get()
    }

    pub(crate) fn attach_store(&self, store: Store) {
        let _ = self.store.set(store);
        self.changed.notify_one();
    }

    /// Called after a write so the sync loop runs now rather than at its next tick.
    pub fn notify_changed(&self) {
        self.changed.notify_one();
    }
}
