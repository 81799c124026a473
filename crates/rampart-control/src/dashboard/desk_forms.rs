//! What the trust & safety desk's forms post, turned into the API's own
//! bodies (`NewDecisionBody`, `Answer`), and the labels the desk's pages
//! give the API's codes. Pure, so they are tested here; the API checks the
//! result exactly as it checks a JSON body.

use serde::Deserialize;

use super::layout::FieldMessage;
use crate::api::appeals::Answer;
use crate::api::error::ApiError;
use crate::api::safety::cases::{NewDecisionBody, Reasons};
use crate::api::transparency::days_from_civil;

/// A report category's name on the desk's pages.
pub(crate) fn category_label(code: &str) -> &str {
    rampart_config::abuse_category(code).map_or(code, |c| c.label)
}

/// The seven outcomes, in the order the decision form offers them.
pub(crate) const OUTCOME_OPTIONS: [(&str, &str); 7] = [
    ("no_action", "No action"),
    ("forward", "Forward to the site's owner and/or host"),
    ("warn", "Warn the owner, with a deadline"),
    (
        "interstitial",
        "Warning interstitial (visitors may continue)",
    ),
    ("restrict", "Restrict URL patterns"),
    ("suspend", "Suspend the whole site"),
    ("legal_block", "Legal block (451)"),
];

pub(crate) fn outcome_label(code: &str) -> &str {
    OUTCOME_OPTIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, label)| label)
}

/// The DSA Transparency Database's decision grounds.
pub(crate) const GROUND_OPTIONS: [(&str, &str); 2] = [
    ("illegal_content", "Illegal content"),
    (
        "incompatible_content",
        "Incompatible with the terms of service",
    ),
];

/// The DSA Transparency Database's statement categories.
pub(crate) const DSA_CATEGORY_OPTIONS: [(&str, &str); 12] = [
    ("scams_and_fraud", "Scams and fraud"),
    ("cyber_violence", "Cyber violence"),
    ("risk_for_public_security", "Risk for public security"),
    ("protection_of_minors", "Protection of minors"),
    ("non_consensual_behaviour", "Non-consensual behaviour"),
    (
        "intellectual_property_infringements",
        "Intellectual property infringements",
    ),
    ("illegal_or_harmful_speech", "Illegal or harmful speech"),
    (
        "data_protection_and_privacy_violations",
        "Data protection and privacy violations",
    ),
    ("violence", "Violence"),
    (
        "unsafe_and_prohibited_products",
        "Unsafe and prohibited products",
    ),
    ("scope_of_platform_service", "Scope of platform service"),
    ("other_violation_tc", "Other violation of the terms"),
];

/// The DSA statement category that usually fits a report category, to
/// preselect in the form.
pub(crate) fn suggested_dsa_category(category: &str) -> &'static str {
    match category {
        "phishing" | "malware" => "scams_and_fraud",
        "violent_threats" => "risk_for_public_security",
        "harassment" => "cyber_violence",
        "csam" => "protection_of_minors",
        "ncii" => "non_consensual_behaviour",
        "copyright" | "trademark" => "intellectual_property_infringements",
        "spam" => "scope_of_platform_service",
        _ => "other_violation_tc",
    }
}

/// What the decision form posts; every value a string, so reading the
/// form cannot fail.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DecisionForm {
    pub outcome: String,
    pub decision_ground: String,
    pub dsa_category: String,
    pub facts: String,
    pub territorial_scope: String,
    pub content_type: String,
    pub ground_reference: String,
    pub automated_detection: Option<String>,
    pub automated_decision: Option<String>,
    /// `YYYY-MM-DDTHH:MM` (UTC), empty for now.
    pub effective_at: String,
    /// `YYYY-MM-DDTHH:MM` (UTC), empty for until lifted.
    pub expires_at: String,
    /// One per line; for `restrict`.
    pub patterns: String,
    /// For `legal_block`.
    pub blocked_by: String,
    /// The origin host's abuse address, to forward the reports to.
    pub forward_to_host: String,
}

impl DecisionForm {
    /// The form a case starts with: defaults that fit its category.
    pub fn for_category(category: &str) -> Self {
        Self {
            outcome: "no_action".into(),
            decision_ground: "incompatible_content".into(),
            dsa_category: suggested_dsa_category(category).into(),
            territorial_scope: "worldwide".into(),
            content_type: "website".into(),
            ..Self::default()
        }
    }

    /// The API's decision body, or the problems of the date fields (the
    /// only ones the API cannot name itself, since it takes numbers).
    pub fn to_body(&self) -> Result<NewDecisionBody, Vec<FieldMessage>> {
        let mut problems = Vec::new();
        let mut when = |field: &'static str, label: &'static str, text: &str| {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            let parsed = parse_utc_minute(text);
            if parsed.is_none() {
                problems.push(FieldMessage {
                    field,
                    label,
                    message: format!(
                        "a date and time such as 2026-12-01T09:30 (UTC), not “{text}”"
                    ),
                });
            }
            parsed
        };
        let effective_at = when("effective_at", "Takes effect", &self.effective_at);
        let expires_at = when("expires_at", "Expires", &self.expires_at);
        if !problems.is_empty() {
            return Err(problems);
        }
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let patterns: Vec<String> = self
            .patterns
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(NewDecisionBody {
            outcome: self.outcome.trim().to_owned(),
            reasons: Reasons {
                decision_ground: text(&self.decision_ground),
                category: text(&self.dsa_category),
                facts: text(&self.facts),
                territorial_scope: text(&self.territorial_scope),
                content_type: text(&self.content_type),
                ground_reference: text(&self.ground_reference),
                automated_detection: self.automated_detection.is_some(),
                automated_decision: self.automated_decision.is_some(),
            },
            patterns: (!patterns.is_empty()).then_some(patterns),
            blocked_by: text(&self.blocked_by),
            effective_at,
            expires_at,
            forward_to_host: text(&self.forward_to_host),
        })
    }
}

