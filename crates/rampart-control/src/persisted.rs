//! The last good set of sites, IP lists, operator rules and challenge
//! signing keys, kept in the data dir so that a restart while the store is
//! unreachable still serves every site with its rules, and still honours
//! the clearances the other nodes signed.
//!
//! Sites, list names and operator rules go in one JSON file, rewritten on
//! every rebuild. List entries go in one text file per list version
//! (`lists/<id>.<updated_at>.txt`), written only when that version is new:
//! a million-entry list is not rewritten because some site changed.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_config::{ChallengeKey, ListScope, NamedList};
use rampart_rules::IpList;
use rampart_store::{IpListRecord, SiteRecord};
use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "last-good-snapshot.json";
const LISTS_DIR: &str = "lists";

#[derive(Serialize, Deserialize)]
struct Persisted {
    revision: i64,
    sites: Vec<SiteRecord>,
    /// Absent in files written before lists existed.
    #[serde(default)]
    lists: Vec<IpListRecord>,
    #[serde(default)]
    operator_rules: serde_json::Value,
    /// Newest first. Secrets, like the TLS keys in the specs: the file is
    /// owner-only.
    #[serde(default)]
    challenge_keys: Vec<KeptKey>,
    /// Trust & safety decisions not lifted, so a start without the store
    /// keeps enforcing them. Absent in files written before the desk.
    #[serde(default)]
    enforcement: Vec<crate::enforcement::Row>,
}

/// A signing key as the file keeps it: the secret as 64 hex digits.
#[derive(Serialize, Deserialize)]
struct KeptKey {
    id: u32,
    secret: String,
}

impl KeptKey {
    fn from_key(key: &ChallengeKey) -> Self {
        Self {
            id: key.id,
            secret: rampart_config::hex_string(&key.secret),
        }
    }

