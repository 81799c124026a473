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

/// Measures compile time and per-value matching cost of every CRS `@rx`
/// (run with `--release --ignored --nocapture`); asserts nothing about speed.
#[test]
#[ignore = "measurement"]
fn crs_rx_cost() {
    use std::time::Instant;
    let Some(dir) = crs_rules() else { return };
    let context = OperatorContext { base_dir: &dir };
    let specs: Vec<String> = conf_files(&dir)
        .iter()
        .flat_map(|file| operators_named(&std::fs::read_to_string(file).unwrap_or_default(), "rx"))
        .collect();
    let started = Instant::now();
    let operators: Vec<Operator> = specs
        .iter()
        .filter_map(|spec| Operator::compile(spec, &context).ok())
        .collect();
    eprintln!(
        "compiled {} @rx in {:?}",
        operators.len(),
        started.elapsed()
    );
    let benign = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                  Chrome/120.0 Safari/537.36 q=search+terms+for+a+normal+user&page=2&sort=asc"
        .repeat(8);
    let inputs: [&[u8]; 3] = [
        benign.as_bytes(),
        b"1' union select password from users--",
        b"<script>alert(document.cookie)</script>",
    ];
    let macros = super::super::NoMacros;
    for input in inputs {
        let skippable = operators
            .iter()
            .filter(|op| op.required_literals().is_some_and(|r| !r.may_match(input)))
            .count();
        eprintln!(
            "{} bytes: the literal hint rules out {skippable} of {} @rx",
            input.len(),
            operators.len()
        );
        let started = Instant::now();
        let rounds = 20;
        let mut hits = 0;
        for _ in 0..rounds {
            hits = operators
                .iter()
                .filter(|op| op.evaluate(input, &macros, None))
                .count();
        }
        let per_op = started.elapsed() / (rounds * operators.len()) as u32;
        eprintln!(
            "{} bytes: {hits} rules match, {per_op:?} per @rx (warm)",
            input.len()
        );
    }
    let mut slowest: Vec<(std::time::Duration, &String)> = operators
        .iter()
        .zip(&specs)
        .map(|(op, spec)| {
            // The fastest of several runs: the machine is shared.
            let fastest = (0..20)
                .map(|_| {
                    let started = Instant::now();
                    op.evaluate(benign.as_bytes(), &macros, None);
                    started.elapsed()
                })
                .min()
                .unwrap_or_default();
            (fastest, spec)
        })
        .collect();
    slowest.sort_by_key(|(took, _)| std::cmp::Reverse(*took));
    let total: std::time::Duration = slowest.iter().map(|(took, _)| *took).sum();
    eprintln!("all @rx over the {}-byte value: {total:?}", benign.len());
    for (took, spec) in slowest.iter().take(5) {
        eprintln!("{took:?} {}", spec.chars().take(90).collect::<String>());
    }
}
