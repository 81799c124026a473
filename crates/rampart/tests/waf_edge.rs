//! The WAF in the request path, on the real binary with the real OWASP
//! CRS from `../shared/crs` (or `RAMPART_CRS_DIR`): attacks in the query,
//! a form body and a JSON body get the block page with the request's ray
//! id, and never reach the origin; benign requests and bodies reach it
//! byte for byte; detect-only mode lets attacks through; a rule's `skip`
//! of the `waf` phase and a path-scoped exclusion let their traffic pass;
//! a body over the inspection limit is refused with 413; a block shows up
//! as a security event.

mod support;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use support::Rampart;
use support::client::{Proto, Reply, get, send};
use support::origin::{self, full};
use support::waf::crs_dir;

/// An origin that echoes the request body it received.
async fn echo_origin() -> origin::TestOrigin {
    origin::builder("app")
        .handler(|req: Request<Incoming>| async move {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            http::Response::new(full(body))
        })
        .start()
        .await
}

fn sites(origin: &str, crs: &std::path::Path) -> String {
    let crs = crs.display();
    format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["{origin}"]
waf = {{ mode = "block", crs = "{crs}", request_body_limit = "64KiB", exclusions = [{{ tags = ["attack-sqli"], path = "/search" }}] }}

[[site.rules]]
id = "trusted-skips-waf"
expression = 'http.request.uri.path eq "/trusted"'
action = "skip"
skip_phases = ["waf"]

[[site]]
name = "blog"
hosts = ["blog.test"]
origins = ["{origin}"]
waf = {{ mode = "detect", crs = "{crs}" }}
"#
    )
}

fn post(
    host: &str,
    path: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", host)
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) WafTest/1.0")
        .header("accept", "text/html")
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap_or_else(|e| panic!("request: {e}"))
}

fn browser_get(host: &str, path: &str) -> Request<Full<Bytes>> {
    let mut request = get(host, path);
    let headers = request.headers_mut();
    headers.insert(
        "user-agent",
        http::HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64) WafTest/1.0"),
    );
    headers.insert("accept", http::HeaderValue::from_static("text/html"));
    request
}

/// `1' OR '1'='1`, percent-encoded.
const SQLI: &str = "1%27%20OR%20%271%27%3D%271";

async fn visit(edge: std::net::SocketAddr, host: &str, path: &str) -> Reply {
    send(edge, Proto::Http1, browser_get(host, path)).await
}

fn assert_blocked(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 403, "{what}: {}", reply.text());
    let ray = ray_of(reply);
    assert!(
        !ray.is_empty() && reply.text().contains(&ray),
        "{what}: the page names the ray {ray}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_are_blocked_before_the_origin_and_benign_traffic_passes() {
    let Some(crs) = crs_dir() else {
        eprintln!("skipped: no CRS directory (set RAMPART_CRS_DIR)");
        return;
    };
    let app = echo_origin().await;
    let rampart = Rampart::start(&sites(&app.url(), &crs));
    let edge = rampart.http;

    let benign = visit(edge, "shop.test", "/products?q=blue+shoes").await;
    assert_eq!(benign.status, 200, "{}", benign.text());
    let form = "name=Ada+Lovelace&comment=I+like+these+shoes%2C+thanks%21";
    let posted = send(
        edge,
        Proto::Http1,
        post(
            "shop.test",
            "/comment",
            "application/x-www-form-urlencoded",
            form,
        ),
    )
    .await;
    assert_eq!(
        (posted.status.as_u16(), posted.text()),
        (200, form.to_owned()),
        "the origin got the body as sent"
    );
    let json = r#"{"order":{"items":[{"sku":"A-1","qty":2}],"note":"leave at the door"}}"#;
    let posted = send(
        edge,
        Proto::Http2,
        post("shop.test", "/api/order", "application/json", json),
    )
    .await;
    assert_eq!(
        (posted.status.as_u16(), posted.text()),
        (200, json.to_owned())
    );
    let reached = app.hits.load(Ordering::Relaxed);

    let sqli = visit(edge, "shop.test", &format!("/item?id={SQLI}")).await;
    assert_blocked(&sqli, "SQL injection in the query");
    let xss = send(
        edge,
        Proto::Http1,
        post(
            "shop.test",
            "/comment",
            "application/x-www-form-urlencoded",
            "comment=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E",
        ),
    )
    .await;
    assert_blocked(&xss, "XSS in a form body");
    let json_attack = send(
        edge,
        Proto::Http2,
        post(
            "shop.test",
            "/api/order",
            "application/json",
            r#"{"note":"1' UNION SELECT password FROM users--"}"#,
        ),
    )
    .await;
    assert_blocked(&json_attack, "SQL injection in a JSON body over HTTP/2");
    let lfi = visit(edge, "shop.test", "/download?file=../../../../etc/passwd").await;
    assert_blocked(&lfi, "path traversal");
    assert_eq!(
        app.hits.load(Ordering::Relaxed),
        reached,
        "no attack reached the origin"
    );

    // A body past the inspection limit is refused rather than passed blind.
    let big = "a=".to_owned() + &"x".repeat(80 * 1024);
    let refused = send(
        edge,
        Proto::Http1,
        post(
            "shop.test",
            "/upload",
            "application/x-www-form-urlencoded",
            big,
        ),
    )
    .await;
    assert_eq!(refused.status, 413, "{}", refused.text());

    // `skip` of the waf phase, and the path-scoped exclusion of attack-sqli.
    let skipped = visit(edge, "shop.test", &format!("/trusted?id={SQLI}")).await;
    assert_eq!(skipped.status, 200, "{}", skipped.text());
    let excluded = visit(edge, "shop.test", &format!("/search?q={SQLI}")).await;
    assert_eq!(excluded.status, 200, "{}", excluded.text());
    let not_excluded = visit(edge, "shop.test", &format!("/other?q={SQLI}")).await;
    assert_blocked(&not_excluded, "the exclusion is scoped to /search");

    // Detect-only: the attack passes.
    let detected = visit(edge, "blog.test", &format!("/?id={SQLI}")).await;
    assert_eq!(detected.status, 200, "{}", detected.text());

    // Each block is a security event under the ray its page showed; the
    // detect-only site's would-be block is one too.
    let admin = rampart.admin_api();
    admin
        .post("/-/flush-analytics", &serde_json::json!({}))
        .expect(200);
    let events = admin
        .get(&format!("/api/v1/security-events/{}", ray_of(&sqli)))
        .expect(200);
    let event = &events[0];
    assert_eq!(event["action"], "block", "{event}");
    let ids: Vec<u64> = event["rules"]
        .as_array()
        .map(|r| r.iter().filter_map(|h| h["id"].as_u64()).collect())
        .unwrap_or_default();
    assert!(ids.contains(&942100) && ids.contains(&949110), "{event}");
    assert!(event["inbound_score"].as_i64().unwrap_or(0) >= 5, "{event}");
    let detect = admin
        .get(&format!("/api/v1/security-events/{}", ray_of(&detected)))
        .expect(200);
    assert_eq!(detect[0]["action"], "detect", "{detect}");
}

