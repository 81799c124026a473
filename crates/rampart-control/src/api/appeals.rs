//! Appeals through the API: the site's owner appeals a decision about their
//! site with reasons; an agent other than the one who decided answers,
//! upholding or reversing it (a reversal lifts the decision at the edge as
//! fast as the decision took effect). The owner sees the history.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_store::{Appeal, Role};
use serde::Deserialize;

use crate::Control;
use crate::api::auth::Principal;
use crate::api::body::ApiJson;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::store;

/// Longest appeal or answer text.
const MAX_TEXT: usize = 5_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppeal {
    /// Why the decision is wrong; 1 to 5,000 characters.
    pub reasons: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// `upheld` or `reversed`.
    pub outcome: String,
    /// What the owner is told; 1 to 5,000 characters.
    pub response: String,
}

fn text(field: &str, value: &str) -> ApiResult<()> {
    let len = value.trim().chars().count();
    if len == 0 || len > MAX_TEXT {
        return Err(ApiError::invalid(
            field,
            if len == 0 { "required" } else { "too_long" },
            format!("`{field}` must be 1 to {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

fn is_desk(principal: &Principal) -> bool {
    matches!(principal.role, Role::OperatorAdmin | Role::TrustSafety)
}

/// The decision's case's account, if `principal` may see the decision.
async fn visible_account(
    control: &Control,
    principal: &Principal,
    decision_id: &str,
) -> ApiResult<String> {
    let store = store(control)?;
    let decision = store
        .get_decision(decision_id)
        .await
        .map_err(|_| ApiError::not_found("decision", decision_id))?;
    let case = store.get_case(&decision.case_id).await?;
    let owner = principal.role == Role::AccountOwner
        && !principal.is_site_scoped()
        && principal.account_id() == Some(case.account_id.as_str());
    if is_desk(principal) || owner {
        Ok(case.account_id)
    } else {
        Err(ApiError::not_found("decision", decision_id))
    }
}

#[utoipa::path(post, path = "/api/v1/decisions/{id}/appeals", tag = "trust & safety",
    request_body = NewAppeal,
    responses((status = 201, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn file(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewAppeal>,
) -> ApiResult<(StatusCode, Json<Appeal>)> {
    let appeal = file_appeal(&control, &principal, &id, &body.reasons).await?;
    Ok((StatusCode::CREATED, Json(appeal)))
}

/// Files the owner's appeal of decision `id`; the API's and the
/// dashboard's.
pub(crate) async fn file_appeal(
    control: &Control,
    principal: &Principal,
    id: &str,
    reasons: &str,
) -> ApiResult<Appeal> {
    let account = visible_account(control, principal, id).await?;
    if is_desk(principal) && principal.role != Role::OperatorAdmin {
        return Err(ApiError::forbidden(
            "appeals are filed by the site's owner (or an operator admin on their behalf)",
        ));
    }
    text("reasons", reasons)?;
    Ok(store(control)?
        .file_appeal(&principal.actor(), id, &account, reasons.trim())
        .await?)
}

#[utoipa::path(get, path = "/api/v1/decisions/{id}/appeals", tag = "trust & safety",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Appeal>>> {
    Ok(Json(appeal_history(&control, &principal, &id).await?))
}

/// Every appeal of decision `id`, oldest first, if `principal` may see it.
pub(crate) async fn appeal_history(
    control: &Control,
    principal: &Principal,
    id: &str,
) -> ApiResult<Vec<Appeal>> {
    visible_account(control, principal, id).await?;
    Ok(store(control)?.decision_appeals(id).await?)
}

#[utoipa::path(post, path = "/api/v1/appeals/{id}/answer", tag = "trust & safety",
    request_body = Answer,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn answer(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Answer>,
) -> ApiResult<Json<Appeal>> {
    Ok(Json(answer_appeal(&control, &principal, &id, body).await?))
}

/// An agent's answer to appeal `id`: upheld, or reversed (which lifts the
/// decision at the edge). The agent who decided gets 409.
pub(crate) async fn answer_appeal(
    control: &Control,
    principal: &Principal,
    id: &str,
    body: Answer,
) -> ApiResult<Appeal> {
    let store = store(control)?;
    let appeal = store
        .get_appeal(id)
        .await
        .map_err(|_| ApiError::not_found("appeal", id))?;
    if !is_desk(principal) {
        return Err(
            if principal.account_id() == Some(appeal.account_id.as_str()) {
                ApiError::forbidden("only trust & safety agents and operator admins answer appeals")
            } else {
                ApiError::not_found("appeal", id)
            },
        );
    }
    let reverse = match body.outcome.as_str() {
        "upheld" => false,
        "reversed" => true,
        other => {
            return Err(ApiError::invalid(
                "outcome",
                "invalid",
                format!("`outcome` must be \"upheld\" or \"reversed\", found {other:?}"),
            ));
        }
    };
    text("response", &body.response)?;
    let answered = store
        .answer_appeal(&principal.actor(), id, reverse, body.response.trim())
        .await?;
    if reverse {
        control.notify_changed();
    }
    Ok(answered)
}
