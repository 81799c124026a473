//! The spool: what this node could not write because the store was down
//! (abuse reports it accepted, analytics minutes, security events), kept
//! on local disk until the store is back.
//!
//! `data_dir/spool/queue.jsonl` is append-only, one JSON entry per line,
//! each line fsynced before the caller is answered. A flush first renames
//! the queue to `flushing.jsonl` (new entries go to a fresh queue
//! meanwhile), writes its entries in order, and rewrites it with what is
//! left when the store fails again, or removes it. Every entry is
//! idempotent in the store (a report by its id, a batch by its id in the
//! store's ledger), so a crash between a commit and the rewrite replays
//! an entry without counting it twice. A line that does not parse is
//! reported, copied to `rejected.jsonl` and skipped.

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rampart_analytics::MinuteBucket;
use rampart_store::{ReportIdentity, SecurityEventWrite};
use serde::{Deserialize, Serialize};

const QUEUE: &str = "queue.jsonl";
const FLUSHING: &str = "flushing.jsonl";
const REJECTED: &str = "rejected.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("spool entry cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |error| SpoolError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// A fresh id for a spooled batch, unique across nodes and restarts.
pub fn batch_id(kind: &str) -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}_{hex}")
}

/// An abuse report accepted while the store was down: what
/// `NewAbuseReport` needs, with the site by name (its id is looked up when
/// the store is back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpooledReport {
    pub identity: ReportIdentity,
    pub site: String,
    pub category: String,
    pub urls: Vec<String>,
    pub explanation: String,
    pub reporter_name: Option<String>,
    pub reporter_email: Option<String>,
    pub share_with_owner: String,
    pub share_with_host: String,
    pub client_ip_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Report(Box<SpooledReport>),
    Analytics {
        batch: String,
        buckets: Vec<MinuteBucket>,
    },
    SecurityEvents {
        batch: String,
        events: Vec<SecurityEventWrite>,
    },
}

/// What writing one entry to the store came to.
pub enum Applied {
    /// Stored (or found already stored).
    Done,
    /// The store is unreachable: stop and keep this entry and the rest.
    Unavailable,
    /// The store refused it for good (its site is gone): set aside.
    Refused(String),
}

/// Figures for `/metrics` and the nodes page.
#[derive(Debug, Default)]
pub struct SpoolStats {
    /// Entries waiting on disk.
    pub entries: AtomicU64,
    /// Their size in bytes.
    pub bytes: AtomicU64,
    /// Entries written to the store from the spool since start.
    pub flushed: AtomicU64,
    /// Lines that did not parse, or entries the store refused, since start.
    pub rejected: AtomicU64,
}

pub struct Spool {
    dir: PathBuf,
    /// Serialises appends and the queue's rename.
    queue: Mutex<()>,
    /// One flush at a time.
    flushing: tokio::sync::Mutex<()>,
    pub stats: SpoolStats,
    /// Reports accepted into the spool per client-address hash and per
    /// email (unix ms), for the intake's limits while the store cannot
    /// count them.
    recent: Mutex<HashMap<String, Vec<i64>>>,
}

impl Spool {
    /// The spool in `data_dir/spool`; counts what an earlier run left.
    pub fn open(data_dir: &Path) -> Spool {
        let spool = Spool {
            dir: data_dir.join("spool"),
            queue: Mutex::new(()),
            flushing: tokio::sync::Mutex::new(()),
            stats: SpoolStats::default(),
            recent: Mutex::new(HashMap::new()),
        };
        let (entries, bytes) = [QUEUE, FLUSHING]
            .iter()
            .map(|name| count_lines(&spool.dir.join(name)))
            .fold((0, 0), |(e, b), (e2, b2)| (e + e2, b + b2));
        spool.stats.entries.store(entries, Ordering::Relaxed);
        spool.stats.bytes.store(bytes, Ordering::Relaxed);
        spool
    }

    /// Entries waiting.
    pub fn backlog(&self) -> u64 {
        self.stats.entries.load(Ordering::Relaxed)
    }

