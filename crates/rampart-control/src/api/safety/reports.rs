//! The public side of the desk: filing a report and following it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::intake::{self, Refusal, ReportInput};
use crate::Control;
use crate::api::auth::Principal;
use crate::api::body::ApiJson;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::store;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reporter {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// `phishing`, `malware`, `violent_threats`, `harassment`, `csam`,
    /// `ncii`, `copyright`, `trademark`, `spam`, `other`.
    pub category: String,
    /// 1–250 URLs, each on a site this service protects, all on one site.
    pub urls: Vec<String>,
    /// At most 5,000 characters.
    #[serde(default)]
    pub explanation: String,
    /// Required unless the category is `csam`.
    pub reporter: Option<Reporter>,
    /// Must be `true`.
    #[serde(default)]
    pub good_faith: bool,
    /// `named`, `anonymous` or `none`.
    pub share_with_owner: String,
    /// `named` or `anonymous`.
    pub share_with_host: String,
    /// Required unless the caller holds an operator token.
    pub captcha: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FiledReport {
    pub id: String,
    /// The reporter's public reference.
    pub reference: String,
    /// Where the reporter follows the report, without signing in.
    pub status_url: String,
    /// Absent when the report was accepted while the store was down (202):
    /// it is filed into a case when the store is back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
}

/// The caller's token if one is sent: a bad one is refused rather than
/// treated as anonymous, so a typo does not silently change the rules.
async fn optional_principal(
    control: &Control,
    headers: &HeaderMap,
) -> ApiResult<Option<Principal>> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(ApiError::unauthorized)?;
    match store(control)?.token_by_secret(secret).await? {
        Some((token, user)) => Ok(Some(Principal::from_token(user, token))),
        None => Err(ApiError::unauthorized()),
    }
}

fn limited(retry_after_secs: u64) -> Response {
    let error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many reports from this address or email; try again later",
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(http::header::RETRY_AFTER, retry_after_secs.to_string())],
        Json(ErrorBody {
            error: error.detail,
        }),
    )
        .into_response()
}

#[utoipa::path(post, path = "/api/v1/abuse-reports", tag = "trust & safety",
    request_body = NewReport, security(()),
    responses((status = 201, body = FiledReport),
        (status = 202, description = "accepted while the store is down; filed when it is back", body = FiledReport),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn create(
    State(control): State<Arc<Control>>,
    headers: HeaderMap,
    extensions: http::Extensions,
    ApiJson(input): ApiJson<NewReport>,
) -> Response {
    match create_inner(&control, &headers, &extensions, input).await {
        Ok(filed) if filed.case_id.is_none() => (StatusCode::ACCEPTED, Json(filed)).into_response(),
        Ok(filed) => (StatusCode::CREATED, Json(filed)).into_response(),
        Err(Refusal::Limited(secs)) => limited(secs),
        Err(Refusal::Api(error)) => error.into_response(),
    }
}

async fn create_inner(
    control: &Control,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    input: NewReport,
) -> Result<FiledReport, Refusal> {
    let principal = optional_principal(control, headers).await?;
    if !principal.as_ref().is_some_and(Principal::is_operator) {
        // The abuse form's own captcha: its widget runs on any protected
        // site (`/.rampart/captcha/v1/api.js` with the sitekey
        // `rk_rampart_abuse_form`), and its token redeems here once.
        let response = input.captcha.as_deref().map(str::trim).unwrap_or_default();
        if response.is_empty() {
            return Err(ApiError::invalid(
                "captcha",
                "captcha_required",
                "a captcha response is required: solve the widget with the sitekey \
                 rk_rampart_abuse_form on any protected site, or send an operator token",
            )
            .into());
        }
        if let Err(code) = control.edge.redeem_abuse_captcha(response) {
            return Err(ApiError::invalid(
                "captcha",
                "captcha_invalid",
                format!(
                    "the captcha response was refused ({}): solve the widget again",
                    code.as_str()
                ),
            )
            .into());
        }
    }
    let client_ip = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let (reporter_name, reporter_email) = match input.reporter {
        Some(r) => (r.name, r.email),
        None => (None, None),
    };
    let filed = intake::file(
        control,
        ReportInput {
            category: input.category,
            urls: input.urls,
            explanation: input.explanation,
            reporter_name,
            reporter_email,
            good_faith: input.good_faith,
            share_with_owner: input.share_with_owner,
            share_with_host: input.share_with_host,
        },
        client_ip,
    )
    .await?;
    Ok(FiledReport {
        id: filed.id,
        reference: filed.reference,
        status_url: filed.status_url,
        case_id: filed.case_id,
    })
}

/// The public part of a decision: what was decided and when, never who
/// reported nor the desk's internal facts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicDecision {
    pub outcome: String,
    pub decided_at: i64,
    pub effective_at: i64,
    pub expires_at: Option<i64>,
    pub lifted_at: Option<i64>,
    /// The statement of reasons' legal or policy ground.
    pub decision_ground: Option<String>,
    pub territorial_scope: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportStatusView {
    pub reference: String,
    pub category: String,
    /// `received`, `under_review` or `decided`.
    pub status: String,
    pub received_at: i64,
    /// The latest decision on the report's case.
    pub decision: Option<PublicDecision>,
}

#[utoipa::path(get, path = "/api/v1/abuse-reports/{reference}/status", tag = "trust & safety",
    security(()),
    responses((status = 200, body = ReportStatusView), (status = 404, body = ErrorBody)))]
pub async fn status(
    State(control): State<Arc<Control>>,
    Path(reference): Path<String>,
) -> ApiResult<Json<ReportStatusView>> {
    let found = store(&control)?
        .report_status(&reference)
        .await?
        .ok_or_else(|| ApiError::not_found("report", &reference))?;
    let text = |d: &rampart_store::Decision, key: &str| {
        d.reasons
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let decision = found.decisions.last().map(|d| PublicDecision {
        outcome: d.outcome.clone(),
        decided_at: d.decided_at,
        effective_at: d.effective_at,
        expires_at: d.expires_at,
        lifted_at: d.lifted_at,
        decision_ground: text(d, "decision_ground"),
        territorial_scope: text(d, "territorial_scope"),
    });
    Ok(Json(ReportStatusView {
        reference: found.report.reference,
        category: found.report.category,
        status: found.case.status,
        received_at: found.report.created_at,
        decision,
    }))
}
