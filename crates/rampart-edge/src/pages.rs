//! Pages Rampart answers itself. A visitor always learns what happened and gets
//! a reference id; API clients get the same facts as JSON.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use rampart_config::PageTemplates;

use crate::body::EdgeBody;
use crate::ray::RayId;

/// The situations Rampart generates a page for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    UnknownHost,
    BadGateway,
    NoHealthyOrigin,
    GatewayTimeout,
    BadRequest,
    MethodNotAllowed,
    /// A security rule blocked the request (status set by the rule).
    Blocked,
    /// A rule, rate limit, the bot policy or under-attack mode wants a
    /// challenge that this request cannot take (not GET, or an API client).
    ChallengeRequired,
    /// A path under `/.rampart/` that does not exist.
    ReservedNotFound,
    RateLimited,
    PayloadTooLarge,
    UriTooLong,
    HeaderFieldsTooLarge,
    /// The request body arrived too slowly.
    RequestTimeout,
    /// Too many requests in flight to the site's origins.
    Overloaded,
}

impl PageKind {
    pub fn status(self) -> StatusCode {
        match self {
            PageKind::UnknownHost => StatusCode::NOT_FOUND,
            PageKind::BadGateway => StatusCode::BAD_GATEWAY,
            PageKind::NoHealthyOrigin => StatusCode::SERVICE_UNAVAILABLE,
            PageKind::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            PageKind::BadRequest => StatusCode::BAD_REQUEST,
            PageKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            PageKind::Blocked | PageKind::ChallengeRequired => StatusCode::FORBIDDEN,
            PageKind::ReservedNotFound => StatusCode::NOT_FOUND,
            PageKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            PageKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            PageKind::UriTooLong => StatusCode::URI_TOO_LONG,
            PageKind::HeaderFieldsTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            PageKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            PageKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            PageKind::UnknownHost => "unknown_host",
            PageKind::BadGateway => "origin_unreachable",
            PageKind::NoHealthyOrigin => "no_healthy_origin",
            PageKind::GatewayTimeout => "origin_timeout",
            PageKind::BadRequest => "bad_request",
            PageKind::MethodNotAllowed => "method_not_allowed",
            PageKind::Blocked => "blocked",
            PageKind::ChallengeRequired => "challenge_required",
            PageKind::ReservedNotFound => "not_found",
            PageKind::RateLimited => "rate_limited",
            PageKind::PayloadTooLarge => "body_too_large",
            PageKind::UriTooLong => "uri_too_long",
            PageKind::HeaderFieldsTooLarge => "too_many_headers",
            PageKind::RequestTimeout => "body_too_slow",
            PageKind::Overloaded => "site_overloaded",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            PageKind::UnknownHost => "Site not found",
            PageKind::BadGateway => "Origin unreachable",
            PageKind::NoHealthyOrigin => "Service unavailable",
            PageKind::GatewayTimeout => "Origin timed out",
            PageKind::BadRequest => "Bad request",
            PageKind::MethodNotAllowed => "Method not allowed",
            PageKind::Blocked => "Access denied",
            PageKind::ChallengeRequired => "Challenge required",
            PageKind::ReservedNotFound => "Not found",
            PageKind::RateLimited => "Too many requests",
            PageKind::PayloadTooLarge => "Request body too large",
            PageKind::UriTooLong => "Address too long",
            PageKind::HeaderFieldsTooLarge => "Too many request headers",
            PageKind::RequestTimeout => "Request body too slow",
            PageKind::Overloaded => "Site overloaded",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            PageKind::UnknownHost => {
                "This address is not served by this Rampart edge. Check the spelling of the address; if you run this site, add its hostname to a site in the Rampart configuration."
            }
            PageKind::BadGateway => {
                "Rampart could not get a valid answer from the site's origin server. Try again in a moment; if you run this site, check that the origin is up and reachable from the edge."
            }
            PageKind::NoHealthyOrigin => {
                "Every origin server of this site is failing its health checks, so Rampart cannot forward the request. Try again in a moment; if you run this site, check the origins' health endpoint."
            }
            PageKind::GatewayTimeout => {
                "The site's origin server did not answer in time. Try again in a moment; if you run this site, check the origin's load or raise the origin response timeout."
            }
            PageKind::BadRequest => {
                "The request was malformed and was refused before reaching the site."
            }
            PageKind::MethodNotAllowed => {
                "This edge does not forward this request method (CONNECT tunnels are not offered)."
            }
            PageKind::Blocked => {
                "This request was blocked by a security rule of the site. If you think this is a mistake, contact the site's owner and give them the reference id below."
            }
            PageKind::ReservedNotFound => {
                "Paths under /.rampart/ belong to the site's protection service, and there is nothing at this one."
            }
            PageKind::ChallengeRequired => {
                "This site requires visitors to pass a browser check before this request is allowed. The check runs on page loads in a web browser; see below for what to do."
            }
            PageKind::RateLimited => {
                "Too many requests came from you in a short time. Wait before trying again (see the Retry-After header)."
            }
            PageKind::PayloadTooLarge => "The request body is larger than this site accepts.",
            PageKind::UriTooLong => "The requested address is longer than this site accepts.",
            PageKind::HeaderFieldsTooLarge => {
                "The request carries more header fields than this site accepts."
            }
            PageKind::RequestTimeout => {
                "The request body arrived too slowly, so the request was abandoned."
            }
            PageKind::Overloaded => {
                "The site is handling as many requests as its servers can take right now. Try again in a moment (see the Retry-After header)."
            }
        }
    }
}

