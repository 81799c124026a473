//! Bringing the control plane up: open the store, provision the file's
//! sites, create the first operator admin on a fresh store, and compile the
//! sites the edge starts with. Runs before the edge exists, so the edge's
//! first snapshot already holds every site.

use std::sync::Arc;
use std::time::Duration;

use rampart_config::{Config, NamedList};
use rampart_store::{SiteRecord, Store, StoreError};

use crate::Control;
use crate::bootstrap::{Bootstrap, bootstrap};
use crate::list_cache::{ListCache, named};
use crate::sync::{compile_records, operator_rules_for_snapshot, provision_file_sites};
use crate::{enforcement, persisted, signing_keys};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store: {0}")]
    Open(StoreError),
    #[error("the configuration file's sites cannot be provisioned into the store: {0}")]
    FileSites(StoreError),
    #[error("cannot create the first operator admin: {0}")]
    Bootstrap(StoreError),
    #[error("cannot read the sites from the store: {0}")]
    Read(StoreError),
    #[error("cannot make the first challenge signing key: {0}")]
    ChallengeKey(StoreError),
}

/// What the edge starts with.
pub struct Prepared {
    /// `None` when the store was unreachable and the kept snapshot is served.
    pub store: Option<Store>,
    /// The file's node settings with the store's sites.
    pub config: Config,
    /// The one-time admin token of a fresh store.
    pub bootstrap: Option<Bootstrap>,
    revision: i64,
    /// When the first snapshot's enforcement next changes on its own.
    enforcement_due: i64,
    /// The lists parsed for the first snapshot, kept for later rebuilds.
    lists: ListCache,
}

/// The store `[store] url` names, else SQLite in the data dir.
pub async fn open_store(config: &Config) -> Result<Store, StoreError> {
    match &config.store.url {
        Some(url) => Store::open(url).await,
        None => Store::open_in_data_dir(&config.node.data_dir).await,
    }
}

/// Opens the store and compiles its sites. A PostgreSQL store that cannot be
/// reached is not fatal when the data dir keeps a last good snapshot: the
/// edge serves that and [`Control::connect_later`] keeps trying. An embedded
/// store that cannot be opened, or one written by a newer rampart, is fatal.
pub async fn prepare(config: &Config) -> Result<Prepared, StartError> {
    let store = match open_store(config).await {
        Ok(store) => store,
        Err(error @ StoreError::SchemaTooNew { .. }) => return Err(StartError::Open(error)),
        Err(error) if config.store.url.is_some() => {
            let Some(kept) = persisted::load(&config.node.data_dir) else {
                return Err(StartError::Open(error));
            };
            tracing::warn!(
                "the store is unreachable ({error}); serving the {} site(s) kept from the last good snapshot until it is back",
                kept.sites.len()
            );
            let mut served = with_sites(config, &kept.sites, kept.lists, &kept.operator_rules);
            let enforcement_due = apply_enforcement(&mut served, &kept.sites, &kept.enforcement);
            served.challenge_keys = kept.challenge_keys;
            return Ok(Prepared {
                store: None,
                config: served,
                bootstrap: None,
                revision: kept.revision,
                enforcement_due,
                lists: ListCache::default(),
            });
        }
        Err(error) => return Err(StartError::Open(error)),
    };
    provision_file_sites(&store, config)
        .await
        .map_err(StartError::FileSites)?;
    let fresh = bootstrap(&store).await.map_err(StartError::Bootstrap)?;
    // Before the revision is read, so the first snapshot already signs with
    // the key every node shares.
    signing_keys::rotate_if_due(&store)
        .await
        .map_err(StartError::ChallengeKey)?;
    let revision = store.revision().await.map_err(StartError::Read)?;
    let records = store.list_sites(None).await.map_err(StartError::Read)?;
    let lists = ListCache::default();
    let loaded = lists.load(&store).await.map_err(StartError::Read)?;
    let operator_rules = store
        .operator_rules()
        .await
        .map_err(StartError::Read)?
        .rules;
    let challenge_keys = signing_keys::load(&store).await.map_err(StartError::Read)?;
    let enforcement: Vec<enforcement::Row> = store
        .enforcement_decisions(crate::api::tokens::now_ms())
        .await
        .map_err(StartError::Read)?
        .into_iter()
        .map(enforcement::Row::from_store)
        .collect();
    let kept = persisted::Snapshot {
        revision,
        sites: &records,
        lists: &loaded,
        operator_rules: &operator_rules,
        challenge_keys: &challenge_keys,
        enforcement: &enforcement,
    };
    if let Err(error) = persisted::save(&config.node.data_dir, kept) {
        tracing::warn!("could not keep the sites in the data dir: {error}");
    }
    let mut served = with_sites(config, &records, named(&loaded), &operator_rules);
    let enforcement_due = apply_enforcement(&mut served, &records, &enforcement);
    served.challenge_keys = challenge_keys;
    Ok(Prepared {
        config: served,
        store: Some(store),
        bootstrap: fresh,
        revision,
        enforcement_due,
        lists,
    })
}

/// Trust & safety decisions in force now on the compiled sites; answers
/// when that set next changes on its own (`i64::MAX`: never).
fn apply_enforcement(
    config: &mut Config,
    records: &[SiteRecord],
    rows: &[enforcement::Row],
) -> i64 {
    let public_url = config.admin.public_url.clone();
    let now = crate::api::tokens::now_ms();
    enforcement::apply(&mut config.sites, records, rows, now, public_url.as_deref());
    enforcement::next_change(rows, now).unwrap_or(i64::MAX)
}

/// The file's configuration with the store's lists, operator rules and
/// sites added. `Null` operator rules: none (a start without the store).
fn with_sites(
    config: &Config,
    records: &[SiteRecord],
    lists: Vec<NamedList>,
    operator_rules: &serde_json::Value,
) -> Config {
    let mut config = config.clone();
    config.lists.extend(lists);
    if !operator_rules.is_null() {
        let managed = operator_rules_for_snapshot(operator_rules, &config);
        config.rules.extend(managed);
    }
    config.sites = compile_records(records, &config);
    config
}

impl Prepared {
    pub(crate) fn revision(&self) -> i64 {
        self.revision
    }

    pub(crate) fn enforcement_due(&self) -> i64 {
        self.enforcement_due
    }

    pub(crate) fn take_lists(&mut self) -> ListCache {
        std::mem::take(&mut self.lists)
    }
}

impl Control {
    /// Keeps trying to open the store in the background after a start
    /// without it; the edge serves the kept snapshot meanwhile.
    pub fn connect_later(self: &Arc<Self>, on_bootstrap: fn(&Bootstrap, &str)) {
        let control = self.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                let config = control.file.lock().await.clone();
                let store = match open_store(&config).await {
                    Ok(store) => store,
                    Err(error) => {
                        tracing::debug!("store still unreachable: {error}");
                        continue;
                    }
                };
                if let Err(error) = provision_file_sites(&store, &config).await {
                    tracing::error!("{}", StartError::FileSites(error));
                }
                match bootstrap(&store).await {
                    Ok(Some(fresh)) => on_bootstrap(&fresh, &control.public_url),
                    Ok(None) => {}
                    Err(error) => tracing::error!("{}", StartError::Bootstrap(error)),
                }
                tracing::info!("connected to the store");
                control.attach_store(store);
                return;
            }
        });
    }
}
