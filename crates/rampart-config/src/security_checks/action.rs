//! The action a rule's keys add up to: `action` and the keys that belong
//! to it (`status`, `challenge`, `skip_phases`, `skip_rules`,
//! `redirect_url`), checked together because each is only meaningful for
//! some actions.

use std::ops::RangeInclusive;

use crate::rules::range_message;
use crate::security::*;

pub(crate) const BLOCK_STATUS: RangeInclusive<i64> = 400..=599;
pub(crate) const DEFAULT_BLOCK_STATUS: u16 = 403;
pub(crate) const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];
pub(crate) const DEFAULT_REDIRECT_STATUS: u16 = 302;

/// Which key of a rule a problem is about, so each front end can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKey {
    Action,
    Status,
    Challenge,
    SkipPhases,
    SkipRules,
    RedirectUrl,
}

impl RuleKey {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Status => "status",
            Self::Challenge => "challenge",
            Self::SkipPhases => "skip_phases",
            Self::SkipRules => "skip_rules",
            Self::RedirectUrl => "redirect_url",
        }
    }
}

/// One problem with a rule's action keys. `index` is the element of
/// `skip_phases`/`skip_rules` it is about; `code` the site spec's error code.
#[derive(Debug)]
pub(crate) struct Problem {
    pub key: RuleKey,
    pub index: Option<usize>,
    pub code: &'static str,
    pub message: String,
}

/// The action keys of a rule as written; `None` is an absent key.
#[derive(Debug, Default)]
pub(crate) struct ActionInput<'a> {
    pub action: Option<&'a str>,
    pub status: Option<i64>,
    pub challenge: Option<&'a str>,
    pub skip_phases: Option<Vec<&'a str>>,
    pub skip_rules: Option<Vec<&'a str>>,
    pub redirect_url: Option<&'a str>,
}

const ACTIONS: &str = "\"block\", \"challenge\", \"allow\", \"skip\", \"log\" or \"redirect\"";

/// Collects the problems of one rule's action keys.
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, key: RuleKey, index: Option<usize>, code: &'static str, message: String) {
        self.0.push(Problem {
            key,
            index,
            code,
            message,
        });
    }
}

/// The action the keys add up to, or every problem with them. `prefix` is
/// the rule's key path ("site.rules[0]"). `skip_rules` is only checked for
/// spelling and repeats here: whether it names later rules needs the list.
pub(crate) fn rule_action(
    input: &ActionInput<'_>,
    prefix: &str,
) -> Result<RuleAction, Vec<Problem>> {
    let mut p = Problems(Vec::new());
    let Some(action) = input.action else {
        let message = format!("`{prefix}` needs an `action`: {ACTIONS}");
        p.add(RuleKey::Action, None, "required", message);
        return Err(p.0);
    };
    let known = ["block", "challenge", "allow", "skip", "log", "redirect"];
    if !known.contains(&action) {
        let message = format!("unknown action {action:?} in `{prefix}.action`; expected {ACTIONS}");
        p.add(RuleKey::Action, None, "invalid", message);
        return Err(p.0);
    }
    misplaced_keys(input, action, prefix, &mut p);
    let result = match action {
        "block" => RuleAction::Block {
            status: block_status(input.status, prefix, &mut p),
        },
        "challenge" => {
            let kind = match input.challenge.map(challenge_kind) {
                None => ChallengeKind::default(),
                Some(Ok(kind)) => kind,
                Some(Err(msg)) => {
                    let message = format!("`{prefix}.challenge`: {msg}");
                    p.add(RuleKey::Challenge, None, "invalid", message);
                    ChallengeKind::default()
                }
            };
            RuleAction::Challenge { kind }
        }
        "allow" => RuleAction::Allow,
        "log" => RuleAction::Log,
        "skip" => skip(input, prefix, &mut p),
        // "redirect": the only one left of `known`.
        _ => redirect(input, prefix, &mut p),
    };
    if p.0.is_empty() { Ok(result) } else { Err(p.0) }
}

/// Keys that mean nothing for this action are mistakes, not noise: a
/// `status` on a "log" rule suggests the writer expected it to block.
fn misplaced_keys(input: &ActionInput<'_>, action: &str, prefix: &str, p: &mut Problems) {
    let owners: [(RuleKey, bool, &[&str]); 5] = [
        (
            RuleKey::Status,
            input.status.is_some(),
            &["block", "redirect"],
        ),
        (
            RuleKey::Challenge,
            input.challenge.is_some(),
            &["challenge"],
        ),
        (RuleKey::SkipPhases, input.skip_phases.is_some(), &["skip"]),
        (RuleKey::SkipRules, input.skip_rules.is_some(), &["skip"]),
        (
            RuleKey::RedirectUrl,
            input.redirect_url.is_some(),
            &["redirect"],
        ),
    ];
    for (key, present, owners) in owners {
        if present && !owners.contains(&action) {
            let owners: Vec<String> = owners.iter().map(|o| format!("{o:?}")).collect();
            let message = format!(
                "`{prefix}.{}` only applies to action {}, not {action:?}; remove it",
                key.name(),
                owners.join(" or ")
            );
            p.add(key, None, "invalid", message);
        }
    }
}

fn block_status(status: Option<i64>, prefix: &str, p: &mut Problems) -> u16 {
    let Some(n) = status else {
        return DEFAULT_BLOCK_STATUS;
    };
    match u16::try_from(n).ok().filter(|_| BLOCK_STATUS.contains(&n)) {
        Some(s) => s,
        None => {
            let message = range_message(&format!("{prefix}.status"), &BLOCK_STATUS, n);
            p.add(RuleKey::Status, None, "out_of_range", message);
            DEFAULT_BLOCK_STATUS
        }
    }
}

