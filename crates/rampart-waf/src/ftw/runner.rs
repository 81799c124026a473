//! Running the suite: one rule set for all tests, and for every stage the
//! wire bytes go-ftw would send, read back as the server would, through
//! phases 1–2, the emulated backend, then phases 3–5.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::engine::{RuleSet, RuleSetBuilder};
use crate::request::{HttpRequest, HttpResponse};

use super::backend;
use super::http1::{self, ParsedRequest, Strictness};
use super::judge::{self, Failure, Observation};
use super::raw;
use super::report::{SuiteReport, TestOutcome, TestResult};
use super::schema::{Input, Output, OverridesFile, TestFile};
use super::{FtwError, RunOptions};

/// The configuration the suite's README asks for: detection only (every
/// match is logged, nothing blocks), paranoia level 4 so that every rule
/// runs, and the limits the tests are written against.
pub const FTW_SETUP: &str = r#"
SecAction "id:900005,\
  phase:1,\
  nolog,\
  pass,\
  ctl:ruleEngine=DetectionOnly,\
  ctl:ruleRemoveById=910000,\
  setvar:tx.blocking_paranoia_level=4,\
  setvar:tx.crs_validate_utf8_encoding=1,\
  setvar:tx.arg_name_length=100,\
  setvar:tx.arg_length=400,\
  setvar:tx.total_arg_length=64000,\
  setvar:tx.max_num_args=255,\
  setvar:tx.max_file_size=64100,\
  setvar:tx.combined_file_sizes=65535"
"#;

/// The rule set under test: the engine's recommended base configuration,
/// `crs-setup.conf.example`, the suite's setup rule, then `rules/*.conf`
/// in name order (as an `Include rules/*.conf` would load them).
pub fn load_rules(crs_dir: &Path) -> Result<RuleSet, FtwError> {
    Ok(RuleSetBuilder::load_crs(crs_dir, FTW_SETUP)?)
}

/// Every test file under `tests/regression/tests`, in path order.
pub fn test_files(crs_dir: &Path) -> Result<Vec<PathBuf>, FtwError> {
    let root = crs_dir.join("tests/regression/tests");
    let mut out = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| FtwError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    if out.is_empty() {
        return Err(FtwError::NoTests(root));
    }
    out.sort();
    Ok(out)
}

/// Parses one test file; an empty file (there is one in the suite) is
/// `Ok(None)`.
pub fn parse_test_file(text: &str) -> Result<Option<TestFile>, serde_norway::Error> {
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---");
    if !meaningful {
        return Ok(None);
    }
    serde_norway::from_str(text).map(Some)
}

