//! Decisions on cases, their lifting, and the ones the edge enforces now.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _, Transaction};

use super::ENFORCED_OUTCOMES;
use super::reports::{Case, audit_case, fetch_case, json_from, json_text};
use crate::audit::{self, Change};
use crate::ids::{new_id, now_ms};
use crate::{Actor, Store, StoreError};

/// A decision as the desk takes it, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDecision {
    pub outcome: String,
    /// The statement of reasons (DSA fields), as JSON.
    pub reasons: serde_json::Value,
    /// URL patterns, for `restrict`.
    pub patterns: Option<Vec<String>>,
    /// The authority behind a `legal_block` (a URL).
    pub blocked_by: Option<String>,
    /// `None`: now.
    pub effective_at: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: String,
    pub case_id: String,
    pub site_id: String,
    pub outcome: String,
    pub reasons: serde_json::Value,
    pub patterns: Option<Vec<String>>,
    pub blocked_by: Option<String>,
    /// The deciding user's id, or the actor's label without one.
    pub decided_by: String,
    pub decided_at: i64,
    pub effective_at: i64,
    pub expires_at: Option<i64>,
    pub lifted_at: Option<i64>,
    pub lifted_by: Option<String>,
}

impl Decision {
    /// Whether the edge enforces it at `now_ms`.
    pub fn in_force(&self, now_ms: i64) -> bool {
        ENFORCED_OUTCOMES.contains(&self.outcome.as_str())
            && self.lifted_at.is_none()
            && self.effective_at <= now_ms
            && self.expires_at.is_none_or(|at| at > now_ms)
    }
}

const COLUMNS: &str = "id, case_id, site_id, outcome, reasons, patterns, blocked_by, decided_by,
    decided_at, effective_at, expires_at, lifted_at, lifted_by";

fn from_row(row: &AnyRow) -> Result<Decision, StoreError> {
    let reasons: String = row.try_get("reasons")?;
    let patterns: Option<String> = row.try_get("patterns")?;
    Ok(Decision {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        site_id: row.try_get("site_id")?,
        outcome: row.try_get("outcome")?,
        reasons: json_from(&reasons, "decision reasons")?,
        patterns: patterns
            .map(|p| json_from(&p, "decision patterns"))
            .transpose()?,
        blocked_by: row.try_get("blocked_by")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        effective_at: row.try_get("effective_at")?,
        expires_at: row.try_get("expires_at")?,
        lifted_at: row.try_get("lifted_at")?,
        lifted_by: row.try_get("lifted_by")?,
    })
}

pub(crate) async fn of_case<'e, E>(db: E, case_id: &str) -> Result<Vec<Decision>, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM safety_decisions WHERE case_id = $1 ORDER BY decided_at, id"
    ))
    .bind(case_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(from_row).collect()
}

async fn fetch<'e, E>(db: E, id: &str) -> Result<Decision, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM safety_decisions WHERE id = $1");
    crate::rows::fetch_by_id(db, &sql, "decision", id, from_row).await
}

async fn audit_decision(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    action: &str,
    account_id: &str,
    before: Option<&Decision>,
    after: &Decision,
) -> Result<(), StoreError> {
    let change = Change {
        // The owner is told of decisions about their site, so they belong
        // in the account's log.
        account_id: Some(account_id),
        action,
        target_kind: "decision",
        target_id: &after.id,
        before: before.map(audit::snapshot).transpose()?,
        after: Some(audit::snapshot(after)?),
    };
    audit::record(tx, actor, change).await
}

/// How a decision or appeal names who acted: the user, or the actor's
/// label when no user is behind it.
pub(crate) fn actor_ref(actor: &Actor) -> String {
    actor.user_id.clone().unwrap_or_else(|| actor.label.clone())
}

impl Store {
    /// Records a decision on the case and marks the case decided. Bumps
    /// the revision: an enforced outcome reaches every edge on its next
    /// poll.
    pub async fn decide_case(
        &self,
        actor: &Actor,
        case_id: &str,
        new: NewDecision,
    ) -> Result<(Decision, Case), StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch_case(&mut *tx, case_id).await?;
        let now = now_ms();
        let decision = Decision {
            id: new_id("decision"),
            case_id: before.id.clone(),
            site_id: before.site_id.clone(),
            outcome: new.outcome,
            reasons: new.reasons,
            patterns: new.patterns,
            blocked_by: new.blocked_by,
            decided_by: actor_ref(actor),
            decided_at: now,
            effective_at: new.effective_at.unwrap_or(now),
            expires_at: new.expires_at,
            lifted_at: None,
            lifted_by: None,
        };
        sqlx::query(&format!(
            "INSERT INTO safety_decisions ({COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(decision.id.as_str())
        .bind(decision.case_id.as_str())
        .bind(decision.site_id.as_str())
        .bind(decision.outcome.as_str())
        .bind(json_text(&decision.reasons)?)
        .bind(decision.patterns.as_ref().map(json_text).transpose()?)
        .bind(decision.blocked_by.as_deref())
        .bind(decision.decided_by.as_str())
        .bind(decision.decided_at)
        .bind(decision.effective_at)
        .bind(decision.expires_at)
        .bind(decision.lifted_at)
        .bind(decision.lifted_by.as_deref())
        .execute(&mut *tx)
        .await?;
        let case = Case {
            status: "decided".to_owned(),
            updated_at: now,
            ..before.clone()
        };
        sqlx::query("UPDATE safety_cases SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(case.status.as_str())
            .bind(now)
            .bind(case_id)
            .execute(&mut *tx)
            .await?;
        audit_decision(
            &mut tx,
            actor,
            "decision.create",
            &case.account_id,
            None,
            &decision,
        )
        .await?;
        audit_case(&mut tx, actor, "case.decide", Some(&before), &case).await?;
        tx.commit().await?;
        Ok((decision, case))
    }

    /// Lifts a decision; lifting one already lifted changes nothing.
    pub async fn lift_decision(&self, actor: &Actor, id: &str) -> Result<Decision, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        if before.lifted_at.is_some() {
            // Dropping the transaction undoes the revision bump.
            return Ok(before);
        }
        let case = fetch_case(&mut *tx, &before.case_id).await?;
        let after = Decision {
            lifted_at: Some(now_ms()),
            lifted_by: Some(actor_ref(actor)),
            ..before.clone()
        };
        sqlx::query("UPDATE safety_decisions SET lifted_at = $1, lifted_by = $2 WHERE id = $3")
            .bind(after.lifted_at)
            .bind(after.lifted_by.as_deref())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit_decision(
            &mut tx,
            actor,
            "decision.lift",
            &case.account_id,
            Some(&before),
            &after,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn get_decision(&self, id: &str) -> Result<Decision, StoreError> {
        fetch(&self.pool, id).await
    }

    pub async fn case_decisions(&self, case_id: &str) -> Result<Vec<Decision>, StoreError> {
        of_case(&self.pool, case_id).await
    }

    /// Every enforced-outcome decision not lifted and not yet expired at
    /// `now_ms`, with its case, including scheduled ones (effective later):
    /// the caller picks those in force and knows when the set next changes.
    pub async fn enforcement_decisions(
        &self,
        now_ms: i64,
    ) -> Result<Vec<(Decision, Case)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM safety_decisions
             WHERE lifted_at IS NULL AND (expires_at IS NULL OR expires_at > $1)
               AND outcome IN ('interstitial', 'restrict', 'suspend', 'legal_block')
             ORDER BY decided_at, id"
        ))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let decision = from_row(row)?;
            let case = fetch_case(&self.pool, &decision.case_id).await?;
            out.push((decision, case));
        }
        Ok(out)
    }
}