fn skip(input: &ActionInput<'_>, prefix: &str, p: &mut Problems) -> RuleAction {
    let mut phases: Vec<SecurityPhase> = Vec::new();
    for (i, text) in input.skip_phases.iter().flatten().enumerate() {
        match security_phase(text) {
            Ok(phase) if phases.contains(&phase) => {
                let message = format!("`{prefix}.skip_phases` lists {text:?} twice");
                p.add(RuleKey::SkipPhases, Some(i), "duplicate", message);
            }
            Ok(phase) => phases.push(phase),
            Err(msg) => {
                let message = format!("`{prefix}.skip_phases`: {msg}");
                p.add(RuleKey::SkipPhases, Some(i), "invalid", message);
            }
        }
    }
    let mut rules: Vec<String> = Vec::new();
    for (i, text) in input.skip_rules.iter().flatten().enumerate() {
        if rules.iter().any(|r| r == text) {
            let message = format!("`{prefix}.skip_rules` lists {text:?} twice");
            p.add(RuleKey::SkipRules, Some(i), "duplicate", message);
        } else {
            rules.push((*text).to_owned());
        }
    }
    let none_written = input.skip_phases.as_ref().is_none_or(Vec::is_empty)
        && input.skip_rules.as_ref().is_none_or(Vec::is_empty);
    if none_written {
        let message = format!(
            "action \"skip\" in `{prefix}` needs `skip_phases` (some of \"rules\", \"rate_limits\", \"under_attack\", \"bots\", \"waf\") or `skip_rules` (ids of later rules)"
        );
        p.add(RuleKey::Action, None, "required", message);
    }
    RuleAction::Skip { phases, rules }
}

fn redirect(input: &ActionInput<'_>, prefix: &str, p: &mut Problems) -> RuleAction {
    let url = match input.redirect_url {
        None => {
            let message = format!(
                "action \"redirect\" in `{prefix}` needs a `redirect_url`, e.g. \"https://example.com/\" or \"/maintenance\""
            );
            p.add(RuleKey::Action, None, "required", message);
            String::new()
        }
        Some(url) => match redirect_url(url, &format!("{prefix}.redirect_url")) {
            Ok(()) => url.to_owned(),
            Err(msg) => {
                p.add(RuleKey::RedirectUrl, None, "invalid", msg);
                String::new()
            }
        },
    };
    let status = match input.status {
        None => DEFAULT_REDIRECT_STATUS,
        Some(n) => match u16::try_from(n)
            .ok()
            .filter(|s| REDIRECT_STATUSES.contains(s))
        {
            Some(s) => s,
            None => {
                let message = format!(
                    "`{prefix}.status` of a redirect must be 301, 302, 303, 307 or 308, found {n}"
                );
                p.add(RuleKey::Status, None, "invalid", message);
                DEFAULT_REDIRECT_STATUS
            }
        },
    };
    RuleAction::Redirect { url, status }
}

pub(crate) fn challenge_kind(s: &str) -> Result<ChallengeKind, String> {
    match s {
        "managed" => Ok(ChallengeKind::Managed),
        "js" => Ok(ChallengeKind::Js),
        "interactive" => Ok(ChallengeKind::Interactive),
        other => Err(format!(
            "unknown challenge {other:?}; expected \"managed\", \"js\" or \"interactive\""
        )),
    }
}

pub(crate) fn challenge_str(kind: ChallengeKind) -> &'static str {
    match kind {
        ChallengeKind::Managed => "managed",
        ChallengeKind::Js => "js",
        ChallengeKind::Interactive => "interactive",
    }
}

pub(crate) fn security_phase(s: &str) -> Result<SecurityPhase, String> {
    SecurityPhase::ALL
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| {
            format!(
                "unknown phase {s:?}; expected \"rules\", \"rate_limits\", \"under_attack\", \"bots\" or \"waf\""
            )
        })
}

/// An absolute http(s) URL, or a path on the same host.
fn redirect_url(url: &str, key: &str) -> Result<(), String> {
    let fail = || {
        format!(
            "`{key}` must be an absolute http:// or https:// URL or a path starting with '/', found {url:?}"
        )
    };
    if url.starts_with("//") {
        // Browsers read "//host/x" as another host: say so rather than
        // silently redirecting off-site.
        return Err(format!(
            "`{key}` {url:?} starts with \"//\", which browsers read as another host; write the full URL with its scheme"
        ));
    }
    if url.starts_with('/') {
        return url
            .parse::<http::uri::PathAndQuery>()
            .map(|_| ())
            .map_err(|_| fail());
    }
    let uri: http::Uri = url.parse().map_err(|_| fail())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.authority().is_some_and(|a| !a.host().is_empty());
    if scheme_ok && host_ok {
        Ok(())
    } else {
        Err(fail())
    }
}

/// Whether a `skip_rules` entry names a rule after `own` in `ids` (the ids
/// of the list in order). The message says which way it is wrong.
pub(crate) fn skip_target(target: &str, own: usize, ids: &[&str], key: &str) -> Result<(), String> {
    match ids.iter().position(|id| *id == target) {
        Some(i) if i > own => Ok(()),
        Some(i) if i == own => Err(format!("`{key}`: a rule cannot skip itself ({target:?})")),
        Some(_) => Err(format!(
            "`{key}`: rule {target:?} comes before this one, and rules run in order; skip only names later rules (move this rule up, or the other one down)"
        )),
        None => Err(format!(
            "`{key}`: no rule with id {target:?} in this list; skip only names later rules of the same list"
        )),
    }
}
