//! Cluster mode on PostgreSQL: three real nodes on one real database.
//! Changes made on one node are enforced on the others within a second;
//! with PostgreSQL stopped the nodes keep serving, accept abuse reports
//! into their spool and lose no analytics, all stored exactly once when it
//! returns; a node killed with SIGKILL leaves the others serving and shows
//! as stale in the node list.
//!
//! `RAMPART_CLUSTER_PG_DOWN_SECS` sets how long PostgreSQL stays down
//! (default 30, as in CI).

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection as _;
use support::api::{Api, create_account, create_site};
use support::client::{Proto, get, send};
use support::cluster::Cluster;
use support::origin;

const SITES: &str = r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["http://127.0.0.1:1"]

[site.challenge]
difficulty = { low = 6, medium = 8, high = 10 }
"#;

fn reasons() -> Value {
    json!({
        "decision_ground": "incompatible_content",
        "category": "risk_for_public_security",
        "facts": "a copy of a bank's login page",
        "territorial_scope": "worldwide",
        "content_type": "website",
        "automated_detection": false,
        "automated_decision": false,
    })
}

fn report(email: &str, captcha: Option<&str>) -> Value {
    let mut body = json!({
        "category": "phishing",
        "urls": ["https://shop.test/login"],
        "explanation": "a copy of a bank's login page",
        "reporter": { "name": "Pia", "email": email },
        "good_faith": true,
        "share_with_owner": "anonymous",
        "share_with_host": "anonymous",
    });
    if let Some(token) = captcha {
        body["captcha"] = json!(token);
    }
    body
}

async fn status_of(node: std::net::SocketAddr, host: &str, path: &str) -> u16 {
    send(node, Proto::Http1, get(host, path))
        .await
        .status
        .as_u16()
}

/// Polls every live node but `except` until each answers `want` for
/// `host` + `path`; the time until the slowest did.
async fn time_until_all(
    cluster: &Cluster,
    except: usize,
    host: &str,
    path: &str,
    want: u16,
) -> Duration {
    let started = Instant::now();
    let mut pending: Vec<usize> = (0..cluster.len()).filter(|i| *i != except).collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for i in pending {
            if status_of(cluster.http(i), host, path).await != want {
                still.push(i);
            }
        }
        pending = still;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nodes {pending:?} never answered {want} for {host}{path}"
        );
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suspension_and_rule_changes_on_one_node_are_enforced_on_all_within_a_second() {
    let shop = origin::start("shop").await;
    let cluster = Cluster::builder(3).start();
    let api = cluster.api(0);
    let account = create_account(&api, "acme");
    create_site(&api, &account, "blog", &shop.url());
    create_site(&api, &account, "news", &shop.url());
    time_until_all(&cluster, usize::MAX, "blog.test", "/", 200).await;
    time_until_all(&cluster, usize::MAX, "news.test", "/", 200).await;

    // A rule written through node A blocks on B and C.
    api.put(
        "/api/v1/sites/blog/rules",
        &json!([{ "id": "no-admin", "expression": "http.request.uri.path eq \"/admin\"", "action": "block" }]),
    )
    .expect(200);
    let rule = time_until_all(&cluster, 0, "blog.test", "/admin", 403).await;

    // A trust & safety suspension decided through node A.
    let filed = api
        .post(
            "/api/v1/abuse-reports",
            &json!({
                "category": "phishing", "urls": ["http://news.test/login"],
                "explanation": "a bank's login page", "good_faith": true,
                "reporter": { "name": "Pia", "email": "pia@mail.test" },
                "share_with_owner": "anonymous", "share_with_host": "anonymous",
            }),
        )
        .expect(201);
    let case = filed["case_id"].as_str().unwrap_or_default().to_owned();
    api.post(
        &format!("/api/v1/cases/{case}/decisions"),
        &json!({ "outcome": "suspend", "reasons": reasons() }),
    )
    .expect(201);
    let suspension = time_until_all(&cluster, 0, "news.test", "/", 403).await;
    eprintln!("rule change on B and C after {rule:?}, suspension after {suspension:?}");
    assert!(rule < Duration::from_secs(1), "rule change took {rule:?}");
    assert!(
        suspension < Duration::from_secs(1),
        "suspension took {suspension:?}"
    );
    // The other site is untouched.
    assert_eq!(status_of(cluster.http(2), "blog.test", "/").await, 200);
}

