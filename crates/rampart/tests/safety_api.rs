//! The trust & safety desk through the admin API, against the real binary,
//! on SQLite and PostgreSQL: a report is filed and merged, bad reports are
//! refused at their field, the urgent queue shows a threat to life at once,
//! a suspension reaches the edge (403 page naming the case's reference and
//! the appeal link) and a lift takes it back; reporters stay private from
//! site owners who were not told their name, and other accounts see
//! nothing; a flood from one address is limited; a suspension survives a
//! restart while PostgreSQL is down.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Rampart;
use support::api::{Api, create_account, create_site, id, person};
use support::backends::{Backend, store_table};
use support::client::{Proto, get, send};

const PUBLIC_URL: &str = "https://admin.example.test";

async fn start(backend: Backend) -> Rampart {
    let tables = format!(
        "{}\n[admin]\npublic_url = \"{PUBLIC_URL}\"\n",
        store_table(backend).await
    );
    Rampart::builder().tables(&tables).start()
}

fn report(category: &str, urls: &[&str], email: &str, share: &str) -> Value {
    json!({
        "category": category,
        "urls": urls,
        "explanation": "they threaten to hurt someone tomorrow",
        "reporter": { "name": "Rita Reporter", "email": email },
        "good_faith": true,
        "share_with_owner": share,
        "share_with_host": "anonymous",
    })
}

fn reasons() -> Value {
    json!({
        "decision_ground": "incompatible_content",
        "category": "risk_for_public_security",
        "facts": "the page names a person and a time",
        "territorial_scope": "worldwide",
        "content_type": "website",
        "automated_detection": false,
        "automated_decision": false,
    })
}

/// Polls `check` until it holds or `within` passes; answers how long it took.
async fn eventually(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn case_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|cases| cases.iter().map(id).collect())
        .unwrap_or_default()
}

