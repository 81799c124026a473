//! The last good set of sites, kept in the data dir so that a restart while
//! the store is unreachable still serves every site.

use std::io::Write;
use std::path::{Path, PathBuf};

use rampart_store::SiteRecord;
use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "last-good-snapshot.json";

#[derive(Serialize, Deserialize)]
struct Persisted {
    revision: i64,
    sites: Vec<SiteRecord>,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Written to a temporary file and renamed over the old one, so a crash
/// mid-write leaves the previous copy. Owner-only: specs carry TLS keys.
pub(crate) fn save(data_dir: &Path, revision: i64, sites: &[SiteRecord]) -> std::io::Result<()> {
    let body = serde_json::to_vec(&Persisted {
        revision,
        sites: sites.to_vec(),
    })
    .map_err(std::io::Error::other)?;
    let target = path(data_dir);
    let temp = data_dir.join(format!("{FILE_NAME}.tmp"));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(&body)?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, &target)
}

pub(crate) fn load(data_dir: &Path) -> Option<(i64, Vec<SiteRecord>)> {
    let bytes = std::fs::read(path(data_dir)).ok()?;
    match serde_json::from_slice::<Persisted>(&bytes) {
        Ok(persisted) => Some((persisted.revision, persisted.sites)),
        Err(error) => {
            tracing::error!("{} is unreadable: {error}", path(data_dir).display());
            None
        }
    }
}
