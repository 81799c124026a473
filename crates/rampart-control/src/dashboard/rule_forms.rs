//! The forms of a site's Security page (the rule form also serves
//! the operator rules page): one rule, one rate limit, the
//! request limits and automatic under-attack mode. Every value is posted as
//! a string (a checkbox is present or absent) so reading a form cannot
//! fail; the spec's compiler judges the values, and its problems, addressed
//! as `rules[3].expression`, are put back next to the form's fields.

use maud::{Markup, html};
use rampart_config::{
    AutoUnderAttackSpec, BodyLimitSpec, LimitsSpec, RateLimitSpec, RuleSpec, SiteSpec,
};
use serde::Deserialize;

use super::form::{Field, checkbox, non_empty, number, place_problems, select, text};
use super::layout::{FieldMessage, error_summary};
use crate::api::error::ApiError;

fn words(text: &str) -> Option<Vec<String>> {
    let items: Vec<String> = text
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    (!items.is_empty()).then_some(items)
}

/// One custom rule as the form posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RuleForm {
    /// The id of the rule being edited; empty for a new rule.
    pub original: String,
    pub id: String,
    pub description: String,
    pub expression: String,
    pub action: String,
    pub status: String,
    pub challenge: String,
    pub redirect_url: String,
    pub skip_phases: String,
    pub skip_rules: String,
    pub enabled: Option<String>,
}

impl RuleForm {
    pub fn new_rule() -> Self {
        Self {
            action: "block".to_owned(),
            enabled: Some("on".to_owned()),
            ..Self::default()
        }
    }

    pub fn from_spec(rule: &RuleSpec) -> Self {
        Self {
            original: rule.id.clone(),
            id: rule.id.clone(),
            description: rule.description.clone().unwrap_or_default(),
            expression: rule.expression.clone(),
            action: rule.action.clone(),
            status: rule.status.map(|s| s.to_string()).unwrap_or_default(),
            challenge: rule.challenge.clone().unwrap_or_default(),
            redirect_url: rule.redirect_url.clone().unwrap_or_default(),
            skip_phases: rule.skip_phases.clone().unwrap_or_default().join(", "),
            skip_rules: rule.skip_rules.clone().unwrap_or_default().join(", "),
            enabled: rule.enabled.unwrap_or(true).then(|| "on".to_owned()),
        }
    }

    /// The rule, and problems found before the compiler sees it.
    pub fn to_spec(&self) -> (RuleSpec, Vec<FieldMessage>) {
        let mut problems = Vec::new();
        let action = self.action.trim().to_owned();
        let status = number(&self.status, "status", "Status", &mut problems);
        let spec = RuleSpec {
            id: self.id.trim().to_owned(),
            description: non_empty(&self.description),
            expression: self.expression.trim().to_owned(),
            status,
            challenge: non_empty(&self.challenge).filter(|_| action == "challenge"),
            redirect_url: non_empty(&self.redirect_url).filter(|_| action == "redirect"),
            skip_phases: words(&self.skip_phases).filter(|_| action == "skip"),
            skip_rules: words(&self.skip_rules).filter(|_| action == "skip"),
            enabled: if self.enabled.is_some() {
                None
            } else {
                Some(false)
            },
            action,
        };
        (spec, problems)
    }
}

/// Puts a posted rule in its place: over the rule it was edited from
/// (`original`), else at the end. Returns its index, where the compiler's
/// problems about it will point. Shared by the site and operator pages.
pub(crate) fn upsert_rule(rules: &mut Vec<RuleSpec>, original: &str, rule: RuleSpec) -> usize {
    match rules
        .iter()
        .position(|r| !original.is_empty() && r.id == original)
    {
        Some(i) => {
            if let Some(slot) = rules.get_mut(i) {
                *slot = rule;
            }
            i
        }
        None => {
            rules.push(rule);
            rules.len() - 1
        }
    }
}

