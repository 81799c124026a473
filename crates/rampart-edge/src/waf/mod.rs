//! The WAF phase: a site's settings compiled into a rampart-waf rule set
//! (the OWASP CRS plus the site's paranoia, thresholds and exclusions),
//! and the per-request inspection that runs after the site's own rules.
//!
//! Compiling the CRS costs hundreds of milliseconds, so rule sets live in
//! a [`WafCache`] on the edge state, keyed by everything that goes into
//! them: a snapshot rebuild reuses them, and sites with the same settings
//! share one. A rule set that fails to load fails the snapshot build, so a
//! reload with a broken CRS keeps the running configuration.

mod directives;
mod inspect;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rampart_config::{SiteConfig, WafMode, WafNodeConfig, WafSettings};
use rampart_waf::RuleSet;

pub use inspect::{Inspected, ResponseCheck, inspect};

/// One site's compiled WAF.
pub struct SiteWaf {
    pub rules: Arc<RuleSet>,
    pub settings: WafSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum WafBuildError {
    #[error(
        "site {site}: the WAF is on but no CRS directory is set; \
         set `crs` in the site's `waf` or `[waf] crs` for the node"
    )]
    NoCrs { site: String },
    #[error("site {site}: WAF exclusion {index}: {message}")]
    Exclusion {
        site: String,
        index: usize,
        message: String,
    },
    #[error("site {site}: the WAF rules did not load: {source}")]
    Load {
        site: String,
        source: rampart_waf::LoadError,
    },
}

/// What a compiled rule set was made from: the CRS directory, its files'
/// fingerprint, and the site's directives before and after the rules.
type CacheKey = (PathBuf, u64, String, String);

/// Compiled rule sets by what made them.
#[derive(Default)]
pub struct WafCache {
    sets: Mutex<HashMap<CacheKey, Arc<RuleSet>>>,
}

/// Names, sizes and modification times of the CRS directory's setup file
/// and rule and data files: an operator who edits a rule file and reloads
/// gets it compiled again (and refused if it no longer loads).
fn fingerprint(crs: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut stat = |path: &Path| {
        path.hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(path) {
            meta.len().hash(&mut hasher);
            meta.modified().ok().hash(&mut hasher);
        }
    };
    stat(&crs.join("crs-setup.conf.example"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(crs.join("rules"))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for file in &files {
        stat(file);
    }
    hasher.finish()
}

/// One snapshot build's use of the cache: each CRS directory's files are
/// looked at once per build, however many sites run it.
pub struct WafBuild<'a> {
    cache: &'a WafCache,
    node: &'a WafNodeConfig,
    fingerprints: HashMap<PathBuf, u64>,
}

impl WafCache {
    /// Starts a snapshot build with the node's `[waf]` settings.
    pub fn build<'a>(&'a self, node: &'a WafNodeConfig) -> WafBuild<'a> {
        WafBuild {
            cache: self,
            node,
            fingerprints: HashMap::new(),
        }
    }
}

impl WafBuild<'_> {
    /// The site's WAF, `None` when it is off.
    pub fn site(&mut self, cfg: &SiteConfig) -> Result<Option<Arc<SiteWaf>>, WafBuildError> {
        let settings = &cfg.security.waf;
        if settings.mode == WafMode::Off {
            return Ok(None);
        }
        let crs = self
            .node
            .crs_for(settings)
            .ok_or_else(|| WafBuildError::NoCrs {
                site: cfg.name.clone(),
            })?;
        let (before, after) =
            directives::site_directives(settings).map_err(|(index, message)| {
                WafBuildError::Exclusion {
                    site: cfg.name.clone(),
                    index,
                    message,
                }
            })?;
        let files = *self
            .fingerprints
            .entry(crs.to_path_buf())
            .or_insert_with(|| fingerprint(crs));
        let key = (crs.to_path_buf(), files, before, after);
        let mut sets = self.cache.sets.lock().unwrap_or_else(|e| e.into_inner());
        let rules = match sets.get(&key) {
            Some(rules) => rules.clone(),
            None => {
                let rules =
                    Arc::new(
                        load(crs, &key.2, &key.3).map_err(|source| WafBuildError::Load {
                            site: cfg.name.clone(),
                            source,
                        })?,
                    );
                sets.insert(key, rules.clone());
                rules
            }
        };
        Ok(Some(Arc::new(SiteWaf {
            rules,
            settings: settings.clone(),
        })))
    }
}

impl WafCache {
    /// Drops rule sets no site uses any more (after a successful build).
    pub fn retain_used(&self, used: &[Arc<RuleSet>]) {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.retain(|_, rules| used.iter().any(|u| Arc::ptr_eq(u, rules)));
    }
}

fn load(crs: &Path, before: &str, after: &str) -> Result<RuleSet, rampart_waf::LoadError> {
    let mut builder = rampart_waf::RuleSetBuilder::new();
    builder.add_crs(crs, before)?;
    builder.add_directives(Path::new("<site exclusions>"), crs, after)?;
    builder.build()
}
