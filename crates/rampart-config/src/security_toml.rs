//! The security keys of a `[[site]]` (`rules`, `rate_limits`, `limits`,
//! `auto_under_attack`) and the top-level `[[rules]]`, walked like the rest
//! of the document: every problem is recorded at its position and the walk
//! goes on. The checks themselves are in `security_checks.rs`, shared with
//! site specs.

use std::collections::HashMap;

use toml::de::DeValue;

use crate::diagnostics::Diags;
use crate::security::*;
use crate::security_checks::{self as checks, ActionInput, RuleKey};
use crate::tree::{Str, Table, Value, as_str, type_error};

const RULE_KEYS: &[&str] = &[
    "id",
    "description",
    "expression",
    "action",
    "status",
    "challenge",
    "skip_phases",
    "skip_rules",
    "redirect_url",
    "enabled",
];
const RATE_LIMIT_KEYS: &[&str] = &[
    "id",
    "description",
    "expression",
    "characteristics",
    "period",
    "requests",
    "action",
    "mitigation_timeout",
    "counting_expression",
    "enabled",
];
const LIMITS_KEYS: &[&str] = &["max_header_count", "max_uri_bytes", "max_body_bytes"];
const AUTO_KEYS: &[&str] = &["enabled", "factor", "min_rps", "warmup", "window", "hold"];

/// The security settings of one `[[site]]` table. `lists` are the names
/// of the `[[lists]]` its expressions may use.
pub(crate) fn site_security(t: &Table<'_, '_>, lists: &[&str], d: &mut Diags<'_>) -> SiteSecurity {
    let mut out = SiteSecurity::default();
    if let Some(items) = table_array(t, "rules", "site.rules", d) {
        out.rules = rules(items, "site.rules", lists, d);
    }
    if let Some(items) = table_array(t, "rate_limits", "site.rate_limits", d) {
        out.rate_limits = rate_limits(items, lists, d);
    }
    if let Some(l) = t.table("limits", d) {
        out.limits = limits(&l, d);
    }
    if let Some(a) = t.table("auto_under_attack", d) {
        out.auto_under_attack = auto_under_attack(&a, d);
    }
    if let Some(c) = t.table("challenge", d) {
        out.challenge = crate::challenge_toml::challenge(&c, d);
    }
    if let Some(b) = t.table("bots", d) {
        out.bots = crate::challenge_toml::bots(&b, lists, d);
    }
    if let Some(items) = table_array(t, "captcha", "site.captcha", d) {
        out.captcha = crate::challenge_toml::captcha(items, d);
    }
    out
}

/// The elements of an array of tables, or a diagnostic if `key` is
/// something else. `path` names it in messages ("site.rules").
pub(crate) fn table_array<'a, 'i>(
    t: &Table<'a, 'i>,
    key: &str,
    path: &str,
    d: &mut Diags<'_>,
) -> Option<&'a [Value<'i>]> {
    let value = t.get(key)?;
    match value.get_ref() {
        DeValue::Array(items) => Some(items),
        DeValue::Table(_) => {
            d.error(
                &value.span(),
                format!(
                    "expected an array of tables for `{path}`, found table; write each entry as [[{path}]]"
                ),
            );
            None
        }
        other => {
            type_error(
                d,
                value,
                &format!("an array of [[{path}]] tables"),
                path,
                other,
            );
            None
        }
    }
}

/// A required key of an array element; missing is a diagnostic at the
/// element's header that says what to write.
pub(crate) fn required<'a, 'i>(
    t: &Table<'a, 'i>,
    key: &str,
    elem: &str,
    example: &str,
    d: &mut Diags<'_>,
) -> Option<&'a Value<'i>> {
    let value = t.get(key);
    if value.is_none() {
        d.error(
            &t.span,
            format!("`{elem}` is missing `{key}`; add e.g. {key} = {example}"),
        );
    }
    value
}