/// Moves rule `id` one place `up` or `down`. `None` when there is no such
/// rule; `Some(false)` when it cannot move that way (already first or
/// last, or an unknown direction), which is not worth an error.
pub(crate) fn move_rule_in(rules: &mut [RuleSpec], id: &str, direction: &str) -> Option<bool> {
    let at = rules.iter().position(|r| r.id == id)?;
    let to = match direction {
        "up" => at.checked_sub(1),
        "down" => Some(at + 1).filter(|&to| to < rules.len()),
        _ => None,
    };
    Some(to.is_some_and(|to| {
        rules.swap(at, to);
        true
    }))
}

/// One rate limit as the form posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RateLimitForm {
    #[serde(rename = "rl_id")]
    pub id: String,
    #[serde(rename = "rl_expression")]
    pub expression: String,
    #[serde(rename = "rl_characteristics")]
    pub characteristics: String,
    #[serde(rename = "rl_period")]
    pub period: String,
    #[serde(rename = "rl_requests")]
    pub requests: String,
    #[serde(rename = "rl_action")]
    pub action: String,
    #[serde(rename = "rl_mitigation_timeout")]
    pub mitigation_timeout: String,
    #[serde(rename = "rl_counting_expression")]
    pub counting_expression: String,
}

impl RateLimitForm {
    pub fn new_limit() -> Self {
        Self {
            characteristics: "ip".to_owned(),
            period: "1m".to_owned(),
            action: "block".to_owned(),
            ..Self::default()
        }
    }

    pub fn to_spec(&self) -> (RateLimitSpec, Vec<FieldMessage>) {
        let mut problems = Vec::new();
        let requests = number(&self.requests, "rl_requests", "Requests", &mut problems);
        if requests.is_none() && self.requests.trim().is_empty() {
            problems.push(FieldMessage {
                field: "rl_requests",
                label: "Requests",
                message: "How many requests each client may make per period, e.g. 100.".to_owned(),
            });
        }
        let spec = RateLimitSpec {
            id: self.id.trim().to_owned(),
            description: None,
            expression: non_empty(&self.expression),
            characteristics: words(&self.characteristics),
            period: self.period.trim().to_owned(),
            requests: requests.unwrap_or(0),
            action: non_empty(&self.action),
            mitigation_timeout: non_empty(&self.mitigation_timeout),
            counting_expression: non_empty(&self.counting_expression),
            enabled: None,
        };
        (spec, problems)
    }
}

/// Request limits and automatic under-attack mode.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LimitsForm {
    pub max_header_count: String,
    pub max_uri_bytes: String,
    pub max_body_bytes: String,
    pub auto_enabled: Option<String>,
    pub auto_factor: String,
    pub auto_min_rps: String,
    pub auto_warmup: String,
    pub auto_window: String,
    pub auto_hold: String,
}

impl LimitsForm {
    pub fn from_spec(spec: &SiteSpec) -> Self {
        let limits = spec.limits.clone().unwrap_or_default();
        let auto = spec.auto_under_attack.clone().unwrap_or_default();
        Self {
            max_header_count: limits
                .max_header_count
                .map(|n| n.to_string())
                .unwrap_or_default(),
            max_uri_bytes: limits
                .max_uri_bytes
                .map(|n| n.to_string())
                .unwrap_or_default(),
            max_body_bytes: match limits.max_body_bytes {
                Some(BodyLimitSpec::Bytes(n)) => n.to_string(),
                Some(BodyLimitSpec::Text(t)) => t,
                None => String::new(),
            },
            auto_enabled: auto.enabled.unwrap_or(false).then(|| "on".to_owned()),
            auto_factor: auto.factor.map(|f| f.to_string()).unwrap_or_default(),
            auto_min_rps: auto.min_rps.map(|n| n.to_string()).unwrap_or_default(),
            auto_warmup: auto.warmup.unwrap_or_default(),
            auto_window: auto.window.unwrap_or_default(),
            auto_hold: auto.hold.unwrap_or_default(),
        }
    }

