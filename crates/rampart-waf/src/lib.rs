//! Rampart's native SecLang engine: it loads a rule directory written for
//! ModSecurity (the OWASP Core Rule Set v4 is the yardstick) and runs it over
//! a request and its response, reporting matched rules, anomaly scores and
//! whether to interrupt. No I/O on the request path: rule files, data files
//! and includes are read once at load time.
//!
//! * [`seclang`]: the directive parser (`FILE:LINE: message` errors).
//! * [`engine`]: compiled rule sets ([`RuleSet`]) and per-request
//!   [`Transaction`]s: variables, phases, chains, actions, `setvar`, `ctl`,
//!   macro expansion.
//! * [`transform`]: `t:` transformations (pure functions over bytes).
//! * [`operators`]: `@rx`, `@pm`, `@detectSQLi`, … (compiled once per rule).
//! * [`body`]: request body processors (urlencoded, multipart, JSON, XML).
//! * [`ftw`]: the CRS regression-suite runner (go-ftw YAML), in process.
#![forbid(unsafe_code)]

pub mod body;
pub mod engine;
pub mod ftw;
pub mod operators;
pub mod request;
pub mod seclang;
pub mod transform;

pub use engine::{Interruption, LoadError, MatchedRule, RuleSet, RuleSetBuilder, Transaction};
pub use request::{HttpRequest, HttpResponse};
