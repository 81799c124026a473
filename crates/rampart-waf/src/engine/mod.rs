//! Compiled rule sets and per-request transactions. CONTRACT (the CRS
//! runner and the gateway rely on these signatures; bodies may change):
//!
//! * [`RuleSetBuilder`] reads SecLang text or files (`Include` with globs,
//!   relative to the including file) and [`RuleSetBuilder::build`] compiles
//!   them; any problem is a [`LoadError`] printed as `FILE:LINE: message`.
//! * [`RuleSet::transaction`] starts one request's evaluation;
//!   [`Transaction::process_request_headers`] runs phase 1,
//!   [`Transaction::process_request_body`] phase 2,
//!   [`Transaction::process_response_headers`] / `_body` phases 3 and 4,
//!   [`Transaction::process_logging`] phase 5.
//!   Each returns the interruption if a disruptive action fired (in
//!   `DetectionOnly` none is returned, but matches are still recorded).
//!
//! Callers run every phase they have, `process_request_body` included for
//! bodyless requests (phase 2 holds most of CRS), and `process_logging`
//! last, even after an interruption.
//!
//! Semantics follow ModSecurity v3, checked against CRS's regression
//! suite:
//! * non-disruptive actions (`setvar`, `ctl`, `capture`) run for every
//!   matching value of every chain link as it matches; the chain starter's
//!   disruptive action, `msg` and `logdata` apply once the whole chain has
//!   matched (MATCHED_VAR then is the last link's);
//! * markers exist in every phase; `SecRuleRemove*` and
//!   `SecRuleUpdateTarget*` apply wherever they appear in the files;
//! * REQUEST_BODY holds the raw body for the URLENCODED and JSON
//!   processors, or when `ctl:forceRequestBodyVariable` asked for it on an
//!   unprocessed type; XML and multipart bodies are read through `XML:` and
//!   the multipart variables;
//! * REQBODY_PROCESSOR and REQUEST_BASENAME read as empty when unset;
//! * REQUEST_URI and REQUEST_FILENAME are percent-decoded, QUERY_STRING and
//!   REQUEST_URI_RAW are not;
//! * a body over `SecRequestBodyLimit` is refused with 413 (rule id 0)
//!   unless `SecRequestBodyLimitAction ProcessPartial`.
//!
//! Everything is compiled at load time (operators, selectors, macros,
//! transformation chains interned); per request, transformed values are
//! cached by (value, chain), and values are borrowed, not copied.

mod base;
mod build;
mod collect;
mod compile;
mod data;
mod exec;
mod macros;
mod matching;
mod rule;
mod vars;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;

pub use base::recommended_base;
pub use compile::RuleSetBuilder;
pub use data::EngineMode;

use crate::request::{HttpRequest, HttpResponse};
use crate::transform::Transformation;
use compile::Config;
use data::{ReqData, State};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct LoadError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// A phase's evaluation order: rules and markers as they appeared.
#[derive(Debug)]
pub(crate) enum Entry {
    /// `skip_to`: where `skipAfter` resumes (index into the phase list).
    Rule {
        idx: usize,
        skip_to: Option<usize>,
    },
    Marker(String),
}

#[derive(Debug)]
pub struct RuleSet {
    pub(crate) phases: [Vec<Entry>; 5],
    pub(crate) rules: Vec<rule::Rule>,
    pub(crate) tchains: Vec<Vec<Transformation>>,
    /// Number of distinct request-only target lists (see `Rule::target_set`).
    pub(crate) target_sets: usize,
    pub(crate) config: Config,
}

