//! Delivery of the notification outbox (`rampart_store::Notification`):
//! every [`TICK`] the due rows are claimed and sent, by email over SMTP
//! (`smtp.rs`) or as signed webhooks (`webhook.rs`).
//!
//! Nothing is lost when a channel is down: a failed attempt leaves the row
//! pending with its next attempt pushed out by [`Backoff`]; a channel that
//! is not configured (no `[notify] smtp`, no `webhook_secret`) leaves its
//! rows untouched until it is. Only a permanent refusal (a bad address, an
//! SMTP 5xx, a webhook 4xx) or 24 hours of failures mark a row `failed`.
//!
//! Delivery is at least once: a node that sends a message and dies (or
//! loses the store) before recording it sends it again after the lease.
//!
//! Recipients and bodies can identify a reporter: logs name the row id and
//! the kind of failure only, and stored errors have the recipient masked.

pub mod compose;
pub mod hooks;
mod smtp;
pub mod templates;
pub mod webhook;

use crate::api::tokens::now_ms;
use std::sync::Arc;
use std::time::Duration;

use rampart_config::NotifyConfig;
use rampart_store::{Notification, NotificationKind, StoreError};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::Control;

/// How often the outbox is polled: a fresh notification leaves within it.
pub const TICK: Duration = Duration::from_secs(1);

/// Rows taken per tick; the rest wait for the next one.
const BATCH: u32 = 50;

/// How long a claimed row is hidden from other takers: longer than one SMTP
/// or webhook attempt can last, so a crashed attempt is retried after it.
const LEASE_MS: i64 = 60_000;

/// Give up this long after the notification was queued.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Waits between attempts, as multiples of `[notify] retry_base`.
const STEPS: [u32; 4] = [1, 4, 20, 120];
/// After [`STEPS`], every this many bases (6 h for the default 30 s).
const REPEAT: u32 = 720;

/// The retry schedule. With the default base of 30 s: 30 s, 2 min, 10 min,
/// 1 h, then every 6 h, until 24 h after the row was queued.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
}

impl Backoff {
    /// When to try again after `failed` failed attempts (1 after the first)
    /// of a row queued at `created_at`, or `None` to give up. Unix ms.
    pub fn next_attempt(&self, failed: i64, created_at: i64, now: i64) -> Option<i64> {
        let index = usize::try_from(failed.saturating_sub(1)).unwrap_or(0);
        let factor = STEPS.get(index).copied().unwrap_or(REPEAT);
        let wait = ms(self.base.saturating_mul(factor));
        let next = now.saturating_add(wait);
        let deadline = created_at.saturating_add(ms(GIVE_UP_AFTER));
        (next <= deadline).then_some(next)
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error(transparent)]
    Smtp(#[from] smtp::SmtpError),
    #[error(transparent)]
    Webhook(#[from] webhook::WebhookError),
}

impl DeliveryError {
    fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Smtp(e) => e.is_permanent(),
            DeliveryError::Webhook(e) => e.is_permanent(),
        }
    }
}

/// An error as stored and logged: servers quote the address they refuse
/// ("550 <x@y>: no such user"), which must not reach the log.
fn masked(error: &DeliveryError, recipient: &str) -> String {
    let text = error.to_string();
    if recipient.is_empty() {
        return text;
    }
    text.replace(recipient, "<recipient>")
}

/// Polls the outbox every [`TICK`] until shutdown. Spawned beside the sync
/// loop and the analytics flush.
pub async fn run_notify_loop(control: Arc<Control>, mut shutdown: watch::Receiver<bool>) {
    let client = webhook::client();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
        if let Err(error) = control.deliver_due_notifications(&client).await {
            tracing::warn!("notifications: the store failed: {error}; retrying next tick");
        }
    }
}

