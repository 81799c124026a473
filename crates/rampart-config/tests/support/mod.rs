//! Shared helpers: a self-cleaning temp directory with real certificate files,
//! and position lookups so tests name the text they point at instead of
//! hard-coding columns.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rampart_config::{Config, ConfigErrors, parse_str};

pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "rampart-config-test-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, contents).expect("write file");
        p
    }

    /// Writes `certs/NAME.pem` and `certs/NAME.key` for a fresh self-signed cert.
    pub fn write_cert(&self, name: &str, host: &str) {
        let ck = rcgen::generate_simple_self_signed(vec![host.to_owned()]).expect("rcgen");
        self.write(&format!("certs/{name}.pem"), ck.cert.pem());
        self.write(&format!("certs/{name}.key"), ck.signing_key.serialize_pem());
    }

    /// The path a config file in this directory would have.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("rampart.toml")
    }

    pub fn parse(&self, text: &str) -> Result<Config, ConfigErrors> {
        parse_str(text, &self.config_path())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// 1-based (line, col) of the `nth` (0-based) occurrence of `needle`.
pub fn pos_nth(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let (offset, _) = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} occurs fewer than {} times", nth + 1));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

pub fn pos(text: &str, needle: &str) -> (usize, usize) {
    pos_nth(text, needle, 0)
}

/// Parses text that must fail and returns (line, col, message) triples.
pub fn errors(dir: &TempDir, text: &str) -> Vec<(usize, usize, String)> {
    match dir.parse(text) {
        Ok(_) => panic!("expected errors, config was accepted:\n{text}"),
        Err(e) => e
            .diagnostics
            .into_iter()
            .map(|d| (d.line, d.col, d.message))
            .collect(),
    }
}

/// Asserts that the only diagnostic is at `at` and contains every fragment.
#[track_caller]
pub fn assert_single(dir: &TempDir, text: &str, at: (usize, usize), fragments: &[&str]) {
    let errs = errors(dir, text);
    assert_eq!(
        errs.len(),
        1,
        "expected one diagnostic, got {errs:#?}\n{text}"
    );
    assert_has(&errs, at, fragments);
}

/// Asserts that some diagnostic is at `at` and contains every fragment.
#[track_caller]
pub fn assert_has(errs: &[(usize, usize, String)], at: (usize, usize), fragments: &[&str]) {
    let found = errs
        .iter()
        .any(|(l, c, m)| (*l, *c) == at && fragments.iter().all(|f| m.contains(f)));
    assert!(
        found,
        "no diagnostic at {at:?} containing {fragments:?}; got {errs:#?}"
    );
}

/// A minimal valid site, for tests that add one broken key to it.
pub const MIN_SITE: &str =
    "[[site]]\nname = \"a\"\nhosts = [\"a.test\"]\norigins = [\"http://127.0.0.1:9001\"]\n";

/// Deserialises a site spec, failing the test on a serde error.
pub fn spec(value: serde_json::Value) -> rampart_config::SiteSpec {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("spec does not deserialize: {e}"))
}

/// The JSON twin of `MIN_SITE`.
pub fn base() -> serde_json::Value {
    serde_json::json!({"name": "a", "hosts": ["a.test"], "origins": ["http://127.0.0.1:9001"]})
}

/// `base()` with `key` set.
pub fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
    let mut v = base();
    v[key] = value;
    v
}

/// Diagnostics must point inside the text (or just past its end).
pub fn check_positions(
    text: &str,
    result: Result<rampart_config::Config, rampart_config::ConfigErrors>,
) {
    let Err(e) = result else { return };
    let lines: Vec<&str> = text.split('\n').collect();
    for d in &e.diagnostics {
        assert!(
            d.line >= 1 && d.line <= lines.len(),
            "line {} of {}: {d}\n{text}",
            d.line,
            lines.len()
        );
        let len = lines.get(d.line - 1).map_or(0, |l| l.chars().count());
        assert!(
            d.col >= 1 && d.col <= len + 1,
            "col {} of {len}: {d}\n{text}",
            d.col
        );
    }
}

/// `count` copies of `text`, each with 1 to 4 characters removed, inserted
/// or replaced by one of `junk`, from a xorshift generator seeded with
/// `seed`: deterministic, so a failure reproduces.
pub fn mangled(text: &str, junk: &[char], seed: u64, count: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let junk_char = |n: u64| junk[(n as usize) % junk.len()];
    (0..count)
        .map(|_| {
            let mut mangled = chars.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % mangled.len().max(1);
                match next() % 3 {
                    0 if at < mangled.len() => {
                        mangled.remove(at);
                    }
                    0 => {}
                    1 => mangled.insert(at.min(mangled.len()), junk_char(next())),
                    _ if at < mangled.len() => mangled[at] = junk_char(next()),
                    _ => {}
                }
            }
            mangled.into_iter().collect()
        })
        .collect()
}
