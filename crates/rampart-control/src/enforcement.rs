//! Trust & safety decisions → the edge: which decisions are in force on
//! which site, as `SiteConfig.enforcement`.
//!
//! Decisions come from the store only, never from a site's spec, so an
//! owner cannot write or undo them through the site API. The rows are kept
//! in the last-good snapshot so a restart without the store still enforces.

use std::collections::HashMap;

use rampart_config::{Enforcement, EnforcementAction, SiteConfig};
use rampart_store::{Case, Decision, SiteRecord};
use serde::{Deserialize, Serialize};

/// One enforced-outcome decision not lifted, as the snapshot needs it and
/// the data dir keeps it. Includes scheduled ones, so a decision that takes
/// effect (or expires) later does so without another store write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Row {
    pub site_id: String,
    pub decision_id: String,
    pub case_id: String,
    /// The case's public reference.
    pub reference: String,
    pub outcome: String,
    pub category: String,
    #[serde(default)]
    pub patterns: Option<Vec<String>>,
    #[serde(default)]
    pub blocked_by: Option<String>,
    pub decided_at: i64,
    pub effective_at: i64,
    #[serde(default)]
    pub expires_at: Option<i64>,
}

impl Row {
    pub(crate) fn from_store((decision, case): (Decision, Case)) -> Row {
        Row {
            site_id: decision.site_id,
            decision_id: decision.id,
            case_id: case.id,
            reference: case.reference,
            outcome: decision.outcome,
            category: case.category,
            patterns: decision.patterns,
            blocked_by: decision.blocked_by,
            decided_at: decision.decided_at,
            effective_at: decision.effective_at,
            expires_at: decision.expires_at,
        }
    }

    fn in_force(&self, now_ms: i64) -> bool {
        self.effective_at <= now_ms && self.expires_at.is_none_or(|at| at > now_ms)
    }

    fn action(&self) -> Option<EnforcementAction> {
        match self.outcome.as_str() {
            "suspend" => Some(EnforcementAction::Suspend),
            "legal_block" => Some(EnforcementAction::LegalBlock {
                blocked_by: self.blocked_by.clone(),
            }),
            "restrict" => Some(EnforcementAction::Restrict {
                patterns: self.patterns.clone().unwrap_or_default(),
            }),
            "interstitial" => Some(EnforcementAction::Interstitial),
            _ => None,
        }
    }
}

/// When the set in force next changes on its own (a scheduled decision
/// takes effect or one expires), after `now_ms`.
pub(crate) fn next_change(rows: &[Row], now_ms: i64) -> Option<i64> {
    rows.iter()
        .flat_map(|r| [Some(r.effective_at), r.expires_at])
        .flatten()
        .filter(|&at| at > now_ms)
        .min()
}

/// Where the owner appeals: their site's page on the dashboard, naming
/// the case. `None` when the dashboard's public address is not configured,
/// because a guessed one would be wrong behind a reverse proxy.
fn appeal_url(public_url: Option<&str>, row: &Row) -> Option<String> {
    public_url.map(|base| format!("{base}/sites/{}?case={}", row.site_id, row.reference))
}

/// Sets every compiled site's enforcement from `rows` in force at
/// `now_ms`. Sites are matched by name, which the store keeps unique.
pub(crate) fn apply(
    sites: &mut [SiteConfig],
    records: &[SiteRecord],
    rows: &[Row],
    now_ms: i64,
    public_url: Option<&str>,
) {
    let mut by_site: HashMap<&str, Vec<Enforcement>> = HashMap::new();
    for row in rows.iter().filter(|r| r.in_force(now_ms)) {
        let Some(action) = row.action() else { continue };
        by_site
            .entry(row.site_id.as_str())
            .or_default()
            .push(Enforcement {
                decision_id: row.decision_id.clone(),
                reference: row.reference.clone(),
                action,
                category: row.category.clone(),
                decided_at: u64::try_from(row.decided_at.div_euclid(1000)).unwrap_or(0),
                appeal_url: appeal_url(public_url, row),
            });
    }
    let names: HashMap<&str, &str> = records
        .iter()
        .map(|r| (r.name.as_str(), r.id.as_str()))
        .collect();
    for site in sites {
        site.enforcement = names
            .get(site.name.as_str())
            .and_then(|id| by_site.get(id))
            .cloned()
            .unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: &str, effective_at: i64, expires_at: Option<i64>) -> Row {
        Row {
            site_id: "site_1".into(),
            decision_id: format!("decision_{outcome}"),
            case_id: "case_1".into(),
            reference: "TS-ABC".into(),
            outcome: outcome.into(),
            category: "phishing".into(),
            patterns: Some(vec!["/login".into()]),
            blocked_by: None,
            decided_at: 5_000,
            effective_at,
            expires_at,
        }
    }

    #[test]
    fn only_rows_in_force_apply_and_changes_are_foreseen() {
        let rows = [
            row("suspend", 0, Some(100)),
            row("restrict", 50, None),
            row("interstitial", 0, None),
        ];
        assert_eq!(next_change(&rows, 10), Some(50));
        assert_eq!(next_change(&rows, 60), Some(100));
        assert_eq!(next_change(&rows, 100), None);
        let active = |now| {
            rows.iter()
                .filter(|r| r.in_force(now))
                .map(|r| r.outcome.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(active(10), ["suspend", "interstitial"]);
        assert_eq!(active(100), ["restrict", "interstitial"]);
        assert_eq!(
            appeal_url(Some("https://admin.test"), &rows[0]).as_deref(),
            Some("https://admin.test/sites/site_1?case=TS-ABC")
        );
        assert_eq!(appeal_url(None, &rows[0]), None);
    }
}
