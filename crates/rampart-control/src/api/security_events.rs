//! Security events: `GET /api/v1/sites/{site}/security-events` (a site's,
//! newest first, paged with `before`), and `GET
//! /api/v1/security-events/{reference}` (the event behind the reference a
//! block page showed). Whoever may read the site may read its events;
//! another account's are "not found", as the site is.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use rampart_store::{SecurityEventRecord, StoreError};
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::sites::visible_site;
use super::store;
use crate::Control;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// 1 to 500; default 50.
    pub limit: Option<u32>,
    /// An event id: only events older than it (the next page).
    pub before: Option<String>,
}

/// One rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleHitView {
    pub id: u64,
    pub message: String,
    /// The matched data, truncated and with secrets masked.
    pub data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
}

/// A security event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SecurityEventView {
    /// Sorts chronologically; pass it as `before` for the next page.
    pub id: String,
    /// The site's id.
    pub site: String,
    /// Unix milliseconds.
    pub at: i64,
    /// The edge node that saw the request.
    pub node: String,
    /// The reference shown on the block page.
    pub reference: String,
    pub client_ip: String,
    pub method: String,
    /// Path and query, truncated.
    pub uri: String,
    /// "waf".
    pub source: String,
    /// "block" (the visitor got the block page) or "detect" (logged only).
    pub action: String,
    pub inbound_score: i64,
    pub outbound_score: i64,
    pub rules: Vec<RuleHitView>,
}

impl From<SecurityEventRecord> for SecurityEventView {
    fn from(e: SecurityEventRecord) -> Self {
        Self {
            id: e.id,
            site: e.site_id,
            at: e.at,
            node: e.node_id,
            reference: e.reference,
            client_ip: e.client_ip,
            method: e.method,
            uri: e.uri,
            source: e.source,
            action: e.action,
            inbound_score: e.inbound_score,
            outbound_score: e.outbound_score,
            rules: e
                .rules
                .into_iter()
                .map(|r| RuleHitView {
                    id: r.id,
                    message: r.message,
                    data: r.data,
                    severity: r.severity,
                })
                .collect(),
        }
    }
}

/// A page of a site's events as `principal` may see them; the dashboard
/// comes here too.
pub(crate) async fn site_events(
    control: &Control,
    principal: &Principal,
    site: &str,
    query: &EventsQuery,
) -> ApiResult<Vec<SecurityEventView>> {
    let record = visible_site(control, principal, site).await?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let before = query.before.as_deref().filter(|b| !b.is_empty());
    if before.is_some_and(|b| b.len() > 64 || !b.bytes().all(|c| c.is_ascii_alphanumeric())) {
        return Err(ApiError::invalid(
            "before",
            "invalid",
            "before must be the id of an event from an earlier page",
        ));
    }
    let events = store(control)?
        .security_events(&record.id, before, limit)
        .await?;
    Ok(events.into_iter().map(SecurityEventView::from).collect())
}

#[utoipa::path(get, path = "/api/v1/sites/{site}/security-events", tag = "waf",
    params(("site" = String, Path, description = "Site id or name"), EventsQuery),
    responses((status = 200, body = [SecurityEventView], description = "Newest first"),
        (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
    Query(query): Query<EventsQuery>,
) -> ApiResult<Json<Vec<SecurityEventView>>> {
    Ok(Json(
        site_events(&control, &principal, &site, &query).await?,
    ))
}

/// The events with `reference` on sites `principal` may read.
pub(crate) async fn by_reference(
    control: &Control,
    principal: &Principal,
    reference: &str,
) -> ApiResult<Vec<SecurityEventView>> {
    let store = store(control)?;
    let mut out = Vec::new();
    if reference.len() <= 128 {
        for event in store.security_events_by_reference(reference).await? {
            let site = match store.get_site(&event.site_id).await {
                Ok(site) => site,
                Err(StoreError::NotFound { .. }) => continue,
                Err(error) => return Err(error.into()),
            };
            if principal.can_read_site(&site) {
                out.push(SecurityEventView::from(event));
            }
        }
    }
    if out.is_empty() {
        return Err(ApiError::not_found("security event", reference));
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/security-events/{reference}", tag = "waf",
    params(("reference" = String, Path, description = "The reference a block page showed")),
    responses((status = 200, body = [SecurityEventView], description = "The event(s) with this reference, newest first (one, unless two nodes made the same reference)"),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(reference): Path<String>,
) -> ApiResult<Json<Vec<SecurityEventView>>> {
    Ok(Json(by_reference(&control, &principal, &reference).await?))
}
