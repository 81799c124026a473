//! The WAF section of a site's Security page: mode, paranoia, thresholds,
//! body limit and exclusions, and its post, which writes through the API's
//! own `api::waf::set_site_waf` (same roles, same validation, same audit).
//!
//! Exclusions are one per line, `key=value` words:
//! `ids=942100,942200 tags=attack-sqli target=ARGS:password path=/login`.

use std::sync::Arc;

use axum::extract::{Path, State};
use maud::{Markup, html};
use rampart_config::{WafExclusionSpec, WafSpec};
use rampart_store::SiteRecord;
use serde::Deserialize;

use super::csrf::Posted;
use super::form::{Field, checkbox, non_empty, number, place_problems, select, text};
use super::layout::{FieldMessage, FormProblems, PageResult, error_summary, form_can_fix};
use super::security::{Forms, render, saved, stored_spec};
use crate::Control;
use crate::api;

const MODES: [(&str, &str); 3] = [
    ("off", "Off"),
    ("detect", "Detect only (log security events, never block)"),
    (
        "block",
        "Block (requests over the threshold get the block page)",
    ),
];
const PARANOIA: [(&str, &str); 4] = [
    ("1", "1 (default, fewest false positives)"),
    ("2", "2"),
    ("3", "3"),
    ("4", "4 (strictest)"),
];
const BODY_ACTIONS: [(&str, &str); 2] = [
    ("reject", "Reject larger bodies (413)"),
    ("inspect_partial", "Inspect the first part, pass the rest"),
];

/// The form as posted (every field a string, so a bad one can be shown
/// again as typed).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WafForm {
    #[serde(default)]
    pub waf_mode: String,
    #[serde(default)]
    pub waf_paranoia: String,
    #[serde(default)]
    pub waf_inbound_threshold: String,
    #[serde(default)]
    pub waf_outbound_threshold: String,
    #[serde(default)]
    pub waf_request_body_limit: String,
    #[serde(default)]
    pub waf_body_limit_action: String,
    pub waf_inspect_responses: Option<String>,
    #[serde(default)]
    pub waf_exclusions: String,
}

fn label_of(field: &str) -> &'static str {
    match field {
        "waf_mode" => "Mode",
        "waf_paranoia" => "Paranoia level",
        "waf_inbound_threshold" => "Inbound threshold",
        "waf_outbound_threshold" => "Outbound threshold",
        "waf_request_body_limit" => "Body inspection limit",
        "waf_body_limit_action" => "Larger bodies",
        "waf_inspect_responses" => "Inspect responses",
        _ => "Exclusions",
    }
}

/// The form field a spec path (`waf.paranoia`, `waf.exclusions[2].path`)
/// is about.
fn field_of(path: &str) -> Option<(&'static str, &'static str)> {
    let key = path.strip_prefix("waf.")?;
    let field = match key.split(['.', '[']).next()? {
        "mode" => "waf_mode",
        "paranoia" => "waf_paranoia",
        "inbound_threshold" => "waf_inbound_threshold",
        "outbound_threshold" => "waf_outbound_threshold",
        "request_body_limit" => "waf_request_body_limit",
        "body_limit_action" => "waf_body_limit_action",
        "inspect_responses" => "waf_inspect_responses",
        "exclusions" => "waf_exclusions",
        _ => return None,
    };
    Some((field, label_of(field)))
}

/// One exclusion as a line of the form.
fn exclusion_line(x: &WafExclusionSpec) -> String {
    let mut words = Vec::new();
    if let Some(ids) = x.rule_ids.as_ref().filter(|i| !i.is_empty()) {
        let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
        words.push(format!("ids={}", ids.join(",")));
    }
    if let Some(tags) = x.tags.as_ref().filter(|t| !t.is_empty()) {
        words.push(format!("tags={}", tags.join(",")));
    }
    if let Some(t) = &x.target {
        words.push(format!("target={t}"));
    }
    if let Some(p) = &x.path {
        words.push(format!("path={p}"));
    }
    words.join(" ")
}

fn problem(message: String) -> FieldMessage {
    FieldMessage {
        field: "waf_exclusions",
        label: "Exclusions",
        message,
    }
}

