//! Triage besides deciding: internal notes, escalation and merging, for
//! the desk only (owners get 403, anyone else 404, as for decisions).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_store::{Case, CaseNote, MAX_NOTE_CHARS};
use serde::Deserialize;

use super::cases::require_desk;
use crate::Control;
use crate::api::auth::Principal;
use crate::api::body::ApiJson;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::store;

fn text(value: &str, field: &str) -> ApiResult<()> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid(
            field,
            "required",
            format!("`{field}` needs some text"),
        ));
    }
    if trimmed.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::invalid(
            field,
            "invalid",
            format!("at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// Internal: never shown to the site's owner or the reporter.
    pub body: String,
}

/// Adds an internal note to case `id`; the dashboard's form calls this too.
pub(crate) async fn add_note(
    control: &Control,
    principal: &Principal,
    id: &str,
    body: &str,
) -> ApiResult<CaseNote> {
    require_desk(principal, "case", id)?;
    text(body, "body")?;
    Ok(store(control)?
        .add_case_note(&principal.actor(), id, body)
        .await?)
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/notes", tag = "trust & safety",
    request_body = NewNote,
    responses((status = 201, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn note(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NewNote>,
) -> ApiResult<(StatusCode, Json<CaseNote>)> {
    let note = add_note(&control, &principal, &id, &input.body).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Why the case cannot wait: kept as an internal note.
    pub reason: String,
}

/// Moves case `id` to the urgent queue with the one-hour SLA.
pub(crate) async fn escalate_case(
    control: &Control,
    principal: &Principal,
    id: &str,
    reason: &str,
) -> ApiResult<Case> {
    require_desk(principal, "case", id)?;
    text(reason, "reason")?;
    Ok(store(control)?
        .escalate_case(&principal.actor(), id, reason)
        .await?)
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/escalate", tag = "trust & safety",
    request_body = Escalation,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn escalate(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Escalation>,
) -> ApiResult<Json<Case>> {
    Ok(Json(
        escalate_case(&control, &principal, &id, &input.reason).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The case that keeps the reports (same site, undecided).
    pub into: String,
    pub reason: String,
}

/// Merges case `id` into `input.into`; answers the surviving case.
pub(crate) async fn merge_case(
    control: &Control,
    principal: &Principal,
    id: &str,
    input: &Merge,
) -> ApiResult<Case> {
    require_desk(principal, "case", id)?;
    text(&input.reason, "reason")?;
    if input.into.trim().is_empty() {
        return Err(ApiError::invalid(
            "into",
            "required",
            "name the case to merge into",
        ));
    }
    Ok(store(control)?
        .merge_cases(&principal.actor(), id, input.into.trim(), &input.reason)
        .await?)
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/merge", tag = "trust & safety",
    request_body = Merge,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn merge(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Merge>,
) -> ApiResult<Json<Case>> {
    Ok(Json(merge_case(&control, &principal, &id, &input).await?))
}