/// The decision form's field (name and label) an API error path is about.
pub(crate) fn decision_field(path: &str) -> Option<(&'static str, &'static str)> {
    let head = path.split('[').next().unwrap_or(path);
    Some(match head {
        "outcome" => ("outcome", "Outcome"),
        "reasons.decision_ground" => ("decision_ground", "Decision ground"),
        "reasons.category" => ("dsa_category", "Statement category"),
        "reasons.facts" => ("facts", "Facts and circumstances"),
        "reasons.territorial_scope" => ("territorial_scope", "Territorial scope"),
        "reasons.content_type" => ("content_type", "Content type"),
        "reasons.ground_reference" => ("ground_reference", "Legal or policy reference"),
        "patterns" => ("patterns", "URL patterns"),
        "blocked_by" => ("blocked_by", "Blocking authority"),
        "effective_at" => ("effective_at", "Takes effect"),
        "expires_at" => ("expires_at", "Expires"),
        _ => return None,
    })
}

/// `YYYY-MM-DDTHH:MM[:SS]` (what `<input type="datetime-local">` posts),
/// read as UTC, in unix milliseconds.
pub(crate) fn parse_utc_minute(text: &str) -> Option<i64> {
    let (date, time) = text.trim().split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() {
        return None;
    }
    let (y, m, day): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, day.parse().ok()?);
    let mut t = time.split(':');
    let (h, min) = (t.next()?, t.next()?);
    let s = t.next().unwrap_or("0");
    if t.next().is_some() {
        return None;
    }
    let (h, min, s): (i64, i64, i64) = (h.parse().ok()?, min.parse().ok()?, s.parse().ok()?);
    let valid = (1970..=9999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=31).contains(&day)
        && (0..24).contains(&h)
        && (0..60).contains(&min)
        && (0..60).contains(&s);
    valid.then(|| ((days_from_civil(y, m, day) * 24 + h) * 60 + min) * 60_000 + s * 1000)
}

/// What an appeal's answer form posts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AnswerForm {
    /// `upheld` or `reversed`.
    pub outcome: String,
    pub response: String,
}

impl AnswerForm {
    pub fn to_body(&self) -> Answer {
        Answer {
            outcome: self.outcome.trim().to_owned(),
            response: self.response.clone(),
        }
    }
}

/// A refused write's message as the page shows it: the API's words without
/// its code quotes, starting with a capital.
pub(crate) fn problem_text(error: &ApiError) -> String {
    let message = error.detail.message.replace('`', "");
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_is_utc() {
        assert_eq!(parse_utc_minute("1970-01-01T00:01"), Some(60_000));
        assert_eq!(
            parse_utc_minute("2025-03-01T14:05"),
            Some(1_740_837_900_000)
        );
        assert_eq!(
            parse_utc_minute("2025-03-01 14:05:01"),
            Some(1_740_837_901_000)
        );
        for bad in [
            "",
            "2025-03-01",
            "2025-13-01T00:00",
            "2025-03-01T24:00",
            "x-y-zTa:b",
        ] {
            assert_eq!(parse_utc_minute(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_form_becomes_the_api_body() {
        let form = DecisionForm {
            outcome: "restrict".into(),
            facts: "  a fake login page  ".into(),
            patterns: "/login\n\n  /wp-*  \n".into(),
            automated_detection: Some("on".into()),
            expires_at: "2030-01-01T00:00".into(),
            ..DecisionForm::for_category("phishing")
        };
        let body = form.to_body().unwrap();
        assert_eq!(body.outcome, "restrict");
        assert_eq!(body.reasons.facts.as_deref(), Some("a fake login page"));
        assert_eq!(body.reasons.category.as_deref(), Some("scams_and_fraud"));
        assert!(body.reasons.automated_detection && !body.reasons.automated_decision);
        assert_eq!(body.reasons.ground_reference, None);
        assert_eq!(
            body.patterns,
            Some(vec!["/login".to_owned(), "/wp-*".to_owned()])
        );
        assert_eq!(body.blocked_by, None);
        assert_eq!(body.effective_at, None);
        assert!(body.expires_at.is_some());
    }

    #[test]
    fn bad_dates_are_named() {
        let form = DecisionForm {
            effective_at: "tomorrow".into(),
            ..DecisionForm::for_category("spam")
        };
        let problems = form.to_body().unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "effective_at");
        assert!(problems[0].message.contains("tomorrow"));
    }

    #[test]
    fn error_paths_find_their_fields() {
        assert_eq!(decision_field("reasons.facts").map(|f| f.0), Some("facts"));
        assert_eq!(decision_field("patterns[3]").map(|f| f.0), Some("patterns"));
        assert_eq!(
            decision_field("reasons.category").map(|f| f.0),
            Some("dsa_category")
        );
        assert_eq!(decision_field("elsewhere"), None);
    }

    #[test]
    fn every_category_has_a_label_and_a_suggestion() {
        for category in rampart_store::CATEGORIES {
            assert_ne!(category_label(category), category);
            let suggested = suggested_dsa_category(category);
            assert!(DSA_CATEGORY_OPTIONS.iter().any(|(c, _)| *c == suggested));
        }
        for outcome in rampart_store::OUTCOMES {
            assert_ne!(outcome_label(outcome), outcome);
        }
    }
}
