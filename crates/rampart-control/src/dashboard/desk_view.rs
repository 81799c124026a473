//! Pieces the desk's case page and a site's *Abuse reports* tab share: the
//! reports (as the API's `ReportView` lets the viewer see them), a
//! decision's statement of reasons, and an appeal's history.

use maud::{Markup, html};
use rampart_store::{Appeal, Decision};
use serde_json::Value;

use super::desk_forms::{category_label, outcome_label};
use super::format::{datetime_ms, iso_ms};
use super::layout::CardsTable;
use crate::api::safety::cases::ReportView;

fn when(ms: i64) -> Markup {
    html! { time datetime=(iso_ms(ms)) { (datetime_ms(ms)) } }
}

/// The reports of one case. Who reported appears only where the API's
/// view of the report carries it.
pub(crate) fn reports_table(id: &str, reports: &[ReportView]) -> Markup {
    let table = CardsTable {
        id,
        caption: "Reports",
        empty: "No reports.",
        actions: false,
    };
    let headings = html! {
        th scope="col" { "Report" }
        th scope="col" { "Received (UTC)" }
        th scope="col" { "Category" }
        th scope="col" { "URLs" }
        th scope="col" { "Explanation" }
        th scope="col" { "Reporter" }
    };
    let rows = html! {
        @for report in reports {
            tr id={ "report-" (report.reference) } {
                th scope="row" data-label="Report" { (report.reference) }
                td data-label="Received" { (when(report.created_at)) }
                td data-label="Category" { (category_label(&report.category)) }
                td data-label="URLs" {
                    ul.plain { @for url in &report.urls { li.key { (url) } } }
                }
                td data-label="Explanation" {
                    @match &report.explanation {
                        Some(text) if !text.is_empty() => { p.prewrap { (text) } },
                        Some(_) => { span.muted { "None given." } },
                        None => { span.muted { "The reporter did not share their report with the site's owner." } },
                    }
                }
                td.reporter data-label="Reporter" {
                    @match &report.reporter {
                        Some(r) if r.name.is_some() || r.email.is_some() => {
                            @if let Some(name) = &r.name { (name) br; }
                            @if let Some(email) = &r.email { span.key { (email) } }
                        },
                        Some(_) => { span.muted { "Gave no name or email." } },
                        None => { span.muted { "Not shared: the reporter chose to stay anonymous." } },
                    }
                    br;
                    span.hint { "Shared with the owner: " (report.share_with_owner) "; with the host: " (report.share_with_host) }
                }
            }
        }
    };
    table.render(reports.is_empty(), headings, rows)
}

/// Where a decision stands at `now`.
pub(crate) fn decision_state(decision: &Decision, now: i64) -> &'static str {
    if decision.lifted_at.is_some() {
        "lifted"
    } else if decision.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else if decision.effective_at > now {
        "scheduled"
    } else {
        "active"
    }
}

/// Whether a Lift (or an appeal) still means something.
pub(crate) fn is_open(decision: &Decision, now: i64) -> bool {
    matches!(decision_state(decision, now), "active" | "scheduled")
}

fn reason<'a>(decision: &'a Decision, key: &str) -> Option<&'a str> {
    decision.reasons.get(key).and_then(Value::as_str)
}

fn yes_no(decision: &Decision, key: &str) -> &'static str {
    if decision.reasons.get(key).and_then(Value::as_bool) == Some(true) {
        "Yes"
    } else {
        "No"
    }
}

