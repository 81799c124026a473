//! Anubis's `thresholds` to `[[site.bots.thresholds]]`.
//!
//! Anubis tries its thresholds in order and takes the first whose CEL
//! expression on `weight` holds (none: allow); Rampart takes the highest
//! `min_weight` not above the total. The expressions `expr` reads
//! (`weight < N`, `<=`, `>`, `>=`, `==`, `!=`, `true`, `false`, `&&`, `||`,
//! parentheses, and `all:`/`any:` lists of them) are evaluated for every
//! integer weight of the policy's range, and each run of one action becomes
//! one Rampart threshold; the bands of the final actions go above.

use rampart_config::{BotAction, ThreatLevel};
use serde::Deserialize;
use serde_json::Value;

use super::layout::{BLOCK_AT, POLICY_MAX, POLICY_MIN, TOLERANCE, challenge_at};
use super::rules::{Challenge, Totals, clip};
use super::{Import, Status, Threshold, level_of};

pub(super) mod expr;

use expr::{Cond, expression, parse_expr};

/// Rampart's limit on thresholds per site.
const MAX_THRESHOLDS: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdEntry {
    name: Option<String>,
    expression: Option<Value>,
    action: Option<String>,
    challenge: Option<Challenge>,
}

/// A threshold that could be read.
struct Source {
    label: String,
    cond: Cond,
    action: BotAction,
}

/// Anubis's documented default thresholds, used when the file has none.
const DEFAULTS: &[(&str, &str, &str, i64)] = &[
    ("minimal-suspicion", "weight <= 0", "ALLOW", 0),
    (
        "mild-suspicion",
        "weight > 0 && weight < 10",
        "CHALLENGE",
        1,
    ),
    (
        "moderate-suspicion",
        "weight >= 10 && weight < 20",
        "CHALLENGE",
        1,
    ),
    (
        "mild-proof-of-work",
        "weight >= 20 && weight < 30",
        "CHALLENGE",
        2,
    ),
    ("extreme-suspicion", "weight >= 30", "CHALLENGE", 4),
];

pub(super) fn translate(entries: Option<&[Value]>, totals: &Totals, import: &mut Import) {
    let sources = match entries {
        Some(entries) => read_all(entries, import),
        None => {
            import.push(
                Status::Note,
                "thresholds",
                "the file has none: Anubis's defaults are assumed (weight <= 0 allow; 1 to 29 a light challenge; 30 and up difficulty 4)",
            );
            DEFAULTS
                .iter()
                .filter_map(|&(name, expr, action, difficulty)| {
                    Some(Source {
                        label: format!("default {name:?}"),
                        cond: parse_expr(expr).ok()?,
                        action: if action == "ALLOW" {
                            BotAction::Allow
                        } else {
                            BotAction::Challenge(level_of(Some(difficulty)))
                        },
                    })
                })
                .collect()
        }
    };
    let bands = bands(totals);
    let runs = runs(&sources);
    report_unused(&sources, &runs, import);
    let room = MAX_THRESHOLDS.saturating_sub(bands.len());
    for (i, run) in runs.into_iter().enumerate() {
        if i >= room {
            import.push(
                Status::Skipped,
                format!("weights from {}", run.start),
                format!("Rampart takes at most {MAX_THRESHOLDS} thresholds per site"),
            );
            continue;
        }
        import.thresholds.push(Threshold {
            min_weight: run.start,
            action: run.action,
            origin: run.origin,
        });
    }
    import.thresholds.extend(bands);
    if import.thresholds.is_empty() {
        // Every weight is allowed. Said explicitly: a [site.bots] without
        // thresholds would get Rampart's default ones.
        import.thresholds.push(Threshold {
            min_weight: POLICY_MIN,
            action: BotAction::Allow,
            origin: "every weight is allowed (without a threshold Rampart's defaults would apply)"
                .to_owned(),
        });
    }
    let emitted: Vec<String> = import
        .thresholds
        .iter()
        .map(|t| {
            let action = match t.action {
                BotAction::Allow => "allow".to_owned(),
                BotAction::Block => "block".to_owned(),
                BotAction::Challenge(level) => format!("challenge, {}", level.as_str()),
            };
            format!("min_weight {}: {action} ({})", t.min_weight, t.origin)
        })
        .collect();
    for detail in emitted {
        import.push(Status::Imported, "threshold", detail);
    }
    cautions(totals, import);
}

fn read_all(entries: &[Value], import: &mut Import) -> Vec<Source> {
    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let label = match entry.get("name").and_then(Value::as_str) {
            Some(name) => format!("thresholds[{index}] {:?}", clip(name)),
            None => format!("thresholds[{index}]"),
        };
        match read(entry) {
            Ok((cond, action, notes)) => {
                for note in notes {
                    import.push(Status::Note, label.clone(), note);
                }
                out.push(Source {
                    label,
                    cond,
                    action,
                });
            }
            Err(why) => import.push(Status::Skipped, label, why),
        }
    }
    out
}

