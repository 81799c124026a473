//! The case page's triage besides deciding: internal notes, escalation to
//! the urgent queue and merging a duplicate case, through the API's own
//! `add_note`, `escalate_case` and `merge_case`; and each decision's DSA
//! statement of reasons as JSON (the API's `decision_statement`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use http::header::CONTENT_DISPOSITION;
use maud::{Markup, html};
use rampart_store::{Case, CaseNote};
use serde::Deserialize;

use super::SignedIn;
use super::csrf::Posted;
use super::desk::require_desk_view;
use super::desk_case::{Problems, render};
use super::desk_forms::category_label;
use super::form::{Field, place_problems, text};
use super::format::{datetime_ms, iso_ms};
use super::layout::{FormProblems, PageResult, error_summary, form_can_fix};
use crate::Control;
use crate::api;
use crate::api::error::ApiError;
use crate::api::safety::triage::Merge;

/// Whether a case can still be escalated or merged (the store refuses
/// decided and merged ones).
pub(crate) fn is_open(case: &Case) -> bool {
    !matches!(case.status.as_str(), "decided" | "merged")
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "note" => "Note",
        "escalation" => "Escalated",
        "merge" => "Merged",
        other => other,
    }
}

/// The open cases of the same site that `case` may merge into.
pub(crate) async fn merge_targets(
    control: &Control,
    signed: &SignedIn,
    case: &Case,
) -> Result<Vec<Case>, ApiError> {
    if !is_open(case) {
        return Ok(Vec::new());
    }
    let mut all = api::safety::cases::list_cases(control, &signed.principal, None).await?;
    all.retain(|c| c.site_id == case.site_id && c.id != case.id && is_open(c));
    Ok(all)
}

/// The internal notes and the triage forms, for the case page.
pub(crate) fn triage_section(
    case: &Case,
    notes: &[CaseNote],
    targets: &[Case],
    problems: &FormProblems,
    csrf: &Markup,
) -> Markup {
    let form = |name: &str| problems.beside(name);
    let (note_errors, note_general) = form("note");
    let (escalate_errors, escalate_general) = form("escalate");
    let (merge_errors, merge_general) = form("merge");
    html! {
        section.panel aria-labelledby="notes-title" {
            h2 #notes-title { "Internal notes" }
            p.hint { "For the desk only: never shown to the site's owner or the reporter." }
            @if notes.is_empty() {
                p.empty #notes-empty { "No notes yet." }
            } @else {
                ol.plain #notes {
                    @for note in notes {
                        li id={ "note-" (note.id) } {
                            p {
                                strong { (kind_label(&note.kind)) } " · " (note.author_label) " · "
                                time datetime=(iso_ms(note.created_at)) { (datetime_ms(note.created_at)) }
                            }
                            p.prewrap { (note.body) }
                        }
                    }
                }
            }
            (error_summary("The note was not added", note_errors, note_general))
            form.stacked #note-form method="post" action={ "/desk/cases/" (case.id) "/notes" } {
                (csrf)
                (text(Field { name: "note_body", label: "New note", hint: None }, "", note_errors, true))
                button type="submit" { "Add the note" }
            }
            @if is_open(case) && case.priority != "urgent" {
                h3 { "Escalate" }
                (error_summary("The case was not escalated", escalate_errors, escalate_general))
                form.stacked #escalate-form method="post" action={ "/desk/cases/" (case.id) "/escalate" } {
                    (csrf)
                    (text(Field { name: "escalate_reason", label: "Why it cannot wait", hint: Some("Moves the case to the urgent queue with the one-hour SLA; kept as a note.") }, "", escalate_errors, false))
                    button.danger type="submit" { "Escalate to urgent" }
                }
            }
            @if !targets.is_empty() {
                h3 { "Merge into another case" }
                (error_summary("The case was not merged", merge_errors, merge_general))
                form.stacked #merge-form method="post" action={ "/desk/cases/" (case.id) "/merge" } {
                    (csrf)
                    div.field {
                        label for="f-merge_into" { "Case that keeps the reports" }
                        select #f-merge_into name="merge_into" {
                            @for target in targets {
                                option value=(target.id) { (target.reference) " · " (category_label(&target.category)) }
                            }
                        }
                    }
                    (text(Field { name: "merge_reason", label: "Why they are the same", hint: None }, "", merge_errors, false))
                    button type="submit" { "Merge" }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct NoteForm {
    note_body: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct EscalateForm {
    escalate_reason: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct MergeForm {
    merge_into: String,
    merge_reason: String,
}

/// A refused triage post: the case page again, the problems beside the
/// form (`field_of` maps the API's field to the form's).
async fn refused(
    control: &Control,
    signed: &SignedIn,
    id: &str,
    form: &'static str,
    error: ApiError,
    field_of: fn(&str) -> Option<(&'static str, &'static str)>,
) -> PageResult {
    if !form_can_fix(&error) {
        return Err(error.into());
    }
    let (errors, general) = place_problems(&error, field_of, |_, m| m);
    let problems = Problems {
        triage: FormProblems {
            form: Some(form),
            errors,
            general,
        },
        ..Problems::default()
    };
    render(control, signed, id, None, problems, None, error.status).await
}

fn back(id: &str, done: &str) -> Response {
    Redirect::to(&format!("/desk/cases/{id}?done={done}#notes-title")).into_response()
}

pub(crate) async fn note(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<NoteForm>,
) -> PageResult {
    require_desk_view(&signed.principal)?;
    match api::safety::triage::add_note(&control, &signed.principal, &id, &form.note_body).await {
        Ok(_) => Ok(back(&id, "note-added")),
        Err(error) => {
            let field = |_: &str| Some(("note_body", "New note"));
            refused(&control, &signed, &id, "note", error, field).await
        }
    }
}

pub(crate) async fn escalate(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<EscalateForm>,
) -> PageResult {
    require_desk_view(&signed.principal)?;
    let reason = &form.escalate_reason;
    match api::safety::triage::escalate_case(&control, &signed.principal, &id, reason).await {
        Ok(_) => Ok(back(&id, "case-escalated")),
        Err(error) => {
            let field = |_: &str| Some(("escalate_reason", "Why it cannot wait"));
            refused(&control, &signed, &id, "escalate", error, field).await
        }
    }
}

pub(crate) async fn merge(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<MergeForm>,
) -> PageResult {
    require_desk_view(&signed.principal)?;
    let input = Merge {
        into: form.merge_into,
        reason: form.merge_reason,
    };
    match api::safety::triage::merge_case(&control, &signed.principal, &id, &input).await {
        Ok(into) => {
            Ok(Redirect::to(&format!("/desk/cases/{}?done=case-merged", into.id)).into_response())
        }
        Err(error) => {
            let field = |path: &str| match path {
                "into" => Some(("merge_into", "Case that keeps the reports")),
                _ => Some(("merge_reason", "Why they are the same")),
            };
            refused(&control, &signed, &id, "merge", error, field).await
        }
    }
}

/// `/decisions/{id}/statement-of-reasons.json`: the DSA statement, to
/// whoever the API would show it (the desk, and the site's owner).
pub(crate) async fn statement(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> PageResult {
    let statement =
        api::safety::statement::decision_statement(&control, &signed.principal, &id).await?;
    let disposition = format!("attachment; filename=\"statement-of-reasons-{id}.json\"");
    let mut response = (StatusCode::OK, Json(statement)).into_response();
    if let Ok(value) = http::HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
