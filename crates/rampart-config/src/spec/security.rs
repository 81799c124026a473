//! The security fields of a site spec (`rules`, `rate_limits`, `limits`,
//! `auto_under_attack`): their JSON shape, their compilation through the
//! checks the TOML walk uses (`security_checks.rs`), and the way back from
//! a `SiteSecurity` for `SiteSpec::from_config`.

use std::collections::HashMap;
use std::fmt;

use rampart_rules::ErrorKind;
use serde::{Deserialize, Deserializer, Serialize};

use super::compile::Errors;
use crate::security::*;
use crate::security_checks::{self as checks, ActionInput, RuleKey};

/// A custom rule; the same keys as a `[[site.rules]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleSpec {
    /// `[a-z0-9][a-z0-9_-]*`, at most 63 bytes, unique in the site.
    pub id: String,
    /// At most 500 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A rules-language expression, e.g. `http.request.uri.path eq "/admin"`.
    pub expression: String,
    /// "block", "challenge", "allow", "skip", "log" or "redirect".
    pub action: String,
    /// "block": 400 to 599 (default 403); "redirect": 301, 302 (default),
    /// 303, 307 or 308.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u32>,
    /// "challenge": "managed" (default), "js" or "interactive".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// "skip": phases to skip: "rules", "rate_limits", "under_attack",
    /// "bots", "waf".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_phases: Option<Vec<String>>,
    /// "skip": ids of later rules of this site to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_rules: Option<Vec<String>>,
    /// "redirect": an absolute http(s) URL or a path starting with '/'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A rate limit; the same keys as a `[[site.rate_limits]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitSpec {
    /// `[a-z0-9][a-z0-9_-]*`, at most 63 bytes, unique among the site's
    /// rate limits.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which requests count; default "true" (all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// What a counter is kept per: "ip" (default), "ip_prefix", "path",
    /// "site", "header:NAME", "cookie:NAME", "query_arg:NAME".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub characteristics: Option<Vec<String>>,
    /// "1s" to "1d".
    pub period: String,
    /// Requests allowed per period, 1 to 1,000,000,000.
    pub requests: u32,
    /// "block" (default, 429), "challenge" or "log".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// "0s" to "1d"; default: the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation_timeout: Option<String>,
    /// Evaluated on the response (may read `http.response.code`); only
    /// matching responses count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counting_expression: Option<String>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitsSpec {
    /// 1 to 10,000; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_header_count: Option<u32>,
    /// 16 to 1048576; default 8192.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uri_bytes: Option<u32>,
    /// Bytes, a size string ("10MiB"), or "off"; default "100MiB".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<BodyLimitSpec>,
}

/// `10485760`, `"10MiB"` or `"off"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BodyLimitSpec {
    Bytes(u64),
    Text(String),
}