async fn report_to_enforcement(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let site = create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    let globex = create_account(&admin, "globex");
    create_site(&admin, &globex, "blog", "http://127.0.0.1:1");
    let agent = person(&admin, "agent@desk.test", "trust_safety", None);
    let owner = person(&admin, "owner@acme.test", "account_owner", Some(&acme));
    let stranger = person(&admin, "owner@globex.test", "account_owner", Some(&globex));
    let public = Api::anonymous(rampart.admin);

    // Without an operator token the API asks for a captcha.
    let body = report(
        "violent_threats",
        &["https://shop.test/x"],
        "rita@mail.test",
        "anonymous",
    );
    let refused = public.post("/api/v1/abuse-reports", &body);
    assert_eq!(
        (refused.status, refused.field()),
        (422, "captcha"),
        "{}",
        refused.text
    );

    // Filed by an operator on the reporter's behalf.
    let filed_at = Instant::now();
    let filed = admin.post("/api/v1/abuse-reports", &body).expect(201);
    let reference = filed["reference"].as_str().unwrap_or_default().to_owned();
    let case = filed["case_id"].as_str().unwrap_or_default().to_owned();
    assert!(reference.starts_with("AR-"), "{filed}");
    assert!(
        filed["status_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/api/v1/abuse-reports/{reference}/status"))
    );
    let waited = eventually(
        Duration::from_secs(5),
        "the urgent queue showing the report",
        async || case_ids(&agent.get("/api/v1/cases?queue=urgent").expect(200)).contains(&case),
    )
    .await;
    assert!(filed_at.elapsed() < Duration::from_secs(5), "{waited:?}");

    // A second report of the same site and category joins the case.
    let named = report(
        "violent_threats",
        &["https://shop.test/y"],
        "nora@mail.test",
        "named",
    );
    let merged = admin.post("/api/v1/abuse-reports", &named).expect(201);
    assert_eq!(merged["case_id"], json!(case));
    assert_ne!(merged["reference"], json!(reference));

    // Refused at their field.
    let off_site = report(
        "phishing",
        &["https://shop.test/a", "https://elsewhere.test/b"],
        "a@mail.test",
        "none",
    );
    let reply = admin.post("/api/v1/abuse-reports", &off_site);
    assert_eq!(
        (reply.status, reply.field()),
        (422, "urls[1]"),
        "{}",
        reply.text
    );
    let mut no_faith = report("phishing", &["https://shop.test/a"], "a@mail.test", "none");
    no_faith["good_faith"] = json!(false);
    let reply = admin.post("/api/v1/abuse-reports", &no_faith);
    assert_eq!(
        (reply.status, reply.field()),
        (422, "good_faith"),
        "{}",
        reply.text
    );
    let mut nameless = report("phishing", &["https://shop.test/a"], "a@mail.test", "none");
    nameless["reporter"] = Value::Null;
    let reply = admin.post("/api/v1/abuse-reports", &nameless);
    assert_eq!(
        (reply.status, reply.field()),
        (422, "reporter.name"),
        "{}",
        reply.text
    );

    // The reporter follows it without an account.
    let status_path = format!("/api/v1/abuse-reports/{reference}/status");
    assert_eq!(public.get(&status_path).expect(200)["status"], "received");

    // Privacy: the owner sees their site's case, with the reporter only
    // where they chose to be named; other accounts see nothing.
    let case_path = format!("/api/v1/cases/{case}");
    let seen = owner.get(&case_path).expect(200);
    let text = seen.to_string();
    assert!(!text.contains("rita@mail.test"), "{text}");
    assert!(text.contains("nora@mail.test"), "{text}");
    assert_eq!(seen["reports"][0]["reporter"], Value::Null);
    assert_eq!(
        case_ids(&owner.get("/api/v1/cases").expect(200)),
        [case.as_str()]
    );
    assert_eq!(stranger.get(&case_path).status, 404);
    let member = person(&admin, "member@acme.test", "account_member", Some(&acme));
    assert_eq!(member.get(&case_path).status, 404);
    assert_eq!(member.get("/api/v1/cases").status, 404);
    assert_eq!(
        case_ids(&stranger.get("/api/v1/cases").expect(200)),
        Vec::<String>::new()
    );
    assert!(
        agent
            .get(&case_path)
            .expect(200)
            .to_string()
            .contains("rita@mail.test")
    );

    // Only the desk decides, and only with a statement of reasons.
    let decisions = format!("/api/v1/cases/{case}/decisions");
    let suspend = json!({ "outcome": "suspend", "reasons": reasons() });
    assert_eq!(owner.post(&decisions, &suspend).status, 403);
    let mut thin = suspend.clone();
    thin["reasons"]["facts"] = Value::Null;
    let reply = agent.post(&decisions, &thin);
    assert_eq!(
        (reply.status, reply.field()),
        (422, "reasons.facts"),
        "{}",
        reply.text
    );

    let held = agent
        .post(&format!("/api/v1/cases/{case}/assign"), &json!({}))
        .expect(200);
    assert_eq!(held["status"], "under_review");
    assert_eq!(
        case_ids(&agent.get("/api/v1/cases?queue=mine").expect(200)),
        [case.as_str()]
    );

    let decision = agent.post(&decisions, &suspend).expect(201);
    let case_reference = agent.get(&case_path).expect(200)["reference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let took = eventually(
        Duration::from_secs(5),
        "the suspension at the edge",
        async || {
            let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
            reply.status == 403 && reply.text().contains(&case_reference)
        },
    )
    .await;
    assert!(took < Duration::from_secs(2), "the edge took {took:?}");
    let page = send(rampart.http, Proto::Http1, get("shop.test", "/anything"))
        .await
        .text();
    assert!(
        page.contains(&format!("{PUBLIC_URL}/sites/{site}?case={case_reference}")),
        "{page}"
    );
    assert!(
        !page.contains("Rita") && !page.contains("rita@mail.test"),
        "{page}"
    );
    let other = send(rampart.http, Proto::Http1, get("blog.test", "/")).await;
    assert_ne!(other.status, 403, "only the decided site is suspended");
    let public_view = public.get(&status_path).expect(200);
    assert_eq!(
        (&public_view["status"], &public_view["decision"]["outcome"]),
        (&json!("decided"), &json!("suspend"))
    );

    // The owner cannot undo it through the site API: the spec has no such field.
    let reply = owner.patch(
        &format!("/api/v1/sites/{site}"),
        &json!({ "enforcement": [] }),
    );
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(
        owner
            .post(
                &format!("/api/v1/decisions/{}/lift", id(&decision)),
                &json!({})
            )
            .status,
        403
    );

    agent
        .post(
            &format!("/api/v1/decisions/{}/lift", id(&decision)),
            &json!({}),
        )
        .expect(200);
    eventually(Duration::from_secs(2), "the lift at the edge", async || {
        send(rampart.http, Proto::Http1, get("shop.test", "/"))
            .await
            .status
            != 403
    })
    .await;
}

