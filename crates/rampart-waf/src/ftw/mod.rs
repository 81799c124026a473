//! The CRS regression suite (go-ftw YAML) run in process against the engine.
//!
//! go-ftw sends each test's request to a web server running ModSecurity and
//! CRS, then reads the server's error.log. Here the same happens without a
//! network: the request bytes go-ftw would write ([`raw`]) are read back as
//! Rampart's hyper-based edge would read them ([`http1`]; what it refuses
//! never reaches the WAF and answers 400), the engine runs phases 1–2, the
//! suite's backend (albedo) is emulated ([`backend`]) for phases 3–4, phase 5
//! runs, and the rules the engine logged stand in for the error.log
//! ([`judge`]).
//!
//! Judgement, as go-ftw does it where it can be done in process:
//! `expect_ids` / `no_expect_ids` look at the rules the engine reports as
//! *logged* (a `nolog` rule is not in an error.log either: counting them
//! would put CRS's initialisation rules in every log); `match_regex`
//! and the old `log_contains` run over the synthesised log; a `status` is
//! compared with what the client would get (the backend's status, an
//! interruption's, or the front end's refusal). Where the suite expects
//! Apache's 400 for a malformed request and hyper refuses it with another
//! 4xx/5xx (408 for a truncated body, 431 for too many headers), the
//! refusal counts as the expected one; `expect_error` is met by a refusal.
//! A refused request that was expected to reach the WAF fails with the
//! refusal as its cause, not as a list of missing ids.
//!
//! Entry point: [`run_suite`]. Known deviations can be listed in an
//! overrides file in the `coraza-overrides.yaml` format
//! ([`RunOptions::overrides`]); an override with an `output` replaces the
//! test's expectations, one without is skipped with its reason. Rampart's
//! own list ([`BUNDLED_OVERRIDES`]) covers the front end's deviations only.

pub mod backend;
pub mod http1;
pub mod judge;
pub mod raw;
pub mod report;
pub mod runner;
pub mod schema;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use http1::Strictness;
pub use judge::Failure;
pub use report::{SuiteReport, TestOutcome, TestResult};

use crate::engine::LoadError;

#[derive(Debug, thiserror::Error)]
pub enum FtwError {
    #[error("loading the rule set: {0}")]
    Load(#[from] LoadError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Yaml { path: PathBuf, message: String },
    #[error("no test files under {}", .0.display())]
    NoTests(PathBuf),
}

/// Which tests to run and how.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only the tests of this rule (`942100`).
    pub rule_id: Option<u64>,
    /// Only this test id (of every selected rule).
    pub test_id: Option<u64>,
    /// An overrides file (`coraza-overrides.yaml` format).
    pub overrides: Option<PathBuf>,
    /// How strictly requests are read before the WAF (default: as hyper).
    pub strictness: Strictness,
    /// Apply [`BUNDLED_OVERRIDES`] (hyper front-end deviations) before
    /// `overrides`; ignored with [`Strictness::Lenient`], which they do not
    /// describe.
    pub bundled_overrides: bool,
}

/// Rampart's own overrides: where its hyper front end reads a request
/// differently from the Apache the suite was written against.
pub const BUNDLED_OVERRIDES: &str = include_str!("rampart-overrides.yaml");

/// Runs the regression suite found under `crs_dir/tests/regression/tests`
/// against the rules in `crs_dir` (see [`runner::load_rules`]).
pub fn run_suite(crs_dir: &Path, options: &RunOptions) -> Result<SuiteReport, FtwError> {
    runner::run(crs_dir, options)
}
