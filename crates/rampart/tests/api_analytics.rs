//! Analytics end to end, on SQLite and PostgreSQL: requests through the real
//! edge are counted per site, flushed to the store, and read back from
//! `GET /api/v1/sites/{site}/analytics` with exact counts; other accounts
//! cannot see them.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};
use support::Rampart;
use support::api::{Api, create_account, create_site, person};
use support::backends::{Backend, start, store_table};
use support::client::{Proto, Reply, get, send};
use support::origin::{self, full};

/// 200 "ok" by default; `/missing` 404, `/fail` 500, `/moved` 301, each
/// with a body of known length.
async fn status_origin() -> origin::TestOrigin {
    origin::builder("shop")
        .handler(|req: Request<Incoming>| async move {
            let (status, body) = match req.uri().path() {
                "/missing" => (StatusCode::NOT_FOUND, "missing"),
                "/fail" => (StatusCode::INTERNAL_SERVER_ERROR, "fail"),
                "/moved" => (StatusCode::MOVED_PERMANENTLY, ""),
                _ => (StatusCode::OK, "ok"),
            };
            let mut response = Response::new(full(body));
            *response.status_mut() = status;
            response
        })
        .start()
        .await
}

/// GET `path` on shop.test, from `client` when given (the edge trusts
/// loopback's X-Forwarded-For), else from loopback itself.
async fn hit(rampart: &Rampart, path: &str, client: Option<&str>) -> StatusCode {
    reply(rampart, path, client).await.status
}

