//! Transparency figures: counts by category and outcome, lifts, and the
//! median time to a decision, split urgent / other, within the period only.

use rampart_store::{NewAbuseReport, NewDecision};

use crate::fixture::{Fixture, admin, site};

const DAY_MS: i64 = 86_400_000;

fn report(account: &str, site: &str, category: &str) -> NewAbuseReport {
    NewAbuseReport {
        site_id: site.into(),
        account_id: account.into(),
        category: category.into(),
        urls: vec!["https://shop.test/x".into()],
        explanation: "seen".into(),
        reporter_name: None,
        reporter_email: Some("r@x.test".into()),
        good_faith: true,
        share_with_owner: "none".into(),
        share_with_host: "anonymous".into(),
        client_ip_hash: "ip".into(),
    }
}

fn decision(outcome: &str) -> NewDecision {
    NewDecision {
        outcome: outcome.into(),
        reasons: serde_json::json!({"decision_ground": "incompatible_content"}),
        patterns: None,
        blocked_by: None,
        effective_at: None,
        expires_at: None,
    }
}

pub async fn transparency_counts_the_period(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let shop = store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 1_000;
    let (_, threat, _) = store
        .file_abuse_report(
            &actor,
            report(&acme.id, &shop.id, "violent_threats"),
            DAY_MS,
        )
        .await
        .unwrap();
    // Merges into the same case: two reports, one case.
    store
        .file_abuse_report(
            &actor,
            report(&acme.id, &shop.id, "violent_threats"),
            DAY_MS,
        )
        .await
        .unwrap();
    let (_, spam, _) = store
        .file_abuse_report(&actor, report(&acme.id, &shop.id, "spam"), DAY_MS)
        .await
        .unwrap();
    let (suspended, _) = store
        .decide_case(&actor, &threat.id, decision("suspend"))
        .await
        .unwrap();
    store
        .decide_case(&actor, &spam.id, decision("no_action"))
        .await
        .unwrap();
    store.lift_decision(&actor, &suspended.id).await.unwrap();
    let end = start + DAY_MS;

    let t = store.transparency(start, end).await.unwrap();
    assert_eq!(t.reports_by_category.get("violent_threats"), Some(&2));
    assert_eq!(t.reports_by_category.get("spam"), Some(&1));
    assert_eq!(t.cases_opened, 2);
    assert_eq!(t.decisions_by_outcome.get("suspend"), Some(&1));
    assert_eq!(t.decisions_by_outcome.get("no_action"), Some(&1));
    assert_eq!(t.decisions_by_category.get("violent_threats"), Some(&1));
    assert_eq!(t.decisions_lifted, 1);
    assert!(
        t.median_ms_to_decision_urgent
            .is_some_and(|ms| (0..60_000).contains(&ms))
    );
    assert!(t.median_ms_to_decision_other.is_some());

    // A period before any of it is empty.
    let before = store.transparency(start - DAY_MS, start).await.unwrap();
    assert!(before.reports_by_category.is_empty() && before.decisions_by_outcome.is_empty());
    assert_eq!(
        (before.cases_opened, before.median_ms_to_decision_urgent),
        (0, None)
    );
}
