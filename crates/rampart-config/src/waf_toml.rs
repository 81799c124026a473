//! `waf = { … }` / `[site.waf]` in a `[[site]]`, and the top-level `[waf]`,
//! walked like the rest of the document. The checks are `waf::checks`,
//! shared with site specs.

use std::path::{Path, PathBuf};

use toml::de::DeValue;

use crate::diagnostics::Diags;
use crate::files;
use crate::security_toml::{elements, str_array};
use crate::tree::{Table, Value, type_error};
use crate::waf::checks;
use crate::waf::*;

const SITE_WAF_KEYS: &[&str] = &[
    "mode",
    "paranoia",
    "inbound_threshold",
    "outbound_threshold",
    "request_body_limit",
    "body_limit_action",
    "inspect_responses",
    "crs",
    "exclusions",
];
const EXCLUSION_KEYS: &[&str] = &["rule_ids", "tags", "target", "path"];
const NODE_WAF_KEYS: &[&str] = &["crs"];

/// The top-level `[waf]`.
pub(crate) fn node_waf(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> WafNodeConfig {
    t.check_keys(NODE_WAF_KEYS, d);
    WafNodeConfig {
        crs: crs(t, base_dir, d),
    }
}

fn crs(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> Option<PathBuf> {
    let s = t.str("crs", d)?;
    let path = files::resolve(base_dir, s.text);
    match checks::crs_dir(&path, &t.key_path("crs")) {
        Ok(()) => Some(path),
        Err(msg) => {
            d.error(&s.span(), msg);
            None
        }
    }
}

/// A site's `waf` table.
pub(crate) fn site_waf(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> WafSettings {
    t.check_keys(SITE_WAF_KEYS, d);
    let mut out = WafSettings::default();
    if let Some(m) = t.str("mode", d) {
        match checks::mode(m.text) {
            Ok(mode) => out.mode = mode,
            Err(msg) => d.error(&m.span(), format!("`{}`: {msg}", t.key_path("mode"))),
        }
    }
    if let Some(n) = t.int("paranoia", checks::PARANOIA, d) {
        out.paranoia = u8::try_from(n).unwrap_or(out.paranoia);
    }
    if let Some(n) = t.int("inbound_threshold", checks::THRESHOLD, d) {
        out.inbound_threshold = u32::try_from(n).unwrap_or(out.inbound_threshold);
    }
    if let Some(n) = t.int("outbound_threshold", checks::THRESHOLD, d) {
        out.outbound_threshold = u32::try_from(n).unwrap_or(out.outbound_threshold);
    }
    if let Some(v) = t.get("request_body_limit") {
        let key = t.key_path("request_body_limit");
        let parsed = match v.get_ref() {
            DeValue::Integer(int) => match u64::from_str_radix(int.as_str(), int.radix()) {
                Ok(n) => checks::body_limit(n, &key).map(Some),
                Err(_) => Err(checks::body_limit_message(&key, int.as_str())),
            },
            DeValue::String(s) => checks::body_limit_text(s, &key).map(Some),
            other => {
                type_error(
                    d,
                    v,
                    "a number of bytes or a size such as \"128KiB\"",
                    &key,
                    other,
                );
                Ok(None)
            }
        };
        match parsed {
            Ok(Some(n)) => out.request_body_limit = n,
            Ok(None) => {}
            Err(msg) => d.error(&v.span(), msg),
        }
    }
    if let Some(a) = t.str("body_limit_action", d) {
        match checks::body_limit_action(a.text) {
            Ok(action) => out.body_limit_action = action,
            Err(msg) => d.error(
                &a.span(),
                format!("`{}`: {msg}", t.key_path("body_limit_action")),
            ),
        }
    }
    out.inspect_responses = t.bool("inspect_responses", d).unwrap_or(false);
    out.crs = crs(t, base_dir, d);
    if let Some((items, _)) = t.array("exclusions", d) {
        out.exclusions = exclusions(items, d);
    }
    out
}

fn exclusions(items: &[Value<'_>], d: &mut Diags<'_>) -> Vec<WafExclusion> {
    let path = "site.waf.exclusions";
    let mut out = Vec::new();
    for (i, t) in elements(items, path, checks::MAX_EXCLUSIONS, d) {
        let elem = format!("{path}[{i}]");
        t.check_keys(EXCLUSION_KEYS, d);
        let mut ok = true;
        let rule_ids = rule_ids(&t, &format!("{elem}.rule_ids"), d, &mut ok);
        let tags: Vec<String> = str_array(&t, "tags", d)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| match checks::tag(s.text, &format!("{elem}.tags")) {
                Ok(()) => Some(s.text.to_owned()),
                Err(msg) => {
                    d.error(&s.span(), msg);
                    ok = false;
                    None
                }
            })
            .collect();
        let mut text = |key: &str, check: fn(&str, &str) -> Result<(), String>| {
            let s = t.str(key, d)?;
            match check(s.text, &format!("{elem}.{key}")) {
                Ok(()) => Some(s.text.to_owned()),
                Err(msg) => {
                    d.error(&s.span(), msg);
                    None
                }
            }
        };
        let target = text("target", checks::target);
        let prefix = text("path", checks::path);
        if t.get("rule_ids").is_none() && t.get("tags").is_none() {
            d.error(&t.span, checks::exclusion_needs_rules(&elem));
            ok = false;
        }
        ok &= t.get("target").is_none() || target.is_some();
        ok &= t.get("path").is_none() || prefix.is_some();
        if ok {
            out.push(WafExclusion {
                rule_ids,
                tags,
                target,
                path: prefix,
            });
        }
    }
    out
}

fn rule_ids(t: &Table<'_, '_>, key: &str, d: &mut Diags<'_>, ok: &mut bool) -> Vec<u64> {
    let Some((items, span)) = t.array("rule_ids", d) else {
        *ok &= t.get("rule_ids").is_none();
        return Vec::new();
    };
    if items.len() > checks::MAX_IDS {
        d.error(
            &span,
            crate::security_checks::too_many(key, checks::MAX_IDS, items.len()),
        );
        *ok = false;
    }
    let mut out = Vec::with_capacity(items.len());
    for v in items {
        let parsed = match v.get_ref() {
            DeValue::Integer(int) => u64::from_str_radix(int.as_str(), int.radix())
                .map_err(|_| {
                    format!(
                        "`{key}`: rule ids are 1 to 999999999; found {}",
                        int.as_str()
                    )
                })
                .and_then(|n| checks::rule_id(n, key)),
            other => {
                type_error(d, v, "a rule id such as 942100", key, other);
                *ok = false;
                continue;
            }
        };
        match parsed {
            Ok(n) if !out.contains(&n) => out.push(n),
            Ok(_) => {}
            Err(msg) => {
                d.error(&v.span(), msg);
                *ok = false;
            }
        }
    }
    out
}
