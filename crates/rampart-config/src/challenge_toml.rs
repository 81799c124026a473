//! `[site.challenge]`, `[site.bots]`, `[[site.captcha]]` and the top-level
//! `[[verified_bots]]`, walked like the rest of the document.

use std::collections::HashMap;

use toml::de::DeValue;

use crate::challenge::checks;
use crate::challenge::*;
use crate::diagnostics::Diags;
use crate::security_toml::{elements, expression, required, str_array, table_array, unique_id};
use crate::tree::{Table, Value, as_str, type_error};

const CHALLENGE_KEYS: &[&str] = &[
    "algorithm",
    "difficulty",
    "scrypt",
    "ttl",
    "clearance_ttl",
    "ip_prefix",
    "nojs_fallback",
];
const BOTS_KEYS: &[&str] = &["enabled", "rules", "thresholds", "challenge_feeds"];
const BOT_RULE_KEYS: &[&str] = &["id", "expression", "weight"];
const THRESHOLD_KEYS: &[&str] = &["min_weight", "action", "level"];
const CAPTCHA_KEYS: &[&str] = &["sitekey", "secret", "hostnames", "mode", "suspended"];
const VERIFIED_BOT_KEYS: &[&str] = &["name", "user_agent", "list", "rdns"];

fn small(
    t: &Table<'_, '_>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
    d: &mut Diags<'_>,
) -> Option<u8> {
    t.int(key, range, d).and_then(|n| u8::try_from(n).ok())
}

pub(crate) fn challenge(t: &Table<'_, '_>, d: &mut Diags<'_>) -> ChallengeSettings {
    t.check_keys(CHALLENGE_KEYS, d);
    let mut out = ChallengeSettings::default();
    let scrypt = t.table("scrypt", d).map(|s| {
        s.check_keys(&["n_log2", "r", "p"], d);
        let PowAlgorithm::Scrypt { n_log2, r, p } = PowAlgorithm::DEFAULT_SCRYPT else {
            return (10, 8, 1);
        };
        (
            small(&s, "n_log2", checks::SCRYPT_N_LOG2, d).unwrap_or(n_log2),
            small(&s, "r", checks::SCRYPT_R, d).unwrap_or(r),
            small(&s, "p", checks::SCRYPT_P, d).unwrap_or(p),
        )
    });
    if let Some(name) = t.str("algorithm", d) {
        match checks::algorithm(name.text, scrypt) {
            Ok(a) => out.algorithm = a,
            Err(msg) => d.error(
                &name.span(),
                format!("`{}`: {msg}", t.key_path("algorithm")),
            ),
        }
    }
    out.difficulty = out.algorithm.default_difficulty();
    if let Some(v) = t.get("difficulty") {
        let key = t.key_path("difficulty");
        let written = match v.get_ref() {
            DeValue::Integer(_) => {
                small(t, "difficulty", 1..=255, d).map(checks::difficulty_from_medium)
            }
            DeValue::Table(_) => t.table("difficulty", d).map(|dt| {
                dt.check_keys(&["low", "medium", "high"], d);
                let base = out.difficulty;
                Difficulty {
                    low: small(&dt, "low", 1..=255, d).unwrap_or(base.low),
                    medium: small(&dt, "medium", 1..=255, d).unwrap_or(base.medium),
                    high: small(&dt, "high", 1..=255, d).unwrap_or(base.high),
                }
            }),
            other => {
                type_error(
                    d,
                    v,
                    "a number of bits or { low, medium, high }",
                    &key,
                    other,
                );
                None
            }
        };
        if let Some(w) = written {
            match checks::difficulty(w, out.algorithm, &key) {
                Ok(ok) => out.difficulty = ok,
                Err(msg) => d.error(&v.span(), msg),
            }
        }
    }
    if let Some((v, _)) = t.duration("ttl", checks::CHALLENGE_TTL, d) {
        out.ttl = v;
    }
    if let Some((v, _)) = t.duration("clearance_ttl", checks::CLEARANCE_TTL, d) {
        out.clearance_ttl = v;
    }
    if let Some(p) = t.table("ip_prefix", d) {
        p.check_keys(&["v4", "v6"], d);
        out.ip_prefix_v4 = small(&p, "v4", checks::PREFIX_V4, d).unwrap_or(out.ip_prefix_v4);
        out.ip_prefix_v6 = small(&p, "v6", checks::PREFIX_V6, d).unwrap_or(out.ip_prefix_v6);
    }
    out.nojs_fallback = t.bool("nojs_fallback", d).unwrap_or(out.nojs_fallback);
    out
}

