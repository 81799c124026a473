//! `/api/v1/notifications`: the outbox's delivery status, and a test
//! message so operators can check their `[notify]` setup end to end.
//!
//! Operators only: rows hold reporters' addresses and the messages sent to
//! them. Trust & safety agents may read (delivery status is part of their
//! work); only operator admins may send.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use http::StatusCode;
use rampart_store::{
    NewNotification, Notification, NotificationFilter, NotificationKind, NotificationStatus,
};
use serde::Deserialize;

use super::auth::Principal;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::store;
use crate::Control;

/// Longest subject and body a test message may have.
const MAX_SUBJECT: usize = 200;
const MAX_BODY: usize = 10_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestNotification {
    /// An email address (sent over `[notify] smtp`), or an `http://` or
    /// `https://` URL (a signed webhook whose JSON carries subject and body).
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// `pending`, `sent` or `failed`.
    pub status: Option<String>,
    /// Only the notifications about this case.
    pub case_id: Option<String>,
    /// At most 500; default 100.
    pub limit: Option<u32>,
}

fn checked(input: &TestNotification) -> ApiResult<NewNotification> {
    let to = input.to.trim();
    let kind = if to.starts_with("http://") || to.starts_with("https://") {
        if to.parse::<http::Uri>().is_err() {
            return Err(ApiError::invalid("to", "invalid", "not a valid URL"));
        }
        NotificationKind::Webhook
    } else if rampart_config::is_plain_address(to) {
        NotificationKind::Email
    } else {
        return Err(ApiError::invalid(
            "to",
            "invalid",
            "an email address (name@example.org) or an http(s):// URL",
        ));
    };
    let subject = input.subject.trim();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT || subject.contains(['\r', '\n'])
    {
        return Err(ApiError::invalid(
            "subject",
            "invalid",
            format!("a subject is one line of 1 to {MAX_SUBJECT} characters"),
        ));
    }
    if input.body.chars().count() > MAX_BODY {
        return Err(ApiError::invalid(
            "body",
            "too_long",
            format!("a body is at most {MAX_BODY} characters"),
        ));
    }
    let body = match kind {
        NotificationKind::Email => input.body.clone(),
        NotificationKind::Webhook => serde_json::json!({
            "event": "test",
            "subject": subject,
            "body": input.body,
        })
        .to_string(),
    };
    Ok(NewNotification {
        kind,
        recipient: to.to_owned(),
        subject: subject.to_owned(),
        body,
        case_id: None,
        decision_id: None,
    })
}

#[utoipa::path(post, path = "/api/v1/notifications/test", tag = "notifications",
    request_body = TestNotification,
    responses((status = 201, body = Object), (status = 403, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn send_test(
    State(control): State<Arc<Control>>,
    principal: Principal,
    ApiJson(input): ApiJson<TestNotification>,
) -> ApiResult<(StatusCode, Json<Notification>)> {
    principal.require_operator_admin()?;
    principal.require_unscoped()?;
    let new = checked(&input)?;
    let row = store(&control)?.enqueue_notification(&new).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    params(NotificationQuery),
    responses((status = 200, body = [Object]), (status = 403, body = super::error::ErrorBody)))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Query(query): Query<NotificationQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    if !principal.is_operator() {
        return Err(ApiError::forbidden("only operators may read notifications"));
    }
    principal.require_unscoped()?;
    let status = match query.status.as_deref() {
        None => None,
        Some(code) => Some(NotificationStatus::from_code(code).ok_or_else(|| {
            ApiError::invalid("status", "invalid", "one of pending, sent, failed")
        })?),
    };
    let rows = store(&control)?
        .list_notifications(&NotificationFilter {
            case_id: query.case_id.as_deref(),
            status,
            limit: query.limit.unwrap_or(100).clamp(1, 500),
        })
        .await?;
    Ok(Json(rows))
}