    /// Writes the form over the spec's `limits` and `auto_under_attack`;
    /// fields left empty take the defaults.
    pub fn merge_into(&self, spec: &mut SiteSpec) -> Vec<FieldMessage> {
        let mut problems = Vec::new();
        let limits = LimitsSpec {
            max_header_count: number(
                &self.max_header_count,
                "max_header_count",
                "Most headers",
                &mut problems,
            ),
            max_uri_bytes: number(
                &self.max_uri_bytes,
                "max_uri_bytes",
                "Longest URI",
                &mut problems,
            ),
            max_body_bytes: non_empty(&self.max_body_bytes).map(|t| match t.parse::<u64>() {
                Ok(n) => BodyLimitSpec::Bytes(n),
                Err(_) => BodyLimitSpec::Text(t),
            }),
        };
        spec.limits = (limits != LimitsSpec::default()).then_some(limits);
        let auto = AutoUnderAttackSpec {
            enabled: self.auto_enabled.is_some().then_some(true),
            factor: number(&self.auto_factor, "auto_factor", "Factor", &mut problems),
            min_rps: number(
                &self.auto_min_rps,
                "auto_min_rps",
                "Minimum rate",
                &mut problems,
            ),
            // Durations stay text: the compiler judges "10m" and names
            // the field, so the form need not duplicate its parser.
            warmup: non_empty(&self.auto_warmup),
            window: non_empty(&self.auto_window),
            hold: non_empty(&self.auto_hold),
        };
        spec.auto_under_attack = (auto != AutoUnderAttackSpec::default()).then_some(auto);
        problems
    }
}

/// The form field of this page a spec path is about: the rule at `index`
/// (`rules[3].expression` → "expression"), the rate limit at `index`,
/// or a request-limit field.
fn form_field(path: &str, index: Option<usize>) -> Option<(&'static str, &'static str)> {
    let (head, rest) = path.split_once('[').unwrap_or((path, ""));
    let (at, key) = rest.split_once(']').unwrap_or(("", rest));
    let key = key.trim_start_matches('.');
    let key = key.split(['.', '[']).next().unwrap_or(key);
    let same = at.parse::<usize>().ok() == index;
    Some(match (head, same, key) {
        ("rules", true, "id") => ("id", "Rule id"),
        ("rules", true, "description") => ("description", "Description"),
        ("rules", true, "expression") => ("expression", "Expression"),
        ("rules", true, "action") => ("action", "Action"),
        ("rules", true, "status") => ("status", "Status"),
        ("rules", true, "challenge") => ("challenge", "Challenge"),
        ("rules", true, "redirect_url") => ("redirect_url", "Redirect to"),
        ("rules", true, "skip_phases") => ("skip_phases", "Phases to skip"),
        ("rules", true, "skip_rules") => ("skip_rules", "Rules to skip"),
        ("rate_limits", true, "id") => ("rl_id", "Rate limit id"),
        ("rate_limits", true, "expression") => ("rl_expression", "Applies to"),
        ("rate_limits", true, "characteristics") => ("rl_characteristics", "Counted per"),
        ("rate_limits", true, "period") => ("rl_period", "Period"),
        ("rate_limits", true, "requests") => ("rl_requests", "Requests"),
        ("rate_limits", true, "action") => ("rl_action", "Action"),
        ("rate_limits", true, "mitigation_timeout") => ("rl_mitigation_timeout", "Mitigation"),
        ("rate_limits", true, "counting_expression") => ("rl_counting_expression", "Counts when"),
        (_, _, _) if path == "limits.max_header_count" => ("max_header_count", "Most headers"),
        (_, _, _) if path == "limits.max_uri_bytes" => ("max_uri_bytes", "Longest URI"),
        (_, _, _) if path == "limits.max_body_bytes" => ("max_body_bytes", "Largest body"),
        (_, _, _) if path == "auto_under_attack.factor" => ("auto_factor", "Factor"),
        (_, _, _) if path == "auto_under_attack.min_rps" => ("auto_min_rps", "Minimum rate"),
        (_, _, _) if path == "auto_under_attack.warmup" => ("auto_warmup", "Warm-up"),
        (_, _, _) if path == "auto_under_attack.window" => ("auto_window", "Window"),
        (_, _, _) if path == "auto_under_attack.hold" => ("auto_hold", "Hold"),
        _ => return None,
    })
}