/// The site's template for `kind`, if it set one.
fn template_for(templates: &PageTemplates, kind: PageKind) -> Option<&str> {
    match kind {
        PageKind::UnknownHost => templates.not_found.as_deref(),
        PageKind::BadGateway => templates.bad_gateway.as_deref(),
        PageKind::NoHealthyOrigin => templates.service_unavailable.as_deref(),
        PageKind::GatewayTimeout => templates.gateway_timeout.as_deref(),
        PageKind::Overloaded => templates.service_unavailable.as_deref(),
        _ => None,
    }
}

/// Whether the client asked for JSON rather than a page: API clients send
/// `Accept: application/json`, browsers list text/html first.
pub fn wants_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let json = accept.find("json");
    let html = accept.find("text/html");
    match (json, html) {
        (Some(_), None) => true,
        (Some(j), Some(h)) => j < h,
        _ => false,
    }
}

pub fn render(
    kind: PageKind,
    ray: RayId,
    host: &str,
    json: bool,
    overrides: Option<&PageTemplates>,
) -> Response<EdgeBody> {
    render_detailed(kind, &Detail::default(), ray, host, json, overrides)
}

/// What a security page says beyond its kind: the status a rule chose, the
/// rule that decided, and a reason in words.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detail<'a> {
    pub status: Option<StatusCode>,
    pub rule: Option<&'a str>,
    pub reason: Option<&'a str>,
}

