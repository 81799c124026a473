//! The custom-rules phase: operator rules, then the site's, in order, each
//! matching rule's action applied.

use http::{HeaderValue, StatusCode};
use rampart_config::SecurityPhase;
use rampart_rules::RequestFields;

use super::compile::{Action, PhaseSet, RuleList};
use super::request::{Hits, Worker};

/// A rule's decision that ends the rules phase with a response (or, for
/// allow, with every later phase skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Block {
        status: StatusCode,
        rule: std::sync::Arc<str>,
    },
    Challenge {
        rule: std::sync::Arc<str>,
        level: Option<rampart_config::ThreatLevel>,
        interactive: bool,
    },
    Redirect {
        location: HeaderValue,
        status: StatusCode,
    },
    Allow,
}

/// Runs both lists. `skip` collects the phases later phases must pass over.
pub fn evaluate(
    lists: [&RuleList; 2],
    req: &RequestFields<'_>,
    worker: &mut Worker,
    hits: &mut Hits,
    skip: &mut PhaseSet,
) -> Option<Verdict> {
    for list in lists {
        if skip.contains(SecurityPhase::Rules) {
            break;
        }
        if let Some(verdict) = evaluate_list(list, req, worker, hits, skip) {
            return Some(verdict);
        }
    }
    None
}

fn evaluate_list(
    list: &RuleList,
    req: &RequestFields<'_>,
    worker: &mut Worker,
    hits: &mut Hits,
    skip: &mut PhaseSet,
) -> Option<Verdict> {
    if list.is_empty() {
        return None;
    }
    let Worker {
        scratch, skipped, ..
    } = worker;
    // One bit per rule of this list: rules a `skip` action passed over.
    skipped.clear();
    skipped.resize(list.entries.len().div_ceil(64), 0);
    // `matching` evaluates lazily and shares function results between the
    // rules of one request; leaving the loop stops evaluation.
    for &index in list.set.matching(req, &list.lists, scratch) {
        let i = index as usize;
        let word = skipped.get(i / 64).copied().unwrap_or(0);
        if word & (1 << (i % 64)) != 0 {
            continue;
        }
        let Some(entry) = list.entries.get(i) else {
            continue;
        };
        match &entry.action {
            Action::Block { status } => {
                hits.push_decisive(&entry.id, "block");
                return Some(Verdict::Block {
                    status: *status,
                    rule: entry.id.clone(),
                });
            }
            // A client that passed a challenge already satisfies this
            // one; later rules still apply to it.
            Action::Challenge { .. } if req.clearance => {
                hits.push(&entry.id, "challenge_passed");
            }
            // A verified good bot proved who it is by its address, and a
            // crawler cannot solve a challenge anyway; later rules still
            // apply to it.
            Action::Challenge { .. } if req.bot_verified => {
                hits.push(&entry.id, "challenge_verified_bot");
            }
            Action::Challenge { level, interactive } => {
                hits.push_decisive(&entry.id, "challenge");
                return Some(Verdict::Challenge {
                    level: *level,
                    interactive: *interactive,
                    rule: entry.id.clone(),
                });
            }
            Action::Redirect { location, status } => {
                hits.push_decisive(&entry.id, "redirect");
                return Some(Verdict::Redirect {
                    location: location.clone(),
                    status: *status,
                });
            }
            Action::Allow => {
                hits.push_decisive(&entry.id, "allow");
                *skip = PhaseSet::ALL;
                return Some(Verdict::Allow);
            }
            Action::Skip { phases, rules } => {
                hits.push(&entry.id, "skip");
                skip.add(*phases);
                if phases.contains(SecurityPhase::Rules) {
                    return None;
                }
                for &target in rules.iter() {
                    let t = target as usize;
                    if let Some(word) = skipped.get_mut(t / 64) {
                        *word |= 1 << (t % 64);
                    }
                }
            }
            Action::Log => hits.push(&entry.id, "log"),
        }
    }
    None
}
