//! `GET /api/v1/transparency?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv]`:
//! the desk's figures for a period, public like a provider's transparency
//! report (counts only; no case, site or person is named).

use crate::api::tokens::now_ms;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use serde::Deserialize;

use crate::Control;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::store;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Period {
    /// First day, `YYYY-MM-DD` (UTC). Default: 30 days before `to`.
    pub from: Option<String>,
    /// Day after the last, `YYYY-MM-DD` (UTC). Default: tomorrow.
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` → unix milliseconds at 00:00 UTC.
fn parse_day(text: &str, field: &str) -> ApiResult<i64> {
    let bad = || {
        ApiError::invalid(
            field,
            "invalid",
            format!("`{field}` must be a date such as 2026-11-01, found {text:?}"),
        )
    };
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * DAY_MS)
}

/// The period `[from, to)` in unix milliseconds that `from` and `to`
/// (`YYYY-MM-DD`, UTC) name; by default the 30 days up to tomorrow. Shared
/// with the dashboard's transparency page.
pub(crate) fn period_ms(from: Option<&str>, to: Option<&str>) -> ApiResult<(i64, i64)> {
    let to = match to {
        Some(t) => parse_day(t, "to")?,
        None => (now_ms().div_euclid(DAY_MS) + 1) * DAY_MS,
    };
    let from = match from {
        Some(f) => parse_day(f, "from")?,
        None => to - 30 * DAY_MS,
    };
    if from >= to {
        return Err(ApiError::invalid(
            "from",
            "invalid",
            "`from` must be before `to`",
        ));
    }
    Ok((from, to))
}

#[utoipa::path(get, path = "/api/v1/transparency", tag = "trust & safety",
    security(()), params(Period),
    responses((status = 200, description = "figures of the period (JSON or CSV)"), (status = 422, body = ErrorBody)))]
pub async fn report(
    State(control): State<Arc<Control>>,
    Query(period): Query<Period>,
) -> ApiResult<Response> {
    let (from, to) = period_ms(period.from.as_deref(), period.to.as_deref())?;
    let figures = store(&control)?.transparency(from, to).await?;
    match period.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(figures).into_response()),
        "csv" => {
            let mut csv = String::from("section,key,value\n");
            let mut row = |section: &str, key: &str, value: String| {
                csv.push_str(&format!("{section},{key},{value}\n"));
            };
            row("period", "from_ms", figures.from.to_string());
            row("period", "to_ms", figures.to.to_string());
            for (k, v) in &figures.reports_by_category {
                row("reports_by_category", k, v.to_string());
            }
            row("cases", "opened", figures.cases_opened.to_string());
            for (k, v) in &figures.decisions_by_outcome {
                row("decisions_by_outcome", k, v.to_string());
            }
            for (k, v) in &figures.decisions_by_category {
                row("decisions_by_category", k, v.to_string());
            }
            row("decisions", "lifted", figures.decisions_lifted.to_string());
            let ms = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            row(
                "median_ms_to_decision",
                "urgent",
                ms(figures.median_ms_to_decision_urgent),
            );
            row(
                "median_ms_to_decision",
                "other",
                ms(figures.median_ms_to_decision_other),
            );
            row("appeals", "filed", figures.appeals_filed.to_string());
            for (k, v) in &figures.appeals_by_outcome {
                row("appeals_by_outcome", k, v.to_string());
            }
            Ok(([(CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
        }
        other => Err(ApiError::invalid(
            "format",
            "invalid",
            format!("`format` must be \"json\" or \"csv\", found {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 28), 20_785);
        assert!(parse_day("2026-13-01", "from").is_err());
        assert!(parse_day("yesterday", "from").is_err());
        assert_eq!(parse_day("1970-01-02", "to").ok(), Some(DAY_MS));
    }
}
