//! The trust & safety loop through the dashboard, over plain HTTP against
//! the real binary, on SQLite and PostgreSQL: a report filed through the
//! public API shows in an agent's urgent queue; the agent assigns the case
//! and suspends the site through the forms, and the edge answers 403 with
//! the suspension page; the owner sees the report on the site's *Abuse
//! reports* tab without the reporter's identity (they chose anonymous) and
//! appeals there; the deciding agent may not answer it (the page says
//! why), another agent reverses it and the site is served again; another
//! account's owner gets 404 for the case and the site; the transparency
//! page counts all of it.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/dashboard.rs"]
mod dashboard;
mod support;

use std::time::{Duration, Instant};

use browser::{Web, field_error};
use dashboard::signed_in;
use serde_json::{Value, json};
use support::api::{create_account, create_site, id};
use support::backends::{Backend, start};
use support::client::{Proto, get, send};
use support::origin;

const SUSPENDED: &str = "blocked by its security provider";

/// Polls `check` until it holds, failing after `within`.
async fn eventually(within: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The statement of reasons as the decision form posts it.
fn decision(outcome: &'static str, facts: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("outcome", outcome),
        ("decision_ground", "illegal_content"),
        ("ground_reference", ""),
        ("dsa_category", "risk_for_public_security"),
        ("facts", facts),
        ("territorial_scope", "worldwide"),
        ("content_type", "website"),
        ("effective_at", ""),
        ("expires_at", ""),
        ("patterns", ""),
        ("blocked_by", ""),
    ]
}

