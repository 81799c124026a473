//! libinjection's own test vectors and sample corpora, read from where
//! `scripts/fetch-upstream-vectors.sh` puts them (they are not ours to
//! copy into the repository). Each test says so and passes when the
//! vectors are absent.
//!
//! The sample thresholds are libinjection's own: its release checks allow
//! 18 undetected SQLi samples, 18 undetected XSS samples and 21 detections
//! among the known false positives.

use crate::sqli::{folded_tokens, token_lines};
use crate::{detect_sqli, detect_xss};
use libinjectionrs::xss::{Html5Flags, Html5State};
use std::fs;
use std::path::{Path, PathBuf};

fn vectors_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RAMPART_LIBINJECTION_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/libinjection-vectors/libinjection")
        });
    if dir.join("tests").is_dir() && dir.join("data").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: libinjection's test vectors are not at {} \
             (run crates/rampart-libinjection/scripts/fetch-upstream-vectors.sh \
             or set RAMPART_LIBINJECTION_VECTORS)",
            dir.display()
        );
        None
    }
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".txt"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// libinjection's test driver trims these from inputs and outputs.
fn rtrim(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\n' | b'\t' | b'\r'))
        .map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or(&[])
}

/// A `--TEST-- / --INPUT-- / --EXPECTED--` file: (input, expected).
fn parse_case(path: &Path) -> (Vec<u8>, String) {
    let raw = fs::read(path).unwrap_or_default();
    let mut section = 0;
    let (mut input, mut expected) = (Vec::new(), Vec::new());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        match (section, line) {
            (0, b"--TEST--\n") => section = 1,
            (1, b"--INPUT--\n") => section = 2,
            (2, b"--EXPECTED--\n") => section = 3,
            (2, _) => input.extend_from_slice(line),
            (3, _) => expected.extend_from_slice(line),
            _ => {}
        }
    }
    assert_eq!(section, 3, "malformed vector {}", path.display());
    (
        rtrim(&input).to_vec(),
        String::from_utf8_lossy(rtrim(&expected)).into_owned(),
    )
}

fn check_all(dir: &Path, prefix: &str, actual: impl Fn(&[u8]) -> String) {
    let cases = files(&dir.join("tests"), prefix);
    assert!(
        !cases.is_empty(),
        "no {prefix} vectors in {}",
        dir.display()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|path| {
            let (input, expected) = parse_case(path);
            let got = actual(&input);
            let got = String::from_utf8_lossy(rtrim(got.as_bytes())).into_owned();
            (got != expected).then(|| {
                format!(
                    "{}: input {:?}\n  expected {expected:?}\n  got      {got:?}",
                    path.display(),
                    String::from_utf8_lossy(&input)
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} {prefix} vectors differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn sqli_vectors_give_libinjections_fingerprints() {
    let Some(dir) = vectors_dir() else { return };
    check_all(&dir, "test-sqli-", |input| {
        detect_sqli(input).unwrap_or_default()
    });
}

#[test]
fn folding_vectors_fold_like_libinjection() {
    let Some(dir) = vectors_dir() else { return };
    check_all(&dir, "test-folding-", |input| {
        folded_tokens(input).join("\n")
    });
}

#[test]
fn token_vectors_tokenize_like_libinjection() {
    let Some(dir) = vectors_dir() else { return };
    check_all(&dir, "test-tokens-", |input| token_lines(input).join("\n"));
}

#[test]
fn html5_vectors_tokenize_like_libinjection() {
    let Some(dir) = vectors_dir() else { return };
    check_all(&dir, "test-html5-", |input| {
        let mut state = Html5State::new(input, Html5Flags::DataState);
        let mut lines = Vec::new();
        while state.next() {
            let token = state.token_start.get(..state.token_len).unwrap_or(&[]);
            lines.push(format!(
                "{},{},{}",
                state.token_type,
                state.token_len,
                String::from_utf8_lossy(token)
            ));
        }
        lines.join("\n")
    });
}

/// `+` and `%XX` decoding as libinjection's sample reader does it.
fn url_decode(line: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' if i + 2 < line.len() => {
                if let (Some(hi), Some(lo)) = (hex(line.get(i + 1)), hex(line.get(i + 2))) {
                    out.extend(u8::try_from(hi * 16 + lo).ok());
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

fn samples(dir: &Path, prefix: &str) -> Vec<Vec<u8>> {
    files(&dir.join("data"), prefix)
        .iter()
        .flat_map(|path| {
            let raw = fs::read(path).unwrap_or_default();
            raw.split(|&b| b == b'\n')
                .map(|line| {
                    let end = line
                        .iter()
                        .rposition(|b| !b.is_ascii_whitespace() && *b != 0x0b)
                        .map_or(0, |i| i + 1);
                    line.get(..end).unwrap_or(&[]).to_vec()
                })
                .filter(|line| !line.is_empty() && !line.starts_with(b"#"))
                .map(|line| url_decode(&line))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn sqli_samples_are_detected() {
    let Some(dir) = vectors_dir() else { return };
    let all = samples(&dir, "sqli-");
    let missed = all.iter().filter(|s| detect_sqli(s).is_none()).count();
    eprintln!("SQLi samples: {missed} of {} not detected", all.len());
    assert!(all.len() > 80_000, "only {} SQLi samples", all.len());
    assert!(
        missed <= 18,
        "{missed} of {} SQLi samples not detected",
        all.len()
    );
}

#[test]
fn xss_samples_are_detected() {
    let Some(dir) = vectors_dir() else { return };
    let all = samples(&dir, "xss");
    let missed = all.iter().filter(|s| !detect_xss(s)).count();
    eprintln!("XSS samples: {missed} of {} not detected", all.len());
    assert!(all.len() > 80_000, "only {} XSS samples", all.len());
    assert!(
        missed <= 18,
        "{missed} of {} XSS samples not detected",
        all.len()
    );
}

#[test]
fn known_false_positives_stay_few() {
    let Some(dir) = vectors_dir() else { return };
    let all = samples(&dir, "false_");
    let flagged = all.iter().filter(|s| detect_sqli(s).is_some()).count();
    eprintln!("false-positive samples: {flagged} of {} flagged", all.len());
    assert!(!all.is_empty());
    assert!(
        flagged <= 21,
        "{flagged} of {} benign samples flagged",
        all.len()
    );
}
