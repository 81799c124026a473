//! Node operations on the admin listener, outside `/api/v1`: liveness,
//! Prometheus metrics, and re-reading the configuration file.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::json;

use super::error::ApiError;
use crate::{Control, ReloadError};

pub async fn healthz(State(control): State<Arc<Control>>) -> Json<serde_json::Value> {
    let snapshot = control.edge.snapshot();
    Json(json!({
        "status": "ok",
        "snapshot_version": snapshot.version,
        "sites": snapshot.sites.len(),
        "store": if control.store().is_some() { "connected" } else { "unreachable" },
    }))
}

pub async fn metrics(State(control): State<Arc<Control>>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        format!(
            "{}{}",
            control.edge.metrics.render(),
            control.spool_metrics()
        ),
    )
        .into_response()
}

pub async fn reload(State(control): State<Arc<Control>>) -> Response {
    match control.reload_file().await {
        Ok(report) => Json(json!({
            "status": "reloaded",
            "snapshot_version": report.version,
            "sites": report.sites,
            "warnings": report.warnings,
        }))
        .into_response(),
        Err(error) => {
            let (status, code) = match &error {
                ReloadError::NoConfigFile => (StatusCode::CONFLICT, "no_config_file"),
                ReloadError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_config"),
                ReloadError::Provision(_) => (StatusCode::CONFLICT, "provision_failed"),
                ReloadError::Sync(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unusable_config"),
            };
            ApiError::new(
                status,
                code,
                format!("reload refused; the running configuration stays: {error}"),
            )
            .into_response()
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "try /healthz, /metrics, POST /-/reload or /api/v1/openapi.json",
    )
}
