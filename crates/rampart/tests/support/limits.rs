//! The origin, site config and client shared by the security_limits and
//! security_rate_limits tests: a shop whose edge trusts loopback's
//! X-Forwarded-For, so each request can come from its own client address.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::Rampart;
use super::client::{Proto, Reply, send};
use super::origin::{self, full};

/// `/login`: 200 with `x-password: right`, else 401. `/slow`: waits for
/// `release`. `/big`: 32 MiB. `/upload`: reads the body, says how long it
/// was. Anything else: 200 "ok".
pub async fn test_origin(release: Arc<tokio::sync::Semaphore>) -> origin::TestOrigin {
    origin::builder("shop")
        .handler(move |req: Request<Incoming>| {
            let release = release.clone();
            async move {
                match req.uri().path() {
                    "/login" => {
                        let right = req
                            .headers()
                            .get("x-password")
                            .is_some_and(|v| v == "right");
                        let mut r = Response::new(full(if right { "welcome" } else { "no" }));
                        if !right {
                            *r.status_mut() = StatusCode::UNAUTHORIZED;
                        }
                        r
                    }
                    "/slow" => {
                        let _permit = release.acquire().await;
                        Response::new(full("slow"))
                    }
                    "/big" => Response::new(full(vec![b'x'; 32 << 20])),
                    "/upload" => {
                        let body = req.into_body().collect().await;
                        let n = body.map(|b| b.to_bytes().len()).unwrap_or(0);
                        Response::new(full(format!("got {n}")))
                    }
                    _ => Response::new(full("ok")),
                }
            }
        })
        .start()
        .await
}

pub async fn call(
    rampart: &Rampart,
    host: &str,
    path: &str,
    ip: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = Request::get(path)
        .header("host", host)
        .header("x-forwarded-for", ip)
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
        );
    }
    send(rampart.http, Proto::Http1, request).await
}

pub fn limited_site(origin: &str) -> String {
    format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["{origin}"]
limits = {{ max_header_count = 12, max_uri_bytes = 64, max_body_bytes = 1000 }}

[[site.rate_limits]]
id = "api"
expression = 'starts_with(http.request.uri.path, "/api")'
characteristics = ["ip"]
period = "1h"
requests = 5

[[site.rate_limits]]
id = "watch"
expression = 'http.request.uri.path eq "/watched"'
period = "1h"
requests = 1
action = "log"

[[site.rate_limits]]
id = "brute-force"
expression = 'http.request.uri.path eq "/login"'
period = "1h"
requests = 3
counting_expression = "http.response.code eq 401"

[[site]]
name = "besieged"
hosts = ["besieged.test"]
origins = ["{origin}"]
under_attack = true
"#
    )
}

pub fn start_trusting_loopback(origin: &str, dos: &str) -> Rampart {
    Rampart::builder()
        .proxy(r#"trusted_proxies = ["127.0.0.1"]"#)
        .tables(&format!("[dos]\n{dos}\n"))
        .sites(&limited_site(origin))
        .start()
}
