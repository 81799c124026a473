//! Compiled rule sets and per-request transactions. CONTRACT (the CRS
//! runner and the gateway rely on these signatures; bodies may change):
//!
//! * [`RuleSetBuilder`] reads SecLang text or files (`Include` with globs,
//!   relative to the including file) and [`RuleSetBuilder::build`] compiles
//!   them; any problem is a [`LoadError`] printed as `FILE:LINE: message`.
//! * [`RuleSet::transaction`] starts one request's evaluation;
//!   [`Transaction::process_request_headers`] runs phase 1,
//!   [`Transaction::process_request_body`] phase 2,
//!   [`Transaction::process_response_headers`] / `_body` phases 3 and 4.
//!   Each returns the interruption if a disruptive action fired (in
//!   `DetectionOnly` none is returned, but matches are still recorded).

use std::path::{Path, PathBuf};

use crate::request::{HttpRequest, HttpResponse};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct LoadError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct RuleSetBuilder {}

impl RuleSetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses directives from memory. `origin` names the text in errors;
    /// `Include` and data files resolve against `base_dir`.
    pub fn add_directives(
        &mut self,
        origin: &Path,
        base_dir: &Path,
        text: &str,
    ) -> Result<(), LoadError> {
        let _ = (origin, base_dir, text);
        Ok(())
    }

    /// Reads one file (its `Include`s relative to it).
    pub fn add_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let _ = path;
        Ok(())
    }

    pub fn build(self) -> Result<RuleSet, LoadError> {
        Ok(RuleSet {})
    }
}

#[derive(Debug)]
pub struct RuleSet {}

impl RuleSet {
    /// `unique_id` becomes UNIQUE_ID (the reference shown on block pages).
    pub fn transaction(&self, unique_id: &str) -> Transaction<'_> {
        Transaction {
            rules: self,
            unique_id: unique_id.to_owned(),
            matched: Vec::new(),
            interruption: None,
        }
    }
}

/// A rule that matched (rules with `nolog` included: the runner needs
/// every id; `logged` says whether it would be logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub id: u64,
    pub phase: u8,
    pub message: String,
    /// `logdata` after macro expansion.
    pub data: String,
    pub severity: Option<u8>,
    pub tags: Vec<String>,
    pub logged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptAction {
    Deny,
    Drop,
    Redirect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    pub rule_id: u64,
    pub status: u16,
    pub action: InterruptAction,
    /// For `redirect:`.
    pub location: Option<String>,
}

#[derive(Debug)]
pub struct Transaction<'r> {
    rules: &'r RuleSet,
    unique_id: String,
    matched: Vec<MatchedRule>,
    interruption: Option<Interruption>,
}

impl Transaction<'_> {
    /// Phase 1 (request line and headers; `request.body` is ignored here).
    pub fn process_request_headers(&mut self, request: &HttpRequest) -> Option<&Interruption> {
        let _ = (request, self.rules, &self.unique_id);
        self.interruption.as_ref()
    }

    /// Phase 2 (the body processors run first, on `request.body`).
    pub fn process_request_body(&mut self, request: &HttpRequest) -> Option<&Interruption> {
        let _ = request;
        self.interruption.as_ref()
    }

    /// Phase 3.
    pub fn process_response_headers(&mut self, response: &HttpResponse) -> Option<&Interruption> {
        let _ = response;
        self.interruption.as_ref()
    }

    /// Phase 4.
    pub fn process_response_body(&mut self, response: &HttpResponse) -> Option<&Interruption> {
        let _ = response;
        self.interruption.as_ref()
    }

    pub fn matched_rules(&self) -> &[MatchedRule] {
        &self.matched
    }

    pub fn interruption(&self) -> Option<&Interruption> {
        self.interruption.as_ref()
    }

    /// A TX variable as text (`tx.blocking_inbound_anomaly_score` …).
    pub fn tx_var(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }
}
