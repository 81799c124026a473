//! Whether one stage met its expectations, with go-ftw's rules: a status is
//! checked when given, the log must (not) show the listed rule ids and
//! regexes, and an expected error is satisfied by the server refusing the
//! request.
//!
//! In process there is no error.log; the log is synthesised from the rules
//! the engine reports as logged, one ModSecurity-style line per rule
//! (`[id "…"] [msg "…"] [data "…"] …`), which is what the suite's
//! `match_regex` expectations are written against.

use std::collections::BTreeSet;
use std::fmt;

use crate::engine::MatchedRule;

use super::http1::Rejection;
use super::schema::Output;

/// What happened to one stage's request.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Status the client would have received.
    pub status: u16,
    /// Set when the server refused the request before the WAF.
    pub rejected: Option<Rejection>,
    /// Ids of the rules that would have written to the log.
    pub logged_ids: BTreeSet<u64>,
    /// The synthesised log, one line per logged rule match.
    pub log: String,
    /// Status line, headers and body as the client would read them.
    pub response_text: String,
}

/// Why a stage failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The request could not be built from the YAML.
    Input(String),
    /// The server refused the request, so the WAF never saw it; `missing`
    /// lists the ids the test expected.
    Rejected {
        status: u16,
        reason: String,
        missing: Vec<u64>,
    },
    MissingIds(Vec<u64>),
    UnexpectedIds(Vec<u64>),
    Status {
        expected: Vec<u16>,
        actual: u16,
    },
    LogRegexNotFound(String),
    LogRegexFound(String),
    ResponseMissing(String),
    /// `isolated`: other rules than the expected ones were logged.
    NotIsolated(Vec<u64>),
    /// A regex in the test does not compile.
    BadRegex(String),
    /// The engine panicked on this request.
    Panic(String),
}

impl Failure {
    /// A short label for grouping failures: the kind, plus the ids involved
    /// when a single id is at stake.
    pub fn cause(&self) -> String {
        match self {
            Failure::Input(why) => format!("input: {why}"),
            Failure::Rejected { status, reason, .. } => {
                format!("rejected before the WAF ({status}: {reason})")
            }
            Failure::MissingIds(ids) => format!("missing {}", id_list(ids)),
            Failure::UnexpectedIds(ids) => format!("unexpected {}", id_list(ids)),
            Failure::Status { expected, actual } => {
                format!("status {actual}, expected {}", status_list(expected))
            }
            Failure::LogRegexNotFound(_) => "match_regex not found in log".to_owned(),
            Failure::LogRegexFound(_) => "no_match_regex found in log".to_owned(),
            Failure::ResponseMissing(_) => "response_contains not found".to_owned(),
            Failure::NotIsolated(ids) => format!("not isolated: {}", id_list(ids)),
            Failure::BadRegex(_) => "bad regex in test".to_owned(),
            Failure::Panic(_) => "engine panic".to_owned(),
        }
    }
}

fn id_list(ids: &[u64]) -> String {
    let parts: Vec<String> = ids.iter().map(u64::to_string).collect();
    parts.join(",")
}

fn status_list(codes: &[u16]) -> String {
    let parts: Vec<String> = codes.iter().map(u16::to_string).collect();
    parts.join("|")
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Input(why) => write!(f, "bad test input: {why}"),
            Failure::Rejected {
                status,
                reason,
                missing,
            } => {
                write!(f, "server refused the request ({status}: {reason})")?;
                if !missing.is_empty() {
                    write!(f, "; expected ids never had a chance: {}", id_list(missing))?;
                }
                Ok(())
            }
            Failure::MissingIds(ids) => write!(f, "expected ids not logged: {}", id_list(ids)),
            Failure::UnexpectedIds(ids) => write!(f, "unexpected ids logged: {}", id_list(ids)),
            Failure::Status { expected, actual } => {
                write!(f, "status {actual}, expected {}", status_list(expected))
            }
            Failure::LogRegexNotFound(re) => write!(f, "log does not match /{re}/"),
            Failure::LogRegexFound(re) => write!(f, "log matches /{re}/ but should not"),
            Failure::ResponseMissing(text) => write!(f, "response does not contain {text:?}"),
            Failure::NotIsolated(ids) => write!(f, "other rules logged: {}", id_list(ids)),
            Failure::BadRegex(why) => write!(f, "regex in the test does not compile: {why}"),
            Failure::Panic(why) => write!(f, "engine panicked: {why}"),
        }
    }
}

