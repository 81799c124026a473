//! Turning a site's security settings into what the request path evaluates:
//! rule expressions compiled against the lists in scope, rate limits with
//! their keys' recipes, request limits. Done once per snapshot, off the
//! request path.
//!
//! A rule that no longer compiles (a `$list` deleted since it was written,
//! a limit tightened) is left out with a warning: dropping one rule is
//! better than dropping the site, and far better than refusing every
//! configuration change until someone fixes the rule.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};
use rampart_config::{
    AutoUnderAttack, Characteristic, Config, FirewallRule, LimitAction, ListScope, RateLimitRule,
    RequestLimits, RuleAction, SecurityPhase, SiteConfig,
};
use rampart_limits::{Action as LimitsAction, Counting, LimitRule};
use rampart_rules::{CompiledRule, ListKind, Lists, RuleSet, Scheme, compile};

use super::attack::SiteAttack;

/// A set of [`SecurityPhase`]s, as a bitmask.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseSet(u8);

impl PhaseSet {
    pub const ALL: Self = Self(0xff);

    fn bit(phase: SecurityPhase) -> u8 {
        match phase {
            SecurityPhase::Rules => 1,
            SecurityPhase::RateLimits => 2,
            SecurityPhase::UnderAttack => 4,
            SecurityPhase::Bots => 8,
            SecurityPhase::Waf => 16,
        }
    }

    pub fn of(phases: &[SecurityPhase]) -> Self {
        Self(phases.iter().fold(0, |acc, p| acc | Self::bit(*p)))
    }

    pub fn contains(self, phase: SecurityPhase) -> bool {
        self.0 & Self::bit(phase) != 0
    }

    pub fn add(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

/// What a matching rule does, ready to apply.
#[derive(Debug)]
pub enum Action {
    Block {
        status: StatusCode,
    },
    /// `level`: `None` for a managed challenge, priced by the site's
    /// security level.
    Challenge {
        level: Option<rampart_config::ThreatLevel>,
        /// `challenge = "interactive"`: the visitor presses a button first.
        interactive: bool,
    },
    Allow,
    Skip {
        phases: PhaseSet,
        /// Indexes (into the same list) of later rules to pass over.
        rules: Box<[u32]>,
    },
    Log,
    Redirect {
        location: HeaderValue,
        status: StatusCode,
    },
}

impl Action {
    /// The name written to the access log's `action`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Block { .. } => "block",
            Action::Challenge { .. } => "challenge",
            Action::Allow => "allow",
            Action::Skip { .. } => "skip",
            Action::Log => "log",
            Action::Redirect { .. } => "redirect",
        }
    }
}

#[derive(Debug)]
pub struct RuleEntry {
    pub id: Arc<str>,
    pub action: Action,
}

/// One ordered list of rules (operator-wide, or a site's own) and the lists
/// its expressions may name.
#[derive(Debug, Default)]
pub struct RuleList {
    /// Rule ids are indexes into `entries`.
    pub set: RuleSet<u32>,
    pub entries: Vec<RuleEntry>,
    pub lists: Arc<Lists>,
}