    /// Appends `entry` and fsyncs it; once this returns, the entry
    /// survives a crash.
    pub fn append(&self, entry: &Entry) -> Result<(), SpoolError> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        let _guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.dir.join(QUEUE);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(&line).map_err(io(&path))?;
        file.sync_data().map_err(io(&path))?;
        self.stats.entries.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(
            u64::try_from(line.len()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// Notes a report accepted into the spool under these keys.
    pub fn note_report(&self, keys: &[&str], at_ms: i64) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            recent.entry((*key).to_owned()).or_default().push(at_ms);
        }
    }

    /// Reports accepted into the spool under `key` since `since_ms`.
    pub fn reports_since(&self, key: &str, since_ms: i64) -> i64 {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.get(key).map_or(0, |times| {
            i64::try_from(times.iter().filter(|t| **t >= since_ms).count()).unwrap_or(i64::MAX)
        })
    }

    /// Writes waiting entries through `apply`, oldest first, until the
    /// store fails; returns how many were written.
    pub async fn flush<F, Fut>(&self, mut apply: F) -> Result<usize, SpoolError>
    where
        F: FnMut(Entry) -> Fut,
        Fut: std::future::Future<Output = Applied>,
    {
        let _one = self.flushing.lock().await;
        let flushing = self.dir.join(FLUSHING);
        if !flushing.exists() {
            let _guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let queue = self.dir.join(QUEUE);
            if !queue.exists() {
                // Nothing on disk (someone removed it): the figures follow.
                self.stats.entries.store(0, Ordering::Relaxed);
                self.stats.bytes.store(0, Ordering::Relaxed);
                return Ok(0);
            }
            std::fs::rename(&queue, &flushing).map_err(io(&queue))?;
        }
        let lines = read_lines(&flushing)?;
        let mut done = 0;
        let mut left: Vec<String> = Vec::new();
        let mut stopped = false;
        for (number, line) in lines.into_iter().enumerate() {
            if stopped {
                left.push(line);
                continue;
            }
            let entry = match serde_json::from_str::<Entry>(&line) {
                Ok(entry) => entry,
                Err(error) => {
                    tracing::error!(
                        line = number + 1,
                        "spool line is corrupt and is skipped (kept in {REJECTED}): {error}"
                    );
                    self.reject(&line);
                    continue;
                }
            };
            match apply(entry).await {
                Applied::Done => {
                    done += 1;
                    self.stats.flushed.fetch_add(1, Ordering::Relaxed);
                }
                Applied::Unavailable => {
                    stopped = true;
                    left.push(line);
                }
                Applied::Refused(why) => {
                    tracing::error!("the store refused a spooled entry, kept in {REJECTED}: {why}");
                    self.reject(&line);
                }
            }
        }
        if left.is_empty() {
            std::fs::remove_file(&flushing).map_err(io(&flushing))?;
        } else {
            rewrite(&flushing, &left)?;
        }
        let _guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let (entries, bytes) = count_lines(&self.dir.join(QUEUE));
        let (left_entries, left_bytes) = count_lines(&flushing);
        self.stats
            .entries
            .store(entries + left_entries, Ordering::Relaxed);
        self.stats
            .bytes
            .store(bytes + left_bytes, Ordering::Relaxed);
        if left.is_empty() && entries == 0 {
            self.recent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        Ok(done)
    }

    fn reject(&self, line: &str) {
        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(REJECTED);
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(line.as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_data()
            });
        if let Err(error) = written {
            tracing::error!(
                "cannot keep a rejected spool line in {}: {error}",
                path.display()
            );
        }
    }
}

/// Lines of `path` (a missing file has none). A line that is not UTF-8 is
/// kept as lossy text, so it reaches the corrupt-line report instead of
/// failing the whole read.
fn read_lines(path: &Path) -> Result<Vec<String>, SpoolError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.trim().is_empty() {
            lines.push(text.to_owned());
        }
    }
    Ok(lines)
}

