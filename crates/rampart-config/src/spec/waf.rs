//! The `waf` object of a site spec: JSON shape, compilation through the
//! checks the TOML walk uses (`waf::checks`), and the way back for
//! `SiteSpec::from_config`. `crs` is accepted only from the operator's
//! file (`compile_file_site_with_lists`): an API caller must not point the
//! engine at files of the server.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::compile::Errors;
use super::security::BodyLimitSpec;
use crate::waf::checks;
use crate::waf::*;

/// `waf = { … }` as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WafSpec {
    /// "off" (default), "detect" (log only) or "block".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// CRS paranoia level, 1 (default) to 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paranoia: Option<u32>,
    /// Inbound anomaly score threshold, 1 to 10000; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_threshold: Option<u32>,
    /// Outbound anomaly score threshold, 1 to 10000; default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_threshold: Option<u32>,
    /// Largest request body inspected: bytes or a size ("128KiB", the
    /// default), up to 1GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body_limit: Option<BodyLimitSpec>,
    /// Beyond the limit: "reject" (413, default) or "inspect_partial".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_limit_action: Option<String>,
    /// Inspect response bodies; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect_responses: Option<bool>,
    /// Only in the configuration file; refused through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crs: Option<String>,
    /// At most 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusions: Option<Vec<WafExclusionSpec>>,
}

/// A rule exclusion: the rules (by id and/or tag) it removes, or removes
/// `target` from, optionally only under a path prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WafExclusionSpec {
    /// CRS rule ids, e.g. [942100].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_ids: Option<Vec<u64>>,
    /// CRS tags, e.g. ["attack-sqli"].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// "ARGS:password", "REQUEST_COOKIES:/^session/", …; without it the
    /// rules are removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A path prefix such as "/login"; without it, everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Compiles a spec's `waf`. `file` says whether it comes from the
/// operator's file (the only place `crs` may be set).
pub(super) fn compile(w: &WafSpec, file: bool, e: &mut Errors) -> WafSettings {
    let d = WafSettings::default();
    let mode = match w.mode.as_deref().map(checks::mode) {
        None => d.mode,
        Some(Ok(m)) => m,
        Some(Err(msg)) => e.invalid("waf.mode", format!("`waf.mode`: {msg}"), d.mode),
    };
    let paranoia = e.int(
        "waf.paranoia",
        w.paranoia,
        checks::PARANOIA,
        u32::from(d.paranoia),
    );
    let request_body_limit = match &w.request_body_limit {
        None => d.request_body_limit,
        Some(limit) => {
            let key = "waf.request_body_limit";
            let parsed = match limit {
                BodyLimitSpec::Bytes(n) => checks::body_limit(*n, key),
                BodyLimitSpec::Text(s) => checks::body_limit_text(s, key),
            };
            parsed.unwrap_or_else(|msg| e.invalid(key, msg, d.request_body_limit))
        }
    };
    let body_limit_action = match w
        .body_limit_action
        .as_deref()
        .map(checks::body_limit_action)
    {
        None => d.body_limit_action,
        Some(Ok(a)) => a,
        Some(Err(msg)) => e.invalid(
            "waf.body_limit_action",
            format!("`waf.body_limit_action`: {msg}"),
            d.body_limit_action,
        ),
    };
    let crs = match &w.crs {
        None => None,
        Some(_) if !file => {
            e.push("waf.crs", "forbidden", checks::crs_refused("waf.crs"));
            None
        }
        // Checked when the file was loaded; kept as the file resolved it.
        Some(path) => Some(PathBuf::from(path)),
    };
    WafSettings {
        mode,
        paranoia: u8::try_from(paranoia).unwrap_or(d.paranoia),
        inbound_threshold: e.int(
            "waf.inbound_threshold",
            w.inbound_threshold,
            checks::THRESHOLD,
            d.inbound_threshold,
        ),
        outbound_threshold: e.int(
            "waf.outbound_threshold",
            w.outbound_threshold,
            checks::THRESHOLD,
            d.outbound_threshold,
        ),
        request_body_limit,
        body_limit_action,
        inspect_responses: w.inspect_responses.unwrap_or(d.inspect_responses),
        crs,
        exclusions: w
            .exclusions
            .as_deref()
            .map(|x| exclusions(x, e))
            .unwrap_or_default(),
    }
}