pub(crate) fn bots(t: &Table<'_, '_>, lists: &[&str], d: &mut Diags<'_>) -> BotPolicy {
    t.check_keys(BOTS_KEYS, d);
    let mut out = BotPolicy {
        enabled: t.bool("enabled", d).unwrap_or(true),
        challenge_feeds: t.bool("challenge_feeds", d).unwrap_or(false),
        ..BotPolicy::default()
    };
    let path = "site.bots.rules";
    if let Some(items) = table_array(t, "rules", path, d) {
        let mut seen = HashMap::new();
        for (i, r) in elements(items, path, checks::MAX_BOT_RULES, d) {
            let elem = format!("{path}[{i}]");
            r.check_keys(BOT_RULE_KEYS, d);
            let id = unique_id(&r, &elem, "bot rule", &mut seen, d);
            let expr = required(
                &r,
                "expression",
                &elem,
                "'http.user_agent contains \"curl\"'",
                d,
            )
            .and_then(|v| expression(v, &format!("{elem}.expression"), false, lists, d));
            let weight = required(&r, "weight", &elem, "10", d)
                .and_then(|_| r.int("weight", checks::WEIGHT, d))
                .and_then(|n| i32::try_from(n).ok());
            if let (Some(id), Some(expression), Some(weight)) = (id, expr, weight) {
                out.rules.push(BotRule {
                    id,
                    expression,
                    weight,
                });
            }
        }
    }
    let path = "site.bots.thresholds";
    if let Some(items) = table_array(t, "thresholds", path, d) {
        let mut thresholds = Vec::new();
        for (i, th) in elements(items, path, 20, d) {
            let elem = format!("{path}[{i}]");
            th.check_keys(THRESHOLD_KEYS, d);
            let min = required(&th, "min_weight", &elem, "10", d)
                .and_then(|_| th.int("min_weight", checks::WEIGHT, d))
                .and_then(|n| i32::try_from(n).ok());
            let action = required(&th, "action", &elem, "\"challenge\"", d)
                .and_then(|v| as_str(v, &format!("{elem}.action"), d));
            let level = th.str("level", d);
            let Some(action) = action else { continue };
            match checks::bot_action(action.text, level.map(|l| l.text)) {
                Ok(a) => {
                    if let Some(min_weight) = min {
                        thresholds.push(BotThreshold {
                            min_weight,
                            action: a,
                        });
                    }
                }
                Err(msg) => d.error(&action.span(), format!("`{elem}`: {msg}")),
            }
        }
        thresholds.sort_by_key(|t| t.min_weight);
        out.thresholds = thresholds;
    }
    out
}

