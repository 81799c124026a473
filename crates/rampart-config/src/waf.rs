//! Per-site WAF settings: `waf = { mode = "block", paranoia = 1, crs = "…" }`
//! in a site block, or `[site.waf]`, and the `waf` object of a site spec.
//! The edge compiles one rule set per distinct (CRS directory, paranoia,
//! thresholds, exclusions) and runs it after the site's own rules.

use std::path::PathBuf;

/// What the WAF does with a request whose anomaly score reaches the
/// threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WafMode {
    /// Not evaluated at all.
    #[default]
    Off,
    /// Evaluated and recorded as security events; never blocks.
    Detect,
    /// Evaluated; a request over the threshold gets Rampart's block page.
    Block,
}

/// What happens to a request whose body is larger than the inspection
/// limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyLimitAction {
    /// Refused with 413 (ModSecurity's `Reject`).
    #[default]
    Reject,
    /// The first `request_body_limit` bytes are inspected and the whole
    /// body is passed on (ModSecurity's `ProcessPartial`).
    InspectPartial,
}

/// A rule exclusion, first-class: `{ rule_ids = [942100], tags = […],
/// target = "ARGS:password", path = "/login" }`. Without `target` the
/// rules are removed; with it only that target is removed from them.
/// With `path` (a path prefix) it applies only to matching requests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WafExclusion {
    pub rule_ids: Vec<u64>,
    pub tags: Vec<String>,
    pub target: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WafSettings {
    pub mode: WafMode,
    /// CRS blocking paranoia level, 1–4. Default 1.
    pub paranoia: u8,
    /// CRS `tx.inbound_anomaly_score_threshold`. Default 5.
    pub inbound_threshold: u32,
    /// CRS `tx.outbound_anomaly_score_threshold`. Default 4.
    pub outbound_threshold: u32,
    /// Largest request body inspected, in bytes. Default 128 KiB.
    pub request_body_limit: u64,
    pub body_limit_action: BodyLimitAction,
    /// Inspect response bodies (phase 4). Default false.
    pub inspect_responses: bool,
    /// The CRS directory (holding `rules/` and `crs-setup.conf.example`).
    /// Only the operator's file may name one; `None` is the node's
    /// `[waf] crs` default.
    pub crs: Option<PathBuf>,
    pub exclusions: Vec<WafExclusion>,
}

impl Default for WafSettings {
    fn default() -> Self {
        Self {
            mode: WafMode::Off,
            paranoia: 1,
            inbound_threshold: 5,
            outbound_threshold: 4,
            request_body_limit: 128 * 1024,
            body_limit_action: BodyLimitAction::Reject,
            inspect_responses: false,
            crs: None,
            exclusions: Vec::new(),
        }
    }
}
