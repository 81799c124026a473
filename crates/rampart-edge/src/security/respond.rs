//! The responses the security phases answer with, built on [`crate::pages`]
//! so that they carry the ray id and come as JSON to clients that ask.

use std::time::Duration;

use http::header::{CONNECTION, LOCATION, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use rampart_config::PageTemplates;

use crate::body::EdgeBody;
use crate::pages::{self, Detail, PageKind};
use crate::ray::RayId;

use super::ratelimit::retry_after_secs;

/// What every page needs to know about the request.
#[derive(Clone, Copy)]
pub struct PageCtx<'a> {
    pub ray: RayId,
    pub host: &'a str,
    pub json: bool,
    pub templates: Option<&'a PageTemplates>,
}

impl PageCtx<'_> {
    fn page(&self, kind: PageKind, detail: &Detail<'_>) -> Response<EdgeBody> {
        pages::render_detailed(kind, detail, self.ray, self.host, self.json, self.templates)
    }

    pub fn blocked(&self, status: StatusCode, rule: &str) -> Response<EdgeBody> {
        self.page(
            PageKind::Blocked,
            &Detail {
                status: Some(status),
                rule: Some(rule),
                reason: None,
            },
        )
    }

    /// The 403 that stands in for a challenge until challenges exist. It
    /// says plainly that a challenge is required, and why.
    pub fn challenge(&self, reason: &str, rule: Option<&str>) -> Response<EdgeBody> {
        self.page(
            PageKind::ChallengeRequired,
            &Detail {
                status: None,
                rule,
                reason: Some(reason),
            },
        )
    }

    /// 404 for a `/.rampart/` path that does not exist.
    pub fn not_found(&self) -> Response<EdgeBody> {
        self.page(
            PageKind::ReservedNotFound,
            &Detail {
                status: None,
                rule: None,
                reason: None,
            },
        )
    }

    pub fn rate_limited(&self, retry_after: Duration, rule: &str) -> Response<EdgeBody> {
        let mut response = self.page(
            PageKind::RateLimited,
            &Detail {
                status: None,
                rule: Some(rule),
                reason: None,
            },
        );
        set_retry_after(&mut response, retry_after_secs(retry_after));
        response
    }

    pub fn limit(&self, kind: PageKind, reason: &str) -> Response<EdgeBody> {
        self.page(
            kind,
            &Detail {
                status: None,
                rule: None,
                reason: Some(reason),
            },
        )
    }

    /// 503 with `Retry-After: 1`: the site's origins have as many requests
    /// in flight as the node allows.
    pub fn overloaded(&self) -> Response<EdgeBody> {
        let mut response = self.page(PageKind::Overloaded, &Detail::default());
        set_retry_after(&mut response, 1);
        response
    }

    /// 413 or 408 after a request body was cut off; the connection closes,
    /// since the rest of the body is still on its way.
    pub fn body_aborted(&self, kind: PageKind, reason: &str) -> Response<EdgeBody> {
        let mut response = self.limit(kind, reason);
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

pub fn redirect(location: &HeaderValue, status: StatusCode) -> Response<EdgeBody> {
    let mut response = Response::new(EdgeBody::Empty);
    *response.status_mut() = status;
    response.headers_mut().insert(LOCATION, location.clone());
    response
}

fn set_retry_after(response: &mut Response<EdgeBody>, secs: u64) {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn ctx(json: bool) -> PageCtx<'static> {
        PageCtx {
            ray: RayId::generate(),
            host: "shop.test",
            json,
            templates: None,
        }
    }

    async fn body(response: Response<EdgeBody>) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn block_page_names_rule_and_ray() {
        let c = ctx(false);
        let response = c.blocked(StatusCode::from_u16(451).unwrap_or_default(), "no-<x>");
        assert_eq!(response.status(), 451);
        let html = body(response).await;
        assert!(html.contains("no-&lt;x&gt;"), "{html}");
        assert!(html.contains(&c.ray.to_string()));

        let c = ctx(true);
        let v: serde_json::Value =
            serde_json::from_str(&body(c.blocked(StatusCode::FORBIDDEN, "r1")).await)
                .unwrap_or_default();
        assert_eq!(v["error"]["rule_id"], "r1");
        assert_eq!(v["error"]["code"], "blocked");
        assert_eq!(v["error"]["ray_id"], c.ray.to_string());
    }

    #[tokio::test]
    async fn challenge_and_limits_say_why() {
        let c = ctx(true);
        let response = c.challenge("the site is in under-attack mode", None);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let v: serde_json::Value = serde_json::from_str(&body(response).await).unwrap_or_default();
        assert_eq!(v["error"]["code"], "challenge_required");
        assert_eq!(v["error"]["reason"], "the site is in under-attack mode");

        let response = c.rate_limited(Duration::from_millis(1500), "login");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "2");

        let response = c.overloaded();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");

        let response = c.body_aborted(PageKind::RequestTimeout, "slow");
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()[CONNECTION], "close");

        let location = HeaderValue::from_static("/elsewhere");
        let response = redirect(&location, StatusCode::SEE_OTHER);
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()[LOCATION], "/elsewhere");
    }
}