fn exclusions(specs: &[WafExclusionSpec], e: &mut Errors) -> Vec<WafExclusion> {
    let key = "waf.exclusions";
    if specs.len() > checks::MAX_EXCLUSIONS {
        e.push(
            key,
            "too_long",
            crate::security_checks::too_many(key, checks::MAX_EXCLUSIONS, specs.len()),
        );
    }
    let mut out = Vec::with_capacity(specs.len());
    for (i, x) in specs.iter().enumerate() {
        let elem = format!("{key}[{i}]");
        let before = e.len();
        let ids = x.rule_ids.as_deref().unwrap_or_default();
        if ids.len() > checks::MAX_IDS {
            let field = format!("{elem}.rule_ids");
            let msg = crate::security_checks::too_many(&field, checks::MAX_IDS, ids.len());
            e.push(field, "too_long", msg);
        }
        let mut rule_ids = Vec::with_capacity(ids.len());
        for (j, &id) in ids.iter().enumerate() {
            let field = format!("{elem}.rule_ids[{j}]");
            match checks::rule_id(id, &field) {
                Ok(id) if !rule_ids.contains(&id) => rule_ids.push(id),
                Ok(_) => {}
                Err(msg) => e.push(field, "out_of_range", msg),
            }
        }
        let tags = x.tags.clone().unwrap_or_default();
        for (j, tag) in tags.iter().enumerate() {
            let field = format!("{elem}.tags[{j}]");
            if let Err(msg) = checks::tag(tag, &field) {
                e.push(field, "invalid", msg);
            }
        }
        if let Some(t) = &x.target {
            let field = format!("{elem}.target");
            if let Err(msg) = checks::target(t, &field) {
                e.push(field, "invalid", msg);
            }
        }
        if let Some(p) = &x.path {
            let field = format!("{elem}.path");
            if let Err(msg) = checks::path(p, &field) {
                e.push(field, "invalid", msg);
            }
        }
        if ids.is_empty() && tags.is_empty() {
            e.push(
                format!("{elem}.rule_ids"),
                "required",
                checks::exclusion_needs_rules(&elem),
            );
        }
        if e.len() == before {
            out.push(WafExclusion {
                rule_ids,
                tags,
                target: x.target.clone(),
                path: x.path.clone(),
            });
        }
    }
    out
}

/// The spec of compiled settings; `None` when they are the defaults.
pub(super) fn waf_spec(w: &WafSettings) -> Option<WafSpec> {
    (*w != WafSettings::default()).then(|| WafSpec::from_settings(w))
}

impl WafSpec {
    /// Checks this object alone, as `compile_site` would within a spec:
    /// every problem with its field (`waf.mode`, …). `file` allows `crs`
    /// (the configuration file's sites only).
    pub fn settings(&self, file: bool) -> Result<WafSettings, Vec<super::FieldError>> {
        let mut e = Errors::default();
        let out = compile(self, file, &mut e);
        e.into_result(out)
    }

    /// Every setting written out (what the API's GET shows), the size in
    /// bytes. `crs` only when the settings name one (a file site).
    pub fn from_settings(w: &WafSettings) -> WafSpec {
        WafSpec {
            mode: Some(checks::mode_str(w.mode).to_owned()),
            paranoia: Some(u32::from(w.paranoia)),
            inbound_threshold: Some(w.inbound_threshold),
            outbound_threshold: Some(w.outbound_threshold),
            request_body_limit: Some(BodyLimitSpec::Bytes(w.request_body_limit)),
            body_limit_action: Some(checks::body_limit_action_str(w.body_limit_action).to_owned()),
            inspect_responses: Some(w.inspect_responses),
            crs: w.crs.as_ref().map(|p| p.display().to_string()),
            exclusions: (!w.exclusions.is_empty())
                .then(|| w.exclusions.iter().map(exclusion_spec).collect()),
        }
    }
}

pub(super) fn exclusion_spec(x: &WafExclusion) -> WafExclusionSpec {
    WafExclusionSpec {
        rule_ids: (!x.rule_ids.is_empty()).then(|| x.rule_ids.clone()),
        tags: (!x.tags.is_empty()).then(|| x.tags.clone()),
        target: x.target.clone(),
        path: x.path.clone(),
    }
}
