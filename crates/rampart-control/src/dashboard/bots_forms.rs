//! The forms of a site's *Bots & captcha* page: challenge pricing, the bot
//! policy switch, one bot rule, one captcha key. As on the Security page,
//! every value is posted as a string so reading a form cannot fail; the
//! site compiler judges what the form makes of them, and its problems
//! (`challenge.ip_prefix.v6`, `bots.rules[3].weight`, `hostnames[1]`) are
//! put back next to the fields.

use maud::{Markup, html};
use rampart_config::{
    BotRuleSpec, BotsSpec, ChallengeSpec, DifficultySpec, IpPrefixSpec, SiteSpec,
};
use serde::Deserialize;

use super::form::{Field, checkbox, non_empty, number, place_problems, select, text};
use super::layout::{FieldMessage, error_summary};
use crate::api::error::ApiError;

fn shown<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// `[site.challenge]` as the form posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ChallengeForm {
    pub ch_algorithm: String,
    pub ch_low: String,
    pub ch_medium: String,
    pub ch_high: String,
    pub ch_clearance_ttl: String,
    pub ch_ip_v4: String,
    pub ch_ip_v6: String,
    pub ch_nojs: Option<String>,
}

/// What a valid challenge form changes; applied to the spec as stored when
/// the write happens.
pub(crate) struct ChallengeChange {
    algorithm: String,
    difficulty: Option<DifficultySpec>,
    clearance_ttl: Option<String>,
    v4: Option<u32>,
    v6: Option<u32>,
    nojs: bool,
}

impl ChallengeForm {
    pub fn from_spec(spec: &SiteSpec) -> Self {
        let c = spec.challenge.clone().unwrap_or_default();
        let (low, medium, high) = match c.difficulty {
            Some(DifficultySpec::Levels { low, medium, high }) => {
                (Some(low), Some(medium), Some(high))
            }
            Some(DifficultySpec::Medium(m)) => (None, Some(m), None),
            None => (None, None, None),
        };
        let prefix = c
            .ip_prefix
            .clone()
            .unwrap_or(IpPrefixSpec { v4: None, v6: None });
        Self {
            ch_algorithm: c.algorithm.unwrap_or_else(|| "sha256".to_owned()),
            ch_low: shown(low),
            ch_medium: shown(medium),
            ch_high: shown(high),
            ch_clearance_ttl: c.clearance_ttl.unwrap_or_default(),
            ch_ip_v4: shown(prefix.v4),
            ch_ip_v6: shown(prefix.v6),
            ch_nojs: c.nojs_fallback.unwrap_or(true).then(|| "on".to_owned()),
        }
    }

    /// The change, or the problems found before the compiler sees it.
    pub fn to_change(&self) -> Result<ChallengeChange, Vec<FieldMessage>> {
        let mut problems = Vec::new();
        let low = number::<u32>(&self.ch_low, "ch_low", "Low", &mut problems);
        let medium = number::<u32>(&self.ch_medium, "ch_medium", "Medium", &mut problems);
        let high = number::<u32>(&self.ch_high, "ch_high", "High", &mut problems);
        let difficulty = match (low, medium, high) {
            (None, None, None) => None,
            (None, Some(m), None) => Some(DifficultySpec::Medium(m)),
            (Some(low), Some(medium), Some(high)) => {
                Some(DifficultySpec::Levels { low, medium, high })
            }
            _ => {
                problems.push(FieldMessage {
                    field: "ch_medium",
                    label: "Difficulty",
                    message: "Give low, medium and high, or medium alone (low and high then follow), or none for the defaults.".to_owned(),
                });
                None
            }
        };
        let v4 = number(&self.ch_ip_v4, "ch_ip_v4", "IPv4 prefix", &mut problems);
        let v6 = number(&self.ch_ip_v6, "ch_ip_v6", "IPv6 prefix", &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ChallengeChange {
            algorithm: self.ch_algorithm.trim().to_owned(),
            difficulty,
            clearance_ttl: non_empty(&self.ch_clearance_ttl),
            v4,
            v6,
            nojs: self.ch_nojs.is_some(),
        })
    }
}

