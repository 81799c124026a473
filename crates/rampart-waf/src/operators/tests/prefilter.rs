//! `required_literals`: the prefilter hint must be sound (no input that
//! matches lacks all the literals) and useful where it is given.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::*;

fn literals(spec: &str) -> Option<Vec<String>> {
    op(spec).required_literals().map(|required| {
        required
            .any_of
            .iter()
            .map(|literal| String::from_utf8_lossy(literal).into_owned())
            .collect()
    })
}

#[test]
fn phrase_and_string_operators() {
    assert_eq!(literals("@pm Foo bar foo").expect("hint"), ["bar", "foo"]);
    assert_eq!(literals("@strmatch WebZIP").expect("hint"), ["webzip"]);
    assert_eq!(literals("@contains -->").expect("hint"), ["-->"]);
    assert_eq!(literals("@streq POST").expect("hint"), ["post"]);
    assert_eq!(literals("@beginsWith GET").expect("hint"), ["get"]);
    assert_eq!(literals("@endsWith .pdf").expect("hint"), [".pdf"]);
    assert_eq!(literals("@containsWord select").expect("hint"), ["select"]);
}

#[test]
fn no_hint_where_absence_or_anything_matches() {
    assert_eq!(literals("!@pm foo"), None, "negated");
    assert_eq!(literals("!@rx foo"), None, "negated");
    assert_eq!(
        literals("@within GET POST"),
        None,
        "input inside the argument"
    );
    assert_eq!(literals("@contains %{tx.x}"), None, "macro");
    assert_eq!(literals("@rx %{tx.x}"), None, "macro");
    assert_eq!(literals("@streq"), None, "empty argument");
    assert_eq!(literals("@rx"), None);
    assert_eq!(literals("@rx .*"), None);
    assert_eq!(literals("@rx a?"), None, "can match the empty string");
    assert_eq!(literals("@eq 1"), None);
    assert_eq!(literals("@detectSQLi"), None);
}

#[test]
fn regex_literals() {
    assert_eq!(literals("@rx (?i)union.+select").expect("hint"), ["union"]);
    assert_eq!(
        literals("@rx (?:foo|Bar)baz").expect("hint"),
        ["barbaz", "foobaz"]
    );
    assert_eq!(
        literals("@rx \\x{bc}script").expect("hint"),
        ["\u{fffd}script"]
    );
    // No usable prefix, so the suffix is used.
    assert_eq!(literals("@rx [^a]+\\.php$").expect("hint"), [".php"]);
}

#[test]
fn may_match_is_case_insensitive() {
    let op = op("@pm select");
    let required = op.required_literals().expect("hint");
    assert!(required.may_match(b"1 SELECT 2"));
    assert!(!required.may_match(b"1 SEL ECT 2"));
}

/// Every value in the CRS regression tests, raw and percent-decoded.
fn crs_test_values() -> Vec<Vec<u8>> {
    let root = std::env::var_os("RAMPART_CRS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/crs"))
        .join("tests");
    let mut values = BTreeSet::new();
    let mut pending = vec![root];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.filter_map(|entry| entry.ok().map(|e| e.path())) {
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for line in text.lines() {
                    let Some((_, value)) = line.split_once(": ") else {
                        continue;
                    };
                    let value = value.trim().trim_matches('"');
                    values.insert(value.as_bytes().to_vec());
                    values.insert(percent_decode(value.as_bytes()));
                }
            }
        }
    }
    values.into_iter().collect()
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&byte) = input.get(i) {
        let hex = input
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (byte, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[test]
fn crs_regex_hints_are_sound_on_the_crs_tests() {
    let values = crs_test_values();
    if values.is_empty() {
        eprintln!("CRS tests not found; set RAMPART_CRS_DIR");
        return;
    }
    let dir = std::env::var_os("RAMPART_CRS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/crs"))
        .join("rules");
    let context = OperatorContext { base_dir: &dir };
    let mut hinted = 0;
    let mut total = 0;
    let mut checked_matches = 0;
    for spec in super::crs::all_operators(&dir, &["rx", "pm", "pmFromFile"]) {
        let Ok(op) = Operator::compile(&spec, &context) else {
            continue;
        };
        total += 1;
        let Some(required) = op.required_literals() else {
            continue;
        };
        hinted += 1;
        for value in &values {
            if op.evaluate(value, &NoMacros, None) {
                checked_matches += 1;
                assert!(
                    required.may_match(value),
                    "`{spec}` matched {:?} without any of its literals",
                    String::from_utf8_lossy(value)
                );
            }
        }
    }
    eprintln!(
        "{hinted} of {total} CRS operators have a literal hint; {checked_matches} matches over {} values checked",
        values.len()
    );
    assert!(hinted * 2 > total, "only {hinted} of {total} hinted");
    assert!(checked_matches > 1000);
}