/// The API error's problems, each next to its field where this form has
/// one (the item being written sits at `index` of its array), the rest as
/// general messages.
pub(crate) fn place_errors(
    error: &ApiError,
    index: Option<usize>,
) -> (Vec<FieldMessage>, Vec<String>) {
    place_problems(error, |path| form_field(path, index), |_, message| message)
}

const ACTIONS: [(&str, &str); 6] = [
    ("block", "Block"),
    ("challenge", "Challenge"),
    ("allow", "Allow (skip all security)"),
    ("skip", "Skip some phases or rules"),
    ("log", "Log only"),
    ("redirect", "Redirect"),
];

const LIMIT_ACTIONS: [(&str, &str); 3] = [
    ("block", "Block (429)"),
    ("challenge", "Challenge"),
    ("log", "Log only"),
];

/// The add/edit rule form.
pub(crate) fn rule_form(
    action: &str,
    csrf: &Markup,
    form: &RuleForm,
    errors: &[FieldMessage],
    general: &[String],
) -> Markup {
    let editing = !form.original.is_empty();
    html! {
        (error_summary("The rule was not saved", errors, general))
        form.stacked #rule-form method="post" action=(action) novalidate {
            (csrf)
            input type="hidden" name="original" value=(form.original);
            fieldset {
                legend { @if editing { "Edit rule " code { (form.original) } } @else { "Add a rule" } }
                div.row {
                    (text(Field { name: "id", label: "Rule id", hint: Some("Lowercase letters, digits, - and _; shown in logs and analytics.") }, &form.id, errors, false))
                    (select(Field { name: "action", label: "Action", hint: None }, &ACTIONS, &form.action, errors))
                }
                (text(Field { name: "expression", label: "Expression", hint: Some("e.g. http.request.uri.path eq \"/admin\" and not ip.src in $office") }, &form.expression, errors, true))
                (text(Field { name: "description", label: "Description", hint: None }, &form.description, errors, false))
                div.row {
                    (text(Field { name: "status", label: "Status", hint: Some("Block: 400–599 (403). Redirect: 301, 302, 303, 307, 308.") }, &form.status, errors, false))
                    (text(Field { name: "challenge", label: "Challenge", hint: Some("managed, js or interactive") }, &form.challenge, errors, false))
                    (text(Field { name: "redirect_url", label: "Redirect to", hint: Some("An http(s) URL or a path") }, &form.redirect_url, errors, false))
                }
                div.row {
                    (text(Field { name: "skip_phases", label: "Phases to skip", hint: Some("rules, rate_limits, under_attack, bots, waf") }, &form.skip_phases, errors, false))
                    (text(Field { name: "skip_rules", label: "Rules to skip", hint: Some("Ids of later rules") }, &form.skip_rules, errors, false))
                }
                (checkbox(Field { name: "enabled", label: "Enabled", hint: None }, form.enabled.is_some(), errors))
                button type="submit" { @if editing { "Save rule" } @else { "Add rule" } }
            }
        }
    }
}

