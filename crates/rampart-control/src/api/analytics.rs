//! `GET /api/v1/sites/{site}/analytics`: a site's traffic over a time range
//! (per-minute series and top lists), and `POST /-/flush-analytics`, which
//! writes what the edge has counted now instead of at the next flush.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use rampart_store::{TrafficMinute, TrafficTop};
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::sites::visible_site;
use super::store;
use crate::Control;

/// The range when the query names none.
const DEFAULT_RANGE_SECS: i64 = 3600;
/// The longest range one query may cover: a month of minutes, what the
/// default retention keeps.
const MAX_RANGE_SECS: i64 = 31 * 24 * 3600;
const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Unix seconds; the minute containing it is the first. Default: an hour before `to`.
    pub from: Option<i64>,
    /// Unix seconds, exclusive. Default: now. At most 31 days after `from`.
    pub to: Option<i64>,
    /// Length of each top list, 1 to 100. Default 10.
    pub top: Option<usize>,
}

/// A site's traffic: the minutes that start in `[from, to)`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteAnalytics {
    /// The site's id.
    pub site: String,
    /// Unix seconds, the start of the first minute covered.
    pub from: i64,
    /// Unix seconds, exclusive.
    pub to: i64,
    /// Minutes with traffic, oldest first: `minute` (unix seconds of its
    /// start), `requests`, `bytes_in`, `bytes_out`, `status_1xx`…`status_5xx`,
    /// `passed`, `blocked`, `challenged`, `rate_limited`, `cache_hit`,
    /// `cache_miss`, `cache_bypass`, summed over edge nodes.
    #[schema(value_type = Vec<Object>)]
    pub series: Vec<TrafficMinute>,
    /// `ips`, `countries`, `paths`, `rules`: lists of `[key, count]`,
    /// largest first, over the whole range.
    #[schema(value_type = Object)]
    pub top: TrafficTop,
}

#[utoipa::path(get, path = "/api/v1/sites/{site}/analytics", tag = "sites",
    params(("site" = String, Path, description = "Site id or name"), RangeQuery),
    responses((status = 200, body = SiteAnalytics), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn site(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(key): Path<String>,
    Query(query): Query<RangeQuery>,
) -> ApiResult<Json<SiteAnalytics>> {
    let record = visible_site(&control, &principal, &key).await?;
    let (from, to) = range(&query, now_secs())?;
    let top = query.top.unwrap_or(DEFAULT_TOP);
    if !(1..=MAX_TOP).contains(&top) {
        return Err(ApiError::invalid(
            "top",
            "out_of_range",
            format!("top must be between 1 and {MAX_TOP}"),
        ));
    }
    let store = store(&control)?;
    let series = store.traffic_series(&record.id, from, to).await?;
    let top = store.traffic_top(&record.id, from, to, top).await?;
    Ok(Json(SiteAnalytics {
        site: record.id,
        from,
        to,
        series,
        top,
    }))
}

/// `[from, to)` with `from` moved back to its minute's start, so the minute
/// it falls in is included.
fn range(query: &RangeQuery, now: i64) -> ApiResult<(i64, i64)> {
    let to = query.to.unwrap_or(now);
    let from = query
        .from
        .unwrap_or_else(|| to.saturating_sub(DEFAULT_RANGE_SECS));
    if from >= to {
        return Err(ApiError::invalid(
            "from",
            "empty_range",
            "from must be before to",
        ));
    }
    if to.saturating_sub(from) > MAX_RANGE_SECS {
        return Err(ApiError::invalid(
            "from",
            "range_too_long",
            "a query covers at most 31 days",
        ));
    }
    Ok((from.div_euclid(60).saturating_mul(60), to))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Operators only: the edge's counts, the current minute included, and its
/// pending security events go to the store now. Answers `{"stored": N,
/// "security_events": M}`: site-minutes and events written.
pub async fn flush(
    State(control): State<Arc<Control>>,
    principal: Principal,
) -> ApiResult<Json<serde_json::Value>> {
    if !principal.is_operator() {
        return Err(ApiError::forbidden("only operators may flush analytics"));
    }
    let flushed = match control.flush_analytics_now().await {
        Ok(stored) => control
            .flush_security_events()
            .await
            .map(|events| (stored, events)),
        Err(error) => Err(error),
    };
    match flushed {
        Ok((stored, events)) => Ok(Json(
            serde_json::json!({ "stored": stored, "security_events": events }),
        )),
        Err(error) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            error.to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: Option<i64>, to: Option<i64>) -> RangeQuery {
        RangeQuery {
            from,
            to,
            top: None,
        }
    }

    #[test]
    fn ranges() {
        let now = 1_700_000_030;
        assert_eq!(range(&q(None, None), now).unwrap(), (1_699_996_380, now));
        assert_eq!(
            range(&q(Some(125), Some(300)), now).unwrap(),
            (120, 300),
            "from moves back to its minute"
        );
        assert_eq!(
            range(&q(Some(300), Some(300)), now)
                .unwrap_err()
                .detail
                .code,
            "empty_range"
        );
        assert_eq!(
            range(&q(Some(0), Some(MAX_RANGE_SECS + 1)), now)
                .unwrap_err()
                .detail
                .code,
            "range_too_long"
        );
        assert!(range(&q(Some(0), Some(MAX_RANGE_SECS)), now).is_ok());
    }
}
