//! The admin listener: `/api/v1` (JSON, bearer tokens), plus the node's
//! `/healthz`, `/metrics` and `POST /-/reload`.

pub mod accounts;
pub mod analytics;
pub mod appeals;
pub mod auth;
pub mod body;
pub mod captcha;
pub mod error;
pub mod lists;
pub mod nodes;
pub mod notifications;
mod ops;
pub mod safety;
pub mod security;
pub mod security_events;
pub mod sites;
pub mod tokens;
pub mod transparency;
pub mod users;
pub mod waf;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use http::StatusCode;
use rampart_store::{AuditEntry, AuditFilter, Store};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use utoipa::OpenApi;

use self::auth::Principal;
use self::error::{ApiError, ApiResult};
use crate::Control;

pub fn router(control: Arc<Control>) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/me", get(me))
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route(
            "/accounts/{id}",
            get(accounts::get)
                .patch(accounts::rename)
                .delete(accounts::delete),
        )
        .route("/users", get(users::list).post(users::create))
        .route(
            "/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::delete))
        .route("/sites", get(sites::list).post(sites::create))
        .route(
            "/sites/{site}",
            get(sites::get)
                .put(sites::replace)
                .patch(sites::patch)
                .delete(sites::delete),
        )
        .route("/sites/{site}/analytics", get(analytics::site))
        .route(
            "/sites/{site}/rules",
            get(security::get_site_rules).put(security::put_site_rules),
        )
        .route(
            "/sites/{site}/rate_limits",
            get(security::get_site_rate_limits).put(security::put_site_rate_limits),
        )
        .route("/sites/{site}/waf", get(waf::get).put(waf::put))
        .route("/sites/{site}/security-events", get(security_events::list))
        .route("/security-events/{reference}", get(security_events::get))
        .route(
            "/sites/{site}/captcha_keys",
            get(captcha::list).post(captcha::create),
        )
        .route(
            "/sites/{site}/captcha_keys/{sitekey}",
            axum::routing::patch(captcha::patch).delete(captcha::delete),
        )
        .route(
            "/sites/{site}/captcha_keys/{sitekey}/secret",
            axum::routing::post(captcha::new_secret_for),
        )
        .route(
            "/operator/rules",
            get(security::get_operator_rules).put(security::put_operator_rules),
        )
        .route("/lists", get(lists::list).post(lists::create))
        .route(
            "/lists/{id}",
            get(lists::get).patch(lists::patch).delete(lists::delete),
        )
        .route(
            "/lists/{id}/items",
            get(lists::export)
                .put(lists::import)
                .post(lists::append)
                // A million IPv6 CIDRs as text; other bodies keep axum's 2 MB.
                .layer(axum::extract::DefaultBodyLimit::max(lists::MAX_ITEMS_BODY)),
        )
        .route(
            "/abuse-reports",
            axum::routing::post(safety::reports::create),
        )
        .route(
            "/abuse-reports/{reference}/status",
            get(safety::reports::status),
        )
        .route("/transparency", get(transparency::report))
        .route(
            "/decisions/{id}/appeals",
            get(appeals::history).post(appeals::file),
        )
        .route("/appeals/{id}/answer", axum::routing::post(appeals::answer))
        .route("/cases", get(safety::cases::list))
        .route("/cases/{id}", get(safety::cases::get))
        .route(
            "/cases/{id}/assign",
            axum::routing::post(safety::cases::assign),
        )
        .route(
            "/cases/{id}/decisions",
            axum::routing::post(safety::cases::decide),
        )
        .route(
            "/decisions/{id}/lift",
            axum::routing::post(safety::cases::lift),
        )
        .route(
            "/decisions/{id}/statement-of-reasons",
            get(safety::statement::get),
        )
        .route(
            "/cases/{id}/notes",
            axum::routing::post(safety::triage::note),
        )
        .route(
            "/cases/{id}/escalate",
            axum::routing::post(safety::triage::escalate),
        )
        .route(
            "/cases/{id}/merge",
            axum::routing::post(safety::triage::merge),
        )
        .route("/notifications", get(notifications::list))
        .route(
            "/notifications/test",
            axum::routing::post(notifications::send_test),
        )
        .route("/audit", get(audit))
        .route("/nodes", get(nodes::list))
        .fallback(api_not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/-/reload", axum::routing::post(ops::reload))
        .route("/-/flush-analytics", axum::routing::post(analytics::flush))
        .merge(crate::dashboard::router())
        .fallback(ops::not_found)
        .with_state(control)
}

/// Serves the admin listener until shutdown; requests in flight finish.
pub async fn serve(
    control: Arc<Control>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = router(control);
    // The peer address feeds the dashboard's sign-in rate limit.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await;
    if let Err(error) = result {
        tracing::error!("admin listener failed: {error}");
    }
}

/// The store, or 503 while it has not been reached yet.
pub(crate) fn store(control: &Control) -> ApiResult<&Store> {
    control.store().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the store is not reachable yet; the edge serves its last good snapshot",
        )
    })
}

async fn api_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; the API is described at /api/v1/openapi.json",
    )
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    #[schema(value_type = Object)]
    pub user: rampart_store::User,
    /// The token in use; absent for a dashboard session.
    #[schema(value_type = Object)]
    pub token: Option<rampart_store::ApiToken>,
    /// The role in effect.
    #[schema(value_type = String)]
    pub role: rampart_store::Role,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "tokens", responses((status = 200, body = Me)))]
async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        role: principal.role.clone(),
        user: principal.user,
        token: principal.token,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Operators: one account's entries. Account users always see their own.
    pub account_id: Option<String>,
    /// Page backwards: entries older than this id.
    pub before: Option<String>,
    /// At most 500; default 100.
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [Object])))]
async fn audit(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    principal.require_unscoped()?;
    let account_id = if principal.is_operator() {
        query.account_id
    } else {
        Some(
            principal
                .account_id()
                .ok_or_else(|| ApiError::forbidden("no account"))?
                .to_owned(),
        )
    };
    let entries = store(&control)?
        .list_audit(&AuditFilter {
            account_id,
            before_id: query.before,
            limit: query.limit.unwrap_or(100).clamp(1, 500),
        })
        .await?;
    Ok(Json(entries))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Rampart admin API", description = "Accounts, users, tokens and sites of a Rampart edge. Authenticate with `Authorization: Bearer <token>`. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`."),
    paths(
        me, audit,
        accounts::list, accounts::create, accounts::get, accounts::rename, accounts::delete,
        users::list, users::create, users::get, users::update, users::delete,
        tokens::list, tokens::create, tokens::delete,
        sites::list, sites::create, sites::get, sites::replace, sites::patch, sites::delete,
        analytics::site,
        lists::list, lists::create, lists::get, lists::patch, lists::delete,
        lists::export, lists::import, lists::append,
        security::get_operator_rules, security::put_operator_rules,
        security::get_site_rules, security::put_site_rules,
        security::get_site_rate_limits, security::put_site_rate_limits,
        waf::get, waf::put, security_events::list, security_events::get,
        captcha::list, captcha::create, captcha::patch, captcha::new_secret_for, captcha::delete,
        safety::reports::create, safety::reports::status,
        safety::cases::list, safety::cases::get, safety::cases::assign,
        safety::cases::decide, safety::cases::lift,
        safety::triage::note, safety::triage::escalate, safety::triage::merge,
        safety::statement::get,
        notifications::send_test, notifications::list,
        transparency::report,
        appeals::file, appeals::history, appeals::answer,
        nodes::list,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, error::FieldProblem)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