pub fn load_overrides(path: &Path) -> Result<OverridesFile, FtwError> {
    let text = std::fs::read_to_string(path).map_err(|source| FtwError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_norway::from_str(&text).map_err(|e| FtwError::Yaml {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

pub(super) fn run(crs_dir: &Path, options: &RunOptions) -> Result<SuiteReport, FtwError> {
    let mut overrides = OverridesFile::default();
    if options.bundled_overrides && options.strictness == Strictness::Hyper {
        overrides =
            serde_norway::from_str(super::BUNDLED_OVERRIDES).map_err(|e| FtwError::Yaml {
                path: PathBuf::from("<bundled overrides>"),
                message: e.to_string(),
            })?;
    }
    if let Some(path) = &options.overrides {
        // Listed after the bundled ones, so they win (the last match does).
        overrides
            .test_overrides
            .extend(load_overrides(path)?.test_overrides);
    }
    let files = test_files(crs_dir)?;
    let started = Instant::now();
    let rules = load_rules(crs_dir)?;
    let load_time = started.elapsed();
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for path in files {
        run_file(&rules, &path, options, &overrides, &mut outcomes)?;
    }
    Ok(SuiteReport {
        outcomes,
        load_time,
        run_time: started.elapsed(),
    })
}

/// The rule id a file is about, from its name (`942100.yaml`), for files
/// that cannot be parsed.
fn rule_id_from_name(path: &Path) -> u64 {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn run_file(
    rules: &RuleSet,
    path: &Path,
    options: &RunOptions,
    overrides: &OverridesFile,
    outcomes: &mut Vec<TestOutcome>,
) -> Result<(), FtwError> {
    let name_id = rule_id_from_name(path);
    if options
        .rule_id
        .is_some_and(|wanted| wanted != name_id && name_id != 0)
    {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|source| FtwError::Io {
        path: path.to_owned(),
        source,
    })?;
    let file = match parse_test_file(&text) {
        Ok(Some(file)) => file,
        Ok(None) => {
            outcomes.push(TestOutcome {
                file: path.to_owned(),
                rule_id: name_id,
                test_id: 0,
                result: TestResult::Skipped("empty test file".to_owned()),
                overridden: None,
                details: Vec::new(),
            });
            return Ok(());
        }
        Err(e) => {
            outcomes.push(TestOutcome {
                file: path.to_owned(),
                rule_id: name_id,
                test_id: 0,
                result: TestResult::Failed(vec![(0, Failure::Input(format!("YAML: {e}")))]),
                overridden: None,
                details: Vec::new(),
            });
            return Ok(());
        }
    };
    let rule_id = if file.rule_id != 0 {
        file.rule_id
    } else {
        name_id
    };
    if options.rule_id.is_some_and(|wanted| wanted != rule_id) {
        return Ok(());
    }
    for (index, case) in file.tests.iter().enumerate() {
        let test_id = case.test_id.unwrap_or(index as u64 + 1);
        if options.test_id.is_some_and(|wanted| wanted != test_id) {
            continue;
        }
        let mut outcome = TestOutcome {
            file: path.to_owned(),
            rule_id,
            test_id,
            result: TestResult::Passed,
            overridden: None,
            details: Vec::new(),
        };
        if file.meta.enabled == Some(false) {
            outcome.result = TestResult::Skipped("disabled in the test file".to_owned());
            outcomes.push(outcome);
            continue;
        }
        let replaced = match overrides.find(rule_id, test_id) {
            Some(ov) => {
                let reason = ov.reason.clone().unwrap_or_default();
                match &ov.output {
                    None => {
                        outcome.result = TestResult::Skipped(format!("override: {reason}"));
                        outcomes.push(outcome);
                        continue;
                    }
                    Some(output) => {
                        outcome.overridden = Some(reason);
                        Some(output)
                    }
                }
            }
            None => None,
        };
        let mut failures = Vec::new();
        for (stage_index, stage) in case.stages.iter().enumerate() {
            let expected = replaced.unwrap_or(&stage.output);
            let unique_id = format!("ftw-{rule_id}-{test_id}-{}", stage_index + 1);
            for input in stage_inputs(&stage.input) {
                let (stage_failures, details) =
                    run_stage(rules, &input, expected, &unique_id, options.strictness);
                for failure in stage_failures {
                    failures.push((stage_index + 1, failure));
                }
                if let Some(details) = details {
                    outcome.details.push((stage_index + 1, details));
                }
            }
        }
        if !failures.is_empty() {
            outcome.result = TestResult::Failed(failures);
        }
        outcomes.push(outcome);
    }
    Ok(())
}

/// One input per request the stage sends: `uris` repeats it per target.
pub(super) fn stage_inputs(input: &Input) -> Vec<Cow<'_, Input>> {
    if input.uris.is_empty() {
        return vec![Cow::Borrowed(input)];
    }
    input
        .uris
        .iter()
        .map(|uri| {
            Cow::Owned(Input {
                uri: Some(uri.clone()),
                uris: Vec::new(),
                ..input.clone()
            })
        })
        .collect()
}

/// How much of a failing stage's request the details show.
const DETAIL_REQUEST_BYTES: usize = 2048;

/// The stage's failures, and when there are some, what was sent and logged.
fn run_stage(
    rules: &RuleSet,
    input: &Input,
    expected: &Output,
    unique_id: &str,
    strictness: Strictness,
) -> (Vec<Failure>, Option<String>) {
    let bytes = match raw::build_request(input) {
        Ok(bytes) => bytes,
        Err(e) => return (vec![Failure::Input(e.to_string())], None),
    };
    let observed = match http1::parse_request(&bytes, strictness) {
        Err(rejection) => Observation {
            status: rejection.status,
            response_text: format!("HTTP/1.1 {} \r\n\r\n", rejection.status),
            rejected: Some(rejection),
            ..Observation::default()
        },
        Ok(parsed) => {
            let addresses = addresses(input);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                evaluate(rules, parsed, addresses, unique_id)
            }));
            match outcome {
                Ok(observed) => observed,
                Err(payload) => {
                    let why = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    return (vec![Failure::Panic(why)], None);
                }
            }
        }
    };
    let failures = judge::judge(expected, &observed);
    if failures.is_empty() {
        return (failures, None);
    }
    let shown = bytes.get(..DETAIL_REQUEST_BYTES).unwrap_or(&bytes);
    let mut details = format!("request:\n{}", String::from_utf8_lossy(shown));
    if shown.len() < bytes.len() {
        details.push_str(&format!("\n… ({} bytes in all)", bytes.len()));
    }
    details.push_str(&format!(
        "\nstatus {}\nlog:\n{}",
        observed.status, observed.log
    ));
    (failures, Some(details))
}

/// Client and server addresses: go-ftw connects from the loopback to
/// `dest_addr:port` (`localhost` being the loopback too).
fn addresses(input: &Input) -> (SocketAddr, SocketAddr) {
    let ip: IpAddr = input
        .dest_addr()
        .parse()
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let client_ip = if ip.is_ipv6() {
        IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    (
        SocketAddr::new(client_ip, 54321),
        SocketAddr::new(ip, input.port()),
    )
}

/// Phases 1–4 for a request the server accepted.
fn evaluate(
    rules: &RuleSet,
    parsed: ParsedRequest,
    (client, server): (SocketAddr, SocketAddr),
    unique_id: &str,
) -> Observation {
    let response = backend::respond(&parsed);
    let request = HttpRequest {
        method: parsed.method,
        uri: parsed.target,
        protocol: parsed.version,
        headers: parsed.headers,
        body: parsed.body,
        client,
        server,
    };
    let mut tx = rules.transaction(unique_id);
    // DetectionOnly never interrupts; if the engine does anyway, the
    // client gets the interruption's status and later phases do not run.
    let mut interruption = tx.process_request_headers(&request).cloned();
    if interruption.is_none() {
        interruption = tx.process_request_body(&request).cloned();
    }
    if interruption.is_none() {
        interruption = tx.process_response_headers(&response).cloned();
    }
    if interruption.is_none() {
        interruption = tx.process_response_body(&response).cloned();
    }
    // Phase 5 runs whatever happened before (the 980xxx reporting rules).
    tx.process_logging();
    let mut logged_ids = BTreeSet::new();
    let mut log = String::new();
    for rule in tx.matched_rules().iter().filter(|r| r.logged) {
        logged_ids.insert(rule.id);
        log.push_str(&judge::log_line(rule, &request.uri, unique_id));
        log.push('\n');
    }
    let status = interruption.as_ref().map_or(response.status, |i| i.status);
    Observation {
        status,
        rejected: None,
        logged_ids,
        log,
        response_text: match interruption {
            Some(_) => format!("HTTP/1.1 {status} \r\n\r\n"),
            None => response_text(&response),
        },
    }
}

fn response_text(response: &HttpResponse) -> String {
    let mut text = format!("{} {} \r\n", response.protocol, response.status);
    for (name, value) in &response.headers {
        text.push_str(name);
        text.push_str(": ");
        text.push_str(&String::from_utf8_lossy(value));
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(&String::from_utf8_lossy(&response.body));
    text
}