/// Elements of an array of tables, each as a `Table` named `path[i]`,
/// capped at `max` (a diagnostic at the first one beyond it).
pub(crate) fn elements<'a, 'i>(
    items: &'a [Value<'i>],
    path: &str,
    max: usize,
    d: &mut Diags<'_>,
) -> Vec<(usize, Table<'a, 'i>)> {
    if let Some(extra) = items.get(max) {
        d.error(&extra.span(), checks::too_many(path, max, items.len()));
    }
    items
        .iter()
        .take(max)
        .enumerate()
        .filter_map(|(i, item)| {
            let elem = format!("{path}[{i}]");
            Table::from_value(item, elem, Some(format!("in [[{path}]]")), d).map(|t| (i, t))
        })
        .collect()
}

/// `[[site.rules]]` or the top-level `[[rules]]`; `path` is which.
pub(crate) fn rules(
    items: &[Value<'_>],
    path: &str,
    lists: &[&str],
    d: &mut Diags<'_>,
) -> Vec<FirewallRule> {
    let tables = elements(items, path, checks::MAX_RULES, d);
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Every rule's id (or "" when bad), so skip targets can be checked
    // against the order even when some rules had errors.
    let mut ids: Vec<String> = Vec::with_capacity(tables.len());
    let mut parsed: Vec<(Option<FirewallRule>, Vec<Str<'_>>)> = Vec::new();
    for (i, t) in &tables {
        let elem = format!("{path}[{i}]");
        let id = unique_id(t, &elem, "rule", &mut seen, d);
        ids.push(id.clone().unwrap_or_default());
        let (rule, targets) = rule(t, &elem, id, lists, d);
        parsed.push((rule, targets));
    }
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut out = Vec::with_capacity(parsed.len());
    for (own, ((rule, targets), (i, _))) in parsed.into_iter().zip(&tables).enumerate() {
        let key = format!("{path}[{i}].skip_rules");
        for target in targets {
            if let Err(msg) = checks::skip_target(target.text, own, &id_refs, &key) {
                d.error(&target.span(), msg);
            }
        }
        out.extend(rule);
    }
    out
}

/// Reads and checks `id`, and records it; `None` when missing or bad.
pub(crate) fn unique_id(
    t: &Table<'_, '_>,
    elem: &str,
    what: &str,
    seen: &mut HashMap<String, usize>,
    d: &mut Diags<'_>,
) -> Option<String> {
    let key = format!("{elem}.id");
    let id = required(t, "id", elem, "\"block-scanners\"", d).and_then(|v| as_str(v, &key, d))?;
    if let Err(msg) = checks::id(id.text, &key) {
        d.error(&id.span(), msg);
        return None;
    }
    if let Some(&first) = seen.get(id.text) {
        let at = format!("line {}", d.line_of(first));
        d.error(&id.span(), checks::duplicate_id(what, id.text, &at));
        return None;
    }
    seen.insert(id.text.to_owned(), id.span.0);
    Some(id.text.to_owned())
}

/// One rule, and its `skip_rules` strings for the list-wide check.
fn rule<'a>(
    t: &Table<'a, '_>,
    elem: &str,
    id: Option<String>,
    lists: &[&str],
    d: &mut Diags<'_>,
) -> (Option<FirewallRule>, Vec<Str<'a>>) {
    t.check_keys(RULE_KEYS, d);
    let description = description(t, d);
    let expression = required(
        t,
        "expression",
        elem,
        "'http.request.uri.path eq \"/admin\"'",
        d,
    )
    .and_then(|v| expression(v, &t.key_path("expression"), false, lists, d));
    let action = t.str("action", d);
    let is_skip = action.is_some_and(|a| a.text == "skip");
    // Any three-digit code here; which ones fit depends on the action.
    let status = t.int("status", 100..=999, d);
    let challenge = t.str("challenge", d);
    let phases = str_array(t, "skip_phases", d);
    let targets = str_array(t, "skip_rules", d);
    let redirect_url = t.str("redirect_url", d);
    let enabled = t.bool("enabled", d).unwrap_or(true);
    let input = ActionInput {
        action: action.map(|s| s.text),
        status,
        challenge: challenge.map(|s| s.text),
        skip_phases: phases.as_ref().map(|v| v.iter().map(|s| s.text).collect()),
        skip_rules: targets.as_ref().map(|v| v.iter().map(|s| s.text).collect()),
        redirect_url: redirect_url.map(|s| s.text),
    };
    let action = match checks::rule_action(&input, elem) {
        Ok(a) => Some(a),
        Err(problems) => {
            for p in problems {
                let at = match p.key {
                    RuleKey::Action => action.map(|s| s.span()),
                    RuleKey::Challenge => challenge.map(|s| s.span()),
                    RuleKey::RedirectUrl => redirect_url.map(|s| s.span()),
                    RuleKey::SkipPhases => element_span(phases.as_deref(), p.index),
                    RuleKey::SkipRules => element_span(targets.as_deref(), p.index),
                    RuleKey::Status => t.get("status").map(|v| v.span()),
                };
                // A key that is absent has no span: use the key's own
                // value when present, else the rule's header.
                let at = at
                    .or_else(|| t.get(p.key.name()).map(|v| v.span()))
                    .unwrap_or_else(|| t.span.clone());
                d.error(&at, p.message);
            }
            None
        }
    };
    let rule = match (id, expression, action) {
        (Some(id), Some(expression), Some(action)) => Some(FirewallRule {
            id,
            description,
            expression,
            action,
            enabled,
        }),
        _ => None,
    };
    // Targets of a rule that is not a skip already have their error.
    let targets = targets.filter(|_| is_skip).unwrap_or_default();
    (rule, targets)
}

fn element_span(items: Option<&[Str<'_>]>, index: Option<usize>) -> Option<crate::tree::Span> {
    items?.get(index?).map(Str::span)
}

fn description(t: &Table<'_, '_>, d: &mut Diags<'_>) -> String {
    let Some(s) = t.str("description", d) else {
        return String::new();
    };
    match checks::description(s.text, &t.key_path("description")) {
        Ok(()) => s.text.to_owned(),
        Err(msg) => {
            d.error(&s.span(), msg);
            String::new()
        }
    }
}

/// An array of strings; elements that are not strings are diagnostics and
/// left out.
pub(crate) fn str_array<'a>(
    t: &Table<'a, '_>,
    key: &str,
    d: &mut Diags<'_>,
) -> Option<Vec<Str<'a>>> {
    let (items, _) = t.array(key, d)?;
    let path = t.key_path(key);
    Some(items.iter().filter_map(|v| as_str(v, &path, d)).collect())
}

