//! The bot-defence fields of a site spec (`challenge`, `bots`,
//! `captcha_keys`): JSON shape, compilation through the checks the TOML
//! walk uses, and the way back for `SiteSpec::from_config`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::compile::Errors;
use crate::challenge::checks;
use crate::challenge::*;
use crate::values::format_duration;

/// `[site.challenge]` as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChallengeSpec {
    /// "sha256" (default) or "scrypt".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<DifficultySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrypt: Option<ScryptSpec>,
    /// Default "5m".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Default "30m".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearance_ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_prefix: Option<IpPrefixSpec>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nojs_fallback: Option<bool>,
}

/// Leading zero bits per threat level; a bare number sets medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DifficultySpec {
    Medium(u32),
    Levels { low: u32, medium: u32, high: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScryptSpec {
    pub n_log2: u32,
    pub r: u32,
    pub p: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IpPrefixSpec {
    /// 8 to 32, default 24.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v4: Option<u32>,
    /// 16 to 128, default 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v6: Option<u32>,
}

/// `[site.bots]` as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotsSpec {
    /// Default true when `bots` is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<BotRuleSpec>>,
    /// Default: weight ≥ 1 light check, ≥ 10 challenge, ≥ 20 hard challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<ThresholdSpec>>,
    /// Default false: feed readers and `/.well-known/` are not weighed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_feeds: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotRuleSpec {
    pub id: String,
    pub expression: String,
    /// -1000 to 1000.
    pub weight: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThresholdSpec {
    pub min_weight: i32,
    /// "allow", "light", "challenge" or "block".
    pub action: String,
    /// With "challenge": "low", "medium" (default) or "high".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// A captcha sitekey as the spec keeps it: the secret only as its SHA-256.
/// Created through `POST /api/v1/sites/{id}/captcha_keys`, which shows the
/// secret once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptchaKeySpec {
    pub sitekey: String,
    /// 64 hex digits.
    pub secret_sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// "managed" (default), "non-interactive", "invisible".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
}

fn byte(
    e: &mut Errors,
    field: &str,
    v: u32,
    range: std::ops::RangeInclusive<i64>,
    default: u8,
) -> u8 {
    u8::try_from(e.int(field, Some(v), range, u32::from(default))).unwrap_or(default)
}

pub(super) fn challenge(c: &ChallengeSpec, e: &mut Errors) -> ChallengeSettings {
    let mut out = ChallengeSettings::default();
    let scrypt = c.scrypt.as_ref().map(|s| {
        (
            byte(
                e,
                "challenge.scrypt.n_log2",
                s.n_log2,
                checks::SCRYPT_N_LOG2,
                10,
            ),
            byte(e, "challenge.scrypt.r", s.r, checks::SCRYPT_R, 8),
            byte(e, "challenge.scrypt.p", s.p, checks::SCRYPT_P, 1),
        )
    });
    if let Some(name) = &c.algorithm {
        match checks::algorithm(name, scrypt) {
            Ok(a) => out.algorithm = a,
            Err(msg) => e.push(
                "challenge.algorithm",
                "invalid",
                format!("`challenge.algorithm`: {msg}"),
            ),
        }
    }
    out.difficulty = out.algorithm.default_difficulty();
    if let Some(d) = &c.difficulty {
        let clamp = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
        let written = match *d {
            DifficultySpec::Medium(m) => checks::difficulty_from_medium(clamp(m)),
            DifficultySpec::Levels { low, medium, high } => Difficulty {
                low: clamp(low),
                medium: clamp(medium),
                high: clamp(high),
            },
        };
        match checks::difficulty(written, out.algorithm, "challenge.difficulty") {
            Ok(ok) => out.difficulty = ok,
            Err(msg) => e.push("challenge.difficulty", "out_of_range", msg),
        }
    }
    if let Some(ttl) = e.opt_duration("challenge.ttl", c.ttl.as_ref(), checks::CHALLENGE_TTL) {
        out.ttl = ttl;
    }
    if let Some(ttl) = e.opt_duration(
        "challenge.clearance_ttl",
        c.clearance_ttl.as_ref(),
        checks::CLEARANCE_TTL,
    ) {
        out.clearance_ttl = ttl;
    }
    if let Some(p) = &c.ip_prefix {
        if let Some(v4) = p.v4 {
            out.ip_prefix_v4 = byte(e, "challenge.ip_prefix.v4", v4, checks::PREFIX_V4, 24);
        }
        if let Some(v6) = p.v6 {
            out.ip_prefix_v6 = byte(e, "challenge.ip_prefix.v6", v6, checks::PREFIX_V6, 64);
        }
    }
    out.nojs_fallback = c.nojs_fallback.unwrap_or(out.nojs_fallback);
    out
}

pub(super) fn bots(b: &BotsSpec, known: &dyn Fn(&str) -> bool, e: &mut Errors) -> BotPolicy {
    let mut out = BotPolicy {
        enabled: b.enabled.unwrap_or(true),
        challenge_feeds: b.challenge_feeds.unwrap_or(false),
        ..BotPolicy::default()
    };
    let rules = b.rules.as_deref().unwrap_or_default();
    if rules.len() > checks::MAX_BOT_RULES {
        e.push(
            "bots.rules",
            "too_many",
            format!("at most {} bot rules", checks::MAX_BOT_RULES),
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, r) in rules.iter().enumerate().take(checks::MAX_BOT_RULES) {
        let field = format!("bots.rules[{i}]");
        let id_ok =
            super::security::check_unique_id("bots.rules", i, &r.id, "bot rule", &mut seen, e);
        let expr_ok = super::security::check_expression(
            &format!("{field}.expression"),
            &r.expression,
            known,
            e,
        );
        let weight = e.int(
            &format!("{field}.weight"),
            u32::try_from(r.weight.saturating_add(1000)).ok(),
            0..=2000,
            1000,
        );
        if id_ok && expr_ok {
            out.rules.push(BotRule {
                id: r.id.clone(),
                expression: r.expression.clone(),
                weight: i32::try_from(weight).unwrap_or(1000) - 1000,
            });
        }
    }
    if let Some(thresholds) = &b.thresholds {
        let mut parsed = Vec::new();
        for (i, t) in thresholds.iter().enumerate().take(20) {
            let field = format!("bots.thresholds[{i}]");
            if !(-1000..=1000).contains(&t.min_weight) {
                e.push(
                    format!("{field}.min_weight"),
                    "out_of_range",
                    "min_weight must be between -1000 and 1000",
                );
                continue;
            }
            match checks::bot_action(&t.action, t.level.as_deref()) {
                Ok(action) => parsed.push(BotThreshold {
                    min_weight: t.min_weight,
                    action,
                }),
                Err(msg) => e.push(format!("{field}.action"), "invalid", msg),
            }
        }
        parsed.sort_by_key(|t| t.min_weight);
        out.thresholds = parsed;
    }
    out
}

pub(super) fn captcha_keys(keys: &[CaptchaKeySpec], e: &mut Errors) -> Vec<CaptchaKey> {
    let mut out: Vec<CaptchaKey> = Vec::new();
    if keys.len() > checks::MAX_CAPTCHA_KEYS {
        e.push(
            "captcha_keys",
            "too_many",
            format!("at most {} captcha keys per site", checks::MAX_CAPTCHA_KEYS),
        );
    }
    for (i, k) in keys.iter().enumerate().take(checks::MAX_CAPTCHA_KEYS) {
        let field = format!("captcha_keys[{i}]");
        if let Err(msg) = checks::sitekey(&k.sitekey) {
            e.push(format!("{field}.sitekey"), "invalid", msg);
            continue;
        }
        if out.iter().any(|o| o.sitekey == k.sitekey) {
            e.push(
                format!("{field}.sitekey"),
                "duplicate",
                format!("sitekey {:?} appears twice", k.sitekey),
            );
            continue;
        }
        let Some(secret_sha256) = hex32(&k.secret_sha256) else {
            e.push(
                format!("{field}.secret_sha256"),
                "invalid",
                "secret_sha256 must be 64 hex digits",
            );
            continue;
        };
        let mode = match k.mode.as_deref().map(CaptchaMode::parse).transpose() {
            Ok(m) => m.unwrap_or_default(),
            Err(msg) => {
                e.push(format!("{field}.mode"), "invalid", msg);
                continue;
            }
        };
        out.push(CaptchaKey {
            sitekey: k.sitekey.clone(),
            secret_sha256,
            hostnames: k.hostnames.iter().map(|h| h.to_ascii_lowercase()).collect(),
            mode,
            suspended: k.suspended,
        });
    }
    out
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The way back, `None` for defaults.
pub(super) fn challenge_spec(c: &ChallengeSettings) -> Option<ChallengeSpec> {
    if *c == ChallengeSettings::default() {
        return None;
    }
    let scrypt = match c.algorithm {
        PowAlgorithm::Scrypt { n_log2, r, p } => Some(ScryptSpec {
            n_log2: n_log2.into(),
            r: r.into(),
            p: p.into(),
        }),
        PowAlgorithm::Sha256 => None,
    };
    Some(ChallengeSpec {
        algorithm: Some(c.algorithm.name().to_owned()),
        difficulty: Some(DifficultySpec::Levels {
            low: c.difficulty.low.into(),
            medium: c.difficulty.medium.into(),
            high: c.difficulty.high.into(),
        }),
        scrypt,
        ttl: Some(format_duration(c.ttl)),
        clearance_ttl: Some(format_duration(c.clearance_ttl)),
        ip_prefix: Some(IpPrefixSpec {
            v4: Some(c.ip_prefix_v4.into()),
            v6: Some(c.ip_prefix_v6.into()),
        }),
        nojs_fallback: Some(c.nojs_fallback),
    })
}

pub(super) fn bots_spec(b: &BotPolicy) -> Option<BotsSpec> {
    if *b == BotPolicy::default() {
        return None;
    }
    Some(BotsSpec {
        enabled: Some(b.enabled),
        rules: Some(
            b.rules
                .iter()
                .map(|r| BotRuleSpec {
                    id: r.id.clone(),
                    expression: r.expression.clone(),
                    weight: r.weight,
                })
                .collect(),
        ),
        thresholds: Some(
            b.thresholds
                .iter()
                .map(|t| {
                    let (action, level) = checks::bot_action_parts(t.action);
                    ThresholdSpec {
                        min_weight: t.min_weight,
                        action: action.to_owned(),
                        level: level.map(str::to_owned),
                    }
                })
                .collect(),
        ),
        challenge_feeds: Some(b.challenge_feeds),
    })
}

pub(super) fn captcha_specs(keys: &[CaptchaKey]) -> Option<Vec<CaptchaKeySpec>> {
    (!keys.is_empty()).then(|| {
        keys.iter()
            .map(|k| CaptchaKeySpec {
                sitekey: k.sitekey.clone(),
                secret_sha256: hex(&k.secret_sha256),
                hostnames: k.hostnames.clone(),
                mode: Some(k.mode.as_str().to_owned()),
                suspended: k.suspended,
            })
            .collect()
    })
}