pub(crate) fn captcha(items: &[Value<'_>], d: &mut Diags<'_>) -> Vec<CaptchaKey> {
    let path = "site.captcha";
    let mut out: Vec<CaptchaKey> = Vec::new();
    for (i, t) in elements(items, path, checks::MAX_CAPTCHA_KEYS, d) {
        let elem = format!("{path}[{i}]");
        t.check_keys(CAPTCHA_KEYS, d);
        let sitekey = required(&t, "sitekey", &elem, "\"rk_shop_contact_form\"", d)
            .and_then(|v| as_str(v, &format!("{elem}.sitekey"), d))
            .and_then(|s| match checks::sitekey(s.text) {
                Ok(()) if out.iter().any(|k| k.sitekey == s.text) => {
                    d.error(&s.span(), format!("sitekey {:?} appears twice", s.text));
                    None
                }
                Ok(()) => Some(s.text.to_owned()),
                Err(msg) => {
                    d.error(&s.span(), msg);
                    None
                }
            });
        let secret = required(&t, "secret", &elem, "\"<32+ random characters>\"", d)
            .and_then(|v| as_str(v, &format!("{elem}.secret"), d))
            .and_then(|s| match checks::secret(s.text) {
                Ok(()) => Some(checks::secret_sha256(s.text)),
                Err(msg) => {
                    d.error(&s.span(), msg);
                    None
                }
            });
        let hostnames = str_array(&t, "hostnames", d)
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.text.to_ascii_lowercase())
            .collect();
        let mode = t.str("mode", d).map_or(CaptchaMode::default(), |m| {
            CaptchaMode::parse(m.text).unwrap_or_else(|msg| {
                d.error(&m.span(), format!("`{elem}.mode`: {msg}"));
                CaptchaMode::default()
            })
        });
        let suspended = t.bool("suspended", d).unwrap_or(false);
        if let (Some(sitekey), Some(secret_sha256)) = (sitekey, secret) {
            out.push(CaptchaKey {
                sitekey,
                secret_sha256,
                hostnames,
                mode,
                suspended,
            });
        }
    }
    out
}

/// Top-level `[[verified_bots]]`; `lists` are the `[[lists]]` names.
pub(crate) fn verified_bots(
    items: &[Value<'_>],
    lists: &[&str],
    d: &mut Diags<'_>,
) -> Vec<VerifiedBot> {
    let path = "verified_bots";
    let mut out = Vec::new();
    for (i, t) in elements(items, path, 100, d) {
        let elem = format!("{path}[{i}]");
        t.check_keys(VERIFIED_BOT_KEYS, d);
        let name = required(&t, "name", &elem, "\"googlebot\"", d)
            .and_then(|v| as_str(v, &format!("{elem}.name"), d))
            .map(|s| s.text.to_owned());
        let ua = required(&t, "user_agent", &elem, "\"Googlebot\"", d)
            .and_then(|v| as_str(v, &format!("{elem}.user_agent"), d))
            .and_then(|s| {
                if s.text.trim().is_empty() {
                    d.error(&s.span(), format!("`{elem}.user_agent` must not be empty"));
                    None
                } else {
                    Some(s.text.to_owned())
                }
            });
        let list = t.str("list", d).and_then(|l| {
            if lists.contains(&l.text) {
                Some(l.text.to_owned())
            } else {
                d.error(
                    &l.span(),
                    format!(
                        "`{elem}.list`: no [[lists]] named {:?}; declare it or use `rdns`",
                        l.text
                    ),
                );
                None
            }
        });
        let written = str_array(&t, "rdns", d).unwrap_or_default();
        // A bad suffix has its own diagnostic; "needs `list` or `rdns`"
        // would only repeat it.
        let rdns_written = !written.is_empty();
        let rdns: Vec<String> = written
            .into_iter()
            .filter_map(|s| {
                // "googlebot.com." and ".googlebot.com" mean the same suffix.
                let suffix = s.text.trim_matches('.').to_ascii_lowercase();
                let problem = crate::values::validate_dns_name(&suffix, false)
                    .err()
                    // A bare top-level domain would let anyone who owns a
                    // name under it verify as this bot.
                    .or_else(|| {
                        (!suffix.contains('.')).then(|| {
                            "is a top-level domain; give the bot's own domain, e.g. \"googlebot.com\""
                                .to_owned()
                        })
                    });
                match problem {
                    Some(msg) => {
                        d.error(&s.span(), format!("`{elem}.rdns`: {:?}: {msg}", s.text));
                        None
                    }
                    None => Some(suffix),
                }
            })
            .collect();
        if t.get("list").is_none() && !rdns_written {
            d.error(
                &t.span,
                format!("`{elem}` needs `list` (published ranges) or `rdns` (reverse-DNS suffixes) to prove the bot is who it says"),
            );
            continue;
        }
        if let (Some(name), Some(user_agent)) = (name, ua) {
            out.push(VerifiedBot {
                name,
                user_agent,
                list,
                rdns,
            });
        }
    }
    out
}
