//! The site settings form: the spec's editable fields as strings, merged
//! back into the stored spec (so fields the form does not show, like TLS or
//! page templates, stay), and each validation problem put next to the
//! field it is about.

use maud::{Markup, html};
use rampart_config::{HealthSpec, HstsSpec, OriginSpec, SiteSpec};
use serde::Deserialize;

use super::layout::{FieldMessage, field_errors};
use crate::api::error::ApiError;

/// What the form posts. Every value is a string (a checkbox is present or
/// absent), so reading the form cannot fail; `compile_site` judges it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SiteForm {
    /// New sites only: which account (operators).
    pub account: String,
    pub name: String,
    pub hosts: String,
    pub origins: String,
    pub lb: String,
    pub health_path: String,
    pub health_interval: String,
    pub health_timeout: String,
    pub https_redirect: Option<String>,
    pub hsts: Option<String>,
    pub hsts_max_age: String,
    pub hsts_include_subdomains: Option<String>,
    pub hsts_preload: Option<String>,
    pub security_level: String,
    pub under_attack: Option<String>,
}

fn checked(on: bool) -> Option<String> {
    on.then(|| "on".to_owned())
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A trimmed text field, absent when empty: the spec leaves unset what the
/// form leaves blank, so the compiler's default applies.
pub(crate) fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A number field: empty is absent; anything else that is not a number is
/// reported on the field without asking the compiler, which would only see
/// the field missing.
pub(crate) fn number<T: std::str::FromStr>(
    text: &str,
    field: &'static str,
    label: &'static str,
    problems: &mut Vec<FieldMessage>,
) -> Option<T> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            problems.push(FieldMessage {
                field,
                label,
                message: format!("“{text}” is not a whole number."),
            });
            None
        }
    }
}

/// A checkbox's value over the stored one: an unticked box over an absent
/// setting stays absent, so saving an untouched form changes nothing.
fn flag(on: bool, stored: Option<bool>) -> Option<bool> {
    if on || stored.is_some() {
        Some(on)
    } else {
        None
    }
}

impl SiteForm {
    pub fn from_spec(spec: &SiteSpec) -> Self {
        let health = spec.health.clone().unwrap_or_default();
        let hsts = spec.hsts.clone();
        Self {
            account: String::new(),
            name: spec.name.clone(),
            hosts: spec.hosts.join("\n"),
            origins: spec
                .origins
                .iter()
                .map(OriginSpec::url)
                .collect::<Vec<_>>()
                .join("\n"),
            lb: spec.lb.clone().unwrap_or_else(|| "round_robin".to_owned()),
            health_path: health.path.unwrap_or_default(),
            health_interval: health.interval.unwrap_or_default(),
            health_timeout: health.timeout.unwrap_or_default(),
            https_redirect: checked(spec.https_redirect.unwrap_or(false)),
            hsts: checked(hsts.is_some()),
            hsts_max_age: hsts
                .as_ref()
                .and_then(|h| h.max_age.clone())
                .unwrap_or_default(),
            hsts_include_subdomains: checked(
                hsts.as_ref()
                    .and_then(|h| h.include_subdomains)
                    .unwrap_or(false),
            ),
            hsts_preload: checked(hsts.as_ref().and_then(|h| h.preload).unwrap_or(false)),
            security_level: spec
                .security_level
                .clone()
                .unwrap_or_else(|| "medium".to_owned()),
            under_attack: checked(spec.under_attack.unwrap_or(false)),
        }
    }

    /// The stored spec with the form's fields written over it.
    pub fn merge_into(&self, mut spec: SiteSpec) -> SiteSpec {
        spec.name = self.name.trim().to_owned();
        spec.hosts = lines(&self.hosts);
        // An origin that stays keeps its weight and protocol.
        let before = std::mem::take(&mut spec.origins);
        spec.origins = lines(&self.origins)
            .into_iter()
            .map(|url| {
                before
                    .iter()
                    .find(|o| o.url() == url)
                    .cloned()
                    .unwrap_or(OriginSpec::Url(url))
            })
            .collect();
        spec.lb = non_empty(&self.lb);
        let (path, interval, timeout) = (
            non_empty(&self.health_path),
            non_empty(&self.health_interval),
            non_empty(&self.health_timeout),
        );
        spec.health = match spec.health.take() {
            None if path.is_none() && interval.is_none() && timeout.is_none() => None,
            stored => Some(HealthSpec {
                path,
                interval,
                timeout,
                ..stored.unwrap_or_default()
            }),
        };
        spec.https_redirect = flag(self.https_redirect.is_some(), spec.https_redirect);
        spec.hsts = if self.hsts.is_some() {
            let stored = spec.hsts.take().unwrap_or_default();
            Some(HstsSpec {
                max_age: non_empty(&self.hsts_max_age),
                include_subdomains: flag(
                    self.hsts_include_subdomains.is_some(),
                    stored.include_subdomains,
                ),
                preload: flag(self.hsts_preload.is_some(), stored.preload),
            })
        } else {
            None
        };
        spec.security_level = non_empty(&self.security_level);
        spec.under_attack = flag(self.under_attack.is_some(), spec.under_attack);
        spec
    }
}