// Hand-written: an untagged enum's error ("did not match any variant")
// does not say what to write.
impl<'de> Deserialize<'de> for BodyLimitSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = BodyLimitSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes, a size such as \"10MiB\", or \"off\"")
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<BodyLimitSpec, E> {
                Ok(BodyLimitSpec::Bytes(n))
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<BodyLimitSpec, E> {
                Ok(BodyLimitSpec::Text(s.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AutoUnderAttackSpec {
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 1.5 to 1000; default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// 1 to 10,000,000; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rps: Option<u32>,
    /// History learned before anything is flagged, "1s" to "1d"; default
    /// "10m".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<String>,
    /// Averaging window of the recent rate, "1s" to "1h"; default "30s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// How long the rate must stay low before switching back, "1s" to
    /// "1d"; default "5m".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
}

/// The spec's security fields. `known` says whether a `$list` the
/// expressions name exists for this site.
pub(super) fn compile(
    spec: &super::SiteSpec,
    known: &dyn Fn(&str) -> bool,
    e: &mut Errors,
) -> SiteSecurity {
    SiteSecurity {
        rules: spec
            .rules
            .as_deref()
            .map(|r| rules(r, known, e))
            .unwrap_or_default(),
        rate_limits: spec
            .rate_limits
            .as_deref()
            .map(|r| rate_limits(r, known, e))
            .unwrap_or_default(),
        limits: spec
            .limits
            .as_ref()
            .map(|l| limits(l, e))
            .unwrap_or_default(),
        auto_under_attack: spec
            .auto_under_attack
            .as_ref()
            .map(|a| auto_under_attack(a, e))
            .unwrap_or_default(),
        challenge: spec
            .challenge
            .as_ref()
            .map(|c| super::challenge::challenge(c, e))
            .unwrap_or_default(),
        bots: spec
            .bots
            .as_ref()
            .map(|b| super::challenge::bots(b, known, e))
            .unwrap_or_default(),
        captcha: spec
            .captcha_keys
            .as_deref()
            .map(|k| super::challenge::captcha_keys(k, e))
            .unwrap_or_default(),
        // `waf` is compiled by the caller, which knows whether `crs` may
        // be set (`spec/waf.rs`).
        waf: crate::WafSettings::default(),
    }
}

fn expression(
    field: &str,
    text: &str,
    responses: bool,
    known: &dyn Fn(&str) -> bool,
    e: &mut Errors,
) -> bool {
    match checks::expression(text, responses, &[], known) {
        Ok(()) => true,
        Err(err) => {
            let code = match err.kind {
                ErrorKind::UnknownList => "unknown_list",
                _ if text.trim().is_empty() => "required",
                _ => "invalid",
            };
            e.push(field, code, checks::expression_message(field, &err));
            false
        }
    }
}

/// A request-phase expression of another part of the spec (bot rules).
pub(super) fn check_expression(
    field: &str,
    text: &str,
    known: &dyn Fn(&str) -> bool,
    e: &mut Errors,
) -> bool {
    expression(field, text, false, known, e)
}

pub(super) use unique_id as check_unique_id;

fn check(field: &str, code: &'static str, result: Result<(), String>, e: &mut Errors) -> bool {
    match result {
        Ok(()) => true,
        Err(msg) => {
            e.push(field, code, msg);
            false
        }
    }
}

/// Records a duplicate id, or the id as seen; false when it is bad.
pub(super) fn unique_id(
    list: &str,
    i: usize,
    id: &str,
    what: &str,
    seen: &mut HashMap<String, usize>,
    e: &mut Errors,
) -> bool {
    let field = format!("{list}[{i}].id");
    let code = if id.is_empty() { "required" } else { "invalid" };
    if !check(&field, code, checks::id(id, &field), e) {
        return false;
    }
    if let Some(first) = seen.get(id) {
        let at = format!("{list}[{first}]");
        e.push(field, "duplicate", checks::duplicate_id(what, id, &at));
        return false;
    }
    seen.insert(id.to_owned(), i);
    true
}

fn too_many(field: &str, max: usize, found: usize, e: &mut Errors) {
    if found > max {
        e.push(field, "too_long", checks::too_many(field, max, found));
    }
}

fn rules(specs: &[RuleSpec], known: &dyn Fn(&str) -> bool, e: &mut Errors) -> Vec<FirewallRule> {
    too_many("rules", checks::MAX_RULES, specs.len(), e);
    let mut seen = HashMap::new();
    let mut out = Vec::with_capacity(specs.len());
    for (i, r) in specs.iter().enumerate() {
        let prefix = format!("rules[{i}]");
        let mut ok = unique_id("rules", i, &r.id, "rule", &mut seen, e);
        let description = r.description.clone().unwrap_or_default();
        let field = format!("{prefix}.description");
        ok &= check(
            &field,
            "too_long",
            checks::description(&description, &field),
            e,
        );
        ok &= expression(
            &format!("{prefix}.expression"),
            &r.expression,
            false,
            known,
            e,
        );
        let input = ActionInput {
            action: Some(r.action.as_str()).filter(|a| !a.is_empty()),
            status: r.status.map(i64::from),
            challenge: r.challenge.as_deref(),
            skip_phases: r
                .skip_phases
                .as_ref()
                .map(|v| v.iter().map(String::as_str).collect()),
            skip_rules: r
                .skip_rules
                .as_ref()
                .map(|v| v.iter().map(String::as_str).collect()),
            redirect_url: r.redirect_url.as_deref(),
        };
        let action = checks::rule_action(&input, &prefix)
            .map_err(|problems| {
                for p in problems {
                    let field = match (p.key, p.index) {
                        (key, Some(j)) => format!("{prefix}.{}[{j}]", key.name()),
                        // "needs a redirect_url" is about the missing key.
                        (RuleKey::Action, None) if r.action == "redirect" => {
                            format!("{prefix}.redirect_url")
                        }
                        (key, None) => format!("{prefix}.{}", key.name()),
                    };
                    e.push(field, p.code, p.message);
                }
            })
            .ok();
        if let (true, Some(action)) = (ok, action) {
            out.push(FirewallRule {
                id: r.id.clone(),
                description,
                expression: r.expression.clone(),
                action,
                enabled: r.enabled.unwrap_or(true),
            });
        }
    }
    // Skip targets are checked against the list as written, so a rule that
    // failed above still counts for the order.
    let ids: Vec<&str> = specs.iter().map(|r| r.id.as_str()).collect();
    for (own, r) in specs.iter().enumerate() {
        for (j, target) in r.skip_rules.iter().flatten().enumerate() {
            let field = format!("rules[{own}].skip_rules[{j}]");
            if r.action == "skip" {
                check(
                    &field,
                    "invalid",
                    checks::skip_target(target, own, &ids, &field),
                    e,
                );
            }
        }
    }
    out
}

fn rate_limits(
    specs: &[RateLimitSpec],
    known: &dyn Fn(&str) -> bool,
    e: &mut Errors,
) -> Vec<RateLimitRule> {
    too_many("rate_limits", checks::MAX_RATE_LIMITS, specs.len(), e);
    let mut seen = HashMap::new();
    let mut out = Vec::with_capacity(specs.len());
    for (i, r) in specs.iter().enumerate() {
        let prefix = format!("rate_limits[{i}]");
        let mut ok = unique_id("rate_limits", i, &r.id, "rate limit", &mut seen, e);
        let description = r.description.clone().unwrap_or_default();
        let field = format!("{prefix}.description");
        ok &= check(
            &field,
            "too_long",
            checks::description(&description, &field),
            e,
        );
        let matching = r
            .expression
            .as_deref()
            .unwrap_or(DEFAULT_RATE_LIMIT_EXPRESSION);
        ok &= expression(&format!("{prefix}.expression"), matching, false, known, e);
        if let Some(counting) = &r.counting_expression {
            let field = format!("{prefix}.counting_expression");
            ok &= expression(&field, counting, true, known, e);
        }
        let characteristics = characteristics(&prefix, r.characteristics.as_deref(), e);
        let period = e.duration(&format!("{prefix}.period"), &r.period, checks::PERIOD);
        let requests = e.int(
            &format!("{prefix}.requests"),
            Some(r.requests),
            checks::REQUESTS,
            0,
        );
        let action = match r.action.as_deref().map(checks::limit_action) {
            None => LimitAction::default(),
            Some(Ok(a)) => a,
            Some(Err(msg)) => {
                let field = format!("{prefix}.action");
                let message = format!("`{field}`: {msg}");
                e.invalid(&field, message, LimitAction::default())
            }
        };
        let mitigation = e.opt_duration(
            &format!("{prefix}.mitigation_timeout"),
            r.mitigation_timeout.as_ref(),
            checks::MITIGATION,
        );
        if let (true, Some(characteristics), Some(period)) = (ok, characteristics, period) {
            out.push(RateLimitRule {
                id: r.id.clone(),
                description,
                expression: matching.to_owned(),
                characteristics,
                period,
                requests,
                action,
                mitigation_timeout: mitigation.unwrap_or(period),
                counting_expression: r.counting_expression.clone(),
                enabled: r.enabled.unwrap_or(true),
            });
        }
    }
    out
}

fn characteristics(
    prefix: &str,
    raw: Option<&[String]>,
    e: &mut Errors,
) -> Option<Vec<Characteristic>> {
    let Some(raw) = raw else {
        return Some(vec![Characteristic::Ip]);
    };
    let key = format!("{prefix}.characteristics");
    if raw.is_empty() {
        e.push(&key, "required", checks::empty_characteristics(&key));
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let before = e.len();
    for (j, text) in raw.iter().enumerate() {
        let field = format!("{key}[{j}]");
        match checks::characteristic(text) {
            Ok(c) if out.contains(&c) => {
                e.push(
                    field,
                    "duplicate",
                    checks::duplicate_characteristic(&key, text),
                );
            }
            Ok(c) => out.push(c),
            Err(msg) => e.push(field, "invalid", format!("`{key}`: {msg}")),
        }
    }
    (e.len() == before).then_some(out)
}

fn limits(l: &LimitsSpec, e: &mut Errors) -> RequestLimits {
    let d = RequestLimits::default();
    let max_body_bytes = match &l.max_body_bytes {
        None => d.max_body_bytes,
        Some(limit) => {
            let key = "limits.max_body_bytes";
            let parsed = match limit {
                BodyLimitSpec::Bytes(n) => checks::body_size(*n, key, &n.to_string()).map(Some),
                BodyLimitSpec::Text(s) => checks::body_size_text(s, key),
            };
            parsed.unwrap_or_else(|msg| e.invalid(key, msg, d.max_body_bytes))
        }
    };
    RequestLimits {
        max_header_count: e.int(
            "limits.max_header_count",
            l.max_header_count,
            checks::HEADER_COUNT,
            d.max_header_count,
        ),
        max_uri_bytes: e.int(
            "limits.max_uri_bytes",
            l.max_uri_bytes,
            checks::URI_BYTES,
            d.max_uri_bytes,
        ),
        max_body_bytes,
    }
}

fn auto_under_attack(a: &AutoUnderAttackSpec, e: &mut Errors) -> AutoUnderAttack {
    let d = AutoUnderAttack::default();
    let key = "auto_under_attack.factor";
    let factor = match a.factor {
        None => d.factor,
        Some(f) => checks::factor(f, key).unwrap_or_else(|msg| {
            e.push(key, "out_of_range", msg);
            d.factor
        }),
    };
    AutoUnderAttack {
        enabled: a.enabled.unwrap_or(d.enabled),
        factor,
        min_rps: e.int(
            "auto_under_attack.min_rps",
            a.min_rps,
            checks::MIN_RPS,
            d.min_rps,
        ),
        warmup: e
            .opt_duration(
                "auto_under_attack.warmup",
                a.warmup.as_ref(),
                checks::AUTO_WARMUP_HOLD,
            )
            .unwrap_or(d.warmup),
        window: e
            .opt_duration(
                "auto_under_attack.window",
                a.window.as_ref(),
                checks::AUTO_WINDOW,
            )
            .unwrap_or(d.window),
        hold: e
            .opt_duration(
                "auto_under_attack.hold",
                a.hold.as_ref(),
                checks::AUTO_WARMUP_HOLD,
            )
            .unwrap_or(d.hold),
    }
}
