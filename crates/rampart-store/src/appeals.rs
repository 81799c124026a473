//! Appeals against trust & safety decisions: the site's owner states why a
//! decision is wrong; an agent other than the one who decided answers,
//! upholding it or reversing it (a reversal lifts the decision). One open
//! appeal per decision; the history is kept.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _};

use crate::audit::{self, Change};
use crate::ids::{new_id, now_ms};
use crate::safety::actor_ref;
use crate::{Actor, Store, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE safety_appeals (
    id TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL REFERENCES safety_decisions(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    filed_by TEXT NOT NULL,
    reasons TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'upheld', 'reversed')),
    filed_at BIGINT NOT NULL,
    answered_by TEXT NULL,
    answered_at BIGINT NULL,
    response TEXT NULL
);
CREATE INDEX safety_appeals_decision ON safety_appeals (decision_id, filed_at)
";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Appeal {
    pub id: String,
    pub decision_id: String,
    pub account_id: String,
    pub filed_by: String,
    pub reasons: String,
    /// `pending`, `upheld` or `reversed`.
    pub status: String,
    pub filed_at: i64,
    pub answered_by: Option<String>,
    pub answered_at: Option<i64>,
    pub response: Option<String>,
}

const COLUMNS: &str = "id, decision_id, account_id, filed_by, reasons, status, filed_at, answered_by, answered_at, response";

fn from_row(row: &AnyRow) -> Result<Appeal, StoreError> {
    Ok(Appeal {
        id: row.try_get("id")?,
        decision_id: row.try_get("decision_id")?,
        account_id: row.try_get("account_id")?,
        filed_by: row.try_get("filed_by")?,
        reasons: row.try_get("reasons")?,
        status: row.try_get("status")?,
        filed_at: row.try_get("filed_at")?,
        answered_by: row.try_get("answered_by")?,
        answered_at: row.try_get("answered_at")?,
        response: row.try_get("response")?,
    })
}

async fn fetch<'e, E>(db: E, id: &str) -> Result<Appeal, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM safety_appeals WHERE id = $1");
    crate::rows::fetch_by_id(db, &sql, "appeal", id, from_row).await
}

impl Store {
    /// Files an appeal against decision `decision_id` of a case in
    /// `account_id`. Refused while another appeal of it is pending.
    pub async fn file_appeal(
        &self,
        actor: &Actor,
        decision_id: &str,
        account_id: &str,
        reasons: &str,
    ) -> Result<Appeal, StoreError> {
        let mut tx = self.begin_write().await?;
        let pending = sqlx::query(
            "SELECT id FROM safety_appeals WHERE decision_id = $1 AND status = 'pending'",
        )
        .bind(decision_id)
        .fetch_optional(&mut *tx)
        .await?;
        if pending.is_some() {
            return Err(StoreError::Conflict {
                field: "decision",
                message: "an appeal of this decision is already waiting for an answer".into(),
            });
        }
        let appeal = Appeal {
            id: new_id("apl"),
            decision_id: decision_id.to_owned(),
            account_id: account_id.to_owned(),
            filed_by: actor_ref(actor),
            reasons: reasons.to_owned(),
            status: "pending".into(),
            filed_at: now_ms(),
            answered_by: None,
            answered_at: None,
            response: None,
        };
        sqlx::query(
            "INSERT INTO safety_appeals (id, decision_id, account_id, filed_by, reasons, status, filed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(appeal.id.as_str())
        .bind(appeal.decision_id.as_str())
        .bind(appeal.account_id.as_str())
        .bind(appeal.filed_by.as_str())
        .bind(appeal.reasons.as_str())
        .bind(appeal.status.as_str())
        .bind(appeal.filed_at)
        .execute(&mut *tx)
        .await?;
        let change = Change {
            account_id: Some(account_id),
            action: "appeal.file",
            target_kind: "appeal",
            target_id: &appeal.id,
            before: None,
            after: Some(audit::snapshot(&appeal)?),
        };
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(appeal)
    }

    /// Answers a pending appeal. `reverse` lifts the decision first (so a
    /// failure between the two leaves the appeal pending, to answer again).
    /// The agent who took the decision may not answer its appeal.
    pub async fn answer_appeal(
        &self,
        actor: &Actor,
        appeal_id: &str,
        reverse: bool,
        response: &str,
    ) -> Result<Appeal, StoreError> {
        let before = fetch(&self.pool, appeal_id).await?;
        if before.status != "pending" {
            return Err(StoreError::Conflict {
                field: "appeal",
                message: format!("this appeal was already answered ({})", before.status),
            });
        }
        let decision = self.get_decision(&before.decision_id).await?;
        if decision.decided_by == actor_ref(actor) {
            return Err(StoreError::Conflict {
                field: "appeal",
                message:
                    "the agent who took the decision cannot answer its appeal; another agent must"
                        .into(),
            });
        }
        if reverse {
            self.lift_decision(actor, &decision.id).await?;
        }
        let mut tx = self.begin_write().await?;
        let after = Appeal {
            status: if reverse { "reversed" } else { "upheld" }.into(),
            answered_by: Some(actor_ref(actor)),
            answered_at: Some(now_ms()),
            response: Some(response.to_owned()),
            ..before.clone()
        };
        let updated = sqlx::query(
            "UPDATE safety_appeals SET status = $1, answered_by = $2, answered_at = $3, response = $4
             WHERE id = $5 AND status = 'pending'",
        )
        .bind(after.status.as_str())
        .bind(after.answered_by.as_deref())
        .bind(after.answered_at)
        .bind(after.response.as_deref())
        .bind(appeal_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict {
                field: "appeal",
                message: "this appeal was answered meanwhile".into(),
            });
        }
        let change = Change {
            account_id: Some(&after.account_id),
            action: "appeal.answer",
            target_kind: "appeal",
            target_id: &after.id,
            before: Some(audit::snapshot(&before)?),
            after: Some(audit::snapshot(&after)?),
        };
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn get_appeal(&self, id: &str) -> Result<Appeal, StoreError> {
        fetch(&self.pool, id).await
    }

    /// Every appeal of a decision, oldest first: the history the owner sees.
    pub async fn decision_appeals(&self, decision_id: &str) -> Result<Vec<Appeal>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM safety_appeals WHERE decision_id = $1 ORDER BY filed_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(decision_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }
}
