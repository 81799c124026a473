//! Custom rules on the real binary: every action (block, challenge,
//! redirect, log, allow, skip), operator rules before site rules, named IP
//! lists, and the rule ids in the access log and in analytics.
//!
//! Clients are told apart by X-Forwarded-For: the edge trusts loopback as a
//! proxy in these tests.

mod support;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Value, json};
use support::Rampart;
use support::client::{Proto, Reply, send};
use support::origin::{self, full};

/// An origin that answers 200 "origin <path>" to everything.
async fn plain_origin() -> origin::TestOrigin {
    origin::builder("shop")
        .handler(|req: Request<Incoming>| async move {
            Response::new(full(format!("origin {}", req.uri().path())))
        })
        .start()
        .await
}

const OPERATOR: &str = r#"
[[lists]]
name = "scanners"
items = ["198.51.100.0/24"]

[[lists]]
name = "office"
items = ["192.0.2.0/24"]

[[rules]]
id = "op-scanners"
description = "known scanners, for every site"
expression = "ip.src in $scanners"
action = "block"
"#;

fn site(origin: &str) -> String {
    format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["{origin}"]

[[site.rules]]
id = "office-skips"
expression = "ip.src in $office"
action = "skip"
skip_rules = ["no-admin"]
skip_phases = ["rate_limits"]

[[site.rules]]
id = "no-admin"
expression = 'starts_with(http.request.uri.path, "/admin")'
action = "block"

[[site.rules]]
id = "teapot"
expression = 'http.request.method eq "BREW" or http.request.uri.path eq "/tea"'
action = "block"
status = 418

[[site.rules]]
id = "suspicious"
expression = 'http.request.uri.path eq "/checkout" and not any(http.request.headers["accept-language"][*] ne "")'
action = "challenge"

[[site.rules]]
id = "moved"
expression = 'http.request.uri.path eq "/old"'
action = "redirect"
redirect_url = "https://shop.test/new"
status = 308

[[site.rules]]
id = "watch-curl"
expression = 'http.user_agent contains "curl"'
action = "log"

[[site.rules]]
id = "health-free"
expression = 'http.request.uri.path eq "/healthz"'
action = "allow"

[[site.rules]]
id = "everyone-else-allowed"
expression = "true"
action = "allow"

[[site.rate_limits]]
id = "tight"
period = "1h"
requests = 2
"#
    )
}

