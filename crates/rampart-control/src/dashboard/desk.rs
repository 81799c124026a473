//! `/desk`: the trust & safety desk's queues (urgent, overdue, unassigned,
//! mine) for agents and operator admins. The cases come from the API's own
//! `list_cases`, so the queues are the API's; everyone else gets 404, as
//! the API answers them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use http::StatusCode;
use maud::{Markup, html};
use rampart_store::{Case, Store};
use serde::Deserialize;

use super::desk_forms::category_label;
use super::format::{count, datetime_ms, iso_ms};
use super::layout::{CardsTable, PageResult, Section, done_message, notice, page, respond};
use super::{SignedIn, store};
use crate::Control;
use crate::api;
use crate::api::auth::Principal;
use crate::api::error::{ApiError, ApiResult};
use crate::api::safety::cases::{View, view_of};

/// The desk's queues: API code and tab label.
pub(crate) const QUEUES: [(&str, &str); 4] = [
    ("urgent", "Urgent"),
    ("overdue", "Overdue"),
    ("unassigned", "Unassigned"),
    ("mine", "Mine"),
];

/// The queue a `?queue=` asks for; urgent unless it names another.
pub(crate) fn queue_of(asked: Option<&str>) -> &'static str {
    QUEUES
        .iter()
        .map(|(code, _)| *code)
        .find(|code| Some(*code) == asked)
        .unwrap_or("urgent")
}

/// Agents and operator admins only: anyone else learns nothing, as from
/// the API's queues.
pub(crate) fn require_desk_view(principal: &Principal) -> ApiResult<()> {
    match view_of(principal) {
        Some(View::Desk) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such page",
        )),
    }
}

/// Site names and user emails by id, looked up once per page.
#[derive(Default)]
pub(crate) struct Names {
    sites: HashMap<String, String>,
    users: HashMap<String, String>,
}

impl Names {
    /// The site's name, or its id once it is deleted.
    pub async fn site(&mut self, store: &Store, id: &str) -> String {
        if let Some(name) = self.sites.get(id) {
            return name.clone();
        }
        let name = store
            .get_site(id)
            .await
            .map_or_else(|_| id.to_owned(), |s| s.name);
        self.sites.insert(id.to_owned(), name.clone());
        name
    }

    /// The user's email; an actor that is not a user (or no longer one) by
    /// the label the store kept.
    pub async fn user(&mut self, store: &Store, id: &str) -> String {
        if let Some(email) = self.users.get(id) {
            return email.clone();
        }
        let email = store
            .get_user(id)
            .await
            .map_or_else(|_| id.to_owned(), |u| u.email);
        self.users.insert(id.to_owned(), email.clone());
        email
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct QueueQuery {
    queue: Option<String>,
    done: Option<String>,
}

/// "overdue" when the SLA ran out on an undecided case.
pub(crate) fn overdue(case: &Case, now_ms: i64) -> bool {
    case.status != "decided" && case.sla_due_at < now_ms
}

pub(crate) fn status_label(status: &str) -> &str {
    match status {
        "received" => "Received",
        "under_review" => "Under review",
        "decided" => "Decided",
        "merged" => "Merged into another case",
        other => other,
    }
}

/// The SLA cell: the due time, and whether it passed.
pub(crate) fn sla_cell(case: &Case, now_ms: i64) -> Markup {
    html! {
        time datetime=(iso_ms(case.sla_due_at)) { (datetime_ms(case.sla_due_at)) }
        @if overdue(case, now_ms) { " " span.badge.attack { "overdue" } }
    }
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Query(query): Query<QueueQuery>,
) -> PageResult {
    let principal = &signed.principal;
    require_desk_view(principal)?;
    let store = store(&control)?;
    let current = queue_of(query.queue.as_deref());
    let mut counts = Vec::new();
    let mut shown = Vec::new();
    for (code, label) in QUEUES {
        let cases = api::safety::cases::list_cases(&control, principal, Some(code)).await?;
        counts.push((code, label, cases.len()));
        if code == current {
            shown = cases;
        }
    }
    let now = api::tokens::now_ms();
    let mut names = Names::default();
    let mut rows = Vec::new();
    for case in &shown {
        let site = names.site(store, &case.site_id).await;
        let assignee = match &case.assignee_user_id {
            Some(id) => Some(names.user(store, id).await),
            None => None,
        };
        rows.push((case, site, assignee));
    }
    let label = QUEUES
        .iter()
        .find(|(c, _)| *c == current)
        .map_or("", |(_, l)| *l);
    let table = CardsTable {
        id: "cases",
        caption: &format!("{label} cases"),
        empty: "No cases in this queue.",
        actions: false,
    };
    let headings = html! {
        th scope="col" { "Case" }
        th scope="col" { "Priority" }
        th scope="col" { "Category" }
        th scope="col" { "Site" }
        th scope="col" { "SLA due (UTC)" }
        th scope="col" { "Status" }
        th scope="col" { "Assigned to" }
    };
    let body_rows = html! {
        @for (case, site, assignee) in &rows {
            tr id={ "case-" (case.reference) } {
                th scope="row" data-label="Case" { a href={ "/desk/cases/" (case.id) } { (case.reference) } }
                td data-label="Priority" {
                    @if case.priority == "urgent" { span.badge.attack { "urgent" } } @else { (case.priority) }
                }
                td data-label="Category" { (category_label(&case.category)) }
                td data-label="Site" { (site) }
                td data-label="SLA due" { (sla_cell(case, now)) }
                td data-label="Status" { (status_label(&case.status)) }
                td data-label="Assigned to" {
                    @match assignee { Some(email) => { (email) }, None => { span.muted { "nobody" } } }
                }
            }
        }
    };
    let body = html! {
        div.page-head {
            div {
                h1 { "Trust & safety" }
                p.sub { "Abuse reports grouped into cases, most pressing first. Times are UTC." }
            }
            div { a href="/transparency" { "Transparency report" } }
        }
        (notice(done_message(query.done.as_deref())))
        nav aria-label="Queues" {
            ul.tabs {
                @for (code, label, n) in &counts {
                    li {
                        a id={ "queue-" (code) } href={ "/desk?queue=" (code) } aria-current=[(*code == current).then_some("page")] {
                            (label) " " span.count { "(" (count(u64::try_from(*n).unwrap_or(0))) ")" }
                        }
                    }
                }
            }
        }
        section.panel aria-labelledby="queue-title" {
            h2 #queue-title { (label) " cases" }
            (table.render(rows.is_empty(), headings, body_rows))
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Trust & safety", Some(&signed), Section::Desk, body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_default_to_urgent() {
        assert_eq!(queue_of(None), "urgent");
        assert_eq!(queue_of(Some("mine")), "mine");
        assert_eq!(queue_of(Some("all; drop table")), "urgent");
    }

    #[test]
    fn overdue_only_while_undecided() {
        // From JSON, so fields the case gains later need no change here.
        let case: Case = serde_json::from_value(serde_json::json!({
            "id": "c", "reference": "TS-1", "site_id": "s", "account_id": "a",
            "category": "spam", "priority": "low", "sla_due_at": 1_000,
            "status": "received", "assignee_user_id": null,
            "created_at": 0, "updated_at": 0,
        }))
        .unwrap();
        assert!(overdue(&case, 2_000));
        assert!(!overdue(&case, 500));
        let decided = Case {
            status: "decided".into(),
            ..case
        };
        assert!(!overdue(&decided, 2_000));
    }
}
