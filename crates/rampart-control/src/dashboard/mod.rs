//! The dashboard: server-rendered HTML on the admin listener, beside the
//! JSON API and with the same rules.
//!
//! Every page is built with `maud` (escaped by default) and needs no
//! JavaScript: forms post, handlers redirect (303) to the page that shows
//! the result. Handlers turn the signed-in user into the API's
//! [`Principal`](crate::api::auth::Principal) and call the API's own helpers
//! (`visible_site`, `create_site`, …), so the dashboard cannot grant what
//! the API would refuse, and its writes are audited the same way.
//!
//! Sessions live in the store (`rampart_store::Session`); the cookie holds
//! only a random secret. Every form carries the session's CSRF token, and
//! every POST also has its `Origin`/`Referer` checked (`csrf.rs`).

mod assets;
mod bots;
mod bots_forms;
mod bots_save;
mod charts;
mod csrf;
mod desk;
mod desk_case;
mod desk_forms;
mod desk_triage;
mod desk_view;
mod form;
mod format;
mod layout;
mod limiter;
mod lists;
mod login;
mod nodes;
mod operator_rules;
mod rule_forms;
mod security;
mod security_events;
mod security_save;
mod session;
mod settings;
mod site;
mod site_abuse;
mod sites;
mod tokens;
mod traffic;
mod transparency;
mod waf;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::HeaderValue;
use http::header;

use crate::Control;
use crate::api::error::ApiError;

pub(crate) use layout::PageError;
pub(crate) use session::SignedIn;

/// Dashboard-wide state that is not in the store.
pub(crate) struct Dashboard {
    /// Failed sign-ins per client address and per email.
    limiter: limiter::Limiter,
    /// How long a session lives from sign-in (idle sessions end sooner).
    session_ttl: Duration,
}

impl Dashboard {
    /// `RAMPART_SESSION_TTL_SECS` shortens the session lifetime; the tests
    /// use it to watch a session expire without waiting twelve hours.
    fn from_env() -> Self {
        let default = Duration::from_millis(rampart_store::SESSION_MAX_MS.unsigned_abs());
        let session_ttl = std::env::var("RAMPART_SESSION_TTL_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(default, |secs| Duration::from_secs(secs).min(default));
        Self {
            limiter: limiter::Limiter::new(limiter::LOGIN_ATTEMPTS, limiter::LOGIN_WINDOW),
            session_ttl,
        }
    }
}

/// The dashboard's routes, for the admin listener's router.
pub fn router() -> Router<Arc<Control>> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/sites", get(sites::list))
        .route("/sites/new", get(sites::new_form).post(sites::create))
        .route("/accounts", post(sites::create_account))
        .route("/sites/{site}", get(site::overview))
        .route(
            "/sites/{site}/settings",
            get(settings::form).post(settings::save),
        )
        .route(
            "/sites/{site}/under-attack",
            post(site::under_attack_toggle),
        )
        .route("/sites/{site}/delete", post(settings::delete))
        .route("/sites/{site}/security", get(security::page_get))
        .route(
            "/sites/{site}/security/rules",
            post(security_save::save_rule),
        )
        .route(
            "/sites/{site}/security/rules/{rule}/delete",
            post(security_save::delete_rule),
        )
        .route(
            "/sites/{site}/security/rules/{rule}/move",
            post(security_save::move_rule),
        )
        .route(
            "/sites/{site}/security/rate-limits",
            post(security_save::add_rate_limit),
        )
        .route(
            "/sites/{site}/security/rate-limits/{id}/delete",
            post(security_save::delete_rate_limit),
        )
        .route(
            "/sites/{site}/security/limits",
            post(security_save::save_limits),
        )
        .route("/sites/{site}/security/waf", post(waf::save))
        .route(
            "/sites/{site}/security-events",
            get(security_events::page_get),
        )
        .route("/sites/{site}/bots", get(bots::page_get))
        .route(
            "/sites/{site}/bots/challenge",
            post(bots_save::save_challenge),
        )
        .route("/sites/{site}/bots/policy", post(bots_save::save_policy))
        .route("/sites/{site}/bots/rules", post(bots_save::add_rule))
        .route(
            "/sites/{site}/bots/rules/{rule}/delete",
            post(bots_save::delete_rule),
        )
        .route("/sites/{site}/bots/captcha", post(bots_save::create_key))
        .route(
            "/sites/{site}/bots/captcha/{sitekey}/suspend",
            post(bots_save::suspend_key),
        )
        .route(
            "/sites/{site}/bots/captcha/{sitekey}/secret",
            post(bots_save::rotate_key),
        )
        .route(
            "/sites/{site}/bots/captcha/{sitekey}/delete",
            post(bots_save::delete_key),
        )
        .route(
            "/operator/rules",
            get(operator_rules::page_get).post(operator_rules::save_rule),
        )
        .route(
            "/operator/rules/{rule}/delete",
            post(operator_rules::delete_rule),
        )
        .route(
            "/operator/rules/{rule}/move",
            post(operator_rules::move_rule),
        )
        .route("/sites/{site}/abuse", get(site_abuse::page_get))
        .route(
            "/sites/{site}/abuse/decisions/{decision}/appeal",
            post(site_abuse::appeal),
        )
        .route("/desk", get(desk::page_get))
        .route("/desk/cases/{id}", get(desk_case::page_get))
        .route("/desk/cases/{id}/assign", post(desk_case::assign))
        .route("/desk/cases/{id}/decisions", post(desk_case::decide))
        .route("/desk/cases/{id}/notes", post(desk_triage::note))
        .route("/desk/cases/{id}/escalate", post(desk_triage::escalate))
        .route("/desk/cases/{id}/merge", post(desk_triage::merge))
        .route("/desk/decisions/{id}/lift", post(desk_case::lift))
        .route(
            "/decisions/{id}/statement-of-reasons.json",
            get(desk_triage::statement),
        )
        .route("/desk/appeals/{id}/answer", post(desk_case::answer))
        .route("/transparency", get(transparency::page_get))
        .route("/nodes", get(nodes::page_get))
        .route("/lists", get(lists::page_get).post(lists::create))
        .route("/lists/{id}/import", post(lists::import))
        .route("/lists/{id}/export", get(lists::export))
        .route("/lists/{id}/delete", post(lists::delete))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/assets/{file}", get(assets::serve))
        .layer(axum::middleware::map_response(security_headers))
        .layer(Extension(Arc::new(Dashboard::from_env())))
}

/// `/`: the sites for a signed-in user, else the sign-in page.
async fn home(State(control): State<Arc<Control>>, parts: http::request::Parts) -> Response {
    let signed = session::lookup(&control, &parts.headers).await;
    match signed {
        Ok(Some(_)) => Redirect::to("/sites").into_response(),
        Ok(None) => Redirect::to("/login").into_response(),
        Err(error) => PageError::from(error).into_response(),
    }
}

/// What every dashboard response carries: no framing, no sniffing, nothing
/// loaded from elsewhere, no inline script or style (the pages have none),
/// and pages that hold per-user data are not cached.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut http::HeaderMap, name, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}

/// The store, or the API's 503 as a page.
fn store(control: &Control) -> Result<&rampart_store::Store, ApiError> {
    crate::api::store(control)
}
