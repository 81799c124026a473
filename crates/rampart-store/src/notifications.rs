//! The notification outbox: emails and webhooks waiting to go out.
//!
//! A notification is written in the same transaction as the change it
//! announces (a report filed, a decision taken), so it exists exactly when
//! the change does; the control plane's delivery loop reads due rows and
//! marks them sent, or failed with the next attempt's time. A row that
//! cannot be delivered yet (the SMTP server is down) simply stays pending.
//!
//! Like sessions, the outbox is not configuration: no revision bump (the
//! edge would rebuild its snapshot on every email), and no audit row for
//! delivery bookkeeping. Recipients and bodies may identify a reporter, so
//! nothing here logs them.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use crate::ids::{new_id, now_ms};
use crate::{Store, StoreError};

/// The table, applied by the migration that lists it in
/// `migrate::MIGRATIONS`. Statements are separated by `;` and contain none.
pub(crate) const SCHEMA: &str = r"
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    case_id TEXT NULL,
    decision_id TEXT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NULL,
    sent_at BIGINT NULL
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_case ON notifications (case_id, created_at)
";

/// The largest page the list and due queries return.
const MAX_PAGE: u32 = 500;

/// How a notification travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// `recipient` is an email address, sent over SMTP.
    Email,
    /// `recipient` is an `http://` or `https://` URL; `body` is the JSON posted.
    Webhook,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Email => "email",
            NotificationKind::Webhook => "webhook",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "email" => Ok(NotificationKind::Email),
            "webhook" => Ok(NotificationKind::Webhook),
            other => Err(StoreError::Corrupt(format!(
                "unknown notification kind '{other}'"
            ))),
        }
    }
}

/// Where a notification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    Sent,
    /// Given up on; `last_error` says why.
    Failed,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Failed => "failed",
        }
    }

    /// The API code back to the status; `None` for anything else.
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(NotificationStatus::Pending),
            "sent" => Some(NotificationStatus::Sent),
            "failed" => Some(NotificationStatus::Failed),
            _ => None,
        }
    }
}

/// What a caller asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub kind: NotificationKind,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub case_id: Option<String>,
    pub decision_id: Option<String>,
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub created_at: i64,
    pub kind: NotificationKind,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub case_id: Option<String>,
    pub decision_id: Option<String>,
    pub status: NotificationStatus,
    pub attempts: i64,
    /// Unix ms; meaningful while pending.
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

/// Which rows `list_notifications` returns; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter<'a> {
    pub case_id: Option<&'a str>,
    pub status: Option<NotificationStatus>,
    /// At most this many, newest first; capped at 500, 0 means 100.
    pub limit: u32,
}

const COLUMNS: &str = "id, created_at, kind, recipient, subject, body, case_id, decision_id,
    status, attempts, next_attempt_at, last_error, sent_at";

fn from_row(row: &AnyRow) -> Result<Notification, StoreError> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(Notification {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        kind: NotificationKind::parse(&kind)?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        case_id: row.try_get("case_id")?,
        decision_id: row.try_get("decision_id")?,
        status: NotificationStatus::from_code(&status).ok_or_else(|| {
            StoreError::Corrupt(format!("unknown notification status '{status}'"))
        })?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        sent_at: row.try_get("sent_at")?,
    })
}

/// Queues `new` inside the caller's write transaction, due at once, so the
/// notification commits or vanishes with the change it announces. For the
/// store's own writers (filing a report, deciding a case).
pub(crate) async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    new: &NewNotification,
) -> Result<Notification, StoreError> {
    let now = now_ms();
    let row = Notification {
        id: new_id("ntf"),
        created_at: now,
        kind: new.kind,
        recipient: new.recipient.clone(),
        subject: new.subject.clone(),
        body: new.body.clone(),
        case_id: new.case_id.clone(),
        decision_id: new.decision_id.clone(),
        status: NotificationStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        sent_at: None,
    };
    sqlx::query(
        "INSERT INTO notifications (id, created_at, kind, recipient, subject, body, case_id,
             decision_id, status, attempts, next_attempt_at, last_error, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, NULL, NULL)",
    )
    .bind(row.id.as_str())
    .bind(row.created_at)
    .bind(row.kind.as_str())
    .bind(row.recipient.as_str())
    .bind(row.subject.as_str())
    .bind(row.body.as_str())
    .bind(row.case_id.as_deref())
    .bind(row.decision_id.as_deref())
    .bind(row.next_attempt_at)
    .execute(&mut **tx)
    .await?;
    Ok(row)
}

