//! The control-plane store: accounts, users, API tokens, sites, IP lists,
//! operator rules, challenge signing keys and the audit log, in an embedded SQLite file (the default) or PostgreSQL.
//!
//! Both backends run the same code: sqlx's `Any` driver, one SQL text per
//! query with `$N` placeholders, portable column types only. Every write is
//! one transaction that makes the change, appends an audit row (before and
//! after, never secrets) and bumps a revision counter the edge polls to know
//! when to rebuild its snapshot.
#![forbid(unsafe_code)]

mod accounts;
mod analytics;
mod appeals;
mod audit;
mod audit_chain;
mod challenge_keys;
mod error;
mod ids;
mod lists;
mod migrate;
mod model;
mod nodes;
mod notifications;
mod open;
mod rows;
mod safety;
mod security_events;
mod sessions;
mod sites;
mod tokens;
mod transparency;
mod users;

pub use analytics::{TrafficMinute, TrafficTop};
pub use appeals::Appeal;
pub use audit_chain::{BrokenLink, ChainReport};
pub use challenge_keys::ChallengeKeyRecord;
pub use error::StoreError;
pub use lists::{IpListRecord, IpListWrite, ListUsers, ListsOf, OperatorRules};
pub use model::{
    Account, Actor, ApiToken, AuditEntry, AuditFilter, NewToken, NewUser, Role, SiteRecord,
    SiteWrite, SyncReport, User,
};
pub use nodes::{NodeHeartbeat, NodeRequests};
pub use notifications::{
    NewNotification, Notification, NotificationFilter, NotificationKind, NotificationStatus,
};
pub use open::{Backend, Store};
pub use safety::{
    AbuseReport, CATEGORIES, Case, CaseNote, CaseQueue, Decision, ENFORCED_OUTCOMES,
    MAX_NOTE_CHARS, NewAbuseReport, NewDecision, OUTCOMES, ReportIdentity, ReportStatus,
    priority_of,
};
pub use security_events::{
    DEFAULT_RETENTION_MS as SECURITY_EVENTS_RETENTION_MS, MAX_EVENTS_PER_SITE, SecurityEventRecord,
    SecurityEventWrite, SecurityRuleHit,
};
pub use sessions::{SESSION_IDLE_MS, SESSION_MAX_MS, Session};
pub use transparency::TransparencyReport;

/// The newest schema version this build knows how to read and write.
pub const SCHEMA_VERSION: i64 = migrate::SCHEMA_VERSION;