/// Parses the exclusions text; what the words mean is checked by the API.
fn exclusions(text: &str, problems: &mut Vec<FieldMessage>) -> Vec<WafExclusionSpec> {
    let mut out = Vec::new();
    for (n, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut x = WafExclusionSpec::default();
        for word in line.split_whitespace() {
            let Some((key, value)) = word.split_once('=') else {
                problems.push(problem(format!(
                    "line {}: “{word}” is not key=value (ids=, tags=, target=, path=).",
                    n + 1
                )));
                continue;
            };
            let list = || -> Vec<String> {
                value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            match key {
                "ids" => {
                    let mut ids = Vec::new();
                    for id in list() {
                        match id.parse::<u64>() {
                            Ok(id) => ids.push(id),
                            Err(_) => problems.push(problem(format!(
                                "line {}: “{id}” is not a rule id such as 942100.",
                                n + 1
                            ))),
                        }
                    }
                    x.rule_ids = Some(ids);
                }
                "tags" => x.tags = Some(list()),
                "target" => x.target = Some(value.to_owned()),
                "path" => x.path = Some(value.to_owned()),
                _ => problems.push(problem(format!(
                    "line {}: unknown “{key}”; use ids=, tags=, target= or path=.",
                    n + 1
                ))),
            }
        }
        out.push(x);
    }
    out
}

impl WafForm {
    pub fn from_spec(w: &WafSpec) -> Self {
        let body = match &w.request_body_limit {
            Some(rampart_config::BodyLimitSpec::Bytes(n)) => n.to_string(),
            Some(rampart_config::BodyLimitSpec::Text(t)) => t.clone(),
            None => String::new(),
        };
        Self {
            waf_mode: w.mode.clone().unwrap_or_else(|| "off".to_owned()),
            waf_paranoia: w.paranoia.map(|n| n.to_string()).unwrap_or_default(),
            waf_inbound_threshold: w
                .inbound_threshold
                .map(|n| n.to_string())
                .unwrap_or_default(),
            waf_outbound_threshold: w
                .outbound_threshold
                .map(|n| n.to_string())
                .unwrap_or_default(),
            waf_request_body_limit: body,
            waf_body_limit_action: w.body_limit_action.clone().unwrap_or_default(),
            waf_inspect_responses: w
                .inspect_responses
                .unwrap_or(false)
                .then(|| "on".to_owned()),
            waf_exclusions: w
                .exclusions
                .iter()
                .flatten()
                .map(exclusion_line)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The settings the form says; problems the API could not name (a
    /// word that is not a number) are reported here.
    pub fn to_spec(&self) -> Result<WafSpec, Vec<FieldMessage>> {
        let mut problems = Vec::new();
        let spec = WafSpec {
            mode: non_empty(&self.waf_mode),
            paranoia: number(
                &self.waf_paranoia,
                "waf_paranoia",
                "Paranoia level",
                &mut problems,
            ),
            inbound_threshold: number(
                &self.waf_inbound_threshold,
                "waf_inbound_threshold",
                "Inbound threshold",
                &mut problems,
            ),
            outbound_threshold: number(
                &self.waf_outbound_threshold,
                "waf_outbound_threshold",
                "Outbound threshold",
                &mut problems,
            ),
            request_body_limit: non_empty(&self.waf_request_body_limit).map(|t| {
                t.parse::<u64>()
                    .map_or(rampart_config::BodyLimitSpec::Text(t), |n| {
                        rampart_config::BodyLimitSpec::Bytes(n)
                    })
            }),
            body_limit_action: non_empty(&self.waf_body_limit_action),
            inspect_responses: Some(self.waf_inspect_responses.is_some()),
            crs: None,
            exclusions: Some(exclusions(&self.waf_exclusions, &mut problems))
                .filter(|x| !x.is_empty()),
        };
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(problems)
        }
    }
}

/// The section on the Security page.
pub(super) fn section(
    site: &SiteRecord,
    form: &WafForm,
    problems: &FormProblems,
    csrf: &Markup,
    writable: bool,
) -> Markup {
    let (errors, general) = problems.beside("waf");
    html! {
        section.panel #waf aria-labelledby="waf-title" {
            h2 #waf-title { "Web application firewall" }
            p.hint {
                "The OWASP Core Rule Set, run by Rampart's own engine after the site's rules. Start with "
                em { "Detect only" } " and look at the "
                a href={ "/sites/" (site.id) "/security-events" } { "security events" }
                " before blocking."
            }
            (error_summary("The WAF settings were not saved", errors, general))
            form.stacked #waf-form method="post" action={ "/sites/" (site.id) "/security/waf" } novalidate {
                (csrf)
                fieldset.bare disabled[!writable] {
                    legend.visually-hidden { "WAF settings" }
                    (select(Field { name: "waf_mode", label: "Mode", hint: None }, &MODES, &form.waf_mode, errors))
                    div.row {
                        (select(Field { name: "waf_paranoia", label: "Paranoia level", hint: Some("Higher levels catch more and block more legitimate traffic.") }, &PARANOIA, if form.waf_paranoia.is_empty() { "1" } else { &form.waf_paranoia }, errors))
                        (text(Field { name: "waf_inbound_threshold", label: "Inbound threshold", hint: Some("Anomaly score that blocks a request; 1 to 10000, empty for 5") }, &form.waf_inbound_threshold, errors, false))
                        (text(Field { name: "waf_outbound_threshold", label: "Outbound threshold", hint: Some("Anomaly score that blocks a response; empty for 4") }, &form.waf_outbound_threshold, errors, false))
                    }
                    div.row {
                        (text(Field { name: "waf_request_body_limit", label: "Body inspection limit", hint: Some("Bytes or a size like 128KiB (the default), up to 1GiB") }, &form.waf_request_body_limit, errors, false))
                        (select(Field { name: "waf_body_limit_action", label: "Larger bodies", hint: None }, &BODY_ACTIONS, if form.waf_body_limit_action.is_empty() { "reject" } else { &form.waf_body_limit_action }, errors))
                    }
                    (checkbox(Field { name: "waf_inspect_responses", label: "Inspect responses", hint: Some("Also run the response rules on response bodies (costs more).") }, form.waf_inspect_responses.is_some(), errors))
                    (text(Field { name: "waf_exclusions", label: "Exclusions", hint: Some("One per line: ids=942100,942200 tags=attack-sqli target=ARGS:password path=/login. ids or tags say which rules; with target only that input is excluded from them; with path only requests under it.") }, &form.waf_exclusions, errors, true))
                    button type="submit" { "Save WAF settings" }
                }
            }
        }
    }
}

pub(crate) async fn save(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<WafForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let mut forms = Forms {
        waf: Some(form.clone()),
        problems: FormProblems::of("waf"),
        ..Forms::default()
    };
    let result = match form.to_spec() {
        Ok(spec) => api::waf::set_site_waf(&control, &signed.principal, &site.id, spec)
            .await
            .map(|_| ()),
        Err(problems) => {
            forms.problems.errors = problems;
            let stored = stored_spec(&site)?;
            return render(
                &control,
                &signed,
                &site,
                &stored,
                forms,
                None,
                http::StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match result {
        Ok(()) => Ok(saved(&site, "waf-title")),
        Err(error) if form_can_fix(&error) => {
            (forms.problems.errors, forms.problems.general) =
                place_problems(&error, field_of, |_, message| message);
            let stored = stored_spec(&site)?;
            render(&control, &signed, &site, &stored, forms, None, error.status).await
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_round_trip_through_the_text() {
        let form = WafForm {
            waf_mode: "block".into(),
            waf_exclusions:
                "ids=942100,942200 target=ARGS:password path=/login\n\n# note\ntags=attack-xss"
                    .into(),
            ..WafForm::default()
        };
        let spec = form.to_spec().unwrap();
        let x = spec.exclusions.clone().unwrap();
        assert_eq!(x[0].rule_ids, Some(vec![942100, 942200]));
        assert_eq!(x[0].target.as_deref(), Some("ARGS:password"));
        assert_eq!(x[1].tags, Some(vec!["attack-xss".to_owned()]));
        let back = WafForm::from_spec(&spec);
        assert_eq!(
            back.waf_exclusions,
            "ids=942100,942200 target=ARGS:password path=/login\ntags=attack-xss"
        );
    }

    #[test]
    fn words_the_api_cannot_name_are_reported_here() {
        let form = WafForm {
            waf_paranoia: "two".into(),
            // "rule 5" is two words, neither key=value.
            waf_exclusions: "ids=abc\nrule 5\ncolour=red".into(),
            ..WafForm::default()
        };
        let problems = form.to_spec().unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "waf_paranoia",
                "waf_exclusions",
                "waf_exclusions",
                "waf_exclusions",
                "waf_exclusions"
            ]
        );
        assert_eq!(
            field_of("waf.exclusions[2].path"),
            Some(("waf_exclusions", "Exclusions"))
        );
        assert_eq!(field_of("waf.paranoia").map(|f| f.0), Some("waf_paranoia"));
        assert_eq!(field_of("name"), None);
    }
}
