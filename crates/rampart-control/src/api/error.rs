//! The one error shape every API response uses:
//! `{ "error": { "code": "…", "message": "…", "field": "…" } }`.
//! Codes are stable identifiers clients may branch on; messages are for people.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rampart_config::FieldError;
use rampart_store::StoreError;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem when validation found more than one; the first is also
    /// in `code`/`message`/`field`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub code: String,
    pub message: String,
    pub field: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: ErrorDetail,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                field: None,
                details: Vec::new(),
            },
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.detail.field = Some(field.into());
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid API token as `Authorization: Bearer <token>`",
        )
    }

    pub fn forbidden(what: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", what)
    }

    /// Also what a caller gets for another account's objects: existence is
    /// not revealed across accounts.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{kind} '{id}' not found"),
        )
    }

    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let details: Vec<FieldProblem> = errors
            .into_iter()
            .map(|e| FieldProblem {
                code: e.code.to_owned(),
                message: e.message,
                field: e.field,
            })
            .collect();
        let Some(first) = details.first().cloned() else {
            return Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "the request is not valid",
            );
        };
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: ErrorDetail {
                code: first.code,
                message: first.message,
                field: Some(first.field),
                details,
            },
        }
    }

    pub fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!("{what}: {error}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what}; the server log has details"),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { kind, id } => Self::not_found(kind, &id),
            StoreError::Conflict { field, message } => {
                Self::new(StatusCode::CONFLICT, "conflict", message).with_field(field)
            }
            other => Self::internal("the store failed", &other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.detail })).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
