//! Trust & safety: reports grouping into cases, queues, decisions in force.

use rampart_store::{AuditFilter, CaseQueue, NewAbuseReport, NewDecision, Store};

use crate::fixture::{Fixture, admin, site};

async fn one_site(store: &Store) -> (String, String) {
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let shop = store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    (acme.id, shop.id)
}

fn report(account: &str, site: &str, category: &str, email: &str) -> NewAbuseReport {
    NewAbuseReport {
        site_id: site.into(),
        account_id: account.into(),
        category: category.into(),
        urls: vec!["https://shop.test/login".into()],
        explanation: "looks like a bank".into(),
        reporter_name: Some("Rita Reporter".into()),
        reporter_email: Some(email.into()),
        good_faith: true,
        share_with_owner: "anonymous".into(),
        share_with_host: "named".into(),
        client_ip_hash: "iphash1".into(),
    }
}

fn suspend() -> NewDecision {
    NewDecision {
        outcome: "suspend".into(),
        reasons: serde_json::json!({"decision_ground": "incompatible_content"}),
        patterns: None,
        blocked_by: None,
        effective_at: None,
        expires_at: None,
    }
}

const DAY_MS: i64 = 86_400_000;

pub async fn reports_merge_into_cases(fx: Fixture) {
    let store = fx.open().await;
    let (account, site) = one_site(&store).await;
    let revision = store.revision().await.unwrap();

    let (first, case, merged) = store
        .file_abuse_report(
            &admin(),
            report(&account, &site, "phishing", "r@x.test"),
            DAY_MS,
        )
        .await
        .unwrap();
    assert!(!merged);
    assert_eq!(case.priority, "normal");
    assert_eq!(case.status, "received");
    assert!(first.reference.starts_with("AR-"), "{}", first.reference);
    assert!(case.reference.starts_with("TS-"), "{}", case.reference);
    let (second, same, merged) = store
        .file_abuse_report(
            &admin(),
            report(&account, &site, "phishing", "s@x.test"),
            DAY_MS,
        )
        .await
        .unwrap();
    assert!(merged);
    assert_eq!(same.id, case.id);
    assert_ne!(second.reference, first.reference);
    let (_, other, merged) = store
        .file_abuse_report(
            &admin(),
            report(&account, &site, "csam", "r@x.test"),
            DAY_MS,
        )
        .await
        .unwrap();
    assert!(!merged);
    assert_eq!(other.priority, "urgent");
    assert_eq!(store.case_reports(&case.id).await.unwrap().len(), 2);
    // Reports change nothing the edge reads.
    assert_eq!(store.revision().await.unwrap(), revision);

    assert_eq!(store.count_reports_from_ip("iphash1", 0).await.unwrap(), 3);
    assert_eq!(
        store.count_reports_from_email("r@x.test", 0).await.unwrap(),
        2
    );

    // The audit log never holds who reported nor what they wrote.
    let log = store.list_audit(&AuditFilter::default()).await.unwrap();
    let text = serde_json::to_string(&log).unwrap();
    assert!(text.contains("report.create"));
    assert!(!text.contains("r@x.test") && !text.contains("Rita") && !text.contains("bank"));

    let status = store
        .report_status(&first.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.case.id, case.id);
    assert!(store.report_status("AR-NOPE").await.unwrap().is_none());
    store.close().await;
}

pub async fn queues_and_assignment(fx: Fixture) {
    let store = fx.open().await;
    let (account, site) = one_site(&store).await;
    let (_, urgent, _) = store
        .file_abuse_report(
            &admin(),
            report(&account, &site, "violent_threats", "a@x.test"),
            DAY_MS,
        )
        .await
        .unwrap();
    let (_, low, _) = store
        .file_abuse_report(
            &admin(),
            report(&account, &site, "spam", "a@x.test"),
            DAY_MS,
        )
        .await
        .unwrap();
    let ids = |cases: Vec<rampart_store::Case>| cases.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_cases(CaseQueue::Urgent).await.unwrap()),
        [urgent.id.as_str()]
    );
    assert_eq!(
        ids(store.list_cases(CaseQueue::All).await.unwrap()),
        [urgent.id.clone(), low.id.clone()]
    );
    assert!(
        store
            .list_cases(CaseQueue::Overdue)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_cases(CaseQueue::Unassigned).await.unwrap().len(),
        2
    );
    assert_eq!(
        store
            .list_cases(CaseQueue::Account(&account))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .list_cases(CaseQueue::Account("acct_other"))
            .await
            .unwrap()
            .is_empty()
    );

    let held = store
        .assign_case(&admin(), &low.id, Some("user_agent"))
        .await
        .unwrap();
    assert_eq!(held.status, "under_review");
    assert_eq!(
        ids(store
            .list_cases(CaseQueue::Mine("user_agent"))
            .await
            .unwrap()),
        [low.id.as_str()]
    );
    assert_eq!(
        ids(store.list_cases(CaseQueue::Unassigned).await.unwrap()),
        [urgent.id.as_str()]
    );
    assert!(
        store
            .assign_case(&admin(), "case_nope", None)
            .await
            .is_err()
    );
    store.close().await;
}