/// The decision and its statement of reasons. `decided_by` and
/// `lifted_by` are shown to the desk only (owners are told the desk
/// decided, not which agent).
pub(crate) fn decision_facts(
    decision: &Decision,
    decided_by: Option<&str>,
    lifted_by: Option<&str>,
    now: i64,
) -> Markup {
    let state = decision_state(decision, now);
    html! {
        p {
            strong { (outcome_label(&decision.outcome)) }
            " "
            span.badge.attack[state == "active"].normal[state != "active"] id={ "decision-state-" (decision.id) } { (state) }
        }
        dl.facts {
            dt { "Decided" } dd { (when(decision.decided_at)) @if let Some(by) = decided_by { " by " (by) } }
            dt { "Takes effect" } dd { (when(decision.effective_at)) }
            dt { "Expires" } dd { @match decision.expires_at { Some(at) => { (when(at)) }, None => { "When lifted" } } }
            @if let Some(at) = decision.lifted_at {
                dt { "Lifted" } dd { (when(at)) @if let Some(by) = lifted_by { " by " (by) } }
            }
            @if let Some(patterns) = &decision.patterns {
                dt { "Restricted URL patterns" } dd { ul.plain { @for p in patterns { li.key { (p) } } } }
            }
            @if let Some(url) = &decision.blocked_by {
                dt { "Blocking authority" } dd.key { (url) }
            }
            dt { "Decision ground" } dd { (reason(decision, "decision_ground").unwrap_or("—")) }
            @if let Some(reference) = reason(decision, "ground_reference") {
                dt { "Legal or policy reference" } dd { (reference) }
            }
            dt { "Statement category" } dd { (reason(decision, "category").unwrap_or("—")) }
            dt { "Facts and circumstances" } dd.prewrap { (reason(decision, "facts").unwrap_or("—")) }
            dt { "Territorial scope" } dd { (reason(decision, "territorial_scope").unwrap_or("—")) }
            dt { "Content type" } dd { (reason(decision, "content_type").unwrap_or("—")) }
            dt { "Automated detection" } dd { (yes_no(decision, "automated_detection")) }
            dt { "Automated decision" } dd { (yes_no(decision, "automated_decision")) }
        }
    }
}

pub(crate) fn appeal_status_label(status: &str) -> &str {
    match status {
        "pending" => "Waiting for an answer",
        "upheld" => "Upheld: the decision stands",
        "reversed" => "Reversed: the decision was lifted",
        other => other,
    }
}

/// One appeal: the owner's reasons and, once answered, the answer.
/// `filed_by` and `answered_by` only for the desk.
pub(crate) fn appeal_item(
    appeal: &Appeal,
    filed_by: Option<&str>,
    answered_by: Option<&str>,
) -> Markup {
    html! {
        dl.facts id={ "appeal-" (appeal.id) } {
            dt { "Appealed" } dd { (when(appeal.filed_at)) @if let Some(by) = filed_by { " by " (by) } }
            dt { "Reasons" } dd.prewrap { (appeal.reasons) }
            dt { "Status" } dd id={ "appeal-status-" (appeal.id) } { (appeal_status_label(&appeal.status)) }
            @if let Some(at) = appeal.answered_at {
                dt { "Answered" } dd { (when(at)) @if let Some(by) = answered_by { " by " (by) } }
            }
            @if let Some(response) = &appeal.response {
                dt { "Answer" } dd.prewrap { (response) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(effective_at: i64, expires_at: Option<i64>, lifted_at: Option<i64>) -> Decision {
        Decision {
            id: "d".into(),
            case_id: "c".into(),
            site_id: "s".into(),
            outcome: "suspend".into(),
            reasons: serde_json::json!({ "facts": "<b>x</b>", "automated_decision": true }),
            patterns: None,
            blocked_by: None,
            decided_by: "u".into(),
            decided_at: 0,
            effective_at,
            expires_at,
            lifted_at,
            lifted_by: None,
        }
    }

    #[test]
    fn states() {
        assert_eq!(decision_state(&decision(0, None, None), 10), "active");
        assert_eq!(decision_state(&decision(20, None, None), 10), "scheduled");
        assert_eq!(decision_state(&decision(0, Some(5), None), 10), "expired");
        assert_eq!(decision_state(&decision(0, None, Some(3)), 10), "lifted");
        assert!(is_open(&decision(20, None, None), 10));
        assert!(!is_open(&decision(0, None, Some(3)), 10));
    }

    #[test]
    fn reasons_are_escaped_and_people_optional() {
        let html = decision_facts(&decision(0, None, None), None, None, 10).into_string();
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"), "{html}");
        assert!(!html.contains(" by "), "{html}");
        assert!(html.contains("<dd>Yes</dd>"), "{html}");
        let html = decision_facts(&decision(0, None, None), Some("a@desk"), None, 10).into_string();
        assert!(html.contains(" by a@desk"), "{html}");
    }
}