    fn to_key(&self) -> Option<ChallengeKey> {
        let bytes = self.secret.as_bytes();
        let mut secret = [0u8; 32];
        if bytes.len() != 64 {
            return None;
        }
        for (slot, pair) in secret.iter_mut().zip(bytes.chunks_exact(2)) {
            *slot = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(ChallengeKey {
            id: self.id,
            secret,
        })
    }
}

/// What a start without the store serves.
pub(crate) struct Kept {
    pub revision: i64,
    pub sites: Vec<SiteRecord>,
    pub lists: Vec<NamedList>,
    /// `Null` when none were kept.
    pub operator_rules: serde_json::Value,
    /// Newest first; empty when none were kept.
    pub challenge_keys: Vec<ChallengeKey>,
    pub enforcement: Vec<crate::enforcement::Row>,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

fn list_file(data_dir: &Path, list: &IpListRecord) -> PathBuf {
    data_dir
        .join(LISTS_DIR)
        .join(format!("{}.{}.txt", list.id, list.updated_at))
}

/// Written to a temporary file and renamed over the old one, so a crash
/// mid-write leaves the previous copy. Owner-only: specs carry TLS keys,
/// and the snapshot the challenge signing keys.
fn write_atomically(target: &Path, body: &[u8]) -> std::io::Result<()> {
    let mut temp = target.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        // The mode above applies only to a file this call creates; a
        // leftover temporary file keeps whatever mode it had.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        file.write_all(body)?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, target)
}

/// What one rebuild keeps.
pub(crate) struct Snapshot<'a> {
    pub revision: i64,
    pub sites: &'a [SiteRecord],
    pub lists: &'a [(IpListRecord, Arc<IpList>)],
    pub operator_rules: &'a serde_json::Value,
    pub challenge_keys: &'a [ChallengeKey],
    pub enforcement: &'a [crate::enforcement::Row],
}

/// Keeps the sites, the lists (their entries as parsed), the operator rules
/// and the signing keys. List files of versions no longer current are
/// removed after the JSON that stops naming them is in place.
pub(crate) fn save(data_dir: &Path, snapshot: Snapshot<'_>) -> std::io::Result<()> {
    let Snapshot {
        revision,
        sites,
        lists,
        operator_rules,
        challenge_keys,
        enforcement,
    } = snapshot;
    let dir = data_dir.join(LISTS_DIR);
    if !lists.is_empty() {
        std::fs::create_dir_all(&dir)?;
    }
    let mut current = HashSet::new();
    for (record, entries) in lists {
        let file = list_file(data_dir, record);
        if !file.exists() {
            write_atomically(&file, entries.to_text().as_bytes())?;
        }
        current.insert(file);
    }
    let body = serde_json::to_vec(&Persisted {
        revision,
        sites: sites.to_vec(),
        lists: lists.iter().map(|(record, _)| record.clone()).collect(),
        operator_rules: operator_rules.clone(),
        challenge_keys: challenge_keys.iter().map(KeptKey::from_key).collect(),
        enforcement: enforcement.to_vec(),
    })
    .map_err(std::io::Error::other)?;
    write_atomically(&path(data_dir), &body)?;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if !current.contains(&entry.path()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

pub(crate) fn load(data_dir: &Path) -> Option<Kept> {
    let bytes = std::fs::read(path(data_dir)).ok()?;
    let persisted = match serde_json::from_slice::<Persisted>(&bytes) {
        Ok(persisted) => persisted,
        Err(error) => {
            tracing::error!("{} is unreadable: {error}", path(data_dir).display());
            return None;
        }
    };
    let lists = persisted
        .lists
        .into_iter()
        .filter_map(|record| {
            let file = list_file(data_dir, &record);
            let parsed = std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|text| IpList::from_text(&text).map_err(|e| e.to_string()));
            match parsed {
                Ok(entries) => Some(NamedList {
                    scope: match record.account_id {
                        Some(account) => ListScope::Account(account),
                        None => ListScope::Operator,
                    },
                    name: record.name,
                    description: record.description,
                    entries: Arc::new(entries),
                }),
                Err(error) => {
                    tracing::error!(list = %record.name, "kept list {} is unreadable: {error}", file.display());
                    None
                }
            }
        })
        .collect();
    let challenge_keys = persisted
        .challenge_keys
        .iter()
        .filter_map(|kept| {
            let key = kept.to_key();
            if key.is_none() {
                tracing::error!(
                    key_id = kept.id,
                    "a kept challenge signing key is unreadable"
                );
            }
            key
        })
        .collect();
    Some(Kept {
        revision: persisted.revision,
        sites: persisted.sites,
        lists,
        operator_rules: persisted.operator_rules,
        challenge_keys,
        enforcement: persisted.enforcement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, updated_at: i64) -> IpListRecord {
        IpListRecord {
            id: id.into(),
            account_id: Some("acct_1".into()),
            name: "office".into(),
            description: String::new(),
            entry_count: 1,
            created_at: 0,
            updated_at,
        }
    }

    #[test]
    fn lists_and_rules_survive_and_old_versions_go() {
        let dir = tempfile::tempdir().unwrap();
        let entries = Arc::new(IpList::from_text("192.0.2.0/24\n2001:db8::1").unwrap());
        let rules = serde_json::json!([{"id": "r", "expression": "true", "action": "log"}]);
        let save_with = |revision, lists: &[(IpListRecord, Arc<IpList>)]| {
            save(
                dir.path(),
                Snapshot {
                    revision,
                    sites: &[],
                    lists,
                    operator_rules: &rules,
                    challenge_keys: &[],
                    enforcement: &[],
                },
            )
        };
        save_with(3, &[(record("list_a", 1), entries.clone())]).unwrap();
        save_with(4, &[(record("list_a", 2), entries.clone())]).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join(LISTS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, ["list_a.2.txt"]);
        let kept = load(dir.path()).unwrap();
        assert_eq!(kept.revision, 4);
        assert_eq!(kept.operator_rules, rules);
        assert_eq!(kept.lists.len(), 1);
        assert_eq!(kept.lists[0].scope, ListScope::Account("acct_1".into()));
        assert_eq!(*kept.lists[0].entries, *entries);
    }

    #[test]
    fn signing_keys_and_enforcement_survive_in_an_owner_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let row = crate::enforcement::Row {
            site_id: "site_1".into(),
            decision_id: "decision_1".into(),
            case_id: "case_1".into(),
            reference: "TS-1".into(),
            outcome: "suspend".into(),
            category: "phishing".into(),
            patterns: None,
            blocked_by: None,
            decided_at: 1,
            effective_at: 1,
            expires_at: None,
        };
        let keys = [
            ChallengeKey {
                id: 8,
                secret: [7; 32],
            },
            ChallengeKey {
                id: 7,
                secret: [0xfe; 32],
            },
        ];
        // A leftover temporary file with a wide mode does not widen the result.
        let temp = dir.path().join(format!("{FILE_NAME}.tmp"));
        std::fs::write(&temp, b"old").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&temp, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let snapshot = Snapshot {
            revision: 1,
            sites: &[],
            lists: &[],
            operator_rules: &serde_json::Value::Null,
            challenge_keys: &keys,
            enforcement: std::slice::from_ref(&row),
        };
        save(dir.path(), snapshot).unwrap();
        assert_eq!(load(dir.path()).unwrap().enforcement, [row]);
        assert_eq!(load(dir.path()).unwrap().challenge_keys, keys);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn files_from_before_lists_still_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), br#"{"revision": 7, "sites": []}"#).unwrap();
        let kept = load(dir.path()).unwrap();
        assert_eq!(kept.revision, 7);
        assert!(kept.lists.is_empty() && kept.operator_rules.is_null());
        assert!(kept.challenge_keys.is_empty());
    }
}