fn count_lines(path: &Path) -> (u64, u64) {
    let lines = read_lines(path).unwrap_or_default();
    let bytes = lines
        .iter()
        .map(|l| u64::try_from(l.len()).unwrap_or(0) + 1)
        .sum();
    (u64::try_from(lines.len()).unwrap_or(u64::MAX), bytes)
}

/// Replaces `path` with `lines`, atomically and durably.
fn rewrite(path: &Path, lines: &[String]) -> Result<(), SpoolError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    for line in lines {
        file.write_all(line.as_bytes()).map_err(io(&tmp))?;
        file.write_all(b"\n").map_err(io(&tmp))?;
    }
    file.sync_data().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str) -> Entry {
        Entry::Report(Box::new(SpooledReport {
            identity: ReportIdentity {
                id: id.into(),
                reference: format!("AR-{id}"),
                created_at: 1,
            },
            site: "shop".into(),
            category: "spam".into(),
            urls: vec!["http://shop.test/".into()],
            explanation: String::new(),
            reporter_name: None,
            reporter_email: None,
            share_with_owner: "none".into(),
            share_with_host: "anonymous".into(),
            client_ip_hash: "h".into(),
        }))
    }

    fn id_of(entry: &Entry) -> String {
        match entry {
            Entry::Report(r) => r.identity.id.clone(),
            Entry::Analytics { batch, .. } | Entry::SecurityEvents { batch, .. } => batch.clone(),
        }
    }

    #[tokio::test]
    async fn entries_flush_in_order_and_stop_when_the_store_fails() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path());
        for id in ["a", "b", "c"] {
            spool.append(&report(id)).unwrap();
        }
        assert_eq!(spool.backlog(), 3);
        let mut seen = Vec::new();
        let done = spool
            .flush(|e| {
                let id = id_of(&e);
                seen.push(id.clone());
                async move {
                    if id == "b" {
                        Applied::Unavailable
                    } else {
                        Applied::Done
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(done, 1);
        assert_eq!(seen, ["a", "b"]);
        assert_eq!(spool.backlog(), 2);
        // New entries queue behind the ones left.
        spool.append(&report("d")).unwrap();
        // A restart finds the backlog on disk.
        let spool = Spool::open(dir.path());
        assert_eq!(spool.backlog(), 3);
        let mut seen = Vec::new();
        spool
            .flush(|e| {
                seen.push(id_of(&e));
                async { Applied::Done }
            })
            .await
            .unwrap();
        assert_eq!(seen, ["b", "c"]);
        spool
            .flush(|e| {
                seen.push(id_of(&e));
                async { Applied::Done }
            })
            .await
            .unwrap();
        assert_eq!(seen, ["b", "c", "d"]);
        assert_eq!(spool.backlog(), 0);
    }

    #[tokio::test]
    async fn a_corrupt_line_is_reported_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path());
        spool.append(&report("a")).unwrap();
        let queue = dir.path().join("spool").join(QUEUE);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&queue)
            .unwrap();
        file.write_all(b"{\"kind\":\"report\",\"trunc\n\xff\xfe garbage\n")
            .unwrap();
        drop(file);
        spool.append(&report("b")).unwrap();
        let mut seen = Vec::new();
        let done = spool
            .flush(|e| {
                seen.push(id_of(&e));
                async { Applied::Done }
            })
            .await
            .unwrap();
        assert_eq!((done, seen), (2, vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(spool.stats.rejected.load(Ordering::Relaxed), 2);
        let rejected = std::fs::read_to_string(dir.path().join("spool").join(REJECTED)).unwrap();
        assert_eq!(rejected.lines().count(), 2);
        assert_eq!(spool.backlog(), 0);
    }

    #[test]
    fn spooled_report_limits_count_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path());
        spool.note_report(&["ip1", "a@b.test"], 100);
        spool.note_report(&["ip1"], 200);
        assert_eq!(spool.reports_since("ip1", 0), 2);
        assert_eq!(spool.reports_since("ip1", 150), 1);
        assert_eq!(spool.reports_since("a@b.test", 0), 1);
        assert_eq!(spool.reports_since("other", 0), 0);
    }
}
