//! `/sites/{site}/abuse`: the *Abuse reports* tab of a site: the reports
//! and decisions about it, each decision's appeals with their answers, and
//! an *Appeal* form for the owner. Reports come through the API's
//! `case_view`, so the owner sees a reporter only where the reporter chose
//! "named", exactly as through the API; appeals go through the API's
//! `file_appeal`. Another account's site is not found; users the API
//! shows no cases to (members) are told who can see them, and nothing more.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use http::StatusCode;
use maud::{Markup, html};
use rampart_store::{Appeal, Decision, Role, SiteRecord};
use serde::Deserialize;

use super::csrf::Posted;
use super::desk::{Names, status_label};
use super::desk_forms::{category_label, problem_text};
use super::desk_view::{appeal_item, decision_facts, is_open, reports_table};
use super::format::datetime_ms;
use super::layout::{
    PageResult, Section, csrf_field, done_message, form_can_fix, notice, page, respond,
};
use super::site::{Tab, site_head};
use super::{SignedIn, store};
use crate::Control;
use crate::api;
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::safety::cases::{CaseView, View, view_of};

#[derive(Deserialize, Default)]
pub(crate) struct AbuseQuery {
    done: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AppealForm {
    reasons: String,
}

/// A refused appeal: the decision, what was wrong, what was typed.
struct Refused {
    decision: String,
    message: String,
    reasons: String,
}

/// Whether `principal` may appeal, as the API's `file_appeal` allows: the
/// site's owner, or an operator admin on their behalf.
fn may_appeal(principal: &Principal) -> bool {
    matches!(
        view_of(principal),
        Some(View::Owner(_)) | Some(View::Desk) if principal.role != Role::TrustSafety
    )
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(key): Path<String>,
    Query(query): Query<AbuseQuery>,
) -> PageResult {
    let site = api::sites::visible_site(&control, &signed.principal, &key).await?;
    render(
        &control,
        &signed,
        &site,
        None,
        query.done.as_deref(),
        StatusCode::OK,
    )
    .await
}

/// The site's cases as the API shows them to `principal`, newest first.
async fn site_cases(
    control: &Control,
    principal: &Principal,
    site: &SiteRecord,
) -> Result<Vec<(CaseView, Vec<(Decision, Vec<Appeal>)>)>, ApiError> {
    let mut cases = api::safety::cases::list_cases(control, principal, None).await?;
    // A merged case's reports live on in the case it was merged into.
    cases.retain(|c| c.site_id == site.id && c.status != "merged");
    cases.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    let mut out = Vec::new();
    for case in cases {
        let view = api::safety::cases::case_view(control, principal, &case.id).await?;
        let mut decisions = Vec::new();
        for decision in view.decisions.iter().rev() {
            let appeals = api::appeals::appeal_history(control, principal, &decision.id).await?;
            decisions.push((decision.clone(), appeals));
        }
        out.push((view, decisions));
    }
    Ok(out)
}

async fn render(
    control: &Control,
    signed: &SignedIn,
    site: &SiteRecord,
    refused: Option<Refused>,
    done: Option<&str>,
    status: StatusCode,
) -> PageResult {
    let principal = &signed.principal;
    let body = if view_of(principal).is_none() {
        html! {
            (site_head(site, Tab::Abuse))
            p.panel role="note" #abuse-not-shown {
                "Abuse reports and decisions about this site are shown to the account's owners and to the trust & safety desk only."
            }
        }
    } else {
        let cases = site_cases(control, principal, site).await?;
        let desk = matches!(view_of(principal), Some(View::Desk));
        let mut names = Names::default();
        let store = store(control)?;
        let now = api::tokens::now_ms();
        let csrf = csrf_field(signed.csrf());
        let mut sections = Vec::new();
        for (view, decisions) in &cases {
            // The desk sees who decided; owners are told the desk did.
            let mut deciders = Vec::new();
            for (decision, _) in decisions {
                deciders.push(if desk {
                    Some(names.user(store, &decision.decided_by).await)
                } else {
                    None
                });
            }
            sections.push(case_section(
                view,
                decisions,
                &deciders,
                refused.as_ref(),
                may_appeal(principal),
                &csrf,
                now,
            ));
        }
        html! {
            (site_head(site, Tab::Abuse))
            (notice(done_message(done)))
            p.sub {
                "Reports that people filed about this site, and what the trust & safety desk decided. "
                "A reporter's name and email appear only if they chose to share them with you. Times are UTC."
            }
            @if sections.is_empty() {
                p.panel.empty #abuse-empty { "No abuse reports about this site." }
            }
            @for section in &sections { (section) }
        }
    };
    Ok(respond(
        status,
        page(
            &format!("Abuse reports · {}", site.name),
            Some(signed),
            Section::Sites,
            body,
        ),
    ))
}

