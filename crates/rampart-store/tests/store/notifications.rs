//! The notification outbox: queued rows come due, are marked sent or failed
//! with a retry time, are listed per case and status, and never bump the
//! configuration revision.

use rampart_store::{
    NewNotification, NotificationFilter, NotificationKind, NotificationStatus, Store,
};

use crate::fixture::Fixture;

fn email(to: &str, case: Option<&str>) -> NewNotification {
    NewNotification {
        kind: NotificationKind::Email,
        recipient: to.to_owned(),
        subject: "Your report was received".to_owned(),
        body: "Thank you.\nReference R-1".to_owned(),
        case_id: case.map(str::to_owned),
        decision_id: None,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn due_ids(store: &Store, at: i64) -> Vec<String> {
    let mut ids: Vec<String> = store
        .due_notifications(at, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    ids.sort();
    ids
}

pub async fn notifications_queue_retry_and_settle(fx: Fixture) {
    let store = fx.open().await;
    let revision = store.revision().await.unwrap();

    let a = store
        .enqueue_notification(&email("a@example.test", Some("case_1")))
        .await
        .unwrap();
    assert_eq!(a.status, NotificationStatus::Pending);
    assert_eq!(a.attempts, 0);
    assert!(a.id.starts_with("ntf_"));
    let both = store
        .enqueue_notifications(&[
            email("b@example.test", Some("case_2")),
            NewNotification {
                kind: NotificationKind::Webhook,
                recipient: "https://hooks.example.test/rampart".to_owned(),
                subject: "decision".to_owned(),
                body: "{\"event\":\"decided\"}".to_owned(),
                case_id: Some("case_1".to_owned()),
                decision_id: Some("dec_1".to_owned()),
            },
        ])
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(store.get_notification(&a.id).await.unwrap(), a);
    // Not configuration: the edge must not rebuild for an email.
    assert_eq!(store.revision().await.unwrap(), revision);

    let now = now_ms();
    let mut all = vec![a.id.clone(), both[0].id.clone(), both[1].id.clone()];
    all.sort();
    assert_eq!(due_ids(&store, now + 1).await, all);
    assert!(due_ids(&store, a.created_at - 1).await.is_empty());
    let webhooks = store
        .due_notifications_of(now + 1, Some(NotificationKind::Webhook), 10)
        .await
        .unwrap();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0].id, both[1].id);
    let emails = store
        .due_notifications_of(now + 1, Some(NotificationKind::Email), 10)
        .await
        .unwrap();
    assert_eq!(emails.len(), 2);

    // Claiming: one taker per attempt; a claimed row is not due meanwhile.
    assert!(
        store
            .claim_notification(&a.id, now + 1, now + 30_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_notification(&a.id, now + 1, now + 30_000)
            .await
            .unwrap()
    );
    assert!(!due_ids(&store, now + 1).await.contains(&a.id));

    // A failed attempt with a retry time: pending, not due until then.
    assert!(
        store
            .mark_notification_failed(&a.id, Some(now + 60_000), "connection refused")
            .await
            .unwrap()
    );
    let retried = store.get_notification(&a.id).await.unwrap();
    assert_eq!(retried.status, NotificationStatus::Pending);
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.next_attempt_at, now + 60_000);
    assert_eq!(retried.last_error.as_deref(), Some("connection refused"));
    assert!(!due_ids(&store, now + 1).await.contains(&a.id));
    assert!(due_ids(&store, now + 60_000).await.contains(&a.id));

    // Delivered: sent, with the time, and never due again.
    assert!(
        store
            .mark_notification_sent(&a.id, now + 61_000)
            .await
            .unwrap()
    );
    let sent = store.get_notification(&a.id).await.unwrap();
    assert_eq!(sent.status, NotificationStatus::Sent);
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.sent_at, Some(now + 61_000));
    assert_eq!(sent.last_error, None);
    assert!(!due_ids(&store, i64::MAX).await.contains(&a.id));
    // A settled row is not changed again (another node got there first).
    assert!(!store.mark_notification_sent(&a.id, now).await.unwrap());
    assert!(
        !store
            .mark_notification_failed(&a.id, None, "late")
            .await
            .unwrap()
    );

    // Given up: failed, kept with its error.
    assert!(
        store
            .mark_notification_failed(&both[0].id, None, "gave up after 24h")
            .await
            .unwrap()
    );
    let failed = store.get_notification(&both[0].id).await.unwrap();
    assert_eq!(failed.status, NotificationStatus::Failed);
    assert_eq!(failed.next_attempt_at, both[0].next_attempt_at);

    // Listing by case and status.
    let case_1 = store
        .list_notifications(&NotificationFilter {
            case_id: Some("case_1"),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<&str> = case_1.iter().map(|n| n.id.as_str()).collect();
    ids.sort();
    let mut want = vec![a.id.as_str(), both[1].id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    let pending = store
        .list_notifications(&NotificationFilter {
            status: Some(NotificationStatus::Pending),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, both[1].id);
    assert_eq!(pending[0].kind, NotificationKind::Webhook);
    assert_eq!(pending[0].decision_id.as_deref(), Some("dec_1"));
    let everything = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(everything.len(), 3);
    assert!(
        store
            .list_notifications(&NotificationFilter {
                case_id: Some("case_9"),
                status: Some(NotificationStatus::Sent),
                limit: 5,
            })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.get_notification("ntf_missing").await,
        Err(rampart_store::StoreError::NotFound { .. })
    ));
    assert_eq!(store.revision().await.unwrap(), revision);
}
