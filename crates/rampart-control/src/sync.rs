//! Store → edge: compile the stored sites into the edge's snapshot whenever
//! the store's revision moves, and file → store: provision the sites the
//! configuration file declares.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rampart_config::{
    ChallengeKey, Config, ConfigErrors, FirewallRule, ListScope, NamedList, OriginSpec, RuleSpec,
    SiteConfig, SiteSpec, compile_site_with_lists,
};
use rampart_edge::snapshot::BuildError;
use rampart_edge::state::ReloadReport;
use rampart_store::{Actor, SiteRecord, SiteWrite, Store, StoreError, SyncReport};
use tokio::sync::watch;

use crate::bootstrap::FILE_ACCOUNT;
use crate::{Control, enforcement, list_cache, persisted, signing_keys};

/// How often the store's revision is read. A change made through this
/// node's API is applied at once; this bounds how late a change made by
/// another process (CLI, another node) shows.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the store is not connected")]
    NoStore,
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("the new snapshot could not be built: {0}")]
    Build(#[from] BuildError),
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("no configuration file: this edge runs on built-in defaults")]
    NoConfigFile,
    #[error("{0}")]
    Invalid(ConfigErrors),
    #[error("the configuration file's sites could not be provisioned: {0}")]
    Provision(StoreError),
    #[error("{0}")]
    Sync(#[from] SyncError),
}

