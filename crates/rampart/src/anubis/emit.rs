//! The `[site.bots]` TOML text, and the checks that it loads: everything
//! printed goes through `rampart_config::parse_str` inside a minimal site,
//! the same code `rampart check-config` and `rampart serve` run.

use std::fmt::Write as _;
use std::path::Path;

use rampart_config::{BotAction, BotPolicy};

use super::Import;
use super::layout::{ALLOW_WEIGHT, DENY_WEIGHT, challenge_weight};

/// The site the fragment is checked in when `--site` names none.
const CHECK_SITE: &str = "imported";

pub(super) fn fragment(import: &Import, source: &str, site: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Bot policy imported from the Anubis policy {} by `rampart bots import-anubis`.",
        comment(source)
    );
    match site {
        Some(name) => {
            let _ = writeln!(
                out,
                "# Paste it into the [[site]] named {} in rampart.toml, after the site's own keys.",
                comment(&format!("{name:?}"))
            );
        }
        None => {
            let _ = writeln!(
                out,
                "# Paste it into a [[site]] in rampart.toml, after the site's own keys."
            );
        }
    }
    let _ = writeln!(
        out,
        "#\n# Anubis stops at the first ALLOW, DENY or CHALLENGE rule that matches; Rampart adds up\n\
         # the weights of every matching rule. So ALLOW rules weigh {ALLOW_WEIGHT}, CHALLENGE rules {} (low),\n\
         # {} (medium) or {} (high) and DENY rules {DENY_WEIGHT}, each with a threshold of its own\n\
         # above the weights WEIGH rules add up to. See \"Importing an Anubis policy\" in docs/bots.md.",
        challenge_weight(rampart_config::ThreatLevel::Low),
        challenge_weight(rampart_config::ThreatLevel::Medium),
        challenge_weight(rampart_config::ThreatLevel::High),
    );
    out.push_str("[site.bots]\nenabled = true\n");
    for rule in &import.rules {
        let _ = write!(
            out,
            "\n# {}\n[[site.bots.rules]]\nid = {}\nexpression = {}\nweight = {}\n",
            comment(&rule.origin),
            toml_string(&rule.id),
            toml_string(&rule.expression),
            rule.weight
        );
    }
    for t in &import.thresholds {
        let _ = write!(
            out,
            "\n# {}\n[[site.bots.thresholds]]\nmin_weight = {}\n",
            comment(&t.origin),
            t.min_weight
        );
        match t.action {
            BotAction::Allow => out.push_str("action = \"allow\"\n"),
            BotAction::Block => out.push_str("action = \"block\"\n"),
            BotAction::Challenge(level) => {
                let _ = writeln!(
                    out,
                    "action = \"challenge\"\nlevel = \"{}\"",
                    level.as_str()
                );
            }
        }
    }
    out
}

/// A TOML string: a literal `'…'` when the text has `"` or `\` (as
/// expressions do) and the literal can hold it, so they stay readable; else
/// a basic string with escapes.
fn toml_string(s: &str) -> String {
    let literal_ok = !s.contains('\'') && !s.chars().any(|c| c.is_control() && c != '\t');
    if literal_ok && s.contains(['"', '\\']) {
        return format!("'{s}'");
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for a `#` comment: one line, no control characters.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A minimal site holding `body`, as rampart.toml text.
fn wrap(site: &str, body: &str) -> String {
    format!(
        "[[site]]\nname = {}\nhosts = [\"import.test\"]\norigins = [\"http://127.0.0.1:9\"]\n\n{body}",
        toml_string(site)
    )
}

fn load(text: &str) -> Result<BotPolicy, String> {
    match rampart_config::parse_str(text, Path::new("rampart.toml")) {
        Ok(mut config) => match config.sites.pop() {
            Some(site) => Ok(site.security.bots),
            None => Err("no site came out".to_owned()),
        },
        Err(errors) => Err(errors
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// `--site NAME` is a site name Rampart takes.
pub(super) fn check_site(name: &str) -> Result<(), String> {
    load(&wrap(name, "")).map(drop)
}

/// One rule on its own, so that a rule Rampart refuses is skipped with
/// Rampart's own reason (a regex over the size limit, too many patterns
/// in one expression, an expression over 16 KiB, …).
pub(super) fn check_rule(id: &str, expression: &str, weight: i32) -> Result<(), String> {
    let body = format!(
        "[site.bots]\n[[site.bots.rules]]\nid = {}\nexpression = {}\nweight = {weight}\n",
        toml_string(id),
        toml_string(expression)
    );
    load(&wrap(CHECK_SITE, &body))
        .map(drop)
        .map_err(|why| format!("Rampart refuses the translated rule: {why}"))
}

/// The whole fragment inside a site named `site`: it must load, with the
/// policy on. Returns the policy Rampart made of it.
pub(super) fn check(fragment: &str, site: Option<&str>) -> Result<BotPolicy, String> {
    let policy = load(&wrap(site.unwrap_or(CHECK_SITE), fragment))?;
    if !policy.enabled {
        return Err("the policy is not enabled".to_owned());
    }
    Ok(policy)
}