impl ChallengeChange {
    /// Writes the form's fields over the spec's `challenge`; what the form
    /// does not show (challenge ttl, scrypt parameters) stays, and values
    /// left at their default stay unwritten, so saving an untouched form
    /// changes nothing.
    pub fn apply(self, spec: &mut SiteSpec) {
        let stored = spec.challenge.take().unwrap_or_default();
        let algorithm =
            (self.algorithm != "sha256" || stored.algorithm.is_some()).then_some(self.algorithm);
        let nojs_fallback = (!self.nojs || stored.nojs_fallback.is_some()).then_some(self.nojs);
        let ip_prefix = (self.v4.is_some() || self.v6.is_some()).then_some(IpPrefixSpec {
            v4: self.v4,
            v6: self.v6,
        });
        let scrypt = stored
            .scrypt
            .filter(|_| algorithm.as_deref() == Some("scrypt"));
        let challenge = ChallengeSpec {
            algorithm,
            difficulty: self.difficulty,
            scrypt,
            ttl: stored.ttl,
            clearance_ttl: self.clearance_ttl,
            ip_prefix,
            nojs_fallback,
        };
        spec.challenge = (challenge != ChallengeSpec::default()).then_some(challenge);
    }
}

/// The bot policy switch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PolicyForm {
    pub bots_enabled: Option<String>,
    pub challenge_feeds: Option<String>,
}

impl PolicyForm {
    pub fn apply(&self, spec: &mut SiteSpec) {
        let on = self.bots_enabled.is_some();
        let feeds = self.challenge_feeds.is_some();
        match spec.bots.take() {
            // Nothing to keep and nothing switched on: stay absent.
            None if !on && !feeds => {}
            stored => {
                let stored = stored.unwrap_or_default();
                spec.bots = Some(BotsSpec {
                    enabled: Some(on),
                    challenge_feeds: (feeds || stored.challenge_feeds.is_some()).then_some(feeds),
                    ..stored
                });
            }
        }
    }
}

/// One bot rule as the form posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BotRuleForm {
    pub br_id: String,
    pub br_expression: String,
    pub br_weight: String,
}

impl BotRuleForm {
    pub fn to_spec(&self) -> Result<BotRuleSpec, Vec<FieldMessage>> {
        let mut problems = Vec::new();
        let weight = number::<i32>(&self.br_weight, "br_weight", "Weight", &mut problems);
        if weight.is_none() && problems.is_empty() {
            problems.push(FieldMessage {
                field: "br_weight",
                label: "Weight",
                message: "How much a match adds (or, negative, takes away), e.g. 10.".to_owned(),
            });
        }
        match weight {
            Some(weight) if problems.is_empty() => Ok(BotRuleSpec {
                id: self.br_id.trim().to_owned(),
                expression: self.br_expression.trim().to_owned(),
                weight,
            }),
            _ => Err(problems),
        }
    }
}

/// Adds `rule` to the spec's bot rules; its index, where the compiler's
/// problems about it will point. A site without a bot policy gets one
/// switched off, so adding a rule does not turn the policy on unasked.
pub(crate) fn add_bot_rule(spec: &mut SiteSpec, rule: BotRuleSpec) -> usize {
    let bots = spec.bots.get_or_insert_with(|| BotsSpec {
        enabled: Some(false),
        ..BotsSpec::default()
    });
    let rules = bots.rules.get_or_insert_with(Vec::new);
    rules.push(rule);
    rules.len() - 1
}

/// Removes bot rule `id`; false when there is none.
pub(crate) fn remove_bot_rule(spec: &mut SiteSpec, id: &str) -> bool {
    let Some(rules) = spec.bots.as_mut().and_then(|b| b.rules.as_mut()) else {
        return false;
    };
    let before = rules.len();
    rules.retain(|r| r.id != id);
    let removed = rules.len() != before;
    if rules.is_empty()
        && let Some(bots) = spec.bots.as_mut()
    {
        bots.rules = None;
    }
    removed
}

/// A new captcha key as the form posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CaptchaForm {
    pub cap_hostnames: String,
    pub cap_mode: String,
}

impl CaptchaForm {
    pub fn new_key() -> Self {
        Self {
            cap_hostnames: String::new(),
            cap_mode: "managed".to_owned(),
        }
    }