impl Control {
    /// Rebuilds the edge snapshot if the store changed since the last build.
    /// Returns the report when a new snapshot was installed.
    pub async fn sync(&self) -> Result<Option<ReloadReport>, SyncError> {
        let store = self.store().ok_or(SyncError::NoStore)?;
        let revision = store.revision().await?;
        let now = crate::api::tokens::now_ms();
        if revision == self.applied_revision.load(Ordering::Acquire)
            && now < self.enforcement_due.load(Ordering::Acquire)
        {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let records = store.list_sites(None).await?;
        let lists = self.lists.load(store).await?;
        let operator_rules = store.operator_rules().await?.rules;
        let challenge_keys = signing_keys::load(store).await?;
        let enforcement: Vec<enforcement::Row> = store
            .enforcement_decisions(now)
            .await?
            .into_iter()
            .map(enforcement::Row::from_store)
            .collect();
        let report = self
            .install(
                &records,
                list_cache::named(&lists),
                &operator_rules,
                &challenge_keys,
                (&enforcement, now),
            )
            .await?;
        self.applied_revision.store(revision, Ordering::Release);
        self.enforcement_due.store(
            enforcement::next_change(&enforcement, now).unwrap_or(i64::MAX),
            Ordering::Release,
        );
        let kept = persisted::Snapshot {
            revision,
            sites: &records,
            lists: &lists,
            operator_rules: &operator_rules,
            challenge_keys: &challenge_keys,
            enforcement: &enforcement,
        };
        if let Err(error) = persisted::save(&self.data_dir, kept) {
            tracing::warn!(
                "could not keep the sites in the data dir for starts without the store: {error}"
            );
        }
        tracing::info!(
            revision,
            version = report.version,
            sites = report.sites,
            elapsed_ms = started.elapsed().as_millis(),
            "edge snapshot rebuilt from the store"
        );
        Ok(Some(report))
    }

    async fn install(
        &self,
        records: &[SiteRecord],
        lists: Vec<NamedList>,
        operator_rules: &serde_json::Value,
        challenge_keys: &[ChallengeKey],
        (enforcement, now): (&[enforcement::Row], i64),
    ) -> Result<ReloadReport, SyncError> {
        let mut config = self.file.lock().await.clone();
        config.challenge_keys = challenge_keys.to_vec();
        config.lists.extend(lists);
        // The file's `[[rules]]` first, then the managed ones.
        let managed = operator_rules_for_snapshot(operator_rules, &config);
        config.rules.extend(managed);
        config.sites = compile_records(records, &config);
        let public_url = config.admin.public_url.clone();
        enforcement::apply(
            &mut config.sites,
            records,
            enforcement,
            now,
            public_url.as_deref(),
        );
        Ok(self.edge.install(&config).await?)
    }

    /// Runs [`Control::sync`] on every poll tick and every local write until
    /// shutdown. Failures keep the running snapshot and are logged once per
    /// change of state, not on every tick.
    ///
    /// Every [`signing_keys::CHECK_INTERVAL`] it also makes a new challenge
    /// signing key when one is due; the rotation moves the store's
    /// revision, so this node and every other swaps the new key in.
    pub async fn run_sync_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut failing = false;
        let mut next_key_check = Instant::now();
        loop {
            if Instant::now() >= next_key_check
                && let Some(store) = self.store()
            {
                next_key_check = Instant::now() + signing_keys::CHECK_INTERVAL;
                if let Err(error) = signing_keys::rotate_if_due(store).await {
                    tracing::error!("cannot rotate the challenge signing key: {error}");
                }
            }
            match self.sync().await {
                Ok(_) => {
                    if failing {
                        tracing::info!("the store is reachable again");
                    }
                    failing = false;
                }
                Err(SyncError::NoStore) => {}
                Err(error) => {
                    if !failing {
                        tracing::error!("{error}; the edge keeps serving the last good snapshot");
                    }
                    failing = true;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = self.changed.notified() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Reads the configuration file again (SIGHUP, `rampart reload`,
    /// `POST /-/reload`): provisions its sites and rebuilds the snapshot. A
    /// bad file changes nothing.
    pub async fn reload_file(&self) -> Result<ReloadReport, ReloadError> {
        let result = self.reload_file_inner().await;
        match &result {
            Ok(report) => {
                // Counted here, not per snapshot install: the store's own
                // changes also install snapshots, and one reload may race
                // the poll into installing twice.
                self.edge.metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    version = report.version,
                    sites = report.sites,
                    "configuration reloaded"
                );
                for warning in &report.warnings {
                    tracing::warn!("{warning}");
                }
            }
            Err(error) => {
                self.edge
                    .metrics
                    .reloads_failed
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!("reload refused, keeping the running configuration:\n{error}");
            }
        }
        result
    }

    async fn reload_file_inner(&self) -> Result<ReloadReport, ReloadError> {
        let path = self
            .file
            .lock()
            .await
            .source
            .clone()
            .ok_or(ReloadError::NoConfigFile)?;
        let config = tokio::task::spawn_blocking(move || rampart_config::load_file(&path))
            .await
            .map_err(|_| ReloadError::NoConfigFile)?
            .map_err(ReloadError::Invalid)?;
        let store = self.store().ok_or(ReloadError::Sync(SyncError::NoStore))?;
        provision_file_sites(store, &config)
            .await
            .map_err(ReloadError::Provision)?;
        self.analytics_retention_secs
            .store(config.analytics.retention.as_secs(), Ordering::Relaxed);
        *self.file.lock().await = config;
        self.applied_revision.store(-1, Ordering::Release);
        match self.sync().await? {
            Some(report) => Ok(report),
            // Another task rebuilt in between; that build already used the new file.
            None => Ok(ReloadReport {
                version: self.edge.snapshot().version,
                sites: self.edge.snapshot().sites.len(),
                warnings: Vec::new(),
            }),
        }
    }
}

/// Makes the store's file-managed sites equal to the file's `[[site]]`
/// tables. Nothing is written when they already are.
pub(crate) async fn provision_file_sites(
    store: &Store,
    config: &Config,
) -> Result<SyncReport, StoreError> {
    let account = match store.account_by_name(FILE_ACCOUNT).await? {
        Some(account) => account,
        None if config.sites.is_empty() => return Ok(SyncReport::default()),
        None => {
            store
                .create_account(&Actor::system("config file"), FILE_ACCOUNT)
                .await?
        }
    };
    let sites = config
        .sites
        .iter()
        .map(|site| {
            let spec = SiteSpec::from_config(site);
            SiteWrite {
                name: spec.name.clone(),
                hosts: spec.normalized_hosts(),
                spec: serde_json::to_value(&spec).unwrap_or_default(),
            }
        })
        .collect();
    store
        .sync_file_sites(&Actor::system("config file"), &account.id, sites)
        .await
}

/// The `$lists` each account's rules see: its own lists, the operator's
/// (store and file) lists, by name.
pub(crate) struct Scopes<'a> {
    operator: HashSet<&'a str>,
    accounts: HashMap<&'a str, HashSet<&'a str>>,
}

impl<'a> Scopes<'a> {
    pub(crate) fn new(lists: &'a [NamedList]) -> Self {
        let mut scopes = Scopes {
            operator: HashSet::new(),
            accounts: HashMap::new(),
        };
        for list in lists {
            match &list.scope {
                ListScope::Operator => {
                    scopes.operator.insert(&list.name);
                }
                ListScope::Account(account) => {
                    scopes
                        .accounts
                        .entry(account)
                        .or_default()
                        .insert(&list.name);
                }
            }
        }
        scopes
    }

    /// Whether `$name` means a list for the sites of `account`.
    pub(crate) fn sees(&self, account: Option<&str>, name: &str) -> bool {
        self.operator.contains(name)
            || account
                .and_then(|a| self.accounts.get(a))
                .is_some_and(|names| names.contains(name))
    }
}

/// A stored site that no longer compiles (say its spec predates a stricter
/// check, or a list it used is gone) is left out with an error rather than
/// taking every site down. `config.lists` holds every list in the snapshot.
pub(crate) fn compile_records(records: &[SiteRecord], config: &Config) -> Vec<SiteConfig> {
    let scopes = Scopes::new(&config.lists);
    records
        .iter()
        .filter_map(|record| {
            let lists = |name: &str| scopes.sees(Some(&record.account_id), name);
            let compiled = serde_json::from_value::<SiteSpec>(record.spec.clone())
                .map_err(|e| e.to_string())
                .and_then(|spec| {
                    // Only the file's sites may name their own CRS directory.
                    let compile = if record.file_managed {
                        rampart_config::compile_file_site_with_lists
                    } else {
                        compile_spec
                    };
                    compile(&spec, &config.proxy.timeouts, &lists)
                        .or_else(|errors| {
                            missing_lists_only(errors, &record.name, || {
                                compile(&spec, &config.proxy.timeouts, &|_| true)
                            })
                        })
                        .map_err(|errors| {
                            errors
                                .iter()
                                .map(|e| format!("{}: {}", e.field, e.message))
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                });
            match compiled {
                Ok(mut site) => {
                    site.account = Some(record.account_id.clone());
                    Some(site)
                }
                Err(error) => {
                    tracing::error!(site = %record.name, "stored site left out of the snapshot: {error}");
                    None
                }
            }
        })
        .collect()
}

/// Compiles a site spec whose rules may use the lists `lists` says exist.
pub(crate) fn compile_spec(
    spec: &SiteSpec,
    timeouts: &rampart_config::Timeouts,
    lists: &dyn Fn(&str) -> bool,
) -> Result<SiteConfig, Vec<rampart_config::FieldError>> {
    compile_site_with_lists(spec, timeouts, lists)
}

/// Checks operator rules as the edge compiles them: as the `rules` of a
/// site (so ids, actions and expressions mean the same) whose `$lists` are
/// the operator's. Problems are addressed as `rules[N]…`.
pub(crate) fn compile_operator_rules(
    rules: &[RuleSpec],
    timeouts: &rampart_config::Timeouts,
    lists: &dyn Fn(&str) -> bool,
) -> Result<Vec<FirewallRule>, Vec<rampart_config::FieldError>> {
    let carrier = SiteSpec {
        name: "operator".to_owned(),
        hosts: vec!["operator.invalid".to_owned()],
        origins: vec![OriginSpec::Url("http://127.0.0.1:9".to_owned())],
        rules: Some(rules.to_vec()),
        ..SiteSpec::default()
    };
    compile_site_with_lists(&carrier, timeouts, lists)
        .map(|site| site.security.rules)
        .map_err(|errors| {
            errors
                .into_iter()
                .filter(|e| e.field.starts_with("rules"))
                .collect()
        })
}

/// The stored operator rules for the snapshot. Rules that no longer
/// compile (a list they used is gone from the file) are all left out with
/// an error: half a rule set could let through what the other half blocks
/// no better than none, and the sites keep running.
pub(crate) fn operator_rules_for_snapshot(
    stored: &serde_json::Value,
    config: &Config,
) -> Vec<FirewallRule> {
    let scopes = Scopes::new(&config.lists);
    let rules = match serde_json::from_value::<Vec<RuleSpec>>(stored.clone()) {
        Ok(rules) => rules,
        Err(error) => {
            tracing::error!("stored operator rules are unreadable, left out: {error}");
            return Vec::new();
        }
    };
    let compiled = compile_operator_rules(&rules, &config.proxy.timeouts, &|name| {
        scopes.sees(None, name)
    })
    .or_else(|errors| {
        missing_lists_only(errors, "operator rules", || {
            compile_operator_rules(&rules, &config.proxy.timeouts, &|_| true)
        })
    });
    match compiled {
        Ok(rules) => rules,
        Err(errors) => {
            let text = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            tracing::error!("operator rules left out of the snapshot: {text}");
            Vec::new()
        }
    }
}

/// When the only problems are `$lists` that no longer exist (a list gone
/// from the file on reload, or deleted in the moment between a rule's check
/// and its write), compiles again as if they existed: the edge then leaves
/// out just the rules naming them, with a warning, instead of the whole
/// site going dark. Any other problem stands.
fn missing_lists_only<T>(
    errors: Vec<rampart_config::FieldError>,
    what: &str,
    again: impl FnOnce() -> Result<T, Vec<rampart_config::FieldError>>,
) -> Result<T, Vec<rampart_config::FieldError>> {
    if errors.is_empty() || errors.iter().any(|e| e.code != "unknown_list") {
        return Err(errors);
    }
    for error in &errors {
        tracing::error!(site = %what, "{}: {}; the rules naming it are left out", error.field, error.message);
    }
    again()
}
