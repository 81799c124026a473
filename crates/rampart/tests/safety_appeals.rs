//! Appeals through the API on the real binary: the site's owner appeals a
//! suspension with reasons; the deciding agent may not answer it, another
//! agent reverses it, and the site is served again at the edge; strangers
//! learn nothing; the owner sees the history.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::Rampart;
use support::api::{create_account, create_site, id, person};
use support::client::{Proto, get, send};

fn reasons() -> serde_json::Value {
    json!({
        "decision_ground": "illegal_content",
        "category": "scope_of_platform_service",
        "facts": "the login page imitates a bank",
        "territorial_scope": "worldwide",
        "content_type": "website",
        "automated_detection": false,
        "automated_decision": false,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agent_answers_and_a_reversal_restores_the_site() {
    let rampart = Rampart::builder().start();
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    let globex = create_account(&admin, "globex");
    let owner = person(&admin, "owner@acme.test", "account_owner", Some(&acme));
    let stranger = person(&admin, "owner@globex.test", "account_owner", Some(&globex));
    let agent_a = person(&admin, "a@desk.test", "trust_safety", None);
    let agent_b = person(&admin, "b@desk.test", "trust_safety", None);

    let filed = admin
        .post(
            "/api/v1/abuse-reports",
            &json!({
                "category": "phishing", "urls": ["https://shop.test/login"],
                "explanation": "asks for card numbers", "good_faith": true,
                "reporter": { "name": "R", "email": "r@mail.test" },
                "share_with_owner": "none", "share_with_host": "anonymous",
            }),
        )
        .expect(201);
    let case = filed["case_id"].as_str().unwrap_or_default().to_owned();
    let decision = agent_a
        .post(
            &format!("/api/v1/cases/{case}/decisions"),
            &json!({ "outcome": "suspend", "reasons": reasons() }),
        )
        .expect(201);
    let decision = id(&decision);
    let appeals = format!("/api/v1/decisions/{decision}/appeals");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !send(rampart.http, Proto::Http1, get("shop.test", "/"))
        .await
        .text()
        .contains("blocked by its security provider")
    {
        assert!(
            Instant::now() < deadline,
            "the suspension never reached the edge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(
        stranger.post(&appeals, &json!({ "reasons": "x" })).status,
        404
    );
    let empty = owner.post(&appeals, &json!({ "reasons": "  " }));
    assert_eq!(
        (empty.status, empty.field()),
        (422, "reasons"),
        "{}",
        empty.text
    );
    let appeal = owner
        .post(
            &appeals,
            &json!({ "reasons": "that page is our own bank's login" }),
        )
        .expect(201);
    assert_eq!(appeal["status"], "pending");
    assert_eq!(
        owner.post(&appeals, &json!({ "reasons": "again" })).status,
        409
    );

    let answer = format!("/api/v1/appeals/{}/answer", id(&appeal));
    let reverse = json!({ "outcome": "reversed", "response": "verified with the bank" });
    assert_eq!(owner.post(&answer, &reverse).status, 403);
    assert_eq!(
        agent_a.post(&answer, &reverse).status,
        409,
        "the decider may not answer"
    );
    let bad = agent_b.post(&answer, &json!({ "outcome": "maybe", "response": "?" }));
    assert_eq!((bad.status, bad.field()), (422, "outcome"), "{}", bad.text);
    agent_b.post(&answer, &reverse).expect(200);

    // The reversal lifted the suspension: the edge serves the site again
    // (its origin is down, so 502, but not the suspension page).
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
        if !reply.text().contains("blocked by its security provider") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still suspended after the reversal"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let history = owner.get(&appeals).expect(200);
    assert_eq!(history[0]["status"], "reversed", "{history}");
    assert_eq!(history[0]["response"], "verified with the bank");
    assert_eq!(stranger.get(&appeals).status, 404);
}