impl Control {
    /// One pass over the due notifications; returns how many were sent.
    async fn deliver_due_notifications(
        &self,
        client: &webhook::HttpsClient,
    ) -> Result<usize, StoreError> {
        let Some(store) = self.store() else {
            return Ok(0);
        };
        // Read per pass, so a reload's new settings apply at the next tick.
        let settings = self.file.lock().await.notify.clone();
        let backoff = Backoff {
            base: settings.retry_base,
        };
        let now = now_ms();
        let mut due = Vec::new();
        // Per kind, so rows of a channel not configured yet (they wait)
        // never take the places of a working channel's rows.
        for kind in [NotificationKind::Email, NotificationKind::Webhook] {
            if channel_ready(&settings, kind) {
                due.extend(store.due_notifications_of(now, Some(kind), BATCH).await?);
            }
        }
        let mut sent = 0;
        for row in due {
            // The lease counts from now, not from the tick's start: earlier
            // rows of this pass may have taken a while.
            let at = now_ms();
            if !store
                .claim_notification(&row.id, at, at.saturating_add(LEASE_MS))
                .await?
            {
                continue;
            }
            match deliver(&settings, client, &row).await {
                Ok(()) => {
                    store.mark_notification_sent(&row.id, now_ms()).await?;
                    tracing::info!(id = %row.id, kind = row.kind.as_str(), "notification sent");
                    sent += 1;
                }
                Err(error) => {
                    let failed = row.attempts.saturating_add(1);
                    let next = if error.is_permanent() {
                        None
                    } else {
                        backoff.next_attempt(failed, row.created_at, now_ms())
                    };
                    let message = masked(&error, &row.recipient);
                    store
                        .mark_notification_failed(&row.id, next, &message)
                        .await?;
                    match next {
                        Some(_) => tracing::warn!(
                            id = %row.id, attempts = failed,
                            "notification not delivered, will retry: {message}"
                        ),
                        None => tracing::error!(
                            id = %row.id, attempts = failed,
                            "notification given up: {message}"
                        ),
                    }
                }
            }
        }
        Ok(sent)
    }
}

fn channel_ready(settings: &NotifyConfig, kind: NotificationKind) -> bool {
    match kind {
        NotificationKind::Email => settings.smtp.is_some() && settings.from.is_some(),
        NotificationKind::Webhook => settings.webhook_secret.is_some(),
    }
}

async fn deliver(
    settings: &NotifyConfig,
    client: &webhook::HttpsClient,
    row: &Notification,
) -> Result<(), DeliveryError> {
    match row.kind {
        NotificationKind::Email => {
            let (Some(server), Some(from)) = (&settings.smtp, &settings.from) else {
                return Ok(()); // unreachable: channel_ready checked both
            };
            smtp::send(server, from, &row.recipient, &row.subject, &row.body).await?;
        }
        NotificationKind::Webhook => {
            let secret = settings.webhook_secret.as_deref().unwrap_or_default();
            let t = now_ms() / 1000;
            webhook::post(client, &row.recipient, secret, &row.body, t).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_then_give_up_after_a_day() {
        let b = Backoff {
            base: Duration::from_secs(30),
        };
        let created = 1_000_000;
        let after = |failed| {
            b.next_attempt(failed, created, created)
                .map(|t| t - created)
        };
        assert_eq!(after(1), Some(30_000));
        assert_eq!(after(2), Some(120_000));
        assert_eq!(after(3), Some(600_000));
        assert_eq!(after(4), Some(3_600_000));
        assert_eq!(after(5), Some(6 * 3_600_000));
        assert_eq!(after(9), Some(6 * 3_600_000));
        let late = created + 20 * 3_600_000;
        assert_eq!(b.next_attempt(6, created, late), None);
        assert!(
            b.next_attempt(6, created, created + 18 * 3_600_000)
                .is_some()
        );
    }

    #[test]
    fn errors_are_masked() {
        let e = DeliveryError::Smtp(smtp::SmtpError::Permanent(
            "550 <victim@example.test> no such user".to_owned(),
        ));
        let m = masked(&e, "victim@example.test");
        assert!(!m.contains("victim"), "{m}");
        assert!(m.contains("<recipient>"));
    }
}