async fn one_address_is_limited(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    for i in 0..10 {
        let body = report(
            "spam",
            &["https://shop.test/"],
            &format!("r{i}@mail.test"),
            "none",
        );
        admin.post("/api/v1/abuse-reports", &body).expect(201);
    }
    let body = report("spam", &["https://shop.test/"], "late@mail.test", "none");
    let reply = admin.post("/api/v1/abuse-reports", &body);
    assert_eq!(
        (reply.status, reply.code()),
        (429, "rate_limited"),
        "{}",
        reply.text
    );
    let token = format!("Bearer {}", admin.token.clone().unwrap_or_default());
    let raw = support::api::send_http1(
        rampart.admin,
        "POST",
        "/api/v1/abuse-reports",
        &[
            ("Authorization", &token),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    );
    let retry = raw
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .map(|(_, value)| value.clone());
    assert_eq!((raw.status, retry.as_deref()), (429, Some("3600")));
    // All ten joined one case.
    let cases = admin.get("/api/v1/cases").expect(200);
    assert_eq!(cases.as_array().map(Vec::len), Some(1), "{cases}");

    let doc = Api::anonymous(rampart.admin)
        .get("/api/v1/openapi.json")
        .expect(200);
    for path in [
        "/api/v1/abuse-reports",
        "/api/v1/abuse-reports/{reference}/status",
        "/api/v1/cases",
        "/api/v1/cases/{id}",
        "/api/v1/cases/{id}/assign",
        "/api/v1/cases/{id}/decisions",
        "/api/v1/decisions/{id}/lift",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
}

/// A decided case on `shop`: its decision's id.
fn decide(admin: &Api, body: Value) -> String {
    let report = report(
        "phishing",
        &["https://shop.test/login"],
        "p@mail.test",
        "none",
    );
    let filed = admin.post("/api/v1/abuse-reports", &report).expect(201);
    let case = filed["case_id"].as_str().unwrap_or_default().to_owned();
    id(&admin
        .post(&format!("/api/v1/cases/{case}/decisions"), &body)
        .expect(201))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Legal blocks, restricted paths, and a decision that takes effect and
/// expires on its own, with no write to move the store.
async fn outcomes_at_the_edge(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    let status_of =
        async |path: &str| send(rampart.http, Proto::Http1, get("shop.test", path)).await;

    let restrict = decide(
        &admin,
        json!({ "outcome": "restrict", "reasons": reasons(), "patterns": ["/login"] }),
    );
    eventually(Duration::from_secs(2), "the restriction", async || {
        status_of("/login/form").await.status == 403
    })
    .await;
    assert_ne!(status_of("/about").await.status, 403);
    admin
        .post(&format!("/api/v1/decisions/{restrict}/lift"), &json!({}))
        .expect(200);

    let refused = admin.post(
        "/api/v1/cases/case_none/decisions",
        &json!({ "outcome": "restrict", "reasons": reasons() }),
    );
    assert_eq!(
        (refused.status, refused.field()),
        (422, "patterns"),
        "{}",
        refused.text
    );

    let block = decide(
        &admin,
        json!({ "outcome": "legal_block", "reasons": reasons(), "blocked_by": "https://court.example/order/7" }),
    );
    eventually(Duration::from_secs(2), "the legal block", async || {
        let reply = status_of("/").await;
        reply.status == 451
            && reply.header("link").is_some_and(|l| {
                l.contains("<https://court.example/order/7>") && l.contains("blocked-by")
            })
    })
    .await;
    admin
        .post(&format!("/api/v1/decisions/{block}/lift"), &json!({}))
        .expect(200);
    eventually(Duration::from_secs(2), "the lift", async || {
        status_of("/").await.status != 451
    })
    .await;

    // Scheduled: in force from 1.5 s from now, for 1.5 s.
    let from = now_ms() + 1500;
    decide(
        &admin,
        json!({ "outcome": "suspend", "reasons": reasons(), "effective_at": from, "expires_at": from + 1500 }),
    );
    assert_ne!(status_of("/").await.status, 403, "not yet in force");
    eventually(
        Duration::from_secs(4),
        "the scheduled suspension",
        async || status_of("/").await.status == 403,
    )
    .await;
    eventually(Duration::from_secs(4), "the expiry", async || {
        status_of("/").await.status != 403
    })
    .await;
}

on_both_backends!(
    report_to_enforcement,
    one_address_is_limited,
    outcomes_at_the_edge
);

/// Decisions are kept in the last-good snapshot: a node restarted while
/// PostgreSQL is down keeps the site suspended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspension_survives_a_restart_without_the_store() {
    let postgres = rampart_testkit::Postgres::start();
    let url = postgres.create_database().await;
    let mut rampart = Rampart::builder()
        .tables(&format!("[store]\nurl = \"{url}\"\n"))
        .start();
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    let decision = decide(
        &admin,
        json!({ "outcome": "suspend", "reasons": reasons() }),
    );
    let case = admin.get("/api/v1/cases?queue=all").expect(200)[0]["reference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!decision.is_empty() && !case.is_empty());
    let suspended = async |rampart: &Rampart| {
        let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
        reply.status == 403 && reply.text().contains(&case)
    };
    eventually(Duration::from_secs(2), "the suspension", async || {
        suspended(&rampart).await
    })
    .await;

    drop(postgres);
    rampart.kill_and_restart();
    assert!(suspended(&rampart).await, "{}", rampart.stderr());
}