fn pg_down_for() -> Duration {
    let secs = std::env::var("RAMPART_CLUSTER_PG_DOWN_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// `name = value` of a metric without labels.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_postgres_down_nodes_serve_and_keep_reports_and_analytics_until_it_returns() {
    let traffic_origin = origin::start("traffic").await;
    let sites = format!(
        "{SITES}\n[[site]]\nname = \"traffic\"\nhosts = [\"traffic.test\"]\norigins = [\"{}\"]\n",
        traffic_origin.url()
    );
    let mut cluster = Cluster::builder(3).sites(&sites).start();
    let mut sent = vec![0u64; cluster.len()];
    for (i, count) in sent.iter_mut().enumerate() {
        for _ in 0..5 {
            assert_eq!(status_of(cluster.http(i), "traffic.test", "/").await, 200);
            *count += 1;
        }
    }

    cluster.stop_postgres();
    let down_since = Instant::now();
    // Reports to every node, two each, from the public API with the abuse
    // form's captcha (no store needed to check it).
    let mut references = Vec::new();
    for i in 0..cluster.len() {
        for n in 0..2 {
            let token =
                support::widget::token(cluster.http(i), "shop.test", "rk_rampart_abuse_form", "")
                    .await;
            let public = Api::anonymous(cluster.admin(i));
            let body = report(&format!("r{i}-{n}@mail.test"), Some(&token));
            let reply =
                tokio::task::spawn_blocking(move || public.post("/api/v1/abuse-reports", &body))
                    .await
                    .unwrap_or_else(|e| panic!("report thread: {e}"));
            assert_eq!(reply.status, 202, "node {i}: {}", reply.text);
            let reference = reply.body["reference"].as_str().unwrap_or_default();
            assert!(reference.starts_with("AR-"), "{}", reply.text);
            references.push(reference.to_owned());
        }
    }
    for i in 0..cluster.len() {
        let text = cluster.node(i).metrics();
        let backlog = metric(&text, "rampart_spool_entries").unwrap_or(0.0);
        assert!(backlog >= 2.0, "node {i} spool backlog {backlog}");
    }
    // Traffic is served for the whole outage.
    let outage = pg_down_for();
    while down_since.elapsed() < outage {
        for (i, count) in sent.iter_mut().enumerate() {
            assert_eq!(
                status_of(cluster.http(i), "traffic.test", "/").await,
                200,
                "node {i} during the outage"
            );
            *count += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.start_postgres();

    // Every report lands exactly once, and every spool drains.
    let url = cluster.store_url.clone();
    let mut db = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let counts = loop {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT reference, COUNT(*) FROM abuse_reports GROUP BY reference")
                .fetch_all(&mut db)
                .await
                .unwrap_or_default();
        let counts: HashMap<String, i64> = rows.into_iter().collect();
        if references.iter().all(|r| counts.contains_key(r)) || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for reference in &references {
        assert_eq!(counts.get(reference), Some(&1), "report {reference}");
    }
    assert!(
        cluster.wait_all(Duration::from_secs(30), |_, node| {
            metric(&node.metrics(), "rampart_spool_entries") == Some(0.0)
        }),
        "a spool did not drain"
    );
    let status = Api::anonymous(cluster.admin(1))
        .get(&format!("/api/v1/abuse-reports/{}/status", references[0]))
        .expect(200);
    assert_eq!(status["category"], "phishing");

    // Analytics of the outage are all there, counted once per node. A
    // request is counted as its response ends, which may be a moment after
    // the client has it, so the flush is repeated until the figures match
    // (a duplicate would overshoot and never match).
    for (i, count) in sent.iter_mut().enumerate() {
        for _ in 0..3 {
            assert_eq!(status_of(cluster.http(i), "traffic.test", "/").await, 200);
            *count += 1;
        }
    }
    let expected: HashMap<String, i64> = sent
        .iter()
        .enumerate()
        .map(|(i, n)| (cluster.node_id(i), i64::try_from(*n).unwrap_or(i64::MAX)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let stored = loop {
        for i in 0..cluster.len() {
            cluster
                .api(i)
                .post("/-/flush-analytics", &json!({}))
                .expect(200);
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT a.node_id, CAST(SUM(a.requests) AS BIGINT) FROM analytics_minutes a
             JOIN sites s ON s.id = a.site_id WHERE s.name = 'traffic' GROUP BY a.node_id",
        )
        .fetch_all(&mut db)
        .await
        .unwrap_or_else(|e| panic!("analytics query: {e}"));
        let stored: HashMap<String, i64> = rows.into_iter().collect();
        if stored == expected || Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stored, expected, "requests stored per node vs sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_node_list_shows_versions_and_a_killed_node_goes_stale() {
    let shop = origin::start("shop").await;
    let sites = format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n",
        shop.url()
    );
    let mut cluster = Cluster::builder(3).sites(&sites).start();
    let api = cluster.api(0);
    let ids: Vec<String> = (0..3).map(|i| cluster.node_id(i)).collect();
    let nodes = |api: &Api| -> Vec<Value> {
        api.get("/api/v1/nodes")
            .expect(200)
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        support::ops::wait_until(Duration::from_secs(10), || nodes(&api).len() == 3),
        "not every node sent a heartbeat: {:?}",
        nodes(&api)
    );
    for node in nodes(&api) {
        assert!(ids.iter().any(|id| node["id"] == id.as_str()), "{node}");
        assert_eq!(node["version"], env!("CARGO_PKG_VERSION"), "{node}");
        assert!(
            node["snapshot_version"].as_i64().unwrap_or(0) >= 1,
            "{node}"
        );
        assert!(node["store_revision"].as_i64().unwrap_or(0) >= 1, "{node}");
        assert_eq!(node["status"], "up", "{node}");
        assert_eq!(node["shared_state"], "off", "{node}");
    }
    // The dashboard's Nodes page: every node, with per-node and total
    // requests from the analytics rows (flushed until the last request
    // has been counted).
    for i in 0..2 {
        for _ in 0..=i {
            assert_eq!(status_of(cluster.http(i), "shop.test", "/").await, 200);
        }
    }
    let mut web = browser::Web::new(cluster.admin(1));
    web.sign_in_with_token(cluster.token());
    let total_row = |html: &str| -> String {
        html.split("id=\"nodes-total\"")
            .nth(1)
            .unwrap_or_default()
            .split("</tr>")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let mut html = String::new();
    let counted = support::ops::wait_until(Duration::from_secs(10), || {
        for i in 0..2 {
            cluster
                .api(i)
                .post("/-/flush-analytics", &json!({}))
                .expect(200);
        }
        let page = web.get("/nodes");
        assert_eq!(page.status, 200, "{}", page.text());
        html = page.text();
        total_row(&html).contains(">3<")
    });
    assert!(counted, "total of 1 + 2 requests: {}", total_row(&html));
    for id in &ids {
        assert!(
            html.contains(&format!("id=\"node-{id}\"")),
            "{id} missing: {html}"
        );
    }
    assert!(html.contains("(this node)"), "{html}");

    let doc = api.get("/api/v1/openapi.json").expect(200);
    assert!(
        doc["paths"].get("/api/v1/nodes").is_some(),
        "nodes missing from the API document"
    );
    // Only operators see the nodes.
    let account = create_account(&api, "acme");
    let owner = support::api::person(&api, "o@acme.test", "account_owner", Some(&account));
    assert_eq!(owner.get("/api/v1/nodes").status, 403);

    cluster.kill(2);
    let started = Instant::now();
    let mut served = 0;
    while started.elapsed() < Duration::from_secs(2) {
        for i in 0..2 {
            assert_eq!(
                status_of(cluster.http(i), "shop.test", "/").await,
                200,
                "node {i}"
            );
            served += 1;
        }
    }
    assert!(served > 20);
    let killed = ids[2].clone();
    let stale = support::ops::wait_until(Duration::from_secs(30), || {
        nodes(&api)
            .iter()
            .any(|n| n["id"] == killed.as_str() && n["status"] == "stale")
    });
    let list = nodes(&api);
    assert!(stale, "{killed} never went stale: {list:?}");
    for node in list.iter().filter(|n| n["id"] != killed.as_str()) {
        assert_eq!(node["status"], "up", "{node}");
    }
    // Still serving after the wait.
    assert_eq!(status_of(cluster.http(1), "shop.test", "/").await, 200);
    assert!(cluster.api(1).get("/api/v1/me").status == 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spooled_report_survives_sigkill_and_a_corrupt_spool_line_is_skipped() {
    let mut cluster = Cluster::builder(2).sites(SITES).start();
    cluster.stop_postgres();
    let token =
        support::widget::token(cluster.http(1), "shop.test", "rk_rampart_abuse_form", "").await;
    let public = Api::anonymous(cluster.admin(1));
    let body = report("k@mail.test", Some(&token));
    let reply = tokio::task::spawn_blocking(move || public.post("/api/v1/abuse-reports", &body))
        .await
        .unwrap_or_else(|e| panic!("report thread: {e}"));
    assert_eq!(reply.status, 202, "{}", reply.text);
    let reference = reply.body["reference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Killed without a chance to flush, started again with the store
    // still down: the report is on disk, and a damaged line beside it
    // must not stop the rest.
    cluster.restart(1);
    let queue = cluster.node(1).dir.path().join("data/spool/queue.jsonl");
    let mut text = std::fs::read_to_string(&queue).unwrap_or_default();
    assert!(text.contains(&reference), "not in the spool: {text}");
    text.push_str("{\"kind\":\"report\",\"identity\":\n");
    support::write(&queue, &text);

    cluster.start_postgres();
    let api = cluster.api(0);
    assert!(
        support::ops::wait_until(Duration::from_secs(30), || {
            let metrics = cluster.node(1).metrics();
            metric(&metrics, "rampart_spool_entries") == Some(0.0)
                && metric(&metrics, "rampart_spool_rejected_total") == Some(1.0)
        }),
        "the spool did not drain: {}",
        cluster.node(1).metrics()
    );
    let status = Api::anonymous(cluster.admin(0))
        .get(&format!("/api/v1/abuse-reports/{reference}/status"))
        .expect(200);
    assert_eq!(status["status"], "received", "{status}");
    let cases = api.get("/api/v1/cases").expect(200);
    assert!(cases.to_string().contains("phishing"), "{cases}");
    assert!(
        cluster.node(1).stderr().contains("spool line is corrupt"),
        "the damaged line was not reported"
    );
}