fn start(origin: &str) -> Rampart {
    Rampart::builder()
        .proxy(r#"trusted_proxies = ["127.0.0.1"]"#)
        .tables(OPERATOR)
        .sites(&site(origin))
        .start()
}

/// GET `path` as client `ip`, with extra headers.
async fn request(
    rampart: &Rampart,
    method: &str,
    path: &str,
    ip: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "shop.test")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_answers_as_configured_and_is_logged() {
    let origin = plain_origin().await;
    let rampart = start(&origin.url());
    let lang = [("accept-language", "en")];

    // block with the rule's status: a page naming the rule and the ray id.
    let tea = request(&rampart, "GET", "/tea", "203.0.113.1", &lang).await;
    assert_eq!(tea.status, 418, "{}", tea.text());
    assert!(tea.text().contains("teapot"), "{}", tea.text());
    assert!(tea.text().contains(&tea.ray()), "{}", tea.text());
    let line = rampart.log_line_of(&tea);
    assert_eq!(
        (line["rule"].as_str(), line["action"].as_str()),
        (Some("teapot"), Some("block"))
    );
    assert_eq!(
        line["origin"],
        Value::Null,
        "a blocked request never reaches the origin"
    );

    // The same as JSON for a client that asks for it.
    let brew = request(
        &rampart,
        "BREW",
        "/pot",
        "203.0.113.1",
        &[("accept", "application/json"), ("accept-language", "en")],
    )
    .await;
    assert_eq!(brew.status, 418);
    let v = brew.json();
    assert_eq!(v["error"]["code"], "blocked");
    assert_eq!(v["error"]["rule_id"], "teapot");
    assert_eq!(v["error"]["ray_id"], brew.ray());

    // challenge: the interstitial, naming the rule that asked for it.
    let checkout = request(&rampart, "GET", "/checkout", "203.0.113.1", &[]).await;
    assert_eq!(checkout.status, StatusCode::FORBIDDEN);
    assert_eq!(checkout.header("rampart-challenge"), Some("1"));
    let html = checkout.text();
    assert!(html.contains("suspicious"), "{html}");
    assert_eq!(rampart.log_line_of(&checkout)["action"], "challenge");
    // With the header the rule looks for, the same path goes through.
    let ok = request(&rampart, "GET", "/checkout", "203.0.113.1", &lang).await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    // redirect: Location and the rule's status, nothing forwarded.
    let old = request(&rampart, "GET", "/old", "203.0.113.1", &lang).await;
    assert_eq!(old.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(old.header("location"), Some("https://shop.test/new"));
    assert_eq!(rampart.log_line_of(&old)["rule"], "moved");

    // log: recorded, and the request continues (to an allow rule here).
    let curl = request(
        &rampart,
        "GET",
        "/x",
        "203.0.113.2",
        &[("user-agent", "curl/8")],
    )
    .await;
    assert_eq!(curl.status, 200);
    assert_eq!(curl.text(), "origin /x");
    let line = rampart.log_line_of(&curl);
    assert_eq!(
        line["rules"],
        json!(["watch-curl", "everyone-else-allowed"])
    );
    assert_eq!(
        (line["rule"].as_str(), line["action"].as_str()),
        (Some("everyone-else-allowed"), Some("allow"))
    );

    // allow skips the remaining phases: the "tight" limit (2 per hour)
    // never applies to requests an allow rule let through.
    for _ in 0..5 {
        let r = request(&rampart, "GET", "/healthz", "203.0.113.3", &lang).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    drop(origin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_rules_and_lists_come_first_and_skip_passes_over_rules() {
    let origin = plain_origin().await;
    let rampart = start(&origin.url());

    // The site allows everyone, but the operator rule runs first.
    let scanner = request(&rampart, "GET", "/", "198.51.100.20", &[]).await;
    assert_eq!(scanner.status, StatusCode::FORBIDDEN, "{}", scanner.text());
    assert!(scanner.text().contains("op-scanners"), "{}", scanner.text());
    let line = rampart.log_line_of(&scanner);
    assert_eq!(line["rule"], "op-scanners");
    assert_eq!(
        line["rules"],
        Value::Null,
        "no site rule ran after the block"
    );
    // Outside the list: the site's allow-all rule.
    let neighbour = request(&rampart, "GET", "/", "198.51.101.20", &[]).await;
    assert_eq!(neighbour.status, 200);

    // /admin is blocked for everyone but the office, whose skip rule passes
    // over "no-admin" (and the office also skips rate limits).
    let outsider = request(&rampart, "GET", "/admin", "203.0.113.9", &[]).await;
    assert_eq!(outsider.status, StatusCode::FORBIDDEN);
    assert!(outsider.text().contains("no-admin"), "{}", outsider.text());
    let office = request(&rampart, "GET", "/admin", "192.0.2.44", &[]).await;
    assert_eq!(office.status, 200, "{}", office.text());
    let line = rampart.log_line_of(&office);
    assert_eq!(
        line["rules"],
        json!(["office-skips", "everyone-else-allowed"])
    );
    drop(origin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_hits_reach_analytics_with_their_verdicts() {
    let origin = plain_origin().await;
    let rampart = start(&origin.url());
    for _ in 0..3 {
        assert_eq!(
            request(&rampart, "GET", "/tea", "203.0.113.5", &[])
                .await
                .status,
            418
        );
    }
    assert_eq!(
        request(&rampart, "GET", "/", "198.51.100.1", &[])
            .await
            .status,
        403
    );
    assert_eq!(
        request(&rampart, "GET", "/checkout", "203.0.113.5", &[])
            .await
            .status,
        403
    );
    let lines = rampart.access_log_until(|l| l.iter().filter(|l| l["site"] == "shop").count() >= 5);
    assert_eq!(lines.iter().filter(|l| l["site"] == "shop").count(), 5);

    let admin = rampart.admin_api();
    admin.post("/-/flush-analytics", &json!({})).expect(200);
    let reply = admin.get("/api/v1/sites/shop/analytics").expect(200);
    let rules = reply["top"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rules.first(), Some(&json!(["teapot", 3])), "{reply}");
    let mut rest: Vec<String> = rules.iter().skip(1).map(Value::to_string).collect();
    rest.sort();
    assert_eq!(
        rest,
        [r#"["op-scanners",1]"#, r#"["suspicious",1]"#],
        "{reply}"
    );
    let blocked: i64 = reply["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["blocked"].as_i64())
        .sum();
    let challenged: i64 = reply["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["challenged"].as_i64())
        .sum();
    assert_eq!((blocked, challenged), (4, 1), "{reply}");
    drop(origin);
}
