//! `rampart bots import-anubis`: translates an Anubis bot policy
//! (`botPolicies.yaml` or `.json`) into a `[site.bots]` TOML fragment.
//!
//! Anubis stops at the first ALLOW, DENY or CHALLENGE rule that matches and
//! consults its weight thresholds only when no such rule did; Rampart adds
//! up the weights of every matching rule and lets the thresholds decide.
//! So each of Anubis's final actions becomes a band of weights of its own
//! ([`layout`]), far from the small totals WEIGH rules add up to, and the
//! file's thresholds are laid out below the bands. docs/bots.md explains
//! the differences that remain.
//!
//! Everything emitted has been accepted by `rampart-config` (each rule on
//! its own, so a rejected one is skipped with the reason, and the whole
//! fragment at the end), so the output is known to load.

mod emit;
mod policy;
mod rules;
#[cfg(test)]
mod tests;
mod thresholds;

use std::path::Path;

use rampart_config::{BotAction, ThreatLevel};

pub(crate) use policy::ParseError;
use policy::{Document, Format};

/// The weights the import gives Anubis's final actions and where the
/// thresholds for them sit. A threshold starts [`layout::TOLERANCE`] below
/// its band's weight, and the next band starts well above it, so WEIGH
/// rules adding up to ±50 on the same request keep it in its band; two
/// CHALLENGE rules on one request stay below the block threshold.
pub(crate) mod layout {
    use rampart_config::ThreatLevel;

    pub const ALLOW_WEIGHT: i32 = -1000;
    pub const DENY_WEIGHT: i32 = 1000;
    /// DENY's threshold is below 1000 (the largest weight) so that negative
    /// WEIGH rules on the same request do not let it through.
    pub const BLOCK_AT: i32 = 900;
    pub const TOLERANCE: i32 = 50;
    /// The file's own thresholds are laid out over these weights: totals of
    /// WEIGH rules alone fall here. Below: ALLOW rules (allowed, below every
    /// threshold); above: the CHALLENGE and DENY bands.
    pub const POLICY_MIN: i32 = -900;
    pub const POLICY_MAX: i32 = 99;

    pub fn challenge_weight(level: ThreatLevel) -> i32 {
        match level {
            ThreatLevel::Low => 150,
            ThreatLevel::Medium => 250,
            ThreatLevel::High => 350,
        }
    }

    pub fn challenge_at(level: ThreatLevel) -> i32 {
        challenge_weight(level) - TOLERANCE
    }
}

/// Anubis's challenge difficulty (leading zeros of its proof of work) to
/// Rampart's threat level: 1–2 low, 3–4 medium, 5 and up high. Without a
/// `challenge`, Anubis uses difficulty 4.
pub(crate) fn level_of(difficulty: Option<i64>) -> ThreatLevel {
    match difficulty.unwrap_or(4) {
        ..=2 => ThreatLevel::Low,
        3 | 4 => ThreatLevel::Medium,
        _ => ThreatLevel::High,
    }
}

/// One `[[site.bots.rules]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub id: String,
    pub expression: String,
    pub weight: i32,
    /// Where it came from, for a comment above it.
    pub origin: String,
}

/// One `[[site.bots.thresholds]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Threshold {
    pub min_weight: i32,
    pub action: BotAction,
    pub origin: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Imported,
    Skipped,
    /// Imported, or information about the whole file, with a caveat.
    Note,
}

/// A line of the summary on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub status: Status,
    /// `bots[3] "name"`, `thresholds[1] "name"` or the file.
    pub what: String,
    pub detail: String,
}

/// What an Anubis policy becomes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Import {
    pub rules: Vec<Rule>,
    pub thresholds: Vec<Threshold>,
    pub report: Vec<Item>,
}

impl Import {
    fn push(&mut self, status: Status, what: impl Into<String>, detail: impl Into<String>) {
        self.report.push(Item {
            status,
            what: what.into(),
            detail: detail.into(),
        });
    }

    pub(crate) fn skipped(&self) -> impl Iterator<Item = &Item> {
        self.report.iter().filter(|i| i.status == Status::Skipped)
    }
}

/// Why nothing could be printed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The file could not be read.
    Read(String),
    /// Not an Anubis policy.
    Parse(ParseError),
    /// `--site` is not a valid site name.
    Site(String),
    /// A policy in which no bot rule could be translated.
    Nothing(Import),
}

/// The finished fragment and its summary.
#[derive(Debug)]
pub(crate) struct Output {
    pub toml: String,
    pub import: Import,
}

/// Reads, translates and checks `path`; `site` names the site the fragment
/// is meant for.
pub(crate) fn import_file(path: &Path, site: Option<&str>) -> Result<Output, Failure> {
    let text = read(path).map_err(Failure::Read)?;
    import_text(
        &text,
        Format::of_path(path),
        &path.display().to_string(),
        site,
    )
}

fn read(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut bytes = Vec::new();
    // One byte more than allowed tells "too large" from "exactly the limit".
    file.take(policy::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > policy::MAX_FILE_BYTES {
        return Err(format!(
            "it is larger than {} MiB, which no Anubis policy is",
            policy::MAX_FILE_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "it is not UTF-8 text (bad byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

pub(crate) fn import_text(
    text: &str,
    format: Format,
    source: &str,
    site: Option<&str>,
) -> Result<Output, Failure> {
    if let Some(name) = site {
        emit::check_site(name).map_err(Failure::Site)?;
    }
    let doc = policy::parse(text, format).map_err(Failure::Parse)?;
    let import = translate(&doc);
    if import.rules.is_empty() {
        return Err(Failure::Nothing(import));
    }
    let toml = emit::fragment(&import, source, site);
    // Each rule was checked alone; this checks the whole, thresholds and
    // all. A failure here is a bug in the importer, not in the file.
    emit::check(&toml, site).map_err(|why| {
        let mut import = import.clone();
        import.push(
            Status::Skipped,
            "the whole policy",
            format!("the translated policy was refused by Rampart (a bug in the importer, please report it): {why}"),
        );
        Failure::Nothing(import)
    })?;
    Ok(Output { toml, import })
}

fn translate(doc: &Document) -> Import {
    let mut import = Import::default();
    let totals = rules::translate(&doc.bots, &mut import);
    thresholds::translate(doc.thresholds.as_deref(), &totals, &mut import);
    for key in &doc.ignored {
        import.push(
            Status::Note,
            format!("`{key}`"),
            "ignored: it configures Anubis itself, not the bot policy",
        );
    }
    import
}