/// A rules-language expression, compiled to check it. A bad one is a
/// diagnostic at the offending character inside the TOML string when the
/// string is written without escapes, else at the string with the column
/// in the message.
pub(crate) fn expression(
    v: &Value<'_>,
    key: &str,
    responses: bool,
    lists: &[&str],
    d: &mut Diags<'_>,
) -> Option<String> {
    let s = as_str(v, key, d)?;
    let Err(err) = checks::expression(s.text, responses, lists, &|_| false) else {
        return Some(s.text.to_owned());
    };
    let raw = d.text().get(s.span()).unwrap_or_default();
    match offset_in_literal(raw, s.text, err.column) {
        Some(offset) => {
            let at = s.span.0 + offset;
            d.error(&(at..at), checks::expression_message(key, &err));
        }
        None => d.error(
            &s.span(),
            format!(
                "{key}: column {} of the expression: {}",
                err.column, err.message
            ),
        ),
    }
    None
}

/// Byte offset within a TOML string literal (`raw`, quotes included) of
/// the character at 1-based `column` of its value, when the literal's text
/// is the value verbatim (no escapes, line continuations or CRLF). A column
/// just past the end points at the closing quote.
pub(crate) fn offset_in_literal(raw: &str, value: &str, column: usize) -> Option<usize> {
    let delim = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3
    } else if raw.starts_with('"') || raw.starts_with('\'') {
        1
    } else {
        return None;
    };
    let inner = raw.get(delim..raw.len().checked_sub(delim)?)?;
    // A multi-line string drops a newline right after its opening quotes.
    let (skip, inner) = match inner.strip_prefix('\n') {
        Some(rest) if delim == 3 => (1, rest),
        _ => (0, inner),
    };
    if inner != value {
        return None;
    }
    let within = match inner.char_indices().nth(column.checked_sub(1)?) {
        Some((i, _)) => i,
        None => inner.len(),
    };
    Some(delim + skip + within)
}

