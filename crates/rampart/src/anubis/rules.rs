//! Anubis's `bots` entries to `[[site.bots.rules]]`: the entry's matchers
//! ANDed into one expression, its action into a weight.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use rampart_config::ThreatLevel;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{ALLOW_WEIGHT, DENY_WEIGHT, challenge_weight};
use super::{Import, Rule, Status, emit, level_of};

/// Rampart's limit on bot rules per site.
const MAX_RULES: usize = 200;
/// Rampart's bound on one rule's weight.
const MAX_WEIGHT: i64 = 1000;
/// Anubis's weight for a WEIGH rule without `weight`.
const DEFAULT_ADJUST: i64 = 5;
/// Longest regex or expression quoted back in a message.
const QUOTE: usize = 80;

/// One `bots` entry, as Anubis documents it. Unknown keys are refused: a
/// matcher the importer does not know, silently dropped, would make the
/// rule match more than it should.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BotEntry {
    name: Option<String>,
    action: Option<String>,
    user_agent_regex: Option<String>,
    path_regex: Option<String>,
    headers_regex: Option<BTreeMap<String, String>>,
    remote_addresses: Option<Vec<String>>,
    expression: Option<Value>,
    challenge: Option<Challenge>,
    weight: Option<Weight>,
    geoip: Option<GeoIp>,
    asns: Option<Asns>,
    /// DENY_AND_REROUTE's target; Rampart blocks instead.
    reroute_to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Challenge {
    pub algorithm: Option<String>,
    pub difficulty: Option<i64>,
    /// The difficulty Anubis shows instead of the real one; nothing to
    /// translate, but a documented key.
    #[serde(rename = "report_as")]
    pub _report_as: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Weight {
    adjust: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GeoIp {
    #[serde(default)]
    countries: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Asns {
    #[serde(default)]
    r#match: Vec<u32>,
}

/// What the thresholds need to know about the imported rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Totals {
    /// Sum of the positive and of the negative WEIGH adjustments: the
    /// range a request's total can move by WEIGH rules alone.
    pub weigh_up: i64,
    pub weigh_down: i64,
    /// Weights of the CHALLENGE rules.
    pub challenges: Vec<i32>,
    pub levels: Vec<ThreatLevel>,
    pub allow: bool,
    pub deny: bool,
    pub geoip: bool,
}

enum Action {
    Allow,
    Deny,
    Challenge(ThreatLevel),
    Weigh(i32),
}

pub(super) fn translate(bots: &[Value], import: &mut Import) -> Totals {
    let mut totals = Totals::default();
    let mut ids = HashSet::new();
    for (index, entry) in bots.iter().enumerate() {
        let what = entry_label(index, entry);
        if import.rules.len() >= MAX_RULES {
            import.push(
                Status::Skipped,
                what,
                format!("Rampart takes at most {MAX_RULES} bot rules per site"),
            );
            continue;
        }
        match rule(entry, index, &mut ids) {
            Ok(Translated {
                rule,
                action,
                notes,
                geoip,
            }) => {
                totals.geoip |= geoip;
                match action {
                    Action::Allow => totals.allow = true,
                    Action::Deny => totals.deny = true,
                    Action::Challenge(level) => {
                        totals.challenges.push(rule.weight);
                        if !totals.levels.contains(&level) {
                            totals.levels.push(level);
                        }
                    }
                    Action::Weigh(w) if w > 0 => totals.weigh_up += i64::from(w),
                    Action::Weigh(w) => totals.weigh_down += -i64::from(w),
                }
                let detail = format!("rule {:?}, weight {}", rule.id, rule.weight);
                import.push(Status::Imported, what.clone(), detail);
                for note in notes {
                    import.push(Status::Note, what.clone(), note);
                }
                import.rules.push(rule);
            }
            Err(why) => import.push(Status::Skipped, what, why),
        }
    }
    totals
}

/// `bots[3] "name"`, or `bots[3]` when it has none.
fn entry_label(index: usize, entry: &Value) -> String {
    match entry.get("name").and_then(Value::as_str) {
        Some(name) => format!("bots[{index}] {:?}", clip(name)),
        None => format!("bots[{index}]"),
    }
}

/// One entry, translated.
struct Translated {
    rule: Rule,
    action: Action,
    notes: Vec<String>,
    /// It reads `ip.src.country` or `ip.src.asnum`.
    geoip: bool,
}

fn rule(entry: &Value, index: usize, ids: &mut HashSet<String>) -> Result<Translated, String> {
    if let Some(path) = entry.get("import") {
        return Err(import_reason(path));
    }
    let mut entry = BotEntry::deserialize(entry)
        .map_err(|e| format!("not an Anubis bot rule as documented: {e}"))?;
    let name = entry
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .ok_or("it has no `name`, which Anubis requires")?;
    let mut notes = Vec::new();
    let action_name = entry
        .action
        .as_deref()
        .ok_or("it has no `action` (ALLOW, DENY, CHALLENGE or WEIGH)")?;
    let action = match action_name {
        "ALLOW" => Action::Allow,
        "DENY" => Action::Deny,
        "DENY_AND_REROUTE" => {
            notes.push(format!(
                "DENY_AND_REROUTE becomes a block: Rampart does not reroute{}",
                entry
                    .reroute_to
                    .as_deref()
                    .map(|t| format!(" (to {:?})", clip(t)))
                    .unwrap_or_default()
            ));
            Action::Deny
        }
        "CHALLENGE" => {
            let challenge = entry.challenge.take().unwrap_or_default();
            let level = level_of(challenge.difficulty);
            notes.push(challenge_note(&challenge, level));
            Action::Challenge(level)
        }
        "WEIGH" => {
            let adjust = entry.weight.as_ref().map_or(DEFAULT_ADJUST, |w| w.adjust);
            if !(-MAX_WEIGHT..=MAX_WEIGHT).contains(&adjust) {
                return Err(format!(
                    "weight.adjust {adjust} is outside the -{MAX_WEIGHT}..{MAX_WEIGHT} a Rampart rule may add"
                ));
            }
            Action::Weigh(i32::try_from(adjust).map_err(|e| e.to_string())?)
        }
        "DEBUG_BENCHMARK" => {
            return Err(
                "DEBUG_BENCHMARK shows Anubis's benchmark page, which Rampart does not have"
                    .to_owned(),
            );
        }
        other => {
            let upper = other.to_ascii_uppercase();
            let hint = if matches!(upper.as_str(), "ALLOW" | "DENY" | "CHALLENGE" | "WEIGH") {
                format!(" (Anubis's actions are upper-case: {upper})")
            } else {
                String::new()
            };
            return Err(format!(
                "unknown action {:?}{hint}; expected ALLOW, DENY, CHALLENGE or WEIGH",
                clip(other)
            ));
        }
    };
    if let Some(expr) = &entry.expression {
        return Err(format!(
            "its CEL `expression` ({}) has no automatic translation to Rampart's rules language; \
             write this rule by hand (docs/rules.md), e.g. `http.user_agent eq \"\"` for `userAgent == \"\"`",
            clip(&cel_text(expr))
        ));
    }
    let atoms = matchers(&entry)?;
    let geoip = entry
        .geoip
        .as_ref()
        .is_some_and(|g| !g.countries.is_empty())
        || entry.asns.as_ref().is_some_and(|a| !a.r#match.is_empty());
    if atoms.is_empty() {
        return Err(
            "it has no matcher (user_agent_regex, path_regex, headers_regex, remote_addresses, geoip or asns)"
                .to_owned(),
        );
    }
    let weight = match action {
        Action::Allow => ALLOW_WEIGHT,
        Action::Deny => DENY_WEIGHT,
        Action::Challenge(level) => challenge_weight(level),
        Action::Weigh(w) => w,
    };
    let id = rule_id(name, index, ids);
    let expression = atoms.join(" and ");
    emit::check_rule(&id, &expression, weight)?;
    ids.insert(id.clone());
    let origin = format!("bots[{index}] {:?}: {action_name}", clip(name));
    Ok(Translated {
        rule: Rule {
            id,
            expression,
            weight,
            origin,
        },
        action,
        notes,
        geoip,
    })
}

fn import_reason(path: &Value) -> String {
    let path = path.as_str().unwrap_or("");
    if path.starts_with("(data)/") {
        format!(
            "`import: {}` names a file built into Anubis, which cannot be read here; \
             extract them with `anubis --extract-resources DIR`, copy the rules you want into this file and run the import again",
            clip(path)
        )
    } else {
        format!(
            "`import: {}` is not followed: copy that file's rules into this one and run the import again",
            clip(path)
        )
    }
}

fn challenge_note(challenge: &Challenge, level: ThreatLevel) -> String {
    let difficulty = challenge
        .difficulty
        .map_or("no difficulty (Anubis's default is 4)".to_owned(), |d| {
            format!("difficulty {d}")
        });
    let algorithm = challenge
        .algorithm
        .as_deref()
        .map(|a| {
            format!(
                "; algorithm {:?} is not per rule in Rampart ([site.challenge] algorithm)",
                clip(a)
            )
        })
        .unwrap_or_default();
    format!(
        "CHALLENGE with {difficulty}: a {} challenge{algorithm}",
        level.as_str()
    )
}

/// The rule's matchers as Rampart comparisons, in Anubis's order.
fn matchers(entry: &BotEntry) -> Result<Vec<String>, String> {
    let mut atoms = Vec::new();
    if let Some(re) = &entry.user_agent_regex {
        check_regex("user_agent_regex", re)?;
        atoms.push(format!("http.user_agent matches {}", rules_string(re)));
    }
    if let Some(re) = &entry.path_regex {
        check_regex("path_regex", re)?;
        atoms.push(format!(
            "http.request.uri.path matches {}",
            rules_string(re)
        ));
    }
    for (name, re) in entry.headers_regex.iter().flatten() {
        // Anubis skips an empty header name too.
        if name.is_empty() {
            continue;
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(format!(
                "headers_regex: {:?} is not a valid header name",
                clip(name)
            ));
        }
        check_regex(&format!("headers_regex {name:?}"), re)?;
        // Anubis reads the header's first value and an absent header as
        // "": here any value may match and an absent header matches
        // nothing, which is the same for `.*` ("the header is present").
        atoms.push(format!(
            "any(http.request.headers[{}][*] matches {})",
            rules_string(&name.to_ascii_lowercase()),
            rules_string(re)
        ));
    }
    if let Some(cidrs) = entry.remote_addresses.as_ref().filter(|c| !c.is_empty()) {
        let mut set = String::new();
        for cidr in cidrs {
            let cidr = cidr.trim();
            if !is_cidr(cidr) {
                return Err(format!(
                    "remote_addresses: {:?} is not an IP address or CIDR such as 192.0.2.0/24",
                    clip(cidr)
                ));
            }
            if !set.is_empty() {
                set.push(' ');
            }
            set.push_str(cidr);
        }
        atoms.push(format!("ip.src in {{{set}}}"));
    }
    if let Some(geoip) = entry.geoip.as_ref().filter(|g| !g.countries.is_empty()) {
        let mut set = String::new();
        for c in &geoip.countries {
            let c = c.trim();
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!(
                    "geoip.countries: {:?} is not a two-letter country code",
                    clip(c)
                ));
            }
            if !set.is_empty() {
                set.push(' ');
            }
            set.push_str(&rules_string(&c.to_ascii_uppercase()));
        }
        atoms.push(format!("ip.src.country in {{{set}}}"));
    }
    if let Some(asns) = entry.asns.as_ref().filter(|a| !a.r#match.is_empty()) {
        let mut set = String::new();
        for n in &asns.r#match {
            if !set.is_empty() {
                set.push(' ');
            }
            let _ = write!(set, "{n}");
        }
        atoms.push(format!("ip.src.asnum in {{{set}}}"));
    }
    Ok(atoms)
}