fn case_section(
    view: &CaseView,
    decisions: &[(Decision, Vec<Appeal>)],
    deciders: &[Option<String>],
    refused: Option<&Refused>,
    may_appeal: bool,
    csrf: &Markup,
    now: i64,
) -> Markup {
    let case = &view.case;
    html! {
        section.panel id={ "case-" (case.reference) } aria-labelledby={ "case-title-" (case.reference) } {
            h2 id={ "case-title-" (case.reference) } { "Case " (case.reference) ": " (category_label(&case.category)) }
            p { "Opened " (datetime_ms(case.created_at)) ". Status: " (status_label(&case.status)) "." }
            h3 { "Reports" }
            (reports_table(&format!("reports-{}", case.reference), &view.reports))
            h3 { "Decisions" }
            @if decisions.is_empty() {
                p.empty { "No decision yet." }
            }
            @for (i, (decision, appeals)) in decisions.iter().enumerate() {
                article.decision id={ "decision-" (decision.id) } aria-label={ "Decision of " (datetime_ms(decision.decided_at)) } {
                    (decision_facts(decision, deciders.get(i).and_then(Option::as_deref), None, now))
                    p { a href={ "/decisions/" (decision.id) "/statement-of-reasons.json" } { "Statement of reasons (DSA JSON)" } }
                    h4 { "Appeals" }
                    @if appeals.is_empty() {
                        p.empty { "Not appealed." }
                    }
                    @for appeal in appeals { (appeal_item(appeal, None, None)) }
                    @let pending = appeals.iter().any(|a| a.status == "pending");
                    @if may_appeal && is_open(decision, now) && !pending {
                        (appeal_form(decision, refused.filter(|r| r.decision == decision.id), csrf))
                    }
                }
            }
        }
    }
}

fn appeal_form(decision: &Decision, refused: Option<&Refused>, csrf: &Markup) -> Markup {
    let field = format!("f-appeal-{}", decision.id);
    let error = format!("{field}-error");
    html! {
        form.stacked method="post" action={ "/sites/" (decision.site_id) "/abuse/decisions/" (decision.id) "/appeal" } aria-label="Appeal this decision" {
            (csrf)
            div.field {
                label for=(field) { "Why this decision is wrong" }
                p.hint id={ (field) "-hint" } { "Another agent than the one who decided reads your appeal and answers it." }
                textarea id=(field) name="reasons" rows="4"
                    aria-invalid=[refused.map(|_| "true")]
                    aria-describedby={ (field) "-hint" @if refused.is_some() { " " (error) } } {
                    @if let Some(r) = refused { (r.reasons) }
                }
                @if let Some(r) = refused {
                    p.field-error role="alert" id=(error) { "Error: " (r.message) }
                }
            }
            button type="submit" { "Appeal" }
        }
    }
}

pub(crate) async fn appeal(
    State(control): State<Arc<Control>>,
    Path((key, decision_id)): Path<(String, String)>,
    Posted { signed, form }: Posted<AppealForm>,
) -> PageResult {
    let principal = &signed.principal;
    let site = api::sites::visible_site(&control, principal, &key).await?;
    // The decision must be about this site; which other decisions exist is
    // not for this page to say.
    let about_site = store(&control)?
        .get_decision(&decision_id)
        .await
        .is_ok_and(|d| d.site_id == site.id);
    if !about_site {
        return Err(ApiError::not_found("decision", &decision_id).into());
    }
    match api::appeals::file_appeal(&control, principal, &decision_id, &form.reasons).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/sites/{}/abuse?done=appeal-filed#decision-{decision_id}",
            site.id
        ))
        .into_response()),
        Err(error) if form_can_fix(&error) => {
            let refused = Refused {
                decision: decision_id,
                message: problem_text(&error),
                reasons: form.reasons,
            };
            render(&control, &signed, &site, Some(refused), None, error.status).await
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_store::User;

    fn principal(role: Role, account: Option<&str>) -> Principal {
        Principal::from_session(User {
            id: "u".into(),
            email: "u@x.test".into(),
            name: "u".into(),
            role,
            account_id: account.map(str::to_owned),
            created_at: 0,
            updated_at: 0,
        })
    }

    #[test]
    fn who_may_appeal() {
        assert!(may_appeal(&principal(Role::AccountOwner, Some("a"))));
        assert!(may_appeal(&principal(Role::OperatorAdmin, None)));
        assert!(!may_appeal(&principal(Role::TrustSafety, None)));
        assert!(!may_appeal(&principal(Role::AccountMember, Some("a"))));
    }
}