impl RuleList {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How a rate limit's counter key is made, beyond site and rule.
#[derive(Debug)]
pub enum KeyPart {
    Ip,
    IpPrefix,
    Header(HeaderName),
    Cookie(Box<str>),
    QueryArg(Box<str>),
    Path,
    /// The site as a whole: already part of every key.
    Site,
}

#[derive(Debug)]
pub struct CompiledLimit {
    pub id: Arc<str>,
    pub matcher: CompiledRule,
    /// Evaluated on the response; only matching responses count.
    pub counting: Option<CompiledRule>,
    pub key: Box<[KeyPart]>,
    pub rule: LimitRule,
}

/// A site's security settings as the request path uses them.
pub struct SiteSecurity {
    pub operator: Arc<RuleList>,
    pub rules: RuleList,
    pub rate_limits: Vec<CompiledLimit>,
    pub limits: RequestLimits,
    pub under_attack: bool,
    pub auto_under_attack: AutoUnderAttack,
    /// The lists the site's rate-limit expressions may name.
    pub lists: Arc<Lists>,
    /// Request counter and detector; outlives snapshots.
    pub attack: Arc<SiteAttack>,
    /// Challenge pricing, clearance checks, bot policy, captcha keys.
    pub bots: crate::bots::SiteBots,
    /// The threat level of a managed challenge (`security_level`).
    pub managed_level: rampart_config::ThreatLevel,
}

impl SiteSecurity {
    /// Whether any phase after the request limits can act on a request, so
    /// sites without settings skip building the rules' view of the request.
    pub fn has_phases(&self) -> bool {
        !self.operator.is_empty()
            || !self.rules.is_empty()
            || !self.rate_limits.is_empty()
            || self.under_attack
            || self.auto_under_attack.enabled
            || self.bots.policy.is_some()
    }
}

/// The lists one account's rules may name, with the schemes declaring them.
#[derive(Clone)]
struct Scope {
    lists: Arc<Lists>,
    /// For request expressions.
    scheme: Scheme,
    /// For counting expressions: the request fields plus the response's.
    response: Scheme,
}

impl Scope {
    fn add(&mut self, name: &str, list: Arc<rampart_rules::IpList>) {
        Arc::make_mut(&mut self.lists).insert(name, list);
        self.scheme.add_list(name, ListKind::Ip);
        self.response.add_list(name, ListKind::Ip);
    }
}

/// Lists and compiled operator rules shared by every site of a snapshot.
pub struct SharedSecurity {
    pub operator: Arc<RuleList>,
    operator_scope: Scope,
    /// Per account id: operator lists with the account's own on top.
    by_account: HashMap<String, Scope>,
    /// Which site each captcha sitekey belongs to.
    pub captcha_owners: crate::bots::CaptchaOwners,
}

impl SharedSecurity {
    pub fn new(config: &Config) -> Self {
        let mut operator_scope = Scope {
            lists: Arc::new(Lists::new()),
            scheme: Scheme::new(),
            response: Scheme::for_responses(),
        };
        for list in &config.lists {
            if list.scope == ListScope::Operator {
                operator_scope.add(&list.name, list.entries.clone());
            }
        }
        let operator = Arc::new(compile_rules(
            "operator rules",
            &config.rules,
            &operator_scope.scheme,
            operator_scope.lists.clone(),
        ));
        let mut by_account: HashMap<String, Scope> = HashMap::new();
        for list in &config.lists {
            if let ListScope::Account(account) = &list.scope {
                // An account's list shadows the operator's of the same name.
                by_account
                    .entry(account.clone())
                    .or_insert_with(|| operator_scope.clone())
                    .add(&list.name, list.entries.clone());
            }
        }
        Self {
            operator,
            operator_scope,
            by_account,
            captcha_owners: crate::bots::CaptchaOwners::new(config),
        }
    }

    fn scope(&self, account: Option<&str>) -> &Scope {
        account
            .and_then(|a| self.by_account.get(a))
            .unwrap_or(&self.operator_scope)
    }

