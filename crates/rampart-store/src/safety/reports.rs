//! Filing abuse reports into cases, and reading cases back for the desk.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _, Transaction};

use super::decisions::{self, Decision};
use super::priority_of;
use crate::audit::{self, Change};
use crate::ids::{new_id, now_ms, random_hex};
use crate::{Actor, Store, StoreError};

/// A report as the intake hands it over, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAbuseReport {
    pub site_id: String,
    pub account_id: String,
    pub category: String,
    pub urls: Vec<String>,
    pub explanation: String,
    pub reporter_name: Option<String>,
    pub reporter_email: Option<String>,
    pub good_faith: bool,
    /// `named`, `anonymous` or `none`.
    pub share_with_owner: String,
    /// `named` or `anonymous`.
    pub share_with_host: String,
    /// A keyed hash of the client address, for rate limits only.
    pub client_ip_hash: String,
}

/// A stored report. Carries the reporter's identity: callers decide who
/// may see it (`share_with_owner`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbuseReport {
    pub id: String,
    pub reference: String,
    pub case_id: String,
    pub category: String,
    pub urls: Vec<String>,
    pub explanation: String,
    pub reporter_name: Option<String>,
    pub reporter_email: Option<String>,
    pub good_faith: bool,
    pub share_with_owner: String,
    pub share_with_host: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub reference: String,
    pub site_id: String,
    pub account_id: String,
    pub category: String,
    /// `urgent`, `normal` or `low`.
    pub priority: String,
    /// When the SLA runs out (unix ms).
    pub sla_due_at: i64,
    /// `received`, `under_review`, `decided`, or `merged` (its reports
    /// moved to `merged_into`).
    pub status: String,
    pub assignee_user_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The case this one was merged into.
    pub merged_into: Option<String>,
}

/// Which cases to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseQueue<'a> {
    All,
    /// Undecided urgent cases.
    Urgent,
    /// Undecided cases past their SLA.
    Overdue,
    /// Undecided cases nobody holds.
    Unassigned,
    /// Undecided cases this user holds.
    Mine(&'a str),
    /// Every case about this account's sites.
    Account(&'a str),
}

/// What the public status link shows: the report's case and its decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportStatus {
    pub report: AbuseReport,
    pub case: Case,
    pub decisions: Vec<Decision>,
}

/// Key of the PostgreSQL advisory lock that serializes report filing
/// ("rampabus" in ASCII); only has to differ from the other keys in use.
const PG_INTAKE_LOCK: i64 = 0x7261_6d70_6162_7573;

pub(crate) const CASE_COLUMNS: &str = "id, reference, site_id, account_id, category, priority,
    sla_due_at, status, assignee_user_id, created_at, updated_at, merged_into";
/// Cases still waiting for a decision (not decided, not merged away).
pub(crate) const OPEN_CASE: &str = "status IN ('received', 'under_review')";
const REPORT_COLUMNS: &str = "id, reference, case_id, category, urls, explanation, reporter_name,
    reporter_email, good_faith, share_with_owner, share_with_host, created_at";

pub(crate) fn json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn json_from<T: for<'de> Deserialize<'de>>(
    text: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what} is not JSON: {e}")))
}