/// The text of the element with `id`, up to its first closing tag.
fn element(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    html.split_once(&marker)
        .and_then(|(_, rest)| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split('<').next())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

async fn desk_loop(backend: Backend) {
    let upstream = origin::start("upstream").await;
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let globex = create_account(&admin, "globex");
    let site = create_site(&admin, &acme, "shop", &upstream.url());
    eventually(Duration::from_secs(5), "the site is served", async || {
        send(rampart.http, Proto::Http1, get("shop.test", "/"))
            .await
            .status
            == 200
    })
    .await;

    // Agents and admins get the desk in the navigation; owners do not.
    let mut agent = signed_in(&rampart, &admin, "trust_safety", None);
    let mut owner = signed_in(&rampart, &admin, "account_owner", Some(&acme));
    let mut stranger = Web::signed_in_as(
        rampart.admin,
        &admin,
        json!({ "email": "owner@globex.test", "name": "g", "role": "account_owner", "account_id": globex }),
    );
    assert!(agent.get("/sites").text().contains("href=\"/desk\""));
    assert!(!owner.get("/sites").text().contains("href=\"/desk\""));
    assert_eq!(owner.get("/desk").status, 404);

    // A threat to life, filed through the public API (an operator token
    // stands in for the captcha); the reporter chose to stay anonymous to
    // the owner.
    let filed = admin
        .post(
            "/api/v1/abuse-reports",
            &json!({
                "category": "violent_threats",
                "urls": ["https://shop.test/threat"],
                "explanation": "the page names a person and a time",
                "reporter": { "name": "Rita Reporter", "email": "rita@mail.test" },
                "good_faith": true,
                "share_with_owner": "anonymous",
                "share_with_host": "anonymous",
            }),
        )
        .expect(201);
    let case = filed["case_id"].as_str().unwrap_or_default().to_owned();
    let reference = admin.get(&format!("/api/v1/cases/{case}")).expect(200)["reference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    eventually(
        Duration::from_secs(5),
        "the urgent queue shows the case",
        async || agent.get("/desk?queue=urgent").text().contains(&reference),
    )
    .await;
    let queue = agent.get("/desk?queue=urgent").text();
    assert!(
        queue.contains(&format!("id=\"case-{reference}\"")),
        "{queue}"
    );
    assert!(
        element(&queue, "queue-urgent").starts_with("Urgent"),
        "{queue}"
    );
    assert!(queue.contains("Violent threats / threat to life") && queue.contains("shop"));
    assert!(
        agent
            .get("/desk?queue=unassigned")
            .text()
            .contains(&reference)
    );

    // The case page shows the agent who reported, as the API does.
    let page = format!("/desk/cases/{case}");
    let shown = agent.get(&page).text();
    assert!(shown.contains("rita@mail.test"), "{shown}");
    assert_eq!(element(&shown, "case-assignee"), "nobody");

    // Assign to me: the case moves to "mine" and is under review.
    let assigned = agent.submit(&page, &format!("{page}/assign"), &[]);
    assert_eq!(assigned.status, 303, "{}", assigned.text());
    let shown = agent.get(&page).text();
    assert_eq!(
        element(&shown, "case-assignee"),
        "trust_safety@dashboard.test"
    );
    assert_eq!(element(&shown, "case-status"), "Under review");
    assert!(agent.get("/desk?queue=mine").text().contains(&reference));
    assert!(
        !agent
            .get("/desk?queue=unassigned")
            .text()
            .contains(&reference)
    );

    // A decision without facts is refused next to the field; the owner
    // cannot decide at all.
    let decide = format!("{page}/decisions");
    let thin = agent.submit(&page, &decide, &decision("suspend", ""));
    assert_eq!(thin.status, 422, "{}", thin.text());
    assert!(
        !field_error(&thin.text(), "facts").is_empty(),
        "{}",
        thin.text()
    );
    let csrf = owner.csrf(&format!("/sites/{site}/abuse"));
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend(decision("suspend", "x"));
    assert_eq!(owner.post(&decide, &fields).status, 404);

    // Suspend: the edge answers 403 with the suspension page.
    let done = agent.submit(
        &page,
        &decide,
        &decision("suspend", "a dated threat against a named person"),
    );
    assert_eq!(done.status, 303, "{}", done.text());
    eventually(
        Duration::from_secs(2),
        "the suspension at the edge",
        async || {
            let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
            reply.status == 403 && reply.text().contains(SUSPENDED)
        },
    )
    .await;
    let blocked = send(rampart.http, Proto::Http1, get("shop.test", "/"))
        .await
        .text();
    assert!(
        blocked.contains(&reference) && !blocked.contains("rita"),
        "{blocked}"
    );
    let view = admin.get(&format!("/api/v1/cases/{case}")).expect(200);
    let decided = id(&view["decisions"][0]);
    assert_eq!(view["status"], "decided");
    let shown = agent.get(&page).text();
    assert_eq!(
        element(&shown, &format!("decision-state-{decided}")),
        "active"
    );
    assert!(shown.contains(&format!("id=\"lift-{decided}\"")), "{shown}");

    // The owner: the report and the decision, not who reported; appeal.
    let abuse = format!("/sites/{site}/abuse");
    let tab = owner.get(&abuse);
    assert_eq!(tab.status, 200, "{}", tab.text());
    let tab = tab.text();
    assert!(tab.contains(&format!("id=\"case-{reference}\"")), "{tab}");
    assert!(tab.contains("the page names a person and a time"), "{tab}");
    assert!(
        tab.contains("a dated threat against a named person"),
        "{tab}"
    );
    assert!(
        !tab.contains("rita@mail.test") && !tab.contains("Rita Reporter"),
        "{tab}"
    );
    assert!(
        !tab.contains("trust_safety@dashboard.test"),
        "agents stay unnamed: {tab}"
    );
    let overview = owner.get(&format!("/sites/{site}?case={reference}")).text();
    assert!(
        overview.contains(&format!("/abuse#case-{reference}")),
        "{overview}"
    );
    let appeal_path = format!("{abuse}/decisions/{decided}/appeal");
    let empty = owner.submit(&abuse, &appeal_path, &[("reasons", "  ")]);
    assert_eq!(empty.status, 422, "{}", empty.text());
    assert!(empty.text().contains(&format!("f-appeal-{decided}-error")));
    let appealed = owner.submit(
        &abuse,
        &appeal_path,
        &[("reasons", "the page quotes a film script")],
    );
    assert_eq!(appealed.status, 303, "{}", appealed.text());
    let tab = owner.get(&abuse).text();
    assert!(tab.contains("Waiting for an answer") && tab.contains("the page quotes a film script"));
    assert!(
        !tab.contains(&appeal_path),
        "one pending appeal at a time: {tab}"
    );

    // Another account's owner learns nothing.
    assert_eq!(stranger.get(&page).status, 404);
    assert_eq!(stranger.get(&abuse).status, 404);
    assert_eq!(stranger.get(&format!("/sites/{site}")).status, 404);
    let csrf = stranger.csrf("/sites");
    assert_eq!(
        stranger
            .post(&appeal_path, &[("csrf", &csrf), ("reasons", "mine now")])
            .status,
        404
    );

    // The deciding agent may not answer; the page says why.
    let appeal = id(&admin
        .get(&format!("/api/v1/decisions/{decided}/appeals"))
        .expect(200)[0]);
    let answer = format!("/desk/appeals/{appeal}/answer");
    let reverse = [
        ("outcome", "reversed"),
        ("response", "it is fiction, clearly marked"),
    ];
    let refused = agent.submit(&page, &answer, &reverse);
    assert_eq!(refused.status, 409, "{}", refused.text());
    let message = element(&refused.text(), &format!("appeal-error-{appeal}"));
    assert!(message.contains("another agent must"), "{}", refused.text());

    // Another agent reverses it: the site is served again.
    let mut second = Web::signed_in_as(
        rampart.admin,
        &admin,
        json!({ "email": "second@desk.test", "name": "b", "role": "trust_safety" }),
    );
    let answered = second.submit(&page, &answer, &reverse);
    assert_eq!(answered.status, 303, "{}", answered.text());
    eventually(
        Duration::from_secs(2),
        "the site served again",
        async || {
            send(rampart.http, Proto::Http1, get("shop.test", "/"))
                .await
                .status
                == 200
        },
    )
    .await;
    let tab = owner.get(&abuse).text();
    assert!(tab.contains("Reversed: the decision was lifted"), "{tab}");
    assert!(tab.contains("it is fiction, clearly marked"), "{tab}");
    assert_eq!(
        element(
            &second.get(&page).text(),
            &format!("decision-state-{decided}")
        ),
        "lifted"
    );

    // The transparency page counts it, and links the API's exports.
    let report = agent.get("/transparency");
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.text();
    assert_eq!(
        element(&report, "reports-by-category-violent_threats"),
        "1",
        "{report}"
    );
    assert_eq!(
        element(&report, "decisions-by-outcome-suspend"),
        "1",
        "{report}"
    );
    assert_eq!(element(&report, "decisions-lifted"), "1", "{report}");
    assert_eq!(element(&report, "appeals-filed"), "1", "{report}");
    assert_eq!(
        element(&report, "appeals-by-outcome-reversed"),
        "1",
        "{report}"
    );
    assert_ne!(
        element(&report, "median-urgent"),
        "no decisions",
        "{report}"
    );
    assert!(report.contains("format=csv"), "{report}");
    let bad = agent.get("/transparency?from=last-week");
    assert_eq!(bad.status, 422);
    assert!(
        !field_error(&bad.text(), "from").is_empty(),
        "{}",
        bad.text()
    );
    let csv = admin.get("/api/v1/transparency?format=csv");
    assert!(
        csv.text.contains("appeals_by_outcome,reversed,1"),
        "{}",
        csv.text
    );
    let json: Value = admin.get("/api/v1/transparency").expect(200);
    assert_eq!(json["appeals_filed"], 1, "{json}");

    // An agent may lift a decision from the case page too.
    let second_report = admin
        .post(
            "/api/v1/abuse-reports",
            &json!({
                "category": "phishing", "urls": ["https://shop.test/login"],
                "explanation": "asks for card numbers", "good_faith": true,
                "reporter": { "name": "N", "email": "n@mail.test" },
                "share_with_owner": "named", "share_with_host": "anonymous",
            }),
        )
        .expect(201);
    let phishing = second_report["case_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let phishing_page = format!("/desk/cases/{phishing}");
    let mut restrict = decision("restrict", "a fake bank login");
    restrict[9] = ("patterns", "/login");
    let done = agent.submit(
        &phishing_page,
        &format!("{phishing_page}/decisions"),
        &restrict,
    );
    assert_eq!(done.status, 303, "{}", done.text());
    eventually(
        Duration::from_secs(2),
        "the restriction at the edge",
        async || {
            send(rampart.http, Proto::Http1, get("shop.test", "/login"))
                .await
                .status
                == 403
        },
    )
    .await;
    // Named: the owner sees this reporter.
    assert!(owner.get(&abuse).text().contains("n@mail.test"));
    let restricted =
        id(&admin.get(&format!("/api/v1/cases/{phishing}")).expect(200)["decisions"][0]);
    let lifted = agent.submit(
        &phishing_page,
        &format!("/desk/decisions/{restricted}/lift"),
        &[],
    );
    assert_eq!(lifted.status, 303, "{}", lifted.text());
    eventually(
        Duration::from_secs(2),
        "the restriction lifted",
        async || {
            send(rampart.http, Proto::Http1, get("shop.test", "/login"))
                .await
                .status
                == 200
        },
    )
    .await;

    // The statement of reasons as DSA JSON: the desk and the owner, not
    // another account.
    let statement = format!("/decisions/{decided}/statement-of-reasons.json");
    let json = agent.get(&statement);
    assert_eq!(json.status, 200, "{}", json.text());
    assert!(
        json.text()
            .contains("a dated threat against a named person")
    );
    assert_eq!(owner.get(&statement).status, 200);
    assert_eq!(stranger.get(&statement).status, 404);

    triage(&rampart, &mut agent, &mut owner, &site).await;
}

/// Notes, escalation and merging from the case page.
async fn triage(rampart: &support::Rampart, agent: &mut Web, owner: &mut Web, site: &str) {
    let admin = rampart.admin_api();
    let file = |category: &str| {
        let filed = admin
            .post(
                "/api/v1/abuse-reports",
                &json!({
                    "category": category, "urls": ["https://shop.test/offers"],
                    "explanation": "unsolicited offers", "good_faith": true,
                    "reporter": { "name": "S", "email": "s@mail.test" },
                    "share_with_owner": "anonymous", "share_with_host": "anonymous",
                }),
            )
            .expect(201);
        filed["case_id"].as_str().unwrap_or_default().to_owned()
    };
    let (spam, other) = (file("spam"), file("other"));
    let page = format!("/desk/cases/{spam}");

    let empty = agent.submit(&page, &format!("{page}/notes"), &[("note_body", " ")]);
    assert_eq!(empty.status, 422, "{}", empty.text());
    assert!(!field_error(&empty.text(), "note_body").is_empty());
    let noted = agent.submit(
        &page,
        &format!("{page}/notes"),
        &[("note_body", "same sender as last week")],
    );
    assert_eq!(noted.status, 303, "{}", noted.text());
    assert!(agent.get(&page).text().contains("same sender as last week"));
    let tab = owner.get(&format!("/sites/{site}/abuse")).text();
    assert!(
        !tab.contains("same sender as last week"),
        "notes are internal: {tab}"
    );

    let escalated = agent.submit(
        &page,
        &format!("{page}/escalate"),
        &[("escalate_reason", "it links to a phishing kit")],
    );
    assert_eq!(escalated.status, 303, "{}", escalated.text());
    let reference = admin.get(&format!("/api/v1/cases/{spam}")).expect(200)["reference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(agent.get("/desk?queue=urgent").text().contains(&reference));

    let other_page = format!("/desk/cases/{other}");
    let merged = agent.submit(
        &other_page,
        &format!("{other_page}/merge"),
        &[("merge_into", &spam), ("merge_reason", "the same campaign")],
    );
    assert_eq!(merged.status, 303, "{}", merged.text());
    let survivor = agent.get(&page).text();
    assert_eq!(
        element(&survivor, "reports-title"),
        "Reports (2)",
        "{survivor}"
    );
    assert_eq!(
        admin.get(&format!("/api/v1/cases/{other}")).expect(200)["status"],
        "merged"
    );
}

on_both_backends!(desk_loop);
