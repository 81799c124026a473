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

impl WafExclusion {
    /// Whether the exclusion can be written as SecLang safely: the same
    /// checks the file and the API apply (`key` names it in the message).
    /// The edge calls this before it writes the directives.
    pub fn check(&self, key: &str) -> Result<(), String> {
        if self.rule_ids.is_empty() && self.tags.is_empty() {
            return Err(checks::exclusion_needs_rules(key));
        }
        for tag in &self.tags {
            checks::tag(tag, &format!("{key}.tags"))?;
        }
        if let Some(target) = &self.target {
            checks::target(target, &format!("{key}.target"))?;
        }
        if let Some(path) = &self.path {
            checks::path(path, &format!("{key}.path"))?;
        }
        Ok(())
    }
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

/// `[waf]`: node-wide WAF settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WafNodeConfig {
    /// `crs`: the CRS directory sites use unless their file block names
    /// one. Checked at load: a directory holding `rules/`.
    pub crs: Option<PathBuf>,
}

impl WafNodeConfig {
    /// The CRS directory a site runs: its own (only a file site may name
    /// one), else the node's `[waf] crs`. `None`: no rule set, the WAF
    /// cannot run for this site.
    pub fn crs_for<'a>(&'a self, site: &'a WafSettings) -> Option<&'a std::path::Path> {
        site.crs.as_deref().or(self.crs.as_deref())
    }
}

/// The checks shared by the TOML walk (`waf_toml.rs`), site specs
/// (`spec/waf.rs`) and the dashboard's form.
pub(crate) mod checks {
    use std::ops::RangeInclusive;
    use std::path::Path;

    use super::{BodyLimitAction, WafMode};

    pub(crate) const PARANOIA: RangeInclusive<i64> = 1..=4;
    pub(crate) const THRESHOLD: RangeInclusive<i64> = 1..=10_000;
    /// Bytes; ModSecurity's own ceiling is 1 GiB.
    pub(crate) const BODY_LIMIT: RangeInclusive<u64> = 1..=(1 << 30);
    pub(crate) const MAX_EXCLUSIONS: usize = 500;
    pub(crate) const MAX_IDS: usize = 1000;
    pub(crate) const RULE_ID: RangeInclusive<u64> = 1..=999_999_999;
    const MAX_TAG: usize = 128;
    const MAX_SELECTOR: usize = 256;
    const MAX_PATH: usize = 1024;

    pub(crate) fn mode(s: &str) -> Result<WafMode, String> {
        match s {
            "off" => Ok(WafMode::Off),
            "detect" => Ok(WafMode::Detect),
            "block" => Ok(WafMode::Block),
            _ => Err(format!(
                "unknown WAF mode {s:?}; use \"off\", \"detect\" (log only) or \"block\""
            )),
        }
    }