/// Rampart runs `matches` with Rust's regex crate: linear time, so no
/// look-around or backreferences, which Go's RE2 (Anubis) lacks too; the
/// two still differ in details such as `\Q…\E`.
fn check_regex(key: &str, re: &str) -> Result<(), String> {
    if re.ends_with('\n') {
        return Err(format!(
            "{key} {:?} ends with a newline, which Anubis refuses too (write `>-` instead of `>` in YAML)",
            clip(re)
        ));
    }
    regex::Regex::new(re).map(drop).map_err(|e| {
        let why = match &e {
            regex::Error::Syntax(msg) => msg
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(msg)
                .to_owned(),
            other => other.to_string(),
        };
        format!(
            "{key} {:?} is not a regular expression Rampart can run: {why} \
             (Rampart's regexes run in linear time: no look-around or backreferences)",
            clip(re)
        )
    })
}

fn is_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| {
        p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u8>().is_ok_and(|n| n <= max)
    })
}

/// A string literal of Rampart's rules language: `"…"` with `\"`, `\\`,
/// `\n`, `\r`, `\t` and `\xHH` for other control characters, so the
/// literal never holds a raw control character (nor does the TOML around
/// it need to).
pub(super) fn rules_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Rampart rule id from an Anubis name: lowercase letters, digits, `_`
/// and `-`, starting with a letter or digit, at most 63 bytes, unique.
fn rule_id(name: &str, index: usize, taken: &HashSet<String>) -> String {
    let mut id = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || (c == '_' && !id.is_empty()) {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    // Room for a "-NNN" suffix within 63 bytes; the id is ASCII.
    id.truncate(56);
    while id.ends_with(['-', '_']) {
        id.pop();
    }
    if id.is_empty() {
        id = format!("anubis-{index}");
    }
    if !taken.contains(&id) {
        return id;
    }
    (2..)
        .map(|n| format!("{id}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(id)
}

/// A CEL `expression` (a string or `{all: […]}` / `{any: […]}`) as text.
fn cel_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// At most [`QUOTE`] characters of user text, for messages.
pub(super) fn clip(s: &str) -> String {
    if s.chars().count() <= QUOTE {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(QUOTE).collect();
    out.push('…');
    out
}
