//! What agents do to a case besides deciding it: internal notes,
//! escalation to the urgent queue, and merging a duplicate case into
//! another. Notes are for the desk only; no owner view reads them.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::HOUR_MS;
use super::reports::{audit_case, fetch_case};
use crate::ids::{new_id, now_ms};
use crate::{Actor, Store, StoreError};

/// A line in a case's internal history: a note an agent wrote, or the
/// reason given for an escalation or merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseNote {
    pub id: String,
    pub case_id: String,
    pub author_user_id: Option<String>,
    pub author_label: String,
    /// `note`, `escalation` or `merge`.
    pub kind: String,
    pub body: String,
    pub created_at: i64,
}

pub(crate) const SCHEMA: &str = r"
CREATE TABLE safety_case_notes (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES safety_cases(id) ON DELETE CASCADE,
    author_user_id TEXT NULL,
    author_label TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX safety_case_notes_case ON safety_case_notes (case_id, created_at);
ALTER TABLE safety_cases ADD COLUMN merged_into TEXT NULL
";

/// Longest note kept, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;

fn note_from_row(row: &AnyRow) -> Result<CaseNote, StoreError> {
    Ok(CaseNote {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        author_user_id: row.try_get("author_user_id")?,
        author_label: row.try_get("author_label")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
    })
}

fn check_note(body: &str) -> Result<(), StoreError> {
    if body.trim().is_empty() {
        return Err(StoreError::Conflict {
            field: "body",
            message: "a note needs some text".to_owned(),
        });
    }
    if body.chars().count() > MAX_NOTE_CHARS {
        return Err(StoreError::Conflict {
            field: "body",
            message: format!("a note is at most {MAX_NOTE_CHARS} characters"),
        });
    }
    Ok(())
}

async fn insert_note(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: &Actor,
    case_id: &str,
    kind: &str,
    body: &str,
    at: i64,
) -> Result<CaseNote, StoreError> {
    let note = CaseNote {
        id: new_id("note"),
        case_id: case_id.to_owned(),
        author_user_id: actor.user_id.clone(),
        author_label: actor.label.clone(),
        kind: kind.to_owned(),
        body: body.trim().to_owned(),
        created_at: at,
    };
    sqlx::query(
        "INSERT INTO safety_case_notes
         (id, case_id, author_user_id, author_label, kind, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(note.id.as_str())
    .bind(note.case_id.as_str())
    .bind(note.author_user_id.as_deref())
    .bind(note.author_label.as_str())
    .bind(note.kind.as_str())
    .bind(note.body.as_str())
    .bind(note.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(note)
}

fn not_open(case: &super::Case, what: &str) -> StoreError {
    StoreError::Conflict {
        field: "case",
        message: format!(
            "case {} is {}: only a case still waiting for a decision can be {what}",
            case.reference, case.status
        ),
    }
}

fn is_open(case: &super::Case) -> bool {
    matches!(case.status.as_str(), "received" | "under_review")
}

impl Store {
    /// Adds an internal note to a case (any status: notes may follow a
    /// decision too).
    pub async fn add_case_note(
        &self,
        actor: &Actor,
        case_id: &str,
        body: &str,
    ) -> Result<CaseNote, StoreError> {
        check_note(body)?;
        let mut tx = self.begin_locked().await?;
        let case = fetch_case(&mut *tx, case_id).await?;
        let note = insert_note(&mut tx, actor, &case.id, "note", body, now_ms()).await?;
        tx.commit().await?;
        Ok(note)
    }

    /// A case's notes, oldest first.
    pub async fn case_notes(&self, case_id: &str) -> Result<Vec<CaseNote>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, case_id, author_user_id, author_label, kind, body, created_at
             FROM safety_case_notes WHERE case_id = $1 ORDER BY created_at, id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(note_from_row).collect()
    }

    /// Moves an undecided case to the urgent queue with the urgent SLA
    /// (an hour from now, or sooner if it was already due sooner), and
    /// records why.
    pub async fn escalate_case(
        &self,
        actor: &Actor,
        case_id: &str,
        reason: &str,
    ) -> Result<super::Case, StoreError> {
        check_note(reason)?;
        let now = now_ms();
        let mut tx = self.begin_locked().await?;
        let before = fetch_case(&mut *tx, case_id).await?;
        if !is_open(&before) {
            return Err(not_open(&before, "escalated"));
        }
        let after = super::Case {
            priority: "urgent".to_owned(),
            sla_due_at: before.sla_due_at.min(now.saturating_add(HOUR_MS)),
            updated_at: now,
            ..before.clone()
        };
        sqlx::query(
            "UPDATE safety_cases SET priority = $1, sla_due_at = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(after.priority.as_str())
        .bind(after.sla_due_at)
        .bind(after.updated_at)
        .bind(after.id.as_str())
        .execute(&mut *tx)
        .await?;
        insert_note(&mut tx, actor, &after.id, "escalation", reason, now).await?;
        audit_case(&mut tx, actor, "case.escalate", Some(&before), &after).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Merges case `from` into case `into` (same site, both undecided):
    /// `from`'s reports join `into`, which takes the more pressing priority
    /// and SLA of the two; `from` stays on record as `merged`. Reporters'
    /// status links follow their reports to the surviving case.
    pub async fn merge_cases(
        &self,
        actor: &Actor,
        from: &str,
        into: &str,
        reason: &str,
    ) -> Result<super::Case, StoreError> {
        check_note(reason)?;
        if from == into {
            return Err(StoreError::Conflict {
                field: "into",
                message: "a case cannot be merged into itself".to_owned(),
            });
        }
        let now = now_ms();
        let mut tx = self.begin_locked().await?;
        let source = fetch_case(&mut *tx, from).await?;
        let target = fetch_case(&mut *tx, into).await?;
        if !is_open(&source) {
            return Err(not_open(&source, "merged"));
        }
        if !is_open(&target) {
            return Err(not_open(&target, "merged into"));
        }
        if source.site_id != target.site_id {
            return Err(StoreError::Conflict {
                field: "into",
                message: format!(
                    "cases {} and {} are about different sites; only cases of one site merge",
                    source.reference, target.reference
                ),
            });
        }
        let rank = |priority: &str| match priority {
            "urgent" => 0,
            "normal" => 1,
            _ => 2,
        };
        let priority = if rank(&source.priority) < rank(&target.priority) {
            source.priority.clone()
        } else {
            target.priority.clone()
        };
        let merged_target = super::Case {
            priority,
            sla_due_at: source.sla_due_at.min(target.sla_due_at),
            updated_at: now,
            ..target.clone()
        };
        let merged_source = super::Case {
            status: "merged".to_owned(),
            merged_into: Some(target.id.clone()),
            updated_at: now,
            ..source.clone()
        };
        sqlx::query("UPDATE abuse_reports SET case_id = $1 WHERE case_id = $2")
            .bind(target.id.as_str())
            .bind(source.id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE safety_cases SET priority = $1, sla_due_at = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(merged_target.priority.as_str())
        .bind(merged_target.sla_due_at)
        .bind(now)
        .bind(target.id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE safety_cases SET status = 'decided', merged_into = $1, updated_at = $2
             WHERE id = $3",
        )
        .bind(target.id.as_str())
        .bind(now)
        .bind(source.id.as_str())
        .execute(&mut *tx)
        .await?;
        let text = format!(
            "{} merged into this case: {}",
            source.reference,
            reason.trim()
        );
        insert_note(&mut tx, actor, &target.id, "merge", &text, now).await?;
        let text = format!("merged into {}: {}", target.reference, reason.trim());
        insert_note(&mut tx, actor, &source.id, "merge", &text, now).await?;
        audit_case(&mut tx, actor, "case.merge", Some(&source), &merged_source).await?;
        audit_case(&mut tx, actor, "case.absorb", Some(&target), &merged_target).await?;
        tx.commit().await?;
        Ok(merged_target)
    }
}
