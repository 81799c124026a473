//! `/desk/cases/{id}`: one case for the desk: its reports (reporters as
//! the API shows them to agents), its decisions with their statements of
//! reasons and appeals, *Assign to me*, the decision form, *Lift*, and the
//! answer to a pending appeal. Every write is the API's own function
//! (`assign_case`, `decide_case`, `lift_decision`, `answer_appeal`), so
//! the roles, the checks, the audit log and the edge's enforcement are the
//! API's; a refused write comes back next to the form that caused it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use super::csrf::Posted;
use super::desk::{Names, require_desk_view, sla_cell, status_label};
use super::desk_forms::{
    AnswerForm, DSA_CATEGORY_OPTIONS, DecisionForm, GROUND_OPTIONS, OUTCOME_OPTIONS,
    category_label, decision_field, problem_text,
};
use super::desk_triage::{merge_targets, triage_section};
use super::desk_view::{appeal_item, decision_facts, is_open, reports_table};
use super::form::{Field, checkbox, place_problems, select, text};
use super::layout::{
    FieldMessage, FormProblems, PageResult, Section, csrf_field, done_message, error_summary,
    form_can_fix, notice, page, respond,
};
use super::security_save::NoFields;
use super::{SignedIn, store};
use crate::Control;
use crate::api;
use crate::api::error::ApiError;
use crate::api::safety::cases::Assign;

/// A refused post, shown beside the form that made it.
#[derive(Default)]
pub(crate) struct Problems {
    pub decision: Vec<FieldMessage>,
    pub decision_general: Vec<String>,
    /// The appeal whose answer was refused, and why.
    pub answer: Option<(String, String)>,
    /// A refused note, escalation or merge (`desk_triage.rs`).
    pub triage: FormProblems,
}

#[derive(Deserialize, Default)]
pub(crate) struct CaseQuery {
    done: Option<String>,
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<CaseQuery>,
) -> PageResult {
    render(
        &control,
        &signed,
        &id,
        None,
        Problems::default(),
        query.done.as_deref(),
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_lines)]
pub(crate) async fn render(
    control: &Control,
    signed: &SignedIn,
    id: &str,
    form: Option<&DecisionForm>,
    problems: Problems,
    done: Option<&str>,
    status: StatusCode,
) -> PageResult {
    let principal = &signed.principal;
    require_desk_view(principal)?;
    let view = api::safety::cases::case_view(control, principal, id).await?;
    let store = store(control)?;
    let case = &view.case;
    let now = api::tokens::now_ms();
    let mut names = Names::default();
    let site = names.site(store, &case.site_id).await;
    let assignee = match &case.assignee_user_id {
        Some(user) => Some(names.user(store, user).await),
        None => None,
    };
    let mine = case.assignee_user_id.as_deref() == Some(principal.user.id.as_str());
    let mut decisions = Vec::new();
    for decision in view.decisions.iter().rev() {
        let appeals = api::appeals::appeal_history(control, principal, &decision.id).await?;
        let mut people = Vec::new();
        for appeal in appeals {
            let filed = names.user(store, &appeal.filed_by).await;
            let answered = match &appeal.answered_by {
                Some(by) => Some(names.user(store, by).await),
                None => None,
            };
            people.push((appeal, filed, answered));
        }
        let decided_by = names.user(store, &decision.decided_by).await;
        let lifted_by = match &decision.lifted_by {
            Some(by) => Some(names.user(store, by).await),
            None => None,
        };
        decisions.push((decision, decided_by, lifted_by, people));
    }
    let targets = merge_targets(control, signed, case).await?;
    let notes = view.notes.clone().unwrap_or_default();
    let fresh = DecisionForm::for_category(&case.category);
    let form = form.unwrap_or(&fresh);
    let csrf = csrf_field(signed.csrf());
    let body = html! {
        div.page-head {
            div {
                h1 { "Case " (case.reference) }
                p.sub {
                    (category_label(&case.category)) " on "
                    a href={ "/sites/" (case.site_id) } { (site) }
                }
            }
            div { a href="/desk" { "Back to the queues" } }
        }
        (notice(done_message(done)))
        section.panel aria-labelledby="case-title" {
            h2 #case-title { "Case" }
            dl.facts {
                dt { "Priority" } dd #case-priority { (case.priority) }
                dt { "Status" } dd #case-status { (status_label(&case.status)) }
                dt { "Opened" } dd { (super::format::datetime_ms(case.created_at)) }
                dt { "SLA due" } dd { (sla_cell(case, now)) }
                dt { "Assigned to" } dd #case-assignee {
                    @match &assignee { Some(email) => { (email) }, None => { "nobody" } }
                }
            }
            @if !mine {
                form.inline method="post" action={ "/desk/cases/" (case.id) "/assign" } {
                    (csrf)
                    button #assign-to-me type="submit" { "Assign to me" }
                }
            }
        }
        section.panel aria-labelledby="reports-title" {
            h2 #reports-title { "Reports (" (view.reports.len()) ")" }
            (reports_table("reports", &view.reports))
        }
        section.panel aria-labelledby="decisions-title" {
            h2 #decisions-title { "Decisions" }
            @if decisions.is_empty() {
                p.empty #decisions-empty { "No decision yet." }
            }
            @for (decision, decided_by, lifted_by, appeals) in &decisions {
                article.decision id={ "decision-" (decision.id) } aria-labelledby={ "decision-title-" (decision.id) } {
                    h3 id={ "decision-title-" (decision.id) } { "Decision of " (super::format::datetime_ms(decision.decided_at)) }
                    (decision_facts(decision, Some(decided_by), lifted_by.as_deref(), now))
                    p { a href={ "/decisions/" (decision.id) "/statement-of-reasons.json" } { "Statement of reasons (DSA JSON)" } }
                    @if is_open(decision, now) {
                        form.inline method="post" action={ "/desk/decisions/" (decision.id) "/lift" } {
                            (csrf)
                            button.danger type="submit" id={ "lift-" (decision.id) } { "Lift this decision" }
                        }
                    }
                    @if !appeals.is_empty() {
                        h4 { "Appeals" }
                        @for (appeal, filed_by, answered_by) in appeals {
                            (appeal_item(appeal, Some(filed_by), answered_by.as_deref()))
                            @if appeal.status == "pending" {
                                @let refused = problems.answer.as_ref().filter(|(a, _)| *a == appeal.id).map(|(_, m)| m.as_str());
                                (answer_form(appeal, &csrf, refused))
                            }
                        }
                    }
                }
            }
        }
        (triage_section(case, &notes, &targets, &problems.triage, &csrf))
        section.panel aria-labelledby="decide-title" {
            h2 #decide-title { "Decide" }
            (decision_form(case.id.as_str(), form, &problems, &csrf))
        }
    };
    Ok(respond(
        status,
        page(
            &format!("Case {}", case.reference),
            Some(signed),
            Section::Desk,
            body,
        ),
    ))
}