/// The form field a spec path (`hosts[2]`, `health.interval`) is about.
fn form_field(path: &str) -> Option<&'static str> {
    let head = path.split(['.', '[']).next().unwrap_or(path);
    Some(match (head, path) {
        ("name", _) => "name",
        ("hosts", _) => "hosts",
        ("origins", _) => "origins",
        ("lb", _) => "lb",
        (_, "health.path") => "health_path",
        (_, "health.interval") => "health_interval",
        (_, "health.timeout") => "health_timeout",
        ("https_redirect", _) => "https_redirect",
        (_, "hsts.max_age") => "hsts_max_age",
        (_, "hsts.include_subdomains") => "hsts_include_subdomains",
        (_, "hsts.preload") => "hsts_preload",
        ("hsts", _) => "hsts",
        ("security_level", _) => "security_level",
        ("under_attack", _) => "under_attack",
        ("account_id", _) => "account",
        _ => return None,
    })
}

/// How the form labels a field, for the error summary.
fn label_of(field: &str) -> &'static str {
    match field {
        "account" => "Account",
        "name" => "Name",
        "hosts" => "Hostnames",
        "origins" => "Origin servers",
        "lb" => "Load balancing",
        "health_path" => "Health check path",
        "health_interval" => "Health check interval",
        "health_timeout" => "Health check timeout",
        "https_redirect" => "Redirect HTTP to HTTPS",
        "hsts" => "HSTS",
        "hsts_max_age" => "HSTS max age",
        "hsts_include_subdomains" => "HSTS includes subdomains",
        "hsts_preload" => "HSTS preload",
        "security_level" => "Security level",
        "under_attack" => "Under-attack mode",
        _ => "Field",
    }
}

/// The entry `hosts[2]` or `origins[1].url` names in `spec`, to say which
/// line of a list field is wrong.
fn entry<'a>(spec: &'a SiteSpec, path: &str) -> Option<&'a str> {
    let (list, rest) = path.split_once('[')?;
    let index: usize = rest.split(']').next()?.parse().ok()?;
    match list {
        "hosts" => spec.hosts.get(index).map(String::as_str),
        "origins" => spec.origins.get(index).map(OriginSpec::url),
        _ => None,
    }
}

/// The API error's problems, each next to its form field where the form has
/// one, the rest as general messages.
pub(crate) fn place_errors(error: &ApiError, spec: &SiteSpec) -> (Vec<FieldMessage>, Vec<String>) {
    place_problems(
        error,
        |path| form_field(path).map(|field| (field, label_of(field))),
        |path, message| match entry(spec, path) {
            Some(value) if !message.contains(value) => format!("“{value}”: {message}"),
            _ => message,
        },
    )
}

/// A refused write's problems (`details`, else the one `field`/`message`),
/// each placed by `field_of` next to the form field (name and label) its
/// spec path is about; the rest become general messages, prefixed with
/// their path so they still say what they are about. `reword` may add to a
/// message what its path alone does not say. Shared by every page whose
/// form writes a spec, each knowing its own fields.
pub(crate) fn place_problems(
    error: &ApiError,
    field_of: impl Fn(&str) -> Option<(&'static str, &'static str)>,
    reword: impl Fn(&str, String) -> String,
) -> (Vec<FieldMessage>, Vec<String>) {
    let detail = &error.detail;
    let mut problems: Vec<(String, String)> = detail
        .details
        .iter()
        .map(|p| (p.field.clone(), p.message.clone()))
        .collect();
    if problems.is_empty() {
        problems.push((
            detail.field.clone().unwrap_or_default(),
            detail.message.clone(),
        ));
    }
    let mut fields = Vec::new();
    let mut general = Vec::new();
    for (path, message) in problems {
        let message = message.replace('`', "");
        // The field is shown beside the message already.
        let message = message
            .strip_prefix(&format!("{path}: "))
            .map_or_else(|| message.clone(), str::to_owned);
        let message = reword(&path, message);
        match field_of(&path) {
            Some((field, label)) => fields.push(FieldMessage {
                field,
                label,
                message,
            }),
            None if path.is_empty() => general.push(message),
            None => general.push(format!("{path}: {message}")),
        }
    }
    (fields, general)
}