pub fn render_detailed(
    kind: PageKind,
    detail: &Detail<'_>,
    ray: RayId,
    host: &str,
    json: bool,
    overrides: Option<&PageTemplates>,
) -> Response<EdgeBody> {
    let status = detail.status.unwrap_or_else(|| kind.status());
    let mut message = kind.message().to_string();
    if let Some(reason) = detail.reason {
        message.push_str(" Reason: ");
        message.push_str(reason);
        message.push('.');
    }
    if let Some(rule) = detail.rule {
        message.push_str(" Rule: ");
        message.push_str(rule);
        message.push('.');
    }
    let (body, content_type) = if json {
        let mut error = serde_json::json!({
            "status": status.as_u16(),
            "code": kind.code(),
            "title": kind.title(),
            "message": message,
            "ray_id": ray.to_string(),
        });
        if let Some(map) = error.as_object_mut() {
            if let Some(rule) = detail.rule {
                map.insert("rule_id".into(), rule.into());
            }
            if let Some(reason) = detail.reason {
                map.insert("reason".into(), reason.into());
            }
        }
        let value = serde_json::json!({ "error": error });
        (
            Bytes::from(value.to_string()),
            HeaderValue::from_static("application/json"),
        )
    } else {
        let template = overrides
            .and_then(|o| template_for(o, kind))
            .unwrap_or(DEFAULT_TEMPLATE);
        (
            Bytes::from(fill(template, status, kind.title(), &message, ray, host)),
            HeaderValue::from_static("text/html; charset=utf-8"),
        )
    };
    let mut response = Response::new(EdgeBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn fill(
    template: &str,
    status: StatusCode,
    title: &str,
    message: &str,
    ray: RayId,
    host: &str,
) -> String {
    template
        .replace("{{status}}", status.as_str())
        .replace("{{title}}", &escape_html(title))
        .replace("{{message}}", &escape_html(message))
        .replace("{{ray_id}}", &ray.to_string())
        .replace("{{host}}", &escape_html(host))
}

/// A page of the edge's own (challenge, enforcement, report form): not
/// cached, never framed.
pub fn html_response(status: StatusCode, body: String) -> Response<EdgeBody> {
    own_response(status, body, "text/html; charset=utf-8")
}

/// A JSON answer of the edge's own endpoints, not cached.
pub fn json_response(status: StatusCode, body: String) -> Response<EdgeBody> {
    own_response(status, body, "application/json")
}

fn own_response(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<EdgeBody> {
    let mut response = Response::new(EdgeBody::Full(Some(Bytes::from(body))));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const DEFAULT_TEMPLATE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{status}} {{title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
main{max-width:40rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.5rem;margin:0 0 1rem}
.ref{margin-top:2rem;font-size:.9rem;color:#4a5460}
code{background:#eef0f3;padding:.1rem .3rem;border-radius:4px}
</style>
</head>
<body>
<main>
<h1>Error {{status}}: {{title}}</h1>
<p>{{message}}</p>
<p class="ref">Host: <code>{{host}}</code><br>Reference id (Rampart-Ray): <code>{{ray_id}}</code></p>
</main>
</body>
</html>
"#;

/// Shown for every host when no site is configured yet: a newcomer's first
/// request through the edge should tell them what to do next.
pub fn welcome(ray: RayId, config_path: Option<&str>) -> Response<EdgeBody> {
    let config_note = match config_path {
        Some(path) => format!(
            "This edge runs with <code>{}</code>, which has no <code>[[site]]</code> yet.",
            escape_html(path)
        ),
        None => "This edge runs on built-in defaults (no configuration file).".to_string(),
    };
    let html = WELCOME
        .replace("{{config_note}}", &config_note)
        .replace("{{ray_id}}", &ray.to_string());
    let mut response = Response::new(EdgeBody::full(html));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const WELCOME: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rampart is running</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
main{max-width:46rem;margin:6vh auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
pre{background:#1b1f24;color:#e8eaed;padding:1rem;border-radius:6px;overflow:auto}
code{background:#eef0f3;padding:.1rem .3rem;border-radius:4px}
pre code{background:none;padding:0}
</style>
</head>
<body>
<main>
<h1>Rampart is running</h1>
<p>{{config_note}} Rampart sits in front of your web servers (origins): it terminates TLS, routes each hostname to its site, balances load across healthy origins and answers with its own pages when an origin fails.</p>
<h2>Add your first site</h2>
<p>From the dashboard or the admin API: both are on the admin listener, whose address and a one-time operator token Rampart printed when it first started (<code>dashboard: …</code>, <code>admin token: …</code>). Sign in, create an account and add a site with its hostnames and origins; it is live within a second. The API is described at <code>/api/v1/openapi.json</code> on the same listener.</p>
<p>Or from a configuration file:</p>
<ol>
<li>Write a configuration file, for example <code>rampart.toml</code>:
<pre><code>[[site]]
name = "shop"
hosts = ["shop.example", "*.shop.example"]
origins = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
lb = "round_robin"            # or "least_outstanding", "ip_hash"
health = { path = "/healthz", interval = "2s", timeout = "1s" }
# tls = { cert = "certs/shop.pem", key = "certs/shop.key" }</code></pre></li>
<li>Check it: <code>rampart check-config --config rampart.toml</code></li>
<li>Start with it: <code>rampart serve --config rampart.toml</code>, or apply changes to a running edge with <code>rampart reload --config rampart.toml</code> (or <code>SIGHUP</code>).</li>
<li>Point the hostname at this edge and request it; every response carries a <code>Rampart-Ray</code> id that is also in the access log.</li>
</ol>
<p>Health and metrics: <code>/healthz</code> and <code>/metrics</code> on the admin listener.</p>
<p style="color:#4a5460;font-size:.9rem">Reference id: <code>{{ray_id}}</code></p>
</main>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_chosen_only_when_preferred() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        assert!(wants_json(&h));
        h.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,application/json;q=0.9"),
        );
        assert!(!wants_json(&h));
    }

    #[test]
    fn template_placeholders_are_filled_and_escaped() {
        let overrides = PageTemplates {
            bad_gateway: Some("<p>{{status}} {{ray_id}} {{host}}</p>".into()),
            ..Default::default()
        };
        let ray = RayId::generate();
        let html = fill(
            overrides.bad_gateway.as_deref().unwrap_or_default(),
            StatusCode::BAD_GATEWAY,
            "t",
            "m",
            ray,
            "<x>",
        );
        assert_eq!(html, format!("<p>502 {ray} &lt;x&gt;</p>"));
    }
}
