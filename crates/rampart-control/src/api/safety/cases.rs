//! The desk's side: queues, cases, assignment, decisions and lifts.
//!
//! Trust & safety agents and operator admins see every case. An account
//! owner sees the cases about their own sites, with the reporter's identity
//! only when the reporter chose `named`. Everyone else gets 404, so the
//! existence of a case is not revealed either.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use rampart_store::{
    AbuseReport, Case, CaseNote, CaseQueue, Decision, NewDecision, OUTCOMES, Role,
};
use serde::{Deserialize, Serialize};

use crate::Control;
use crate::api::auth::Principal;
use crate::api::body::ApiJson;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::store;

/// Who may see what of the desk.
pub(crate) enum View {
    /// Trust & safety agents and operator admins: everything.
    Desk,
    /// An account owner: their account's cases, reporters as they chose.
    Owner(String),
}

pub(crate) fn view_of(principal: &Principal) -> Option<View> {
    match principal.role {
        Role::OperatorAdmin | Role::TrustSafety => Some(View::Desk),
        Role::AccountOwner if !principal.is_site_scoped() => {
            principal.account_id().map(|a| View::Owner(a.to_owned()))
        }
        _ => None,
    }
}

/// Only the desk acts; owners are told so, anyone else learns nothing
/// about `kind` `id`.
pub(crate) fn require_desk(principal: &Principal, kind: &str, id: &str) -> ApiResult<()> {
    match view_of(principal) {
        Some(View::Desk) => Ok(()),
        Some(View::Owner(_)) => Err(ApiError::forbidden(
            "only trust & safety agents and operator admins may do this",
        )),
        None => Err(ApiError::not_found(kind, id)),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReporterView {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportView {
    pub id: String,
    pub reference: String,
    pub category: String,
    pub urls: Vec<String>,
    /// Absent for an owner when the reporter chose not to share the report.
    pub explanation: Option<String>,
    /// Absent unless the viewer may know who reported.
    pub reporter: Option<ReporterView>,
    pub share_with_owner: String,
    pub share_with_host: String,
    pub created_at: i64,
}

impl ReportView {
    /// The report as `view` may see it: the one place reporter privacy is
    /// decided, for the API and the dashboard alike.
    pub(crate) fn new(report: AbuseReport, view: &View) -> Self {
        let (explanation, reporter) = match (view, report.share_with_owner.as_str()) {
            (View::Desk, _) | (View::Owner(_), "named") => (
                Some(report.explanation),
                Some(ReporterView {
                    name: report.reporter_name,
                    email: report.reporter_email,
                }),
            ),
            (View::Owner(_), "anonymous") => (Some(report.explanation), None),
            // "none": the owner learns which URLs were reported, not what
            // the reporter wrote, which could identify them.
            (View::Owner(_), _) => (None, None),
        };
        Self {
            id: report.id,
            reference: report.reference,
            category: report.category,
            urls: report.urls,
            explanation,
            reporter,
            share_with_owner: report.share_with_owner,
            share_with_host: report.share_with_host,
            created_at: report.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub case: Case,
    pub reports: Vec<ReportView>,
    #[schema(value_type = [Object])]
    pub decisions: Vec<Decision>,
    /// Internal notes, escalations and merges: the desk's eyes only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<[Object]>)]
    pub notes: Option<Vec<CaseNote>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CasesQuery {
    /// `urgent`, `overdue`, `unassigned`, `mine`; absent: every case.
    /// Account owners always get their own sites' cases.
    pub queue: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/cases", tag = "trust & safety", params(CasesQuery),
    responses((status = 200, body = [Object]), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Query(query): Query<CasesQuery>,
) -> ApiResult<Json<Vec<Case>>> {
    Ok(Json(
        list_cases(&control, &principal, query.queue.as_deref()).await?,
    ))
}

/// The cases of `queue` as `principal` may list them (owners: their own
/// sites' cases whatever the queue); the API's and the dashboard's queues.
pub(crate) async fn list_cases(
    control: &Control,
    principal: &Principal,
    queue: Option<&str>,
) -> ApiResult<Vec<Case>> {
    let queue = match view_of(principal) {
        None => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; the API is described at /api/v1/openapi.json",
            ));
        }
        Some(View::Owner(account)) => {
            let cases = store(control)?
                .list_cases(CaseQueue::Account(&account))
                .await?;
            return Ok(cases);
        }
        Some(View::Desk) => queue,
    };
    let user = principal.user.id.as_str();
    let queue = match queue {
        None | Some("all") => CaseQueue::All,
        Some("urgent") => CaseQueue::Urgent,
        Some("overdue") => CaseQueue::Overdue,
        Some("unassigned") => CaseQueue::Unassigned,
        Some("mine") => CaseQueue::Mine(user),
        Some(_) => {
            return Err(ApiError::invalid(
                "queue",
                "invalid",
                "one of urgent, overdue, unassigned, mine",
            ));
        }
    };
    Ok(store(control)?.list_cases(queue).await?)
}

/// The case if `principal` may see it; 404 otherwise.
pub(crate) async fn visible_case(
    control: &Control,
    principal: &Principal,
    id: &str,
) -> ApiResult<(Case, View)> {
    let view = view_of(principal).ok_or_else(|| ApiError::not_found("case", id))?;
    let case = store(control)?.get_case(id).await?;
    match &view {
        View::Owner(account) if *account != case.account_id => Err(ApiError::not_found("case", id)),
        _ => Ok((case, view)),
    }
}

#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "trust & safety",
    responses((status = 200, body = CaseView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseView>> {
    Ok(Json(case_view(&control, &principal, &id).await?))
}

/// The case with its reports (reporters as `principal` may see them) and
/// decisions; 404 unless `principal` may see it.
pub(crate) async fn case_view(
    control: &Control,
    principal: &Principal,
    id: &str,
) -> ApiResult<CaseView> {
    let (case, view) = visible_case(control, principal, id).await?;
    let store = store(control)?;
    let reports = store.case_reports(&case.id).await?;
    let decisions = store.case_decisions(&case.id).await?;
    let notes = match view {
        View::Desk => Some(store.case_notes(&case.id).await?),
        View::Owner(_) => None,
    };
    Ok(CaseView {
        notes,
        case,
        reports: reports
            .into_iter()
            .map(|r| ReportView::new(r, &view))
            .collect(),
        decisions,
    })
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// The agent to hold the case; absent: the caller.
    /// `"unassign": true` puts it back in the queue.
    pub user_id: Option<String>,
    #[serde(default)]
    pub unassign: bool,
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/assign", tag = "trust & safety",
    request_body = Assign,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn assign(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Assign>,
) -> ApiResult<Json<Case>> {
    Ok(Json(assign_case(&control, &principal, &id, input).await?))
}

/// Gives case `id` to the agent `input` names (the caller by default), or
/// back to the queue.
pub(crate) async fn assign_case(
    control: &Control,
    principal: &Principal,
    id: &str,
    input: Assign,
) -> ApiResult<Case> {
    require_desk(principal, "case", id)?;
    let store = store(control)?;
    let assignee = if input.unassign {
        None
    } else {
        let user_id = input.user_id.unwrap_or_else(|| principal.user.id.clone());
        let user = store
            .get_user(&user_id)
            .await
            .map_err(|_| ApiError::invalid("user_id", "invalid", format!("no user '{user_id}'")))?;
        if !user.role.is_operator() {
            return Err(ApiError::invalid(
                "user_id",
                "invalid",
                "cases go to trust & safety agents or operator admins only",
            ));
        }
        Some(user.id)
    };
    Ok(store
        .assign_case(&principal.actor(), id, assignee.as_deref())
        .await?)
}

/// The statement of reasons, shaped after the EU DSA Transparency
/// Database's fields.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reasons {
    /// e.g. `illegal_content` or `incompatible_content` (terms of service).
    pub decision_ground: Option<String>,
    /// The DSA statement category, e.g. `scope_of_platform_service`.
    pub category: Option<String>,
    /// Facts and circumstances relied on.
    pub facts: Option<String>,
    /// Where the decision applies, e.g. `EU` or `worldwide`.
    pub territorial_scope: Option<String>,
    /// e.g. `website`, `text`, `image`.
    pub content_type: Option<String>,
    /// The legal provision or the terms of service clause relied on.
    #[serde(default)]
    pub ground_reference: Option<String>,
    #[serde(default)]
    pub automated_detection: bool,
    #[serde(default)]
    pub automated_decision: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecisionBody {
    /// `no_action`, `forward`, `warn`, `interstitial`, `restrict`,
    /// `suspend`, `legal_block`.
    pub outcome: String,
    pub reasons: Reasons,
    /// For `restrict`: path prefixes or `*` patterns, each starting with `/`.
    pub patterns: Option<Vec<String>>,
    /// For `legal_block`: the authority's URL, sent as `rel="blocked-by"`.
    pub blocked_by: Option<String>,
    /// Unix milliseconds; absent: now.
    pub effective_at: Option<i64>,
    /// Unix milliseconds; absent: until lifted.
    pub expires_at: Option<i64>,
    /// The abuse address of the hosting provider of the site's origin:
    /// the case's reports are forwarded there by email, each reporter
    /// shown as they chose for the host (named or anonymous). Any outcome;
    /// usually `forward`.
    #[serde(default)]
    pub forward_to_host: Option<String>,
}

const MAX_PATTERNS: usize = 100;
const MAX_PATTERN_LEN: usize = 2048;
/// Longest text in a statement of reasons, in characters.
const MAX_REASON_LEN: usize = 10_000;

fn required(value: &Option<String>, field: &str) -> ApiResult<String> {
    match value.as_deref().map(str::trim) {
        Some(v) if v.chars().count() > MAX_REASON_LEN => Err(ApiError::invalid(
            &format!("reasons.{field}"),
            "invalid",
            format!("at most {MAX_REASON_LEN} characters"),
        )),
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(ApiError::invalid(
            &format!("reasons.{field}"),
            "required",
            format!("the statement of reasons needs `{field}`"),
        )),
    }
}

fn check_decision(body: NewDecisionBody) -> ApiResult<NewDecision> {
    if !OUTCOMES.contains(&body.outcome.as_str()) {
        return Err(ApiError::invalid(
            "outcome",
            "invalid",
            format!("one of {}", OUTCOMES.join(", ")),
        ));
    }
    let r = &body.reasons;
    for (value, field) in [
        (&r.decision_ground, "decision_ground"),
        (&r.category, "category"),
        (&r.facts, "facts"),
        (&r.territorial_scope, "territorial_scope"),
        (&r.content_type, "content_type"),
    ] {
        required(value, field)?;
    }
    let patterns = match (body.outcome.as_str(), body.patterns) {
        ("restrict", Some(p)) if !p.is_empty() => {
            // Every request to the site is matched against these.
            if p.len() > MAX_PATTERNS {
                return Err(ApiError::invalid(
                    "patterns",
                    "invalid",
                    format!("at most {MAX_PATTERNS} patterns"),
                ));
            }
            if let Some(i) = p
                .iter()
                .position(|p| !p.starts_with('/') || p.len() > MAX_PATTERN_LEN)
            {
                return Err(ApiError::invalid(
                    &format!("patterns[{i}]"),
                    "invalid",
                    format!(
                        "a pattern is a path starting with '/', at most {MAX_PATTERN_LEN} bytes"
                    ),
                ));
            }
            Some(p)
        }
        ("restrict", _) => {
            return Err(ApiError::invalid(
                "patterns",
                "required",
                "a restrict decision names at least one URL pattern",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "patterns",
                "invalid",
                "patterns apply to restrict decisions only",
            ));
        }
        (_, None) => None,
    };
    let blocked_by = match (body.outcome.as_str(), body.blocked_by) {
        ("legal_block", Some(url)) => {
            let ok = url.parse::<http::Uri>().is_ok_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            });
            if !ok {
                return Err(ApiError::invalid("blocked_by", "invalid", "an http(s) URL"));
            }
            Some(url)
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "blocked_by",
                "invalid",
                "blocked_by applies to legal_block decisions only",
            ));
        }
        (_, None) => None,
    };
    let effective = body.effective_at.unwrap_or_else(crate::api::tokens::now_ms);
    if let Some(expires) = body.expires_at
        && expires <= effective
    {
        return Err(ApiError::invalid(
            "expires_at",
            "invalid",
            "expires_at must be after the decision takes effect",
        ));
    }
    let reasons = serde_json::to_value(&body.reasons)
        .map_err(|e| ApiError::internal("cannot encode the reasons", &e))?;
    Ok(NewDecision {
        outcome: body.outcome,
        reasons,
        patterns,
        blocked_by,
        effective_at: body.effective_at,
        expires_at: body.expires_at,
    })
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/decisions", tag = "trust & safety",
    request_body = NewDecisionBody,
    responses((status = 201, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewDecisionBody>,
) -> ApiResult<(StatusCode, Json<Decision>)> {
    let decision = decide_case(&control, &principal, &id, body).await?;
    Ok((StatusCode::CREATED, Json(decision)))
}

/// Checks and records a decision on case `id`, tells the edge and
/// queues the notifications.
pub(crate) async fn decide_case(
    control: &Control,
    principal: &Principal,
    id: &str,
    body: NewDecisionBody,
) -> ApiResult<Decision> {
    require_desk(principal, "case", id)?;
    let host = body
        .forward_to_host
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned);
    if let Some(host) = &host
        && !super::intake::check_email(host)
    {
        return Err(ApiError::invalid(
            "forward_to_host",
            "invalid",
            "the hosting provider's abuse address, like abuse@host.example",
        ));
    }
    let new = check_decision(body)?;
    let store = store(control)?;
    let (decision, case) = store.decide_case(&principal.actor(), id, new).await?;
    control.notify_changed();
    let site = match store.get_site(&case.site_id).await {
        Ok(site) => site.name,
        Err(_) => case.site_id.clone(),
    };
    let base = control.public_url.trim_end_matches('/');
    let appeal_url = format!("{base}/sites/{}?case={}", case.site_id, case.reference);
    crate::notify::hooks::decision_taken(store, &decision, &case, &site, &appeal_url, base).await;
    if let Some(host) = &host {
        crate::notify::hooks::forwarded_to_host(store, &decision, &case, &site, host).await;
    }
    Ok(decision)
}

#[utoipa::path(post, path = "/api/v1/decisions/{id}/lift", tag = "trust & safety",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn lift(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Decision>> {
    Ok(Json(lift_decision(&control, &principal, &id).await?))
}

/// Lifts decision `id`; the edge stops enforcing it at once.
pub(crate) async fn lift_decision(
    control: &Control,
    principal: &Principal,
    id: &str,
) -> ApiResult<Decision> {
    require_desk(principal, "decision", id)?;
    let decision = store(control)?
        .lift_decision(&principal.actor(), id)
        .await?;
    control.notify_changed();
    Ok(decision)
}