fn read(entry: &Value) -> Result<(Cond, BotAction, Vec<String>), String> {
    let entry = ThresholdEntry::deserialize(entry)
        .map_err(|e| format!("not an Anubis threshold as documented: {e}"))?;
    let mut notes = Vec::new();
    if entry.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        notes.push("it has no `name`, which Anubis requires; imported anyway".to_owned());
    }
    let expr = entry
        .expression
        .as_ref()
        .ok_or("it has no `expression` on `weight`")?;
    let cond = expression(expr)?;
    let action = match entry.action.as_deref() {
        Some("ALLOW") => BotAction::Allow,
        Some("DENY") => BotAction::Block,
        Some("DENY_AND_REROUTE") => {
            notes.push("DENY_AND_REROUTE becomes a block: Rampart does not reroute".to_owned());
            BotAction::Block
        }
        Some("CHALLENGE") => {
            let difficulty = entry.challenge.as_ref().and_then(|c| c.difficulty);
            if difficulty.is_none() {
                notes.push(
                    "CHALLENGE without a challenge difficulty: Anubis's default 4, a medium challenge"
                        .to_owned(),
                );
            }
            BotAction::Challenge(level_of(difficulty))
        }
        Some(other) => {
            return Err(format!(
                "action {:?} is not one a threshold can take here (ALLOW, CHALLENGE or DENY)",
                clip(other)
            ));
        }
        None => return Err("it has no `action` (ALLOW, CHALLENGE or DENY)".to_owned()),
    };
    Ok((cond, action, notes))
}

/// A run of weights with one action.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    start: i32,
    end: i32,
    action: BotAction,
    /// Indexes into the sources that decided it; empty: none matched.
    from: Vec<usize>,
    origin: String,
}

/// The policy's weight range cut into runs of one action, as Anubis would
/// decide each weight (first matching threshold; none: allow). The first
/// run is left out when it allows: below every threshold Rampart allows.
fn runs(sources: &[Source]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for w in POLICY_MIN..=POLICY_MAX {
        let hit = sources.iter().position(|s| s.cond.holds(i64::from(w)));
        let action = hit
            .and_then(|i| sources.get(i))
            .map_or(BotAction::Allow, |s| s.action);
        match runs.last_mut() {
            Some(run) if run.action == action => {
                run.end = w;
                if let Some(i) = hit
                    && !run.from.contains(&i)
                {
                    run.from.push(i);
                }
            }
            _ => runs.push(Run {
                start: w,
                end: w,
                action,
                from: hit.into_iter().collect(),
                origin: String::new(),
            }),
        }
    }
    if runs.first().is_some_and(|r| r.action == BotAction::Allow) {
        runs.remove(0);
    }
    for run in &mut runs {
        let names: Vec<&str> = run
            .from
            .iter()
            .filter_map(|&i| sources.get(i).map(|s| s.label.as_str()))
            .collect();
        let from = if names.is_empty() {
            "no Anubis threshold matches (allow)".to_owned()
        } else {
            names.join(", ")
        };
        let end = if run.end == POLICY_MAX {
            "and up".to_owned()
        } else {
            format!("to {}", run.end)
        };
        run.origin = format!("weights {} {end}: {from}", run.start);
    }
    runs
}

/// Thresholds that decide no weight are said so.
fn report_unused(sources: &[Source], runs: &[Run], import: &mut Import) {
    for (i, s) in sources.iter().enumerate() {
        if runs.iter().any(|r| r.from.contains(&i)) {
            continue;
        }
        let in_range = (POLICY_MIN..=POLICY_MAX).any(|w| s.cond.holds(i64::from(w)));
        let why = if !in_range {
            format!(
                "it matches no weight from {POLICY_MIN} to {POLICY_MAX}, the range the import keeps for thresholds"
            )
        } else if s.action == BotAction::Allow {
            // Its weights are allowed below every threshold: nothing to emit.
            continue;
        } else {
            "earlier thresholds take every weight it matches, so Anubis never reaches it either"
                .to_owned()
        };
        import.push(Status::Skipped, s.label.clone(), why);
    }
}

/// The thresholds for the bands of the final actions actually used.
fn bands(totals: &Totals) -> Vec<Threshold> {
    let mut out = Vec::new();
    for level in [ThreatLevel::Low, ThreatLevel::Medium, ThreatLevel::High] {
        if totals.levels.contains(&level) {
            out.push(Threshold {
                min_weight: challenge_at(level),
                action: BotAction::Challenge(level),
                origin: format!("CHALLENGE rules at {} threat", level.as_str()),
            });
        }
    }
    if totals.deny {
        out.push(Threshold {
            min_weight: BLOCK_AT,
            action: BotAction::Block,
            origin: "DENY rules".to_owned(),
        });
    }
    out
}

/// Where Rampart's sum can differ from Anubis's first match, said once.
fn cautions(totals: &Totals, import: &mut Import) {
    let tolerance = i64::from(TOLERANCE);
    if totals.weigh_up > tolerance || totals.weigh_down > tolerance {
        import.push(
            Status::Note,
            "WEIGH rules",
            format!(
                "together they can add +{} / -{}, more than the ±{TOLERANCE} kept between bands: \
                 on a request that also matches an ALLOW, CHALLENGE or DENY rule they can change its action",
                totals.weigh_up, totals.weigh_down
            ),
        );
    }
    let mut heaviest = totals.challenges.clone();
    heaviest.sort_unstable_by(|a, b| b.cmp(a));
    let mut sum = totals.weigh_up;
    for (k, w) in heaviest.iter().enumerate() {
        sum += i64::from(*w);
        if sum >= i64::from(BLOCK_AT) {
            import.push(
                Status::Note,
                "CHALLENGE rules",
                format!(
                    "{} of them matching one request add up to the block threshold ({BLOCK_AT}): Anubis would challenge, Rampart blocks",
                    k + 1
                ),
            );
            break;
        }
    }
    if totals.allow && (totals.deny || !totals.challenges.is_empty()) {
        import.push(
            Status::Note,
            "ALLOW rules",
            "a request that matches an ALLOW rule and a DENY or CHALLENGE rule gets the sum of their weights; \
             Anubis would apply whichever comes first in the file",
        );
    }
    if totals.geoip {
        import.push(
            Status::Note,
            "geoip/asns",
            "rules on countries or ASNs need [geoip] country_db / asn_db in rampart.toml (docs/geoip.md); without them they match nothing",
        );
    }
}
