//! The trust & safety desk: abuse reports, the cases they group into, and
//! the decisions taken on them.
//!
//! A report always belongs to one case (one site, one category); a case
//! carries the priority and SLA deadline its category sets. Decisions are
//! rows of their own so a lift or a later decision never rewrites the
//! history the owner may appeal against.
//!
//! Filing a report and assigning a case change nothing the edge reads, so
//! they run in a locked transaction without a revision bump (like
//! sessions): a flood of reports must not rebuild every node's snapshot.
//! Decisions and lifts bump the revision, which is what makes every node
//! swap the enforcement in within one poll.
//!
//! `site_id` carries no foreign key: deleting a site must not erase the
//! record of what was reported and decided about it.

mod decisions;
mod reports;
mod triage;

pub(crate) use decisions::actor_ref;
pub use decisions::{Decision, NewDecision};
pub use reports::{AbuseReport, Case, CaseQueue, NewAbuseReport, ReportIdentity, ReportStatus};
pub(crate) use triage::SCHEMA as TRIAGE_SCHEMA;
pub use triage::{CaseNote, MAX_NOTE_CHARS};

pub(crate) const SCHEMA: &str = r"
CREATE TABLE safety_cases (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    site_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    category TEXT NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('urgent', 'normal', 'low')),
    sla_due_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('received', 'under_review', 'decided')),
    assignee_user_id TEXT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX safety_cases_site ON safety_cases (site_id, category, created_at);
CREATE INDEX safety_cases_account ON safety_cases (account_id);

CREATE TABLE abuse_reports (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL REFERENCES safety_cases(id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    urls TEXT NOT NULL,
    explanation TEXT NOT NULL,
    reporter_name TEXT NULL,
    reporter_email TEXT NULL,
    good_faith BIGINT NOT NULL CHECK (good_faith IN (0, 1)),
    share_with_owner TEXT NOT NULL CHECK (share_with_owner IN ('named', 'anonymous', 'none')),
    share_with_host TEXT NOT NULL CHECK (share_with_host IN ('named', 'anonymous')),
    client_ip_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX abuse_reports_case ON abuse_reports (case_id);
CREATE INDEX abuse_reports_ip ON abuse_reports (client_ip_hash, created_at);
CREATE INDEX abuse_reports_email ON abuse_reports (reporter_email, created_at);

CREATE TABLE safety_decisions (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES safety_cases(id) ON DELETE CASCADE,
    site_id TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('no_action', 'forward', 'warn', 'interstitial',
        'restrict', 'suspend', 'legal_block')),
    reasons TEXT NOT NULL,
    patterns TEXT NULL,
    blocked_by TEXT NULL,
    decided_by TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    effective_at BIGINT NOT NULL,
    expires_at BIGINT NULL,
    lifted_at BIGINT NULL,
    lifted_by TEXT NULL
);
CREATE INDEX safety_decisions_case ON safety_decisions (case_id);
CREATE INDEX safety_decisions_site ON safety_decisions (site_id)
";

/// Report categories (API codes).
pub const CATEGORIES: [&str; 10] = [
    "phishing",
    "malware",
    "violent_threats",
    "harassment",
    "csam",
    "ncii",
    "copyright",
    "trademark",
    "spam",
    "other",
];

/// Decision outcomes (API codes).
pub const OUTCOMES: [&str; 7] = [
    "no_action",
    "forward",
    "warn",
    "interstitial",
    "restrict",
    "suspend",
    "legal_block",
];

/// Outcomes the edge enforces; the others act through people (mail,
/// forwarding), not through the snapshot.
pub const ENFORCED_OUTCOMES: [&str; 4] = ["interstitial", "restrict", "suspend", "legal_block"];

const HOUR_MS: i64 = 3_600_000;

/// A category's priority and how long the desk has to act on it: threats
/// to life and child abuse cannot wait a day.
pub fn priority_of(category: &str) -> (&'static str, i64) {
    match category {
        "violent_threats" | "csam" => ("urgent", HOUR_MS),
        "phishing" | "malware" => ("normal", 24 * HOUR_MS),
        _ => ("low", 72 * HOUR_MS),
    }
}
