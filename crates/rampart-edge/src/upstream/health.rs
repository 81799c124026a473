//! Active health checks: one task per origin that has them, living exactly as
//! long as the origin's state does (it holds only a weak reference).

use std::sync::{Arc, Weak};

use http::header::USER_AGENT;
use http::uri::Authority;
use http::{HeaderValue, Request, Uri};
use http_body_util::BodyExt;

use super::{HealthKey, Origin};
use crate::body::EdgeBody;

/// Largest health-check response body read to keep the connection reusable.
const MAX_BODY: usize = 64 * 1024;

pub fn spawn_health_check(origin: &Arc<Origin>, cfg: HealthKey) {
    let weak: Weak<Origin> = Arc::downgrade(origin);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(cfg.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(origin) = weak.upgrade() else { return };
            let ok = check_once(&origin, &cfg).await;
            origin.record_health_check(ok, cfg.rise, cfg.fall);
        }
    });
}

async fn check_once(origin: &Origin, cfg: &HealthKey) -> bool {
    // The origin's client is pinned to it: the URI's authority is the Host
    // (HTTP/1) or :authority (HTTP/2) the check sends.
    let authority =
        Authority::try_from(cfg.host.as_str()).unwrap_or_else(|_| origin.authority.clone());
    let uri = Uri::builder()
        .scheme(origin.scheme.clone())
        .authority(authority)
        .path_and_query(cfg.path.as_str())
        .build();
    let Ok(uri) = uri else { return false };
    let mut request = Request::new(EdgeBody::Empty);
    *request.uri_mut() = uri;
    if origin.protocol == rampart_config::OriginProtocol::Http2 {
        *request.version_mut() = http::Version::HTTP_2;
    }
    request.headers_mut().insert(
        USER_AGENT,
        HeaderValue::from_static("Rampart-Healthcheck/1"),
    );
    let attempt = async {
        let response = origin.client.request(request).await.ok()?;
        let healthy = response.status().is_success() || response.status().is_redirection();
        let body = http_body_util::Limited::new(response.into_body(), MAX_BODY);
        let _ = body.collect().await;
        Some(healthy)
    };
    matches!(
        tokio::time::timeout(cfg.timeout, attempt).await,
        Ok(Some(true))
    )
}