fn answer_form(appeal: &rampart_store::Appeal, csrf: &Markup, refused: Option<&str>) -> Markup {
    let outcome_id = format!("f-answer-outcome-{}", appeal.id);
    let response_id = format!("f-answer-response-{}", appeal.id);
    let error_id = format!("appeal-error-{}", appeal.id);
    html! {
        form.stacked method="post" action={ "/desk/appeals/" (appeal.id) "/answer" } aria-label="Answer the appeal" {
            (csrf)
            @if let Some(message) = refused {
                p.field-error role="alert" id=(error_id) { "Error: " (message) }
            }
            div.field {
                label for=(outcome_id) { "Answer" }
                select id=(outcome_id) name="outcome" {
                    option value="upheld" { "Uphold: the decision stands" }
                    option value="reversed" { "Reverse: lift the decision" }
                }
            }
            div.field {
                label for=(response_id) { "Reasons for the answer" }
                p.hint id={ (response_id) "-hint" } { "The site's owner reads this." }
                textarea id=(response_id) name="response" rows="3" aria-describedby={ (response_id) "-hint" } {}
            }
            button type="submit" { "Answer the appeal" }
        }
    }
}

fn decision_form(case_id: &str, form: &DecisionForm, problems: &Problems, csrf: &Markup) -> Markup {
    let errors = &problems.decision;
    html! {
        (error_summary("The decision was not recorded", errors, &problems.decision_general))
        form.stacked #decision-form method="post" action={ "/desk/cases/" (case_id) "/decisions" } novalidate {
            (csrf)
            (select(Field { name: "outcome", label: "Outcome", hint: Some("Interstitial, restrict, suspend and legal block take effect at the edge within a second.") }, &OUTCOME_OPTIONS, &form.outcome, errors))
            fieldset {
                legend { "Statement of reasons" }
                (select(Field { name: "decision_ground", label: "Decision ground", hint: None }, &GROUND_OPTIONS, &form.decision_ground, errors))
                (text(Field { name: "ground_reference", label: "Legal or policy reference", hint: Some("Optional: the law or the terms of service clause relied on.") }, &form.ground_reference, errors, false))
                (select(Field { name: "dsa_category", label: "Statement category", hint: None }, &DSA_CATEGORY_OPTIONS, &form.dsa_category, errors))
                (text(Field { name: "facts", label: "Facts and circumstances", hint: Some("What was found and relied on. The site's owner reads this; do not name the reporter.") }, &form.facts, errors, true))
                (text(Field { name: "territorial_scope", label: "Territorial scope", hint: Some("e.g. worldwide, EU, DE.") }, &form.territorial_scope, errors, false))
                (text(Field { name: "content_type", label: "Content type", hint: Some("e.g. website, text, image, video.") }, &form.content_type, errors, false))
                (checkbox(Field { name: "automated_detection", label: "Detected by automated means", hint: None }, form.automated_detection.is_some(), errors))
                (checkbox(Field { name: "automated_decision", label: "Decided by automated means", hint: None }, form.automated_decision.is_some(), errors))
            }
            fieldset {
                legend { "When" }
                (text(Field { name: "effective_at", label: "Takes effect", hint: Some("YYYY-MM-DDTHH:MM in UTC; empty: now.") }, &form.effective_at, errors, false))
                (text(Field { name: "expires_at", label: "Expires", hint: Some("Optional, YYYY-MM-DDTHH:MM in UTC; empty: until lifted.") }, &form.expires_at, errors, false))
            }
            fieldset {
                legend { "Only for some outcomes" }
                (text(Field { name: "patterns", label: "URL patterns (restrict)", hint: Some("One per line, each starting with /; a prefix, or * as a wildcard.") }, &form.patterns, errors, true))
                (text(Field { name: "blocked_by", label: "Blocking authority (legal block)", hint: Some("The authority's URL, sent as Link: rel=\"blocked-by\".") }, &form.blocked_by, errors, false))
                (text(Field { name: "forward_to_host", label: "Forward the reports to the origin's host", hint: Some("The hosting provider's abuse address; each reporter is shown as they chose for the host.") }, &form.forward_to_host, errors, false))
            }
            button type="submit" { "Record the decision" }
        }
    }
}