async fn reply(rampart: &Rampart, path: &str, client: Option<&str>) -> Reply {
    let mut request = get("shop.test", path);
    if let Some(ip) = client {
        request.headers_mut().insert(
            "x-forwarded-for",
            HeaderValue::from_str(ip).unwrap_or_else(|e| panic!("{ip}: {e}")),
        );
    }
    send(rampart.http, Proto::Http1, request).await
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// The counters of a reply's series, summed over its minutes.
fn totals(reply: &Value) -> Value {
    let mut sums = serde_json::Map::new();
    for minute in reply["series"].as_array().into_iter().flatten() {
        for (key, value) in minute.as_object().into_iter().flatten() {
            if key == "minute" {
                continue;
            }
            let sum = sums.get(key).and_then(Value::as_u64).unwrap_or(0);
            sums.insert(key.clone(), json!(sum + value.as_u64().unwrap_or(0)));
        }
    }
    Value::Object(sums)
}

async fn traffic_is_counted_per_site_and_isolated(backend: Backend) {
    let origin = status_origin().await;
    let rampart = Rampart::builder()
        .tables(&store_table(backend).await)
        .proxy("trusted_proxies = [\"127.0.0.1/32\"]")
        .start();
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let site = create_site(&admin, &acme, "shop", &origin.url());
    let started = now_secs();

    // Until the site is live, shop.test gets the welcome page of an edge
    // without sites, which no site counts; the one probe the origin answers
    // is counted.
    let deadline = Instant::now() + Duration::from_secs(5);
    while reply(&rampart, "/probe", None).await.text() != "ok" {
        assert!(Instant::now() < deadline, "shop.test never went live");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for i in 0..6 {
        let status = hit(&rampart, &format!("/a?q={i}"), Some("198.51.100.7")).await;
        assert_eq!(status, StatusCode::OK);
    }
    for _ in 0..3 {
        assert_eq!(
            hit(&rampart, "/b", Some("198.51.100.8")).await,
            StatusCode::OK
        );
    }
    for _ in 0..2 {
        assert_eq!(hit(&rampart, "/missing", None).await, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        hit(&rampart, "/fail", Some("198.51.100.8")).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        hit(&rampart, "/moved", Some("198.51.100.8")).await,
        StatusCode::MOVED_PERMANENTLY
    );
    let requests = 1 + 6 + 3 + 2 + 1 + 1;

    // The edge counts a request just before writing its access log line, so
    // once every line is there, every request is in the aggregator.
    let lines = rampart
        .access_log_until(|lines| lines.iter().filter(|l| l["site"] == "shop").count() >= requests);
    assert_eq!(
        lines.iter().filter(|l| l["site"] == "shop").count(),
        requests
    );

    assert_eq!(
        Api::anonymous(rampart.admin)
            .post("/-/flush-analytics", &json!({}))
            .status,
        401
    );
    let flushed = admin.post("/-/flush-analytics", &json!({})).expect(200);
    assert!(flushed["stored"].as_u64().unwrap_or(0) >= 1, "{flushed}");

    let path = format!("/api/v1/sites/{site}/analytics");
    let reply = admin.get(&path).expect(200);
    assert_eq!(reply["site"], site.as_str());
    let to = reply["to"].as_i64().unwrap_or(0);
    let from = reply["from"].as_i64().unwrap_or(0);
    assert!(
        to >= started && to - from <= 3660 && from % 60 == 0,
        "{reply}"
    );
    let minutes: Vec<i64> = reply["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["minute"].as_i64())
        .collect();
    assert!(
        !minutes.is_empty() && minutes.len() <= 2 && minutes.is_sorted(),
        "{reply}"
    );
    let expected = json!({
        "requests": requests,
        "bytes_in": 0,
        // "ok" ×10, "missing" ×2, "fail", and the empty 301.
        "bytes_out": 2 * 10 + 7 * 2 + 4,
        "status_1xx": 0, "status_2xx": 10, "status_3xx": 1, "status_4xx": 2, "status_5xx": 1,
        "passed": requests, "blocked": 0, "challenged": 0, "rate_limited": 0,
        "cache_hit": 0, "cache_miss": 0, "cache_bypass": 0,
    });
    assert_eq!(totals(&reply), expected, "{reply}");
    assert_eq!(
        reply["top"]["paths"],
        json!([
            ["/a", 6],
            ["/b", 3],
            ["/missing", 2],
            ["/fail", 1],
            ["/moved", 1],
            ["/probe", 1]
        ]),
        "the query string is not part of the path"
    );
    assert_eq!(
        reply["top"]["ips"],
        json!([["198.51.100.7", 6], ["198.51.100.8", 5], ["127.0.0.1", 3]])
    );
    assert_eq!(reply["top"]["countries"], json!([]));
    assert_eq!(reply["top"]["rules"], json!([]));

    // A flush with nothing new stores nothing and counts nothing twice; the
    // site's name works as well as its id, and so does an explicit range.
    assert_eq!(
        admin.post("/-/flush-analytics", &json!({})).expect(200)["stored"],
        0
    );
    let again = admin
        .get(&format!(
            "/api/v1/sites/shop/analytics?from={}&to={}&top=2",
            started - 120,
            now_secs() + 120
        ))
        .expect(200);
    assert_eq!(totals(&again), expected, "{again}");
    assert_eq!(again["top"]["paths"], json!([["/a", 6], ["/b", 3]]));

    let bad = admin.get(&format!("{path}?from=100&to=100"));
    assert_eq!((bad.status, bad.field()), (422, "from"), "{}", bad.text);
    let long = admin.get(&format!("{path}?from=0&to={}", 32 * 86_400));
    assert_eq!(long.code(), "range_too_long", "{}", long.text);

    // Members of the site's account read it; another account's owner gets
    // the same 404 as for a site that does not exist, and may not flush.
    let member = person(&admin, "member@acme.test", "account_member", Some(&acme));
    assert_eq!(totals(&member.get(&path).expect(200)), expected);
    let other = create_account(&admin, "other");
    let outsider = person(&admin, "owner@other.test", "account_owner", Some(&other));
    for key in [site.as_str(), "shop"] {
        let denied = outsider.get(&format!("/api/v1/sites/{key}/analytics"));
        assert_eq!(denied.status, 404, "{}", denied.text);
        assert_eq!(denied.code(), "not_found");
    }
    assert_eq!(outsider.get("/api/v1/sites/nothing/analytics").status, 404);
    assert_eq!(outsider.post("/-/flush-analytics", &json!({})).status, 403);

    let doc = admin.get("/api/v1/openapi.json").expect(200);
    assert!(
        doc["paths"].get("/api/v1/sites/{site}/analytics").is_some(),
        "analytics missing from the OpenAPI document"
    );
}

/// SIGTERM stores what the edge counted, the open minute included: nothing
/// flushed it before, and the restarted node reads it back.
async fn shutdown_stores_the_open_minute(backend: Backend) {
    let origin = status_origin().await;
    let mut rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", &origin.url());
    let deadline = Instant::now() + Duration::from_secs(5);
    while reply(&rampart, "/", None).await.text() != "ok" {
        assert!(Instant::now() < deadline, "shop.test never went live");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..3 {
        assert_eq!(hit(&rampart, "/late", None).await, StatusCode::OK);
    }
    rampart.access_log_until(|lines| lines.iter().filter(|l| l["site"] == "shop").count() >= 4);

    rampart.signal("TERM");
    let status = rampart.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    rampart.kill_and_restart();
    let stored = admin.get("/api/v1/sites/shop/analytics").expect(200);
    assert_eq!(totals(&stored)["requests"], 4, "{stored}");
    assert_eq!(stored["top"]["paths"], json!([["/late", 3], ["/", 1]]));
}

on_both_backends!(
    traffic_is_counted_per_site_and_isolated,
    shutdown_stores_the_open_minute,
);