    pub fn site(
        &self,
        cfg: &SiteConfig,
        attack: Arc<SiteAttack>,
        ring: Arc<rampart_challenge::KeyRing>,
    ) -> SiteSecurity {
        let scope = self.scope(cfg.account.as_deref());
        let what = format!("site \"{}\"", cfg.name);
        let rules = compile_rules(
            &what,
            &cfg.security.rules,
            &scope.scheme,
            scope.lists.clone(),
        );
        let rate_limits = cfg
            .security
            .rate_limits
            .iter()
            .filter(|l| l.enabled)
            .filter_map(|l| compile_limit(&what, l, &scope.scheme, &scope.response))
            .collect();
        SiteSecurity {
            operator: self.operator.clone(),
            rules,
            rate_limits,
            limits: cfg.security.limits,
            under_attack: cfg.under_attack,
            auto_under_attack: cfg.security.auto_under_attack,
            lists: scope.lists.clone(),
            attack,
            bots: crate::bots::SiteBots::new(
                cfg,
                ring,
                crate::bots::policy::CompiledPolicy::compile(
                    &what,
                    &cfg.security.bots,
                    &scope.scheme,
                    scope.lists.clone(),
                ),
                &self.captcha_owners,
            ),
            managed_level: crate::bots::level_of(cfg.security_level),
        }
    }
}

fn compile_rules(
    what: &str,
    rules: &[FirewallRule],
    scheme: &Scheme,
    lists: Arc<Lists>,
) -> RuleList {
    let mut set = RuleSet::default();
    let mut entries: Vec<RuleEntry> = Vec::new();
    // Skip targets are resolved after every rule is known.
    let mut pending_skips: Vec<(usize, &[String])> = Vec::new();
    for rule in rules.iter().filter(|r| r.enabled) {
        let compiled = match compile(&rule.expression, scheme) {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(%what, rule = %rule.id, %error, "rule left out: it does not compile against this snapshot");
                continue;
            }
        };
        let action = match &rule.action {
            RuleAction::Block { status } => Action::Block {
                status: StatusCode::from_u16(*status).unwrap_or(StatusCode::FORBIDDEN),
            },
            RuleAction::Challenge { kind } => Action::Challenge {
                level: match kind {
                    rampart_config::ChallengeKind::Managed => None,
                    rampart_config::ChallengeKind::Js => Some(rampart_config::ThreatLevel::Medium),
                    rampart_config::ChallengeKind::Interactive => {
                        Some(rampart_config::ThreatLevel::High)
                    }
                },
                interactive: *kind == rampart_config::ChallengeKind::Interactive,
            },
            RuleAction::Allow => Action::Allow,
            RuleAction::Skip { phases, rules } => {
                pending_skips.push((entries.len(), rules.as_slice()));
                Action::Skip {
                    phases: PhaseSet::of(phases),
                    rules: Box::new([]),
                }
            }
            RuleAction::Log => Action::Log,
            RuleAction::Redirect { url, status } => match HeaderValue::from_str(url) {
                Ok(location) => Action::Redirect {
                    location,
                    status: StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND),
                },
                Err(_) => {
                    tracing::warn!(%what, rule = %rule.id, "rule left out: its redirect URL is not a valid header value");
                    continue;
                }
            },
        };
        let index = entries.len() as u32;
        set.push(index, compiled);
        entries.push(RuleEntry {
            id: rule.id.as_str().into(),
            action,
        });
    }
    for (at, targets) in pending_skips {
        let resolved: Box<[u32]> = targets
            .iter()
            .filter_map(|target| {
                let found = entries
                    .iter()
                    .enumerate()
                    .skip(at + 1)
                    .find(|(_, e)| &*e.id == target.as_str())
                    .map(|(i, _)| i as u32);
                if found.is_none() {
                    tracing::warn!(%what, rule = %target, "skip target is not a later enabled rule of the same list; ignored");
                }
                found
            })
            .collect();
        if let Some(RuleEntry {
            action: Action::Skip { rules, .. },
            ..
        }) = entries.get_mut(at)
        {
            *rules = resolved;
        }
    }
    RuleList {
        set,
        entries,
        lists,
    }
}

fn compile_limit(
    what: &str,
    limit: &RateLimitRule,
    scheme: &Scheme,
    response_scheme: &Scheme,
) -> Option<CompiledLimit> {
    let matcher = match compile(&limit.expression, scheme) {
        Ok(m) => m,
        Err(error) => {
            tracing::warn!(%what, rate_limit = %limit.id, %error, "rate limit left out: its expression does not compile against this snapshot");
            return None;
        }
    };
    let counting = match &limit.counting_expression {
        None => None,
        Some(text) => match compile(text, response_scheme) {
            Ok(c) => Some(c),
            Err(error) => {
                tracing::warn!(%what, rate_limit = %limit.id, %error, "rate limit left out: its counting expression does not compile against this snapshot");
                return None;
            }
        },
    };
    let key = limit
        .characteristics
        .iter()
        .filter_map(|c| {
            Some(match c {
                Characteristic::Ip => KeyPart::Ip,
                Characteristic::IpPrefix => KeyPart::IpPrefix,
                Characteristic::Header(name) => {
                    KeyPart::Header(HeaderName::from_bytes(name.as_bytes()).ok()?)
                }
                Characteristic::Cookie(name) => KeyPart::Cookie(name.as_str().into()),
                Characteristic::QueryArg(name) => KeyPart::QueryArg(name.as_str().into()),
                Characteristic::Path => KeyPart::Path,
                Characteristic::Site => KeyPart::Site,
            })
        })
        .collect();
    let rule = LimitRule {
        period: limit.period.max(Duration::from_millis(1)),
        requests: limit.requests.max(1),
        mitigation_timeout: limit.mitigation_timeout,
        action: match limit.action {
            LimitAction::Block => LimitsAction::Block,
            LimitAction::Challenge => LimitsAction::Challenge,
            LimitAction::Log => LimitsAction::Log,
        },
        counting: if counting.is_some() {
            Counting::OnResponse
        } else {
            Counting::EveryRequest
        },
    };
    if let Err(error) = rule.validate() {
        tracing::warn!(%what, rate_limit = %limit.id, %error, "rate limit left out");
        return None;
    }
    Some(CompiledLimit {
        id: limit.id.as_str().into(),
        matcher,
        counting,
        key,
        rule,
    })
}
