//! The weighted bot policy: every matching rule adds its weight, and the
//! total picks allow, a challenge at some threat level, or block — the
//! shape of Anubis's policy file on top of the rules language.

use std::sync::Arc;

use http::HeaderMap;
use http::header::ACCEPT;
use rampart_config::{BotAction, BotPolicy, BotThreshold};
use rampart_rules::{EvalScratch, Lists, RequestFields, RuleSet, Scheme, compile};

pub struct CompiledPolicy {
    set: RuleSet<u32>,
    /// Rule id and weight, by index.
    weights: Vec<(Arc<str>, i32)>,
    lists: Arc<Lists>,
    thresholds: Vec<BotThreshold>,
}

/// What the policy made of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weighed {
    pub weight: i32,
    pub action: BotAction,
    /// The matching rule with the largest weight, named in the log.
    pub top_rule: Option<Arc<str>>,
}

impl CompiledPolicy {
    /// `None` when the site has the policy off. A rule that no longer
    /// compiles (a deleted `$list`) is left out with a warning, as custom
    /// rules are.
    pub fn compile(
        site: &str,
        policy: &BotPolicy,
        scheme: &Scheme,
        lists: Arc<Lists>,
    ) -> Option<Self> {
        if !policy.enabled {
            return None;
        }
        let mut set = RuleSet::default();
        let mut weights = Vec::with_capacity(policy.rules.len());
        for rule in &policy.rules {
            match compile(&rule.expression, scheme) {
                Ok(compiled) => {
                    set.push(weights.len() as u32, compiled);
                    weights.push((Arc::from(rule.id.as_str()), rule.weight));
                }
                Err(error) => {
                    tracing::warn!(%site, rule = %rule.id, %error, "bot rule left out: it does not compile against this snapshot");
                }
            }
        }
        Some(Self {
            set,
            weights,
            lists,
            thresholds: policy.thresholds.clone(),
        })
    }

    pub fn weigh(&self, fields: &RequestFields<'_>, scratch: &mut EvalScratch) -> Weighed {
        let mut weight: i32 = 0;
        let mut top: Option<(i32, &Arc<str>)> = None;
        for &index in self.set.matching(fields, &self.lists, scratch) {
            let Some((id, w)) = self.weights.get(index as usize) else {
                continue;
            };
            weight = weight.saturating_add(*w);
            if top.is_none_or(|(best, _)| *w > best) {
                top = Some((*w, id));
            }
        }
        Weighed {
            weight,
            action: decide(&self.thresholds, weight),
            top_rule: top.map(|(_, id)| id.clone()),
        }
    }
}

fn decide(thresholds: &[BotThreshold], weight: i32) -> BotAction {
    thresholds
        .iter()
        .rev()
        .find(|t| weight >= t.min_weight)
        .map_or(BotAction::Allow, |t| t.action)
}

/// RSS/Atom paths and `Accept` headers, and `/.well-known/`.
pub fn is_feed_or_well_known(path: &str, headers: &HeaderMap) -> bool {
    if path.starts_with("/.well-known/") {
        return true;
    }
    let lower_ends = |suffix: &str| {
        path.len() >= suffix.len()
            && path
                .get(path.len() - suffix.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
    };
    if [
        "/feed",
        "/feed/",
        "/rss",
        "/atom",
        ".rss",
        ".atom",
        "/rss.xml",
        "/atom.xml",
        "/feed.xml",
        "/index.xml",
    ]
    .iter()
    .any(|s| lower_ends(s))
    {
        return true;
    }
    headers.get_all(ACCEPT).iter().any(|v| {
        v.to_str().is_ok_and(|a| {
            a.contains("application/rss+xml")
                || a.contains("application/atom+xml")
                || a.contains("application/feed+json")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_and_well_known_are_recognised() {
        let none = HeaderMap::new();
        for path in [
            "/.well-known/acme-challenge/x",
            "/feed",
            "/blog/feed/",
            "/index.xml",
            "/news.RSS",
            "/a.atom",
        ] {
            assert!(is_feed_or_well_known(path, &none), "{path}");
        }
        for path in ["/", "/feedback", "/well-known/x", "/rss-guide"] {
            assert!(!is_feed_or_well_known(path, &none), "{path}");
        }
        let mut accept = HeaderMap::new();
        accept.insert(ACCEPT, "application/rss+xml, */*".parse().expect("header"));
        assert!(is_feed_or_well_known("/", &accept));
    }

    #[test]
    fn thresholds_pick_the_highest_reached() {
        let t = rampart_config::default_thresholds();
        assert_eq!(decide(&t, 0), BotAction::Allow);
        assert_eq!(decide(&t, -50), BotAction::Allow);
        assert_eq!(
            decide(&t, 1),
            BotAction::Challenge(rampart_config::ThreatLevel::Low)
        );
        assert_eq!(
            decide(&t, 25),
            BotAction::Challenge(rampart_config::ThreatLevel::High)
        );
    }
}