/// The ids a field's `aria-describedby` lists: its hint, then its error.
fn described_by(hint: Option<&str>, error: Option<&str>) -> Option<String> {
    let ids: Vec<&str> = [hint, error].into_iter().flatten().collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

pub(crate) struct Field<'a> {
    pub name: &'static str,
    pub label: &'a str,
    pub hint: Option<&'a str>,
}

impl Field<'_> {
    fn hint_id(&self) -> Option<String> {
        self.hint.map(|_| format!("f-{}-hint", self.name))
    }
}

pub(crate) fn text(
    field: Field<'_>,
    value: &str,
    errors: &[FieldMessage],
    multiline: bool,
) -> Markup {
    let (error_id, error_markup) = field_errors(errors, field.name);
    let hint_id = field.hint_id();
    let describedby = described_by(hint_id.as_deref(), error_id.as_deref());
    let invalid = error_id.is_some().then_some("true");
    html! {
        div.field {
            label for={ "f-" (field.name) } { (field.label) }
            @if let (Some(hint), Some(id)) = (field.hint, &hint_id) { p.hint id=(id) { (hint) } }
            @if multiline {
                textarea id={ "f-" (field.name) } name=(field.name) rows="3" spellcheck="false"
                    aria-invalid=[invalid] aria-describedby=[describedby] { (value) }
            } @else {
                input id={ "f-" (field.name) } type="text" name=(field.name) value=(value)
                    spellcheck="false" aria-invalid=[invalid] aria-describedby=[describedby];
            }
            (error_markup)
        }
    }
}

pub(crate) fn select(
    field: Field<'_>,
    options: &[(&str, &str)],
    value: &str,
    errors: &[FieldMessage],
) -> Markup {
    let (error_id, error_markup) = field_errors(errors, field.name);
    let hint_id = field.hint_id();
    let describedby = described_by(hint_id.as_deref(), error_id.as_deref());
    html! {
        div.field {
            label for={ "f-" (field.name) } { (field.label) }
            @if let (Some(hint), Some(id)) = (field.hint, &hint_id) { p.hint id=(id) { (hint) } }
            select id={ "f-" (field.name) } name=(field.name)
                aria-invalid=[error_id.is_some().then_some("true")] aria-describedby=[describedby] {
                @for (option, label) in options {
                    option value=(option) selected[*option == value] { (label) }
                }
            }
            (error_markup)
        }
    }
}

pub(crate) fn checkbox(field: Field<'_>, on: bool, errors: &[FieldMessage]) -> Markup {
    let (error_id, error_markup) = field_errors(errors, field.name);
    let hint_id = field.hint_id();
    let describedby = described_by(hint_id.as_deref(), error_id.as_deref());
    html! {
        div.check {
            input id={ "f-" (field.name) } type="checkbox" name=(field.name) checked[on]
                aria-invalid=[error_id.is_some().then_some("true")] aria-describedby=[describedby];
            div {
                label for={ "f-" (field.name) } { (field.label) }
                @if let (Some(hint), Some(id)) = (field.hint, &hint_id) { p.hint id=(id) { (hint) } }
                (error_markup)
            }
        }
    }
}

const LB: [(&str, &str); 3] = [
    ("round_robin", "Round robin"),
    ("least_outstanding", "Fewest requests in flight"),
    ("ip_hash", "By client address (sticky)"),
];

const LEVELS: [(&str, &str); 4] = [
    ("off", "Off"),
    ("low", "Low"),
    ("medium", "Medium (default)"),
    ("high", "High"),
];