fn ray_of(reply: &Reply) -> String {
    reply
        .headers
        .get("rampart-ray")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// An origin whose `/leak` page shows a database error.
async fn leaky_origin() -> origin::TestOrigin {
    origin::builder("leaky")
        .handler(|req: Request<Incoming>| async move {
            let (ct, body) = match req.uri().path() {
                "/leak" => (
                    "text/html; charset=utf-8",
                    "<html><body>Warning: You have an error in your SQL syntax; check the manual \
                     that corresponds to your MySQL server version for the right syntax to use \
                     near ''' at line 1</body></html>"
                        .to_owned(),
                ),
                "/data" => ("application/octet-stream", "x".repeat(600 * 1024)),
                _ => (
                    "text/html",
                    "<html><body>Welcome to the shop</body></html>".to_owned(),
                ),
            };
            let mut response = http::Response::new(full(body));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(ct),
            );
            response
        })
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaking_responses_are_replaced_when_the_site_inspects_responses() {
    let Some(crs) = crs_dir() else {
        eprintln!("skipped: no CRS directory (set RAMPART_CRS_DIR)");
        return;
    };
    let app = leaky_origin().await;
    let crs = crs.display();
    let rampart = Rampart::start(&format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["{}"]
waf = {{ mode = "block", crs = "{crs}", inspect_responses = true }}
"#,
        app.url()
    ));
    let edge = rampart.http;
    let page = visit(edge, "shop.test", "/").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Welcome to the shop"));
    let data = visit(edge, "shop.test", "/data").await;
    assert_eq!((data.status.as_u16(), data.body.len()), (200, 600 * 1024));
    let leak = visit(edge, "shop.test", "/leak").await;
    assert_blocked(&leak, "an SQL error page from the origin");
    assert!(!leak.text().contains("SQL syntax"), "{}", leak.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_file_broken_on_reload_is_refused_and_the_running_rules_stay() {
    let app = echo_origin().await;
    let rules = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    support::waf::rule_set(
        rules.path(),
        "SecRule ARGS \"@contains forbidden\" \"id:1001,phase:2,deny,status:403,msg:'local rule'\"\n",
    );
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n\
         waf = {{ mode = \"block\", crs = \"{}\" }}\n",
        app.url(),
        rules.path().display()
    ));
    let edge = rampart.http;
    assert_blocked(
        &visit(edge, "shop.test", "/?q=forbidden").await,
        "the local rule",
    );

    // A broken rule file: the reload is refused, naming file and line, and
    // the running rules keep blocking.
    std::fs::write(
        rules.path().join("rules/REQUEST-101-BROKEN.conf"),
        "# broken\nSecRule ARGS \"@rx (unclosed\" \"id:1002,phase:2,deny\"\n",
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    let output = rampart.reload();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("REQUEST-101-BROKEN.conf:2:"), "{said}");
    assert_blocked(
        &visit(edge, "shop.test", "/?q=forbidden").await,
        "the running rules",
    );
    assert_eq!(visit(edge, "shop.test", "/?q=fine").await.status, 200);

    // Fixed in place: the next reload compiles the files again.
    std::fs::write(
        rules.path().join("rules/REQUEST-101-BROKEN.conf"),
        "SecRule ARGS \"@contains banned\" \"id:1002,phase:2,deny,status:403\"\n",
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    let output = rampart.reload();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_blocked(
        &visit(edge, "shop.test", "/?q=banned").await,
        "the rule added in place",
    );
}