pub(crate) fn case_from_row(row: &AnyRow) -> Result<Case, StoreError> {
    let merged_into: Option<String> = row.try_get("merged_into")?;
    // Migration 6's CHECK knows no `merged`, and SQLite cannot change a
    // CHECK in place: a merged case is stored closed (`decided`) with
    // `merged_into` set, and read back as `merged`.
    let status: String = if merged_into.is_some() {
        "merged".to_owned()
    } else {
        row.try_get("status")?
    };
    Ok(Case {
        id: row.try_get("id")?,
        reference: row.try_get("reference")?,
        site_id: row.try_get("site_id")?,
        account_id: row.try_get("account_id")?,
        category: row.try_get("category")?,
        priority: row.try_get("priority")?,
        sla_due_at: row.try_get("sla_due_at")?,
        status,
        assignee_user_id: row.try_get("assignee_user_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        merged_into,
    })
}

pub(crate) fn report_from_row(row: &AnyRow) -> Result<AbuseReport, StoreError> {
    let urls: String = row.try_get("urls")?;
    let good_faith: i64 = row.try_get("good_faith")?;
    Ok(AbuseReport {
        id: row.try_get("id")?,
        reference: row.try_get("reference")?,
        case_id: row.try_get("case_id")?,
        category: row.try_get("category")?,
        urls: json_from(&urls, "report urls")?,
        explanation: row.try_get("explanation")?,
        reporter_name: row.try_get("reporter_name")?,
        reporter_email: row.try_get("reporter_email")?,
        good_faith: good_faith != 0,
        share_with_owner: row.try_get("share_with_owner")?,
        share_with_host: row.try_get("share_with_host")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) async fn fetch_case<'e, E>(db: E, id: &str) -> Result<Case, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {CASE_COLUMNS} FROM safety_cases WHERE id = $1");
    crate::rows::fetch_by_id(db, &sql, "case", id, case_from_row).await
}

/// What the audit log keeps of a report: never who filed it nor what they
/// wrote, which may identify them.
fn report_audit(report: &AbuseReport) -> serde_json::Value {
    serde_json::json!({
        "id": report.id,
        "reference": report.reference,
        "case_id": report.case_id,
        "category": report.category,
        "url_count": report.urls.len(),
    })
}

pub(crate) async fn audit_case(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    action: &str,
    before: Option<&Case>,
    after: &Case,
) -> Result<(), StoreError> {
    let change = Change {
        // Operator-only: an owner's audit view must not reveal that a case
        // exists before the desk chooses to tell them.
        account_id: None,
        action,
        target_kind: "case",
        target_id: &after.id,
        before: before.map(audit::snapshot).transpose()?,
        after: Some(audit::snapshot(after)?),
    };
    audit::record(tx, actor, change).await
}

/// A human-readable public reference: a prefix and 48 random bits.
/// A report's id, public reference and filing time, fixed when it is
/// accepted (which may be before the store can take it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportIdentity {
    pub id: String,
    pub reference: String,
    /// Unix ms.
    pub created_at: i64,
}

impl ReportIdentity {
    /// A fresh id and reference for a report accepted at `created_at`.
    pub fn new(created_at: i64) -> Self {
        Self {
            id: new_id("report"),
            reference: new_reference("AR"),
            created_at,
        }
    }
}

fn new_reference(prefix: &str) -> String {
    format!("{prefix}-{}", random_hex(6).to_uppercase())
}

impl Store {
    /// Files a report, merging it into the site's open case of the same
    /// category opened within `merge_window_ms`, or opening a new case.
    /// Answers the report, its case, and whether it merged.
    pub async fn file_abuse_report(
        &self,
        actor: &Actor,
        new: NewAbuseReport,
        merge_window_ms: i64,
    ) -> Result<(AbuseReport, Case, bool), StoreError> {
        let identity = ReportIdentity::new(now_ms());
        self.file_abuse_report_once(actor, new, merge_window_ms, &identity)
            .await
    }

    /// [`Store::file_abuse_report`] with the id, reference and time fixed
    /// by the caller (a report accepted while the store was down, written
    /// later from the node's spool). Idempotent on the id: a report already
    /// stored is answered as it is, not filed twice.
    pub async fn file_abuse_report_once(
        &self,
        actor: &Actor,
        new: NewAbuseReport,
        merge_window_ms: i64,
        identity: &ReportIdentity,
    ) -> Result<(AbuseReport, Case, bool), StoreError> {
        let now = now_ms();
        let mut tx = self.begin_locked().await?;
        // SQLite's BEGIN IMMEDIATE already serializes writers. On
        // PostgreSQL, two reports racing could each find no open case and
        // open two; an advisory lock makes the second see the first's.
        if self.backend() == crate::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_INTAKE_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let existing = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM abuse_reports WHERE id = $1"
        ))
        .bind(identity.id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            let report = report_from_row(&row)?;
            let case = fetch_case(&mut *tx, &report.case_id).await?;
            tx.commit().await?;
            return Ok((report, case, true));
        }
        let open = sqlx::query(&format!(
            "SELECT {CASE_COLUMNS} FROM safety_cases
             WHERE site_id = $1 AND category = $2 AND {OPEN_CASE} AND created_at >= $3
             ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(new.site_id.as_str())
        .bind(new.category.as_str())
        .bind(now.saturating_sub(merge_window_ms))
        .fetch_optional(&mut *tx)
        .await?;
        let (case, merged) = match open {
            Some(row) => {
                let before = case_from_row(&row)?;
                let after = Case {
                    updated_at: now,
                    ..before.clone()
                };
                sqlx::query("UPDATE safety_cases SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(after.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                (after, true)
            }
            None => {
                let (priority, sla) = priority_of(&new.category);
                let case = Case {
                    id: new_id("case"),
                    reference: new_reference("TS"),
                    site_id: new.site_id.clone(),
                    account_id: new.account_id.clone(),
                    category: new.category.clone(),
                    priority: priority.to_owned(),
                    sla_due_at: now.saturating_add(sla),
                    status: "received".to_owned(),
                    assignee_user_id: None,
                    created_at: now,
                    updated_at: now,
                    merged_into: None,
                };
                sqlx::query(&format!(
                    "INSERT INTO safety_cases ({CASE_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(case.id.as_str())
                .bind(case.reference.as_str())
                .bind(case.site_id.as_str())
                .bind(case.account_id.as_str())
                .bind(case.category.as_str())
                .bind(case.priority.as_str())
                .bind(case.sla_due_at)
                .bind(case.status.as_str())
                .bind(case.assignee_user_id.as_deref())
                .bind(case.created_at)
                .bind(case.updated_at)
                .bind(case.merged_into.as_deref())
                .execute(&mut *tx)
                .await?;
                audit_case(&mut tx, actor, "case.open", None, &case).await?;
                (case, false)
            }
        };
        let report = AbuseReport {
            id: identity.id.clone(),
            reference: identity.reference.clone(),
            case_id: case.id.clone(),
            category: new.category,
            urls: new.urls,
            explanation: new.explanation,
            reporter_name: new.reporter_name,
            reporter_email: new.reporter_email,
            good_faith: new.good_faith,
            share_with_owner: new.share_with_owner,
            share_with_host: new.share_with_host,
            created_at: identity.created_at,
        };
        sqlx::query(&format!(
            "INSERT INTO abuse_reports ({REPORT_COLUMNS}, client_ip_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(report.id.as_str())
        .bind(report.reference.as_str())
        .bind(report.case_id.as_str())
        .bind(report.category.as_str())
        .bind(json_text(&report.urls)?)
        .bind(report.explanation.as_str())
        .bind(report.reporter_name.as_deref())
        .bind(report.reporter_email.as_deref())
        .bind(i64::from(report.good_faith))
        .bind(report.share_with_owner.as_str())
        .bind(report.share_with_host.as_str())
        .bind(report.created_at)
        .bind(new.client_ip_hash.as_str())
        .execute(&mut *tx)
        .await?;
        let change = Change {
            account_id: None,
            action: "report.create",
            target_kind: "report",
            target_id: &report.id,
            before: None,
            after: Some(report_audit(&report)),
        };
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok((report, case, merged))
    }

    /// Reports filed from this client address hash since `since_ms`.
    pub async fn count_reports_from_ip(
        &self,
        ip_hash: &str,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM abuse_reports WHERE client_ip_hash = $1 AND created_at >= $2",
        )
        .bind(ip_hash)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Reports filed with this reporter email since `since_ms`.
    pub async fn count_reports_from_email(
        &self,
        email: &str,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM abuse_reports WHERE reporter_email = $1 AND created_at >= $2",
        )
        .bind(email)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn get_case(&self, id: &str) -> Result<Case, StoreError> {
        fetch_case(&self.pool, id).await
    }

    /// The case's reports, oldest first.
    pub async fn case_reports(&self, case_id: &str) -> Result<Vec<AbuseReport>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM abuse_reports WHERE case_id = $1 ORDER BY created_at, id"
        ))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(report_from_row).collect()
    }

    /// Cases in a queue: most pressing (earliest SLA) first.
    pub async fn list_cases(&self, queue: CaseQueue<'_>) -> Result<Vec<Case>, StoreError> {
        let base = format!("SELECT {CASE_COLUMNS} FROM safety_cases");
        let open = OPEN_CASE;
        let rows = match queue {
            CaseQueue::All => {
                sqlx::query(&format!("{base} ORDER BY sla_due_at, id"))
                    .fetch_all(&self.pool)
                    .await?
            }
            CaseQueue::Urgent => {
                sqlx::query(&format!(
                    "{base} WHERE {open} AND priority = 'urgent' ORDER BY sla_due_at, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
            CaseQueue::Overdue => {
                sqlx::query(&format!(
                    "{base} WHERE {open} AND sla_due_at < $1 ORDER BY sla_due_at, id"
                ))
                .bind(now_ms())
                .fetch_all(&self.pool)
                .await?
            }
            CaseQueue::Unassigned => {
                sqlx::query(&format!(
                    "{base} WHERE {open} AND assignee_user_id IS NULL ORDER BY sla_due_at, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
            CaseQueue::Mine(user) => {
                sqlx::query(&format!(
                    "{base} WHERE {open} AND assignee_user_id = $1 ORDER BY sla_due_at, id"
                ))
                .bind(user)
                .fetch_all(&self.pool)
                .await?
            }
            CaseQueue::Account(account) => {
                sqlx::query(&format!(
                    "{base} WHERE account_id = $1 ORDER BY created_at DESC, id"
                ))
                .bind(account)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(case_from_row).collect()
    }

    /// Gives the case to `assignee` (`None`: back to the queue). A case
    /// someone holds is under review.
    pub async fn assign_case(
        &self,
        actor: &Actor,
        case_id: &str,
        assignee: Option<&str>,
    ) -> Result<Case, StoreError> {
        let mut tx = self.begin_locked().await?;
        let before = fetch_case(&mut *tx, case_id).await?;
        let status = match (before.status.as_str(), assignee) {
            ("decided", _) => "decided",
            (_, Some(_)) => "under_review",
            (_, None) => "received",
        };
        let after = Case {
            assignee_user_id: assignee.map(str::to_owned),
            status: status.to_owned(),
            updated_at: now_ms(),
            ..before.clone()
        };
        sqlx::query(
            "UPDATE safety_cases SET assignee_user_id = $1, status = $2, updated_at = $3
             WHERE id = $4",
        )
        .bind(after.assignee_user_id.as_deref())
        .bind(after.status.as_str())
        .bind(after.updated_at)
        .bind(case_id)
        .execute(&mut *tx)
        .await?;
        audit_case(&mut tx, actor, "case.assign", Some(&before), &after).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// The report behind a public reference, its case and the case's
    /// decisions; `None` for an unknown reference.
    pub async fn report_status(&self, reference: &str) -> Result<Option<ReportStatus>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM abuse_reports WHERE reference = $1"
        ))
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let report = report_from_row(&row)?;
        let case = fetch_case(&self.pool, &report.case_id).await?;
        let decisions = decisions::of_case(&self.pool, &case.id).await?;
        Ok(Some(ReportStatus {
            report,
            case,
            decisions,
        }))
    }
}
