//! Every `@rx` in the OWASP CRS rule files must compile (the rules are meant
//! to be RE2-compatible) and the CRS data files must load.

use std::path::{Path, PathBuf};

use super::super::{Operator, OperatorContext};

fn crs_rules() -> Option<PathBuf> {
    let dir = std::env::var_os("RAMPART_CRS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/crs"))
        .join("rules");
    dir.is_dir().then_some(dir)
}

/// The operator strings of `SecRule`s whose operator is `name`, unquoted
/// only as far as `\"`: an approximation of the SecLang parser that is
/// enough for CRS, where every operator is a double-quoted string.
fn operators_named(text: &str, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in [format!("\"@{name} "), format!("\"!@{name} ")] {
        let mut rest = text;
        while let Some(start) = rest.find(&prefix) {
            let body = rest.get(start + 1..).unwrap_or_default();
            let mut end = body.len();
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = i;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            found.push(body.get(..end).unwrap_or_default().replace("\\\"", "\""));
            rest = body.get(end..).unwrap_or_default();
        }
    }
    found
}

fn conf_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "conf"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The operator strings named `names` in every CRS rule file.
pub(super) fn all_operators(dir: &Path, names: &[&str]) -> Vec<String> {
    conf_files(dir)
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            names
                .iter()
                .flat_map(|name| operators_named(&text, name))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_crs_operator_compiles() {
    let Some(dir) = crs_rules() else {
        eprintln!("CRS rules not found; set RAMPART_CRS_DIR");
        return;
    };
    let context = OperatorContext { base_dir: &dir };
    let mut compiled = 0;
    let mut failures = Vec::new();
    for file in conf_files(&dir) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for name in ["rx", "pmFromFile", "pm", "validateByteRange", "ipMatch"] {
            for spec in operators_named(&text, name) {
                match Operator::compile(&spec, &context) {
                    Ok(_) => compiled += 1,
                    Err(error) => failures.push(format!("{}: {spec}: {error}", file.display())),
                }
            }
        }
    }
    assert!(compiled > 300, "only {compiled} operators found");
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
