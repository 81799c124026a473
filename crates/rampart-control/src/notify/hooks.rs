//! Which messages the desk's events send, to whom: a report received (its
//! reporter; the site's owners when the reporter agreed to share it), a
//! decision taken (the case's reporters; the site's owners, with the
//! statement of reasons and how to appeal). Messages go to the outbox; a
//! failure to enqueue is logged and does not undo the event itself.

use rampart_store::{AbuseReport, Case, Decision, NewNotification, Role, Store};

use super::compose;
use super::templates::{Audience, Event, Fields, Sharing};

fn sharing(choice: &str) -> Sharing {
    match choice {
        "named" => Sharing::Named,
        "anonymous" => Sharing::Anonymous,
        _ => Sharing::None,
    }
}

async fn owner_emails(store: &Store, account_id: &str) -> Vec<String> {
    match store.list_users(Some(account_id)).await {
        Ok(users) => users
            .into_iter()
            .filter(|u| u.role == Role::AccountOwner)
            .map(|u| u.email)
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot list the site's owners for a notification");
            Vec::new()
        }
    }
}

async fn enqueue(store: &Store, rows: Vec<NewNotification>, what: &str) {
    if rows.is_empty() {
        return;
    }
    if let Err(error) = store.enqueue_notifications(&rows).await {
        tracing::warn!(%error, what, "notifications not enqueued");
    }
}

/// A report was filed: tell its reporter, and the site's owners if the
/// reporter agreed to share it (named or anonymously).
pub async fn report_received(
    store: &Store,
    report: &AbuseReport,
    case: &Case,
    site: &str,
    status_url: &str,
) {
    let mut rows = Vec::new();
    let base = |shared: Sharing| Fields {
        reference: &report.reference,
        site,
        urls: &report.urls,
        explanation: &report.explanation,
        reporter_name: report.reporter_name.as_deref(),
        reporter_email: report.reporter_email.as_deref(),
        reporter_shared: shared,
        outcome: "",
        statement_of_reasons: "",
        effective: "",
        status_url,
        appeal_url: "",
    };
    if let Some(to) = report.reporter_email.as_deref()
        && let Ok(row) = compose::email(
            to,
            Audience::Reporter,
            &report.category,
            Event::Received,
            &base(Sharing::Named),
            Some(&case.id),
            None,
        )
    {
        rows.push(row);
    }
    let shared = sharing(&report.share_with_owner);
    if shared != Sharing::None {
        for to in owner_emails(store, &case.account_id).await {
            if let Ok(row) = compose::email(
                &to,
                Audience::SiteOwner,
                &report.category,
                Event::Received,
                &base(shared),
                Some(&case.id),
                None,
            ) {
                rows.push(row);
            }
        }
    }
    enqueue(store, rows, "report received").await;
}

/// A decision was taken: tell the case's reporters and the site's owners.
pub async fn decision_taken(
    store: &Store,
    decision: &Decision,
    case: &Case,
    site: &str,
    appeal_url: &str,
    status_base: &str,
) {
    let reports = match store.case_reports(&case.id).await {
        Ok(reports) => reports,
        Err(error) => {
            tracing::warn!(%error, "cannot read the case's reports for notifications");
            Vec::new()
        }
    };
    let reasons = serde_json::to_string_pretty(&decision.reasons).unwrap_or_default();
    let effective =
        rampart_challenge::rfc3339_utc(u64::try_from(decision.effective_at / 1000).unwrap_or(0));
    let mut rows = Vec::new();
    for report in &reports {
        let Some(to) = report.reporter_email.as_deref() else {
            continue;
        };
        let status_url = format!(
            "{status_base}/api/v1/abuse-reports/{}/status",
            report.reference
        );
        let fields = Fields {
            reference: &report.reference,
            site,
            urls: &report.urls,
            explanation: "",
            reporter_name: None,
            reporter_email: None,
            reporter_shared: Sharing::Named,
            outcome: &decision.outcome,
            statement_of_reasons: "",
            effective: &effective,
            status_url: &status_url,
            appeal_url: "",
        };
        if let Ok(row) = compose::email(
            to,
            Audience::Reporter,
            &case.category,
            Event::Decided,
            &fields,
            Some(&case.id),
            Some(&decision.id),
        ) {
            rows.push(row);
        }
    }
    let owner_fields = Fields {
        reference: &case.reference,
        site,
        urls: &[],
        explanation: "",
        reporter_name: None,
        reporter_email: None,
        reporter_shared: Sharing::Anonymous,
        outcome: &decision.outcome,
        statement_of_reasons: &reasons,
        effective: &effective,
        status_url: "",
        appeal_url,
    };
    for to in owner_emails(store, &case.account_id).await {
        if let Ok(row) = compose::email(
            &to,
            Audience::SiteOwner,
            &case.category,
            Event::Decided,
            &owner_fields,
            Some(&case.id),
            Some(&decision.id),
        ) {
            rows.push(row);
        }
    }
    enqueue(store, rows, "decision taken").await;
}

/// The desk forwards the case's reports to the hosting provider of the
/// site's origin: one message per report the reporter let the host see
/// (named or anonymous; CSAM reports carry the addresses only).
pub async fn forwarded_to_host(
    store: &Store,
    decision: &Decision,
    case: &Case,
    site: &str,
    host_email: &str,
) {
    let reports = match store.case_reports(&case.id).await {
        Ok(reports) => reports,
        Err(error) => {
            tracing::warn!(%error, "cannot read the case's reports to forward them");
            return;
        }
    };
    let mut rows = Vec::new();
    for report in &reports {
        let fields = Fields {
            reference: &report.reference,
            site,
            urls: &report.urls,
            explanation: &report.explanation,
            reporter_name: report.reporter_name.as_deref(),
            reporter_email: report.reporter_email.as_deref(),
            reporter_shared: sharing(&report.share_with_host),
            outcome: &decision.outcome,
            statement_of_reasons: "",
            effective: "",
            status_url: "",
            appeal_url: "",
        };
        if let Ok(row) = compose::email(
            host_email,
            Audience::Host,
            &report.category,
            Event::Forwarded,
            &fields,
            Some(&case.id),
            Some(&decision.id),
        ) {
            rows.push(row);
        }
    }
    enqueue(store, rows, "forwarded to the host").await;
}