    pub fn hostnames(&self) -> Vec<String> {
        self.cap_hostnames
            .split([',', ' ', '\n', '\r'])
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The form field a problem's path is about; `index` is the bot rule the
/// form wrote.
fn form_field(path: &str, index: Option<usize>) -> Option<(&'static str, &'static str)> {
    let rule = index.map(|i| format!("bots.rules[{i}]"));
    if let Some(rest) = rule.as_deref().and_then(|r| path.strip_prefix(r)) {
        return match rest {
            ".id" => Some(("br_id", "Rule id")),
            ".expression" => Some(("br_expression", "Expression")),
            ".weight" => Some(("br_weight", "Weight")),
            _ => None,
        };
    }
    Some(match path {
        "challenge.algorithm" => ("ch_algorithm", "Algorithm"),
        "challenge.clearance_ttl" => ("ch_clearance_ttl", "Clearance lifetime"),
        "challenge.ip_prefix.v4" => ("ch_ip_v4", "IPv4 prefix"),
        "challenge.ip_prefix.v6" => ("ch_ip_v6", "IPv6 prefix"),
        p if p.starts_with("challenge.difficulty") => ("ch_medium", "Difficulty"),
        p if p.starts_with("hostnames") => ("cap_hostnames", "Hostnames"),
        "mode" => ("cap_mode", "Mode"),
        _ => return None,
    })
}

/// The API error's problems next to this page's fields where it has them,
/// the rest as general messages.
pub(crate) fn place_errors(
    error: &ApiError,
    index: Option<usize>,
) -> (Vec<FieldMessage>, Vec<String>) {
    place_problems(error, |path| form_field(path, index), |_, message| message)
}

const ALGORITHMS: [(&str, &str); 2] = [
    ("sha256", "SHA-256 (fast in browsers)"),
    ("scrypt", "scrypt (memory-hard; prices out GPU solvers)"),
];

const MODES: [(&str, &str); 3] = [
    ("managed", "Managed"),
    ("non-interactive", "Non-interactive"),
    ("invisible", "Invisible"),
];

pub(crate) fn challenge_form(
    action: &str,
    csrf: &Markup,
    form: &ChallengeForm,
    errors: &[FieldMessage],
    general: &[String],
    writable: bool,
) -> Markup {
    html! {
        (error_summary("The challenge settings were not saved", errors, general))
        form.stacked #challenge-form method="post" action=(action) novalidate {
            (csrf)
            fieldset.bare disabled[!writable] {
                legend.visually-hidden { "Challenge settings" }
                (select(Field { name: "ch_algorithm", label: "Algorithm", hint: None }, &ALGORITHMS, &form.ch_algorithm, errors))
                fieldset {
                    legend { "Difficulty" }
                    p.hint { "Leading zero bits per threat level. Empty for the defaults (SHA-256: 13, 16, 18; scrypt: 2, 4, 6); medium alone sets low and high two either side." }
                    div.row {
                        (text(Field { name: "ch_low", label: "Low", hint: None }, &form.ch_low, errors, false))
                        (text(Field { name: "ch_medium", label: "Medium", hint: None }, &form.ch_medium, errors, false))
                        (text(Field { name: "ch_high", label: "High", hint: None }, &form.ch_high, errors, false))
                    }
                }
                div.row {
                    (text(Field { name: "ch_clearance_ttl", label: "Clearance lifetime", hint: Some("How long a solved challenge lets a visitor through; 1m to 7d, empty for 30m") }, &form.ch_clearance_ttl, errors, false))
                    (text(Field { name: "ch_ip_v4", label: "IPv4 prefix", hint: Some("A clearance holds within this network; 8 to 32, empty for 24") }, &form.ch_ip_v4, errors, false))
                    (text(Field { name: "ch_ip_v6", label: "IPv6 prefix", hint: Some("16 to 128, empty for 64") }, &form.ch_ip_v6, errors, false))
                }
                (checkbox(Field { name: "ch_nojs", label: "No-JavaScript fallback", hint: Some("Visitors without JavaScript may wait a few seconds instead, at low threat only.") }, form.ch_nojs.is_some(), errors))
                button type="submit" { "Save challenge settings" }
            }
        }
    }
}

pub(crate) fn bot_rule_form(
    action: &str,
    csrf: &Markup,
    form: &BotRuleForm,
    errors: &[FieldMessage],
    general: &[String],
) -> Markup {
    html! {
        (error_summary("The bot rule was not added", errors, general))
        form.stacked #bot-rule-form method="post" action=(action) novalidate {
            (csrf)
            fieldset {
                legend { "Add a bot rule" }
                div.row {
                    (text(Field { name: "br_id", label: "Rule id", hint: None }, &form.br_id, errors, false))
                    (text(Field { name: "br_weight", label: "Weight", hint: Some("-1000 to 1000; negative for signs of a real visitor") }, &form.br_weight, errors, false))
                }
                (text(Field { name: "br_expression", label: "Expression", hint: Some("e.g. http.user_agent contains \"HeadlessChrome\"") }, &form.br_expression, errors, true))
                button type="submit" { "Add bot rule" }
            }
        }
    }
}

