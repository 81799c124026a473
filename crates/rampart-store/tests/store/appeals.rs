//! Appeals: one open appeal per decision, answered by another agent than
//! the one who decided; a reversal lifts the decision; history is kept.

use rampart_store::{Actor, NewAbuseReport, NewDecision, Role, StoreError};

use crate::fixture::{Fixture, admin, site};

fn agent(id: &str) -> Actor {
    Actor {
        user_id: Some(id.into()),
        token_id: None,
        label: id.into(),
        role: Role::TrustSafety,
    }
}

pub async fn appeals_are_answered_by_another_agent(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let shop = store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let (_, case, _) = store
        .file_abuse_report(
            &actor,
            NewAbuseReport {
                site_id: shop.id.clone(),
                account_id: acme.id.clone(),
                category: "phishing".into(),
                urls: vec!["https://shop.test/login".into()],
                explanation: "a fake bank".into(),
                reporter_name: None,
                reporter_email: Some("r@x.test".into()),
                good_faith: true,
                share_with_owner: "none".into(),
                share_with_host: "anonymous".into(),
                client_ip_hash: "ip".into(),
            },
            86_400_000,
        )
        .await
        .unwrap();
    let (decision, _) = store
        .decide_case(
            &agent("agent-a"),
            &case.id,
            NewDecision {
                outcome: "suspend".into(),
                reasons: serde_json::json!({"decision_ground": "illegal_content"}),
                patterns: None,
                blocked_by: None,
                effective_at: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let owner = Actor {
        user_id: Some("owner-1".into()),
        token_id: None,
        label: "owner".into(),
        role: Role::AccountOwner,
    };
    let appeal = store
        .file_appeal(
            &owner,
            &decision.id,
            &acme.id,
            "the login page is our own bank's",
        )
        .await
        .unwrap();
    assert_eq!(appeal.status, "pending");
    assert!(matches!(
        store
            .file_appeal(&owner, &decision.id, &acme.id, "again")
            .await,
        Err(StoreError::Conflict { .. })
    ));
    // The deciding agent may not answer.
    assert!(matches!(
        store
            .answer_appeal(&agent("agent-a"), &appeal.id, true, "no")
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let upheld = store
        .answer_appeal(
            &agent("agent-b"),
            &appeal.id,
            false,
            "the page collects card numbers",
        )
        .await
        .unwrap();
    assert_eq!(upheld.status, "upheld");
    assert!(
        store
            .get_decision(&decision.id)
            .await
            .unwrap()
            .lifted_at
            .is_none()
    );

    // A second appeal, reversed: the decision is lifted.
    let second = store
        .file_appeal(&owner, &decision.id, &acme.id, "we removed the page")
        .await
        .unwrap();
    let reversed = store
        .answer_appeal(&agent("agent-c"), &second.id, true, "verified: gone")
        .await
        .unwrap();
    assert_eq!(reversed.status, "reversed");
    assert!(
        store
            .get_decision(&decision.id)
            .await
            .unwrap()
            .lifted_at
            .is_some()
    );
    let history = store.decision_appeals(&decision.id).await.unwrap();
    let statuses: Vec<_> = history.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(statuses, ["upheld", "reversed"]);
    assert!(matches!(
        store
            .answer_appeal(&agent("agent-b"), &second.id, false, "late")
            .await,
        Err(StoreError::Conflict { .. })
    ));
}