impl RuleSet {
    /// `unique_id` becomes UNIQUE_ID (the reference shown on block pages).
    pub fn transaction(&self, unique_id: &str) -> Transaction<'_> {
        Transaction {
            rules: self,
            unique_id: unique_id.to_owned(),
            req: ReqData::default(),
            state: State::new(self.config.engine, self.config.body_access),
            cache: TransformCache::with_capacity_and_hasher(64, Default::default()),
            matched: Vec::new(),
            interruption: None,
        }
    }

    /// Number of rules (chain starters) after removals.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The configured `SecRuleEngine` mode.
    pub fn engine_mode(&self) -> EngineMode {
        self.config.engine
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

/// Transformed values by (value source, transformation chain); `None`
/// means the chain left the value unchanged.
pub(crate) type TransformCache =
    HashMap<(u64, usize), Option<Vec<u8>>, std::hash::BuildHasherDefault<KeyHasher>>;

/// The cache's keys are small integers chosen by the engine, not by the
/// client, so a multiply-mix hash is enough and much cheaper than SipHash.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[derive(Debug)]
pub struct Transaction<'r> {
    rules: &'r RuleSet,
    unique_id: String,
    req: ReqData,
    state: State,
    cache: TransformCache,
    matched: Vec<MatchedRule>,
    interruption: Option<Interruption>,
}

impl Transaction<'_> {
    /// Phase 1 (request line and headers; `request.body` is ignored here).
    pub fn process_request_headers(&mut self, request: &HttpRequest) -> Option<&Interruption> {
        self.req.load_request_line(request, &self.unique_id);
        if let Some(ct) = self.req.header("content-type") {
            let ct = ct.to_ascii_lowercase();
            if ct.starts_with(b"multipart/form-data") {
                self.state.body_processor = Some(data::BodyProcessor::Multipart);
            } else if ct.starts_with(b"application/x-www-form-urlencoded") {
                self.state.body_processor = Some(data::BodyProcessor::UrlEncoded);
            }
        }
        self.run_phase(1);
        self.interruption.as_ref()
    }

    /// Phase 2 (the body processors run first, on `request.body`).
    pub fn process_request_body(&mut self, request: &HttpRequest) -> Option<&Interruption> {
        if self.interruption.is_none() && self.state.engine != EngineMode::Off {
            let config = &self.rules.config;
            if self.state.body_access
                && config.body_limit_reject
                && request.body.len() > config.body_limit
                && self.state.engine == EngineMode::On
            {
                // Status 413; rule id 0 says no rule decided it.
                self.interruption = Some(Interruption {
                    rule_id: 0,
                    status: 413,
                    action: InterruptAction::Deny,
                    location: None,
                });
                return self.interruption.as_ref();
            }
            self.load_body(&request.body);
        }
        self.run_phase(2);
        self.interruption.as_ref()
    }

    /// Phase 3.
    pub fn process_response_headers(&mut self, response: &HttpResponse) -> Option<&Interruption> {
        self.req.load_response_headers(response);
        self.run_phase(3);
        self.interruption.as_ref()
    }

    /// Phase 4 (RESPONSE_BODY when `SecResponseBodyAccess On` and the
    /// content type is one of `SecResponseBodyMimeType`).
    pub fn process_response_body(&mut self, response: &HttpResponse) -> Option<&Interruption> {
        let config = &self.rules.config;
        if config.response_body_access {
            let ct = response
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase());
            let mime = ct
                .as_deref()
                .and_then(|c| c.split(';').next())
                .map(str::trim)
                .unwrap_or("");
            if config.response_mime.iter().any(|m| m == mime) {
                let end = response.body.len().min(config.response_body_limit);
                self.req.response_body = response.body.get(..end).map(<[u8]>::to_vec);
            }
        }
        self.run_phase(4);
        self.interruption.as_ref()
    }

    /// Phase 5 (logging): never interrupts, but its rules (CRS 980xxx)
    /// still match.
    pub fn process_logging(&mut self) {
        self.run_phase(5);
    }

    pub fn matched_rules(&self) -> &[MatchedRule] {
        &self.matched
    }

    pub fn interruption(&self) -> Option<&Interruption> {
        self.interruption.as_ref()
    }

    /// A TX variable as text (`tx.blocking_inbound_anomaly_score` …);
    /// the `tx.` prefix is optional and names are case-insensitive.
    pub fn tx_var(&self, name: &str) -> Option<String> {
        let key = name
            .get(..3)
            .filter(|p| p.eq_ignore_ascii_case("tx."))
            .map_or(name, |_| name.get(3..).unwrap_or_default());
        self.state
            .tx
            .get(&key.to_ascii_lowercase())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The engine mode now in force (after any `ctl:ruleEngine`).
    pub fn engine_mode(&self) -> EngineMode {
        self.state.engine
    }
}