pub(crate) fn captcha_form(
    action: &str,
    csrf: &Markup,
    form: &CaptchaForm,
    errors: &[FieldMessage],
    general: &[String],
) -> Markup {
    html! {
        (error_summary("The captcha key was not created", errors, general))
        form.stacked #captcha-form method="post" action=(action) novalidate {
            (csrf)
            fieldset {
                legend { "Create a captcha key" }
                (text(Field { name: "cap_hostnames", label: "Hostnames", hint: Some("One per line, each a host of this site; empty for any of its hosts.") }, &form.cap_hostnames, errors, true))
                (select(Field { name: "cap_mode", label: "Mode", hint: None }, &MODES, &form.cap_mode, errors))
                button type="submit" { "Create captcha key" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> SiteSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn an_untouched_challenge_form_changes_nothing() {
        for stored in [
            json!({"name": "a", "hosts": ["a.test"], "origins": ["http://127.0.0.1:1"]}),
            json!({"name": "a", "hosts": ["a.test"], "origins": ["http://127.0.0.1:1"],
                   "challenge": {"algorithm": "scrypt", "scrypt": {"n_log2": 10, "r": 4, "p": 1},
                                 "difficulty": 3, "ttl": "2m", "ip_prefix": {"v6": 48}, "nojs_fallback": false}}),
        ] {
            let stored = spec(stored);
            let mut written = stored.clone();
            ChallengeForm::from_spec(&stored)
                .to_change()
                .unwrap()
                .apply(&mut written);
            assert_eq!(written, stored);
        }
    }

    #[test]
    fn difficulty_is_all_three_medium_alone_or_none() {
        let form = ChallengeForm {
            ch_algorithm: "sha256".into(),
            ch_low: "10".into(),
            ch_medium: "12".into(),
            ..ChallengeForm::default()
        };
        let problems = form.to_change().err().unwrap();
        assert_eq!(problems[0].field, "ch_medium");
        let bad = ChallengeForm {
            ch_ip_v4: "x".into(),
            ..ChallengeForm::default()
        };
        assert_eq!(bad.to_change().err().unwrap()[0].field, "ch_ip_v4");
    }

    #[test]
    fn a_rule_on_a_site_without_a_policy_leaves_it_off() {
        let mut s =
            spec(json!({"name": "a", "hosts": ["a.test"], "origins": ["http://127.0.0.1:1"]}));
        let rule = BotRuleSpec {
            id: "x".into(),
            expression: "true".into(),
            weight: 5,
        };
        assert_eq!(add_bot_rule(&mut s, rule), 0);
        assert_eq!(s.bots.as_ref().and_then(|b| b.enabled), Some(false));
        assert!(remove_bot_rule(&mut s, "x"));
        assert!(!remove_bot_rule(&mut s, "x"));
        assert_eq!(s.bots.as_ref().and_then(|b| b.rules.clone()), None);
    }

    #[test]
    fn errors_land_on_their_fields() {
        let error = ApiError::validation(vec![rampart_config::FieldError {
            field: "bots.rules[2].expression".into(),
            code: "invalid",
            message: "bots.rules[2].expression: column 3: nope".into(),
        }]);
        let (fields, general) = place_errors(&error, Some(2));
        assert!(general.is_empty());
        assert_eq!(fields[0].field, "br_expression");
        assert_eq!(fields[0].message, "column 3: nope");
        let (fields, general) = place_errors(&error, Some(1));
        assert!(fields.is_empty() && general.len() == 1);
    }
}