fn page(limit: u32) -> i64 {
    i64::from(if limit == 0 { 100 } else { limit.min(MAX_PAGE) })
}

impl Store {
    /// Queues one notification on its own (a test email from an operator).
    /// Writers that announce a change of their own use the in-transaction
    /// form, `notifications::enqueue`, or [`Store::enqueue_notifications`].
    pub async fn enqueue_notification(
        &self,
        new: &NewNotification,
    ) -> Result<Notification, StoreError> {
        let mut rows = self
            .enqueue_notifications(std::slice::from_ref(new))
            .await?;
        rows.pop()
            .ok_or_else(|| StoreError::Corrupt("enqueue returned no row".to_owned()))
    }

    /// Queues several notifications in one transaction: all or none.
    pub async fn enqueue_notifications(
        &self,
        new: &[NewNotification],
    ) -> Result<Vec<Notification>, StoreError> {
        let mut tx = self.begin_locked().await?;
        let mut out = Vec::with_capacity(new.len());
        for n in new {
            out.push(enqueue(&mut tx, n).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Pending rows whose next attempt is at or before `now` (unix ms),
    /// oldest due first, at most `limit` (capped at 500).
    pub async fn due_notifications(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        self.due_notifications_of(now, None, limit).await
    }

    /// [`Store::due_notifications`] of one kind only, so a channel that is
    /// not configured (its rows wait) cannot fill the batch of one that is.
    pub async fn due_notifications_of(
        &self,
        now: i64,
        kind: Option<NotificationKind>,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications
             WHERE status = 'pending' AND next_attempt_at <= $1 AND ($2 IS NULL OR kind = $2)
             ORDER BY next_attempt_at, id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(kind.map(NotificationKind::as_str))
            .bind(page(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Takes a due row for one delivery attempt: moves its next attempt to
    /// `lease_until` so another node's loop (or this one's next tick, if the
    /// attempt hangs) leaves it alone meanwhile. `false`: someone else has
    /// it, or it is no longer due.
    pub async fn claim_notification(
        &self,
        id: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_locked().await?;
        let done = sqlx::query(
            "UPDATE notifications SET next_attempt_at = $1
             WHERE id = $2 AND status = 'pending' AND next_attempt_at <= $3",
        )
        .bind(lease_until)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Records a delivery. Only a pending row changes, so a row another
    /// node already settled is left alone; returns whether this call did it.
    pub async fn mark_notification_sent(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_locked().await?;
        let done = sqlx::query(
            "UPDATE notifications SET status = 'sent', sent_at = $1, attempts = attempts + 1,
                 last_error = NULL
             WHERE id = $2 AND status = 'pending'",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Records a failed attempt. `next_attempt_at` `Some`: stays pending and
    /// is due again then; `None`: given up, status `failed`. `error` should
    /// name the failure, never the recipient or the body.
    pub async fn mark_notification_failed(
        &self,
        id: &str,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_locked().await?;
        let (status, next) = match next_attempt_at {
            Some(at) => ("pending", Some(at)),
            None => ("failed", None),
        };
        let done = sqlx::query(
            "UPDATE notifications SET status = $1, attempts = attempts + 1,
                 next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3
             WHERE id = $4 AND status = 'pending'",
        )
        .bind(status)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(done == 1)
    }

    /// One notification by id.
    pub async fn get_notification(&self, id: &str) -> Result<Notification, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = $1");
        crate::rows::fetch_by_id(&self.pool, &sql, "notification", id, from_row).await
    }

    /// Notifications, newest first, filtered by case and status.
    pub async fn list_notifications(
        &self,
        filter: &NotificationFilter<'_>,
    ) -> Result<Vec<Notification>, StoreError> {
        // Unset filters bind NULL and match everything, so one SQL text
        // serves every combination on both backends.
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications
             WHERE ($1 IS NULL OR case_id = $1) AND ($2 IS NULL OR status = $2)
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.case_id)
            .bind(filter.status.map(NotificationStatus::as_str))
            .bind(page(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }
}