/// The add-a-rate-limit form.
pub(crate) fn rate_limit_form(
    action: &str,
    csrf: &Markup,
    form: &RateLimitForm,
    errors: &[FieldMessage],
    general: &[String],
) -> Markup {
    html! {
        (error_summary("The rate limit was not added", errors, general))
        form.stacked #rate-limit-form method="post" action=(action) novalidate {
            (csrf)
            fieldset {
                legend { "Add a rate limit" }
                div.row {
                    (text(Field { name: "rl_id", label: "Rate limit id", hint: None }, &form.id, errors, false))
                    (text(Field { name: "rl_requests", label: "Requests", hint: Some("Allowed per period, e.g. 100") }, &form.requests, errors, false))
                    (text(Field { name: "rl_period", label: "Period", hint: Some("1s to 1d, e.g. 1m") }, &form.period, errors, false))
                }
                (text(Field { name: "rl_expression", label: "Applies to", hint: Some("An expression; empty for every request") }, &form.expression, errors, false))
                div.row {
                    (text(Field { name: "rl_characteristics", label: "Counted per", hint: Some("ip, ip_prefix, path, site, header:NAME, cookie:NAME, query_arg:NAME") }, &form.characteristics, errors, false))
                    (select(Field { name: "rl_action", label: "Action", hint: None }, &LIMIT_ACTIONS, &form.action, errors))
                    (text(Field { name: "rl_mitigation_timeout", label: "Mitigation", hint: Some("How long a client stays limited; default the period") }, &form.mitigation_timeout, errors, false))
                }
                (text(Field { name: "rl_counting_expression", label: "Counts when", hint: Some("Optional, on the response, e.g. http.response.code eq 401") }, &form.counting_expression, errors, false))
                button type="submit" { "Add rate limit" }
            }
        }
    }
}

/// The request limits and automatic under-attack form.
pub(crate) fn limits_form(
    action: &str,
    csrf: &Markup,
    form: &LimitsForm,
    errors: &[FieldMessage],
    general: &[String],
    writable: bool,
) -> Markup {
    html! {
        (error_summary("The limits were not saved", errors, general))
        form.stacked #limits-form method="post" action=(action) novalidate {
            (csrf)
            fieldset.bare disabled[!writable] {
                legend.visually-hidden { "Request limits" }
                div.row {
                    (text(Field { name: "max_header_count", label: "Most headers", hint: Some("1 to 10000; empty for 100") }, &form.max_header_count, errors, false))
                    (text(Field { name: "max_uri_bytes", label: "Longest URI", hint: Some("Bytes, 16 to 1048576; empty for 8192") }, &form.max_uri_bytes, errors, false))
                    (text(Field { name: "max_body_bytes", label: "Largest body", hint: Some("Bytes, a size like 10MiB, or off; empty for 100MiB") }, &form.max_body_bytes, errors, false))
                }
                (checkbox(Field { name: "auto_enabled", label: "Automatic under-attack mode", hint: Some("Challenge every visitor while the request rate is far above its learned normal.") }, form.auto_enabled.is_some(), errors))
                div.row {
                    (text(Field { name: "auto_factor", label: "Factor", hint: Some("Times the normal rate; 1.5 to 1000, empty for 4") }, &form.auto_factor, errors, false))
                    (text(Field { name: "auto_min_rps", label: "Minimum rate", hint: Some("Requests per second; empty for 50") }, &form.auto_min_rps, errors, false))
                }
                div.row {
                    (text(Field { name: "auto_warmup", label: "Warm-up", hint: Some("History learned before anything is flagged; 1s to 1d, empty for 10m") }, &form.auto_warmup, errors, false))
                    (text(Field { name: "auto_window", label: "Window", hint: Some("Averaging window of the recent rate; 1s to 1h, empty for 30s") }, &form.auto_window, errors, false))
                    (text(Field { name: "auto_hold", label: "Hold", hint: Some("How long the rate must stay low before switching off; 1s to 1d, empty for 5m") }, &form.auto_hold, errors, false))
                }
                button type="submit" { "Save limits" }
            }
        }
    }
}

#[cfg(test)]
#[path = "rule_forms_tests.rs"]
mod tests;