pub async fn decisions_enforce_and_lift(fx: Fixture) {
    let store = fx.open().await;
    let (account, site) = one_site(&store).await;
    let (_, case, _) = store
        .file_abuse_report(
            &admin(),
            report(&account, &site, "phishing", "a@x.test"),
            DAY_MS,
        )
        .await
        .unwrap();
    let revision = store.revision().await.unwrap();
    let (decision, decided) = store
        .decide_case(&admin(), &case.id, suspend())
        .await
        .unwrap();
    assert_eq!(decided.status, "decided");
    assert_eq!(store.revision().await.unwrap(), revision + 1);
    let now = decision.decided_at;
    assert!(decision.in_force(now));
    let enforced = store.enforcement_decisions(now).await.unwrap();
    assert_eq!(enforced.len(), 1);
    assert_eq!(enforced[0].1.reference, case.reference);
    // A decided case takes no more reports: a new one opens a new case.
    let (_, fresh, merged) = store
        .file_abuse_report(
            &admin(),
            report(&account, &site, "phishing", "b@x.test"),
            DAY_MS,
        )
        .await
        .unwrap();
    assert!(!merged);
    assert_ne!(fresh.id, case.id);

    // Non-enforced outcomes and scheduled ones are not in force now.
    let mut warn = suspend();
    warn.outcome = "warn".into();
    store.decide_case(&admin(), &fresh.id, warn).await.unwrap();
    let mut later = suspend();
    later.effective_at = Some(now + DAY_MS);
    let (scheduled, _) = store.decide_case(&admin(), &fresh.id, later).await.unwrap();
    assert!(!scheduled.in_force(now));
    assert!(scheduled.in_force(now + DAY_MS));
    assert_eq!(store.enforcement_decisions(now).await.unwrap().len(), 2);

    let lifted = store.lift_decision(&admin(), &decision.id).await.unwrap();
    assert!(lifted.lifted_at.is_some());
    assert!(!lifted.in_force(now));
    let revision = store.revision().await.unwrap();
    let again = store.lift_decision(&admin(), &decision.id).await.unwrap();
    assert_eq!(again.lifted_at, lifted.lifted_at);
    assert_eq!(
        store.revision().await.unwrap(),
        revision,
        "a no-op lift does not bump"
    );
    let left = store.enforcement_decisions(now).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0.id, scheduled.id);
    assert_eq!(store.case_decisions(&fresh.id).await.unwrap().len(), 2);

    // Decisions are in the owner's log, reports are not.
    let filter = AuditFilter {
        account_id: Some(account.clone()),
        ..AuditFilter::default()
    };
    let log = store.list_audit(&filter).await.unwrap();
    assert!(log.iter().any(|e| e.action == "decision.lift"));
    assert!(!log.iter().any(|e| e.action == "report.create"));
    store.close().await;
}

pub async fn racing_reports_share_one_case(fx: Fixture) {
    let store = fx.open().await;
    let (account, site) = one_site(&store).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let new = report(&account, &site, "malware", &format!("r{i}@x.test"));
        tasks.push(tokio::spawn(async move {
            store
                .file_abuse_report(&admin(), new, DAY_MS)
                .await
                .unwrap()
                .1
                .id
        }));
    }
    let mut cases = std::collections::HashSet::new();
    for task in tasks {
        cases.insert(task.await.unwrap());
    }
    assert_eq!(cases.len(), 1, "{cases:?}");
    store.close().await;
}