/// Every settings fieldset; shared by the new-site and settings pages.
pub(crate) fn site_fields(form: &SiteForm, errors: &[FieldMessage]) -> Markup {
    html! {
        fieldset {
            legend { "Site" }
            (text(Field { name: "name", label: "Name", hint: Some("Lowercase letters, digits, - and _; used in URLs and logs.") }, &form.name, errors, false))
            (text(Field { name: "hosts", label: "Hostnames", hint: Some("One per line, e.g. shop.example.com or *.example.com.") }, &form.hosts, errors, true))
            (text(Field { name: "origins", label: "Origin servers", hint: Some("One URL per line, e.g. http://10.0.0.5:8080.") }, &form.origins, errors, true))
            (select(Field { name: "lb", label: "Load balancing", hint: None }, &LB, &form.lb, errors))
        }
        fieldset {
            legend { "Health checks" }
            p.hint { "Leave all three empty to use the defaults (/, every 5s, 2s timeout)." }
            div.row {
                (text(Field { name: "health_path", label: "Path", hint: Some("e.g. /healthz") }, &form.health_path, errors, false))
                (text(Field { name: "health_interval", label: "Interval", hint: Some("e.g. 5s") }, &form.health_interval, errors, false))
                (text(Field { name: "health_timeout", label: "Timeout", hint: Some("e.g. 2s") }, &form.health_timeout, errors, false))
            }
        }
        fieldset {
            legend { "HTTPS" }
            (checkbox(Field { name: "https_redirect", label: "Redirect HTTP to HTTPS", hint: None }, form.https_redirect.is_some(), errors))
            (checkbox(Field { name: "hsts", label: "Send Strict-Transport-Security (HSTS)", hint: Some("Browsers then refuse plain HTTP for this site.") }, form.hsts.is_some(), errors))
            (text(Field { name: "hsts_max_age", label: "HSTS max age", hint: Some("e.g. 365d; empty for the default of 365d.") }, &form.hsts_max_age, errors, false))
            (checkbox(Field { name: "hsts_include_subdomains", label: "HSTS includes subdomains", hint: None }, form.hsts_include_subdomains.is_some(), errors))
            (checkbox(Field { name: "hsts_preload", label: "HSTS preload", hint: Some("Needs subdomains included and a max age of at least 365d.") }, form.hsts_preload.is_some(), errors))
        }
        fieldset {
            legend { "Security" }
            (select(Field { name: "security_level", label: "Security level", hint: None }, &LEVELS, &form.security_level, errors))
            (checkbox(Field { name: "under_attack", label: "Under-attack mode", hint: Some("Challenge every visitor before they reach the site.") }, form.under_attack.is_some(), errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_config::OriginDetails;
    use serde_json::json;

    fn stored() -> SiteSpec {
        serde_json::from_value(json!({
            "name": "shop",
            "hosts": ["shop.test"],
            "origins": [{"url": "http://10.0.0.1:80", "weight": 3}, "http://10.0.0.2:80"],
            "health": {"rise": 4},
            "pages": {"not_found": "gone"},
        }))
        .unwrap()
    }

    #[test]
    fn an_untouched_form_changes_nothing() {
        let spec = stored();
        let form = SiteForm::from_spec(&spec);
        let mut merged = form.merge_into(spec.clone());
        // The form writes the defaults it shows.
        merged.lb = None;
        merged.security_level = None;
        assert_eq!(merged, spec);
    }

    #[test]
    fn fields_not_on_the_form_are_kept() {
        let form = SiteForm {
            name: "shop".into(),
            hosts: "shop.test\n\n  www.shop.test \n".into(),
            origins: "http://10.0.0.1:80\nhttp://10.0.0.3:80".into(),
            health_interval: "10s".into(),
            hsts: Some("on".into()),
            under_attack: Some("on".into()),
            ..SiteForm::default()
        };
        let merged = form.merge_into(stored());
        assert_eq!(merged.hosts, ["shop.test", "www.shop.test"]);
        assert_eq!(
            merged.origins,
            [
                OriginSpec::Detailed(OriginDetails {
                    url: "http://10.0.0.1:80".into(),
                    weight: Some(3),
                    protocol: None
                }),
                OriginSpec::Url("http://10.0.0.3:80".into()),
            ]
        );
        let health = merged.health.unwrap();
        assert_eq!(health.rise, Some(4));
        assert_eq!(health.interval.as_deref(), Some("10s"));
        assert!(merged.pages.is_some());
        assert_eq!(merged.hsts, Some(HstsSpec::default()));
        assert_eq!(merged.under_attack, Some(true));
    }

    #[test]
    fn errors_land_on_their_fields() {
        let spec = SiteForm {
            hosts: "ok.test\nbad host".into(),
            ..SiteForm::default()
        }
        .merge_into(SiteSpec::default());
        let errors = rampart_config::compile_site(&spec, &Default::default()).unwrap_err();
        let (fields, general) = place_errors(&ApiError::validation(errors), &spec);
        assert!(general.is_empty(), "{general:?}");
        let hosts = fields.iter().find(|f| f.field == "hosts").unwrap();
        assert!(hosts.message.contains("bad host"), "{}", hosts.message);
        assert!(fields.iter().any(|f| f.field == "name"));
        assert!(fields.iter().any(|f| f.field == "origins"));
    }
}