    pub fn mode_str(m: WafMode) -> &'static str {
        match m {
            WafMode::Off => "off",
            WafMode::Detect => "detect",
            WafMode::Block => "block",
        }
    }

    pub(crate) fn body_limit_action(s: &str) -> Result<BodyLimitAction, String> {
        match s {
            "reject" => Ok(BodyLimitAction::Reject),
            "inspect_partial" => Ok(BodyLimitAction::InspectPartial),
            _ => Err(format!(
                "unknown body limit action {s:?}; use \"reject\" (413) or \"inspect_partial\" (inspect the first bytes, pass the rest)"
            )),
        }
    }

    pub fn body_limit_action_str(a: BodyLimitAction) -> &'static str {
        match a {
            BodyLimitAction::Reject => "reject",
            BodyLimitAction::InspectPartial => "inspect_partial",
        }
    }

    /// A body limit written as bytes or a size ("128KiB"); "off" is not
    /// allowed: the engine buffers what it inspects.
    pub(crate) fn body_limit_text(s: &str, key: &str) -> Result<u64, String> {
        if s.trim() == "off" {
            return Err(format!(
                "`{key}` cannot be \"off\": the WAF buffers what it inspects; give a size up to 1GiB, e.g. \"128KiB\", and choose `body_limit_action`"
            ));
        }
        match crate::security_checks::body_size_text(s, key) {
            Ok(Some(n)) => body_limit(n, key),
            _ => Err(body_limit_message(key, &format!("{s:?}"))),
        }
    }

    pub(crate) fn body_limit(n: u64, key: &str) -> Result<u64, String> {
        if BODY_LIMIT.contains(&n) {
            Ok(n)
        } else {
            Err(body_limit_message(key, &n.to_string()))
        }
    }

    pub(crate) fn body_limit_message(key: &str, found: &str) -> String {
        format!(
            "`{key}` must be a number of bytes from 1 to 1GiB or a size such as \"128KiB\" or \"1MiB\"; found {found}"
        )
    }

    pub(crate) fn rule_id(n: u64, key: &str) -> Result<u64, String> {
        if RULE_ID.contains(&n) {
            Ok(n)
        } else {
            Err(format!(
                "`{key}`: rule ids are 1 to 999999999 (CRS rules are 6 digits, e.g. 942100); found {n}"
            ))
        }
    }

    // The alphabets below keep exclusions writable as SecLang: nothing an
    // owner writes can open a quote or start another directive. The edge
    // applies the same checks (`WafExclusion::check`) before writing them.

    pub(crate) fn tag(s: &str, key: &str) -> Result<(), String> {
        let ok = !s.is_empty()
            && s.len() <= MAX_TAG
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b));
        if !ok {
            return Err(format!(
                "`{key}`: a tag is 1 to {MAX_TAG} letters, digits, '_', '-', '.' or '/', e.g. \"attack-sqli\"; found {s:?}"
            ));
        }
        Ok(())
    }

    /// `VARIABLE` or `VARIABLE:selector` as SecLang writes targets, e.g.
    /// "ARGS:password", "REQUEST_COOKIES:/^session/", "REQUEST_HEADERS:User-Agent".
    pub(crate) fn target(s: &str, key: &str) -> Result<(), String> {
        let (var, selector) = s.split_once(':').unwrap_or((s, ""));
        let var_ok = !var.is_empty() && var.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        let sel_ok = selector.len() <= MAX_SELECTOR
            && selector
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.[]/^$*+?()|{}=".contains(&b));
        if !var_ok || !sel_ok || (s.contains(':') && selector.is_empty()) {
            return Err(format!(
                "`{key}`: a target is a variable, optionally with a selector, as in SecLang: \"ARGS:password\", \"REQUEST_COOKIES:/^session/\", \"REQUEST_HEADERS:User-Agent\" (selectors: letters, digits and _-.[]/^$*+?()|{{}}=); found {s:?}"
            ));
        }
        Ok(())
    }

    /// A path prefix: starts with '/', visible ASCII without quotes,
    /// backslashes or '%'.
    pub(crate) fn path(s: &str, key: &str) -> Result<(), String> {
        let ok = s.starts_with('/')
            && s.len() <= MAX_PATH
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"\"'\\%".contains(&b));
        if !ok {
            return Err(format!(
                "`{key}`: a path prefix starts with '/' and has no spaces, quotes, backslashes or '%' (write it decoded), e.g. \"/login\"; found {s:?}"
            ));
        }
        Ok(())
    }

    pub(crate) fn exclusion_needs_rules(key: &str) -> String {
        format!(
            "`{key}` needs `rule_ids` or `tags`: which rules the exclusion removes (or removes `target` from)"
        )
    }

    /// A CRS directory: exists and holds `rules/`.
    pub(crate) fn crs_dir(path: &Path, key: &str) -> Result<(), String> {
        match std::fs::metadata(path.join("rules")) {
            Ok(meta) if meta.is_dir() => Ok(()),
            _ if !path.is_dir() => Err(format!(
                "`{key}`: {} is not a directory; give the path of a CRS checkout (holding rules/), relative to the config file",
                path.display()
            )),
            _ => Err(format!(
                "`{key}`: {} has no rules/ directory; give the top of a CRS checkout (where crs-setup.conf.example and rules/ are)",
                path.display()
            )),
        }
    }

    pub(crate) fn crs_refused(key: &str) -> String {
        format!(
            "`{key}` cannot be set through the API: the CRS rule set is the operator's (the node's `[waf] crs`); remove the field"
        )
    }
}
