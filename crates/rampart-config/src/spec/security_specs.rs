//! The way back: a site's compiled security settings as the spec fields
//! `SiteSpec::from_config` writes, leaving out what is empty or default.

use super::security::{AutoUnderAttackSpec, BodyLimitSpec, LimitsSpec, RateLimitSpec, RuleSpec};
use crate::security::*;
use crate::security_checks as checks;
use crate::values::format_duration;

/// The spec fields of a site's security settings, for `from_config`:
/// `None` for what is empty or default, so a site without security
/// settings gets a spec without them.
pub(super) struct Specs {
    pub rules: Option<Vec<RuleSpec>>,
    pub rate_limits: Option<Vec<RateLimitSpec>>,
    pub limits: Option<LimitsSpec>,
    pub auto_under_attack: Option<AutoUnderAttackSpec>,
}

pub(super) fn to_specs(s: &SiteSecurity) -> Specs {
    let limits = (s.limits != RequestLimits::default()).then(|| LimitsSpec {
        max_header_count: Some(s.limits.max_header_count),
        max_uri_bytes: Some(s.limits.max_uri_bytes),
        max_body_bytes: Some(match s.limits.max_body_bytes {
            Some(n) => BodyLimitSpec::Bytes(n),
            None => BodyLimitSpec::Text("off".to_owned()),
        }),
    });
    let a = s.auto_under_attack;
    let auto_under_attack = (a != AutoUnderAttack::default()).then_some(AutoUnderAttackSpec {
        enabled: Some(a.enabled),
        factor: Some(a.factor),
        min_rps: Some(a.min_rps),
        warmup: Some(format_duration(a.warmup)),
        window: Some(format_duration(a.window)),
        hold: Some(format_duration(a.hold)),
    });
    Specs {
        rules: (!s.rules.is_empty()).then(|| s.rules.iter().map(rule_spec).collect()),
        rate_limits: (!s.rate_limits.is_empty())
            .then(|| s.rate_limits.iter().map(rate_limit_spec).collect()),
        limits,
        auto_under_attack,
    }
}

fn rule_spec(r: &FirewallRule) -> RuleSpec {
    let mut spec = RuleSpec {
        id: r.id.clone(),
        description: Some(r.description.clone()).filter(|d| !d.is_empty()),
        expression: r.expression.clone(),
        action: String::new(),
        status: None,
        challenge: None,
        skip_phases: None,
        skip_rules: None,
        redirect_url: None,
        enabled: (!r.enabled).then_some(false),
    };
    spec.action = match &r.action {
        RuleAction::Block { status } => {
            spec.status = Some(u32::from(*status));
            "block"
        }
        RuleAction::Challenge { kind } => {
            spec.challenge = Some(checks::challenge_str(*kind).to_owned());
            "challenge"
        }
        RuleAction::Allow => "allow",
        RuleAction::Skip { phases, rules } => {
            spec.skip_phases = (!phases.is_empty())
                .then(|| phases.iter().map(|p| p.as_str().to_owned()).collect());
            spec.skip_rules = (!rules.is_empty()).then(|| rules.clone());
            "skip"
        }
        RuleAction::Log => "log",
        RuleAction::Redirect { url, status } => {
            spec.redirect_url = Some(url.clone());
            spec.status = Some(u32::from(*status));
            "redirect"
        }
    }
    .to_owned();
    spec
}

fn rate_limit_spec(r: &RateLimitRule) -> RateLimitSpec {
    RateLimitSpec {
        id: r.id.clone(),
        description: Some(r.description.clone()).filter(|d| !d.is_empty()),
        expression: Some(r.expression.clone()),
        characteristics: Some(
            r.characteristics
                .iter()
                .map(checks::characteristic_str)
                .collect(),
        ),
        period: format_duration(r.period),
        requests: r.requests,
        action: Some(checks::limit_action_str(r.action).to_owned()),
        mitigation_timeout: Some(format_duration(r.mitigation_timeout)),
        counting_expression: r.counting_expression.clone(),
        enabled: Some(r.enabled),
    }
}