/// One ModSecurity-style log line for a matched rule.
pub fn log_line(rule: &MatchedRule, uri: &str, unique_id: &str) -> String {
    let mut line = format!(
        "ModSecurity: Warning. [id \"{}\"] [phase \"{}\"] [msg \"{}\"] [data \"{}\"]",
        rule.id,
        rule.phase,
        escape(&rule.message),
        escape(&rule.data)
    );
    if let Some(severity) = rule.severity {
        line.push_str(&format!(" [severity \"{severity}\"]"));
    }
    for tag in &rule.tags {
        line.push_str(&format!(" [tag \"{}\"]", escape(tag)));
    }
    line.push_str(&format!(
        " [uri \"{}\"] [unique_id \"{}\"]",
        escape(uri),
        escape(unique_id)
    ));
    line
}

/// Quotes and line breaks escaped so that one match stays one line, as in
/// ModSecurity's error log.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Regexes come from the test files; bound their compiled size.
fn compile(pattern: &str) -> Result<regex::Regex, Failure> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| Failure::BadRegex(e.to_string()))
}

/// Every expectation of `expected` that `observed` does not meet.
pub fn judge(expected: &Output, observed: &Observation) -> Vec<Failure> {
    if expected.expect_error == Some(true) && observed.rejected.is_some() {
        return Vec::new();
    }
    let mut failures = Vec::new();
    if !expected.status.is_empty() && !expected.status.contains(&observed.status) {
        // The suite's 400s come from Apache refusing malformed requests;
        // hyper refuses some of them with another client or server error
        // (408, 431, …). Refused is refused.
        let refused_alike = observed.rejected.is_some()
            && expected.status.contains(&400)
            && (400..600).contains(&observed.status);
        if !refused_alike {
            failures.push(Failure::Status {
                expected: expected.status.clone(),
                actual: observed.status,
            });
        }
    }
    if let Some(text) = &expected.response_contains
        && !observed.response_text.contains(text.as_str())
    {
        failures.push(Failure::ResponseMissing(text.clone()));
    }
    let missing: Vec<u64> = expected
        .log
        .expect_ids
        .iter()
        .copied()
        .filter(|id| !observed.logged_ids.contains(id))
        .collect();
    if !missing.is_empty() {
        failures.push(Failure::MissingIds(missing));
    }
    let unexpected: Vec<u64> = expected
        .log
        .no_expect_ids
        .iter()
        .copied()
        .filter(|id| observed.logged_ids.contains(id))
        .collect();
    if !unexpected.is_empty() {
        failures.push(Failure::UnexpectedIds(unexpected));
    }
    for pattern in [&expected.log.match_regex, &expected.log_contains]
        .into_iter()
        .flatten()
    {
        match compile(pattern) {
            Ok(re) if re.is_match(&observed.log) => {}
            Ok(_) => failures.push(Failure::LogRegexNotFound(pattern.clone())),
            Err(bad) => failures.push(bad),
        }
    }
    for pattern in [&expected.log.no_match_regex, &expected.no_log_contains]
        .into_iter()
        .flatten()
    {
        match compile(pattern) {
            Ok(re) if re.is_match(&observed.log) => {
                failures.push(Failure::LogRegexFound(pattern.clone()));
            }
            Ok(_) => {}
            Err(bad) => failures.push(bad),
        }
    }
    if expected.isolated {
        let others: Vec<u64> = observed
            .logged_ids
            .iter()
            .copied()
            .filter(|id| !expected.log.expect_ids.contains(id))
            .collect();
        if !others.is_empty() {
            failures.push(Failure::NotIsolated(others));
        }
    }
    // A refused request explains every other failure: report it as such.
    if let (Some(rejection), false) = (&observed.rejected, failures.is_empty()) {
        return vec![Failure::Rejected {
            status: rejection.status,
            reason: rejection.reason.clone(),
            missing: expected.log.expect_ids.clone(),
        }];
    }
    failures
}