pub(crate) async fn assign(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    require_desk_view(&signed.principal)?;
    let case = api::safety::cases::assign_case(&control, &signed.principal, &id, Assign::default())
        .await?;
    Ok(Redirect::to(&format!("/desk/cases/{}?done=case-assigned", case.id)).into_response())
}

pub(crate) async fn decide(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<DecisionForm>,
) -> PageResult {
    require_desk_view(&signed.principal)?;
    let refused = match form.to_body() {
        Ok(body) => {
            match api::safety::cases::decide_case(&control, &signed.principal, &id, body).await {
                Ok(decision) => {
                    return Ok(Redirect::to(&format!(
                        "/desk/cases/{}?done=decision-taken#decision-{}",
                        decision.case_id, decision.id
                    ))
                    .into_response());
                }
                Err(error) if form_can_fix(&error) => {
                    let (fields, general) = place_problems(&error, decision_field, |_, m| m);
                    (error.status, fields, general)
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(fields) => (StatusCode::UNPROCESSABLE_ENTITY, fields, Vec::new()),
    };
    let (status, decision, decision_general) = refused;
    let problems = Problems {
        decision,
        decision_general,
        ..Problems::default()
    };
    render(&control, &signed, &id, Some(&form), problems, None, status).await
}

pub(crate) async fn lift(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    require_desk_view(&signed.principal)?;
    let decision = api::safety::cases::lift_decision(&control, &signed.principal, &id).await?;
    Ok(Redirect::to(&format!(
        "/desk/cases/{}?done=decision-lifted#decision-{}",
        decision.case_id, decision.id
    ))
    .into_response())
}

pub(crate) async fn answer(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<AnswerForm>,
) -> PageResult {
    require_desk_view(&signed.principal)?;
    let result =
        api::appeals::answer_appeal(&control, &signed.principal, &id, form.to_body()).await;
    let store = store(&control)?;
    match result {
        Ok(appeal) => {
            let decision = store.get_decision(&appeal.decision_id).await?;
            Ok(Redirect::to(&format!(
                "/desk/cases/{}?done=appeal-answered#decision-{}",
                decision.case_id, decision.id
            ))
            .into_response())
        }
        Err(error) if form_can_fix(&error) => {
            // Only the desk gets this far (others are refused with 403 or
            // 404 above), so naming the case is no leak.
            let appeal = store
                .get_appeal(&id)
                .await
                .map_err(|_| ApiError::not_found("appeal", &id))?;
            let decision = store.get_decision(&appeal.decision_id).await?;
            let problems = Problems {
                answer: Some((appeal.id.clone(), problem_text(&error))),
                ..Problems::default()
            };
            render(
                &control,
                &signed,
                &decision.case_id,
                None,
                problems,
                None,
                error.status,
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}
