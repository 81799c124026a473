//! Rule sets for the WAF tests: the real OWASP CRS beside the workspace,
//! or small stand-ins in a temporary directory.

use std::path::{Path, PathBuf};

use rampart_store::Store;

use super::Rampart;
use super::backends::{Backend, store_table};

/// `RAMPART_CRS_DIR`, else `shared/crs` beside the workspace; `None` (the
/// caller skips, saying so) when it is not there.
pub fn crs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RAMPART_CRS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs"),
        PathBuf::from,
    );
    dir.join("rules").is_dir().then_some(dir)
}

/// A CRS-shaped directory at `dir` with one rule file holding `rules`.
pub fn rule_set(dir: &Path, rules: &str) {
    std::fs::create_dir_all(dir.join("rules")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    super::write(&dir.join("crs-setup.conf.example"), "# local rules only\n");
    super::write(&dir.join("rules/REQUEST-100-LOCAL.conf"), rules);
}

/// A rampart whose node has a (nearly empty) rule set as `[waf] crs`, and
/// its store.
pub async fn start_with_rule_set(backend: Backend) -> (Rampart, Store) {
    let table = store_table(backend).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    rule_set(&dir.path().join("crs"), "# rules\n");
    let rampart = Rampart::builder()
        .dir(dir)
        .tables(&format!("{table}\n[waf]\ncrs = \"crs\"\n"))
        .start();
    let store = match table.split('"').nth(1) {
        Some(url) => Store::open(url).await,
        None => Store::open_in_data_dir(&rampart.dir.path().join("data")).await,
    }
    .unwrap_or_else(|e| panic!("open the store: {e}"));
    (rampart, store)
}