fn rate_limits(items: &[Value<'_>], lists: &[&str], d: &mut Diags<'_>) -> Vec<RateLimitRule> {
    let path = "site.rate_limits";
    let mut seen = HashMap::new();
    elements(items, path, checks::MAX_RATE_LIMITS, d)
        .into_iter()
        .filter_map(|(i, t)| {
            let elem = format!("{path}[{i}]");
            let id = unique_id(&t, &elem, "rate limit", &mut seen, d);
            rate_limit(&t, &elem, id, lists, d)
        })
        .collect()
}

fn rate_limit(
    t: &Table<'_, '_>,
    elem: &str,
    id: Option<String>,
    lists: &[&str],
    d: &mut Diags<'_>,
) -> Option<RateLimitRule> {
    t.check_keys(RATE_LIMIT_KEYS, d);
    let mut ok = true;
    let description = description(t, d);
    let matching = match t.get("expression") {
        Some(v) => expression(v, &t.key_path("expression"), false, lists, d),
        None => Some(DEFAULT_RATE_LIMIT_EXPRESSION.to_owned()),
    };
    let characteristics = characteristics(t, d);
    let period = required(t, "period", elem, "\"1m\"", d)
        .and_then(|_| t.duration("period", checks::PERIOD, d))
        .map(|p| p.0);
    let requests = required(t, "requests", elem, "100", d)
        .and_then(|_| t.int("requests", checks::REQUESTS, d))
        .and_then(|n| u32::try_from(n).ok());
    let action = match t.str("action", d) {
        None => LimitAction::default(),
        Some(s) => checks::limit_action(s.text).unwrap_or_else(|msg| {
            d.error(&s.span(), format!("`{}`: {msg}", t.key_path("action")));
            ok = false;
            LimitAction::default()
        }),
    };
    let mitigation = t.duration("mitigation_timeout", checks::MITIGATION, d);
    let written = |key: &str| t.get(key).is_some();
    ok &= !written("mitigation_timeout") || mitigation.is_some();
    let counting_expression = match t.get("counting_expression") {
        Some(v) => {
            let e = expression(v, &t.key_path("counting_expression"), true, lists, d);
            ok &= e.is_some();
            e
        }
        None => None,
    };
    let enabled = t.bool("enabled", d).unwrap_or(true);
    let period = period?;
    if !ok {
        return None;
    }
    Some(RateLimitRule {
        id: id?,
        description,
        expression: matching?,
        characteristics: characteristics?,
        period,
        requests: requests?,
        action,
        mitigation_timeout: mitigation.map_or(period, |m| m.0),
        counting_expression,
        enabled,
    })
}

fn characteristics(t: &Table<'_, '_>, d: &mut Diags<'_>) -> Option<Vec<Characteristic>> {
    if t.get("characteristics").is_none() {
        return Some(vec![Characteristic::Ip]);
    }
    let key = t.key_path("characteristics");
    let (items, span) = t.array("characteristics", d)?;
    if items.is_empty() {
        d.error(&span, checks::empty_characteristics(&key));
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Some(s) = as_str(item, &key, d) else {
            ok = false;
            continue;
        };
        match checks::characteristic(s.text) {
            Ok(c) if out.contains(&c) => {
                d.error(&s.span(), checks::duplicate_characteristic(&key, s.text));
                ok = false;
            }
            Ok(c) => out.push(c),
            Err(msg) => {
                d.error(&s.span(), format!("`{key}`: {msg}"));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn limits(t: &Table<'_, '_>, d: &mut Diags<'_>) -> RequestLimits {
    t.check_keys(LIMITS_KEYS, d);
    let mut out = RequestLimits::default();
    if let Some(n) = t.int("max_header_count", checks::HEADER_COUNT, d) {
        out.max_header_count = u32::try_from(n).unwrap_or(out.max_header_count);
    }
    if let Some(n) = t.int("max_uri_bytes", checks::URI_BYTES, d) {
        out.max_uri_bytes = u32::try_from(n).unwrap_or(out.max_uri_bytes);
    }
    if let Some(v) = t.get("max_body_bytes") {
        let key = t.key_path("max_body_bytes");
        let parsed = match v.get_ref() {
            DeValue::Integer(int) => {
                let text = int.as_str();
                match u64::from_str_radix(text, int.radix()) {
                    Ok(n) => checks::body_size(n, &key, text).map(Some),
                    Err(_) => Err(checks::body_size_message(&key, text)),
                }
            }
            DeValue::String(s) => checks::body_size_text(s, &key),
            other => {
                type_error(
                    d,
                    v,
                    "a number of bytes, a size such as \"10MiB\", or \"off\"",
                    &key,
                    other,
                );
                Ok(out.max_body_bytes)
            }
        };
        match parsed {
            Ok(n) => out.max_body_bytes = n,
            Err(msg) => d.error(&v.span(), msg),
        }
    }
    out
}

fn auto_under_attack(t: &Table<'_, '_>, d: &mut Diags<'_>) -> AutoUnderAttack {
    t.check_keys(AUTO_KEYS, d);
    let mut out = AutoUnderAttack::default();
    out.enabled = t.bool("enabled", d).unwrap_or(out.enabled);
    if let Some(v) = t.get("factor") {
        let key = t.key_path("factor");
        let number = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .and_then(|n| i32::try_from(n).ok())
                .map(f64::from),
            other => {
                type_error(d, v, "a number such as 4.0", &key, other);
                None
            }
        };
        if let Some(f) = number {
            match checks::factor(f, &key) {
                Ok(f) => out.factor = f,
                Err(msg) => d.error(&v.span(), msg),
            }
        } else if matches!(v.get_ref(), DeValue::Float(_) | DeValue::Integer(_)) {
            d.error(&v.span(), format!("`{key}` must be between 1.5 and 1000"));
        }
    }
    if let Some(n) = t.int("min_rps", checks::MIN_RPS, d) {
        out.min_rps = u32::try_from(n).unwrap_or(out.min_rps);
    }
    if let Some((v, _)) = t.duration("warmup", checks::AUTO_WARMUP_HOLD, d) {
        out.warmup = v;
    }
    if let Some((v, _)) = t.duration("window", checks::AUTO_WINDOW, d) {
        out.window = v;
    }
    if let Some((v, _)) = t.duration("hold", checks::AUTO_WARMUP_HOLD, d) {
        out.hold = v;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::offset_in_literal;

    #[test]
    fn offsets_inside_literals() {
        assert_eq!(offset_in_literal("\"abc\"", "abc", 2), Some(2));
        assert_eq!(offset_in_literal("'abc'", "abc", 1), Some(1));
        assert_eq!(offset_in_literal("\"abc\"", "abc", 4), Some(4));
        assert_eq!(offset_in_literal("\"a\\\"c\"", "a\"c", 3), None);
        assert_eq!(offset_in_literal("'''\nab\ncd'''", "ab\ncd", 4), Some(7));
        assert_eq!(offset_in_literal("\"é x\"", "é x", 3), Some(4));
        assert_eq!(offset_in_literal("x", "x", 1), None);
        assert_eq!(offset_in_literal("\"abc\"", "abc", 0), None);
    }
}
