//! Triage beyond deciding, through the admin API on both backends:
//! internal notes the owner never sees, escalation of a low-priority case
//! into the urgent queue, merging a duplicate case (its reports and
//! reporters' status links follow), and the DSA statement-of-reasons
//! export of a decision, readable by the desk and the site's owner only.

mod support;

use serde_json::{Value, json};
use support::Rampart;
use support::api::{create_account, create_site, id, person};
use support::backends::{Backend, store_table};

fn report(category: &str, url: &str) -> Value {
    json!({
        "category": category,
        "urls": [url],
        "explanation": "copies of a shop's pages",
        "reporter": { "name": "Rita", "email": "rita@mail.test" },
        "good_faith": true,
        "share_with_owner": "anonymous",
        "share_with_host": "anonymous",
    })
}

fn case_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|cases| cases.iter().map(id).collect())
        .unwrap_or_default()
}

async fn notes_escalation_merge_and_statement(backend: Backend) {
    let rampart = Rampart::builder()
        .tables(&store_table(backend).await)
        .start();
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    let globex = create_account(&admin, "globex");
    create_site(&admin, &globex, "blog", "http://127.0.0.1:1");
    let agent = person(&admin, "agent@desk.test", "trust_safety", None);
    let owner = person(&admin, "owner@acme.test", "account_owner", Some(&acme));
    let stranger = person(&admin, "owner@globex.test", "account_owner", Some(&globex));

    // Two cases about one site (different categories), one about another.
    let spam = admin
        .post(
            "/api/v1/abuse-reports",
            &report("spam", "https://shop.test/a"),
        )
        .expect(201);
    let spam_case = spam["case_id"].as_str().unwrap_or_default().to_owned();
    let phishing = admin
        .post(
            "/api/v1/abuse-reports",
            &report("phishing", "https://shop.test/b"),
        )
        .expect(201);
    let phishing_case = phishing["case_id"].as_str().unwrap_or_default().to_owned();
    let blog = admin
        .post(
            "/api/v1/abuse-reports",
            &report("spam", "https://blog.test/c"),
        )
        .expect(201);
    let blog_case = blog["case_id"].as_str().unwrap_or_default().to_owned();

    // Notes: the desk writes and reads them; the owner neither.
    let note = agent
        .post(
            &format!("/api/v1/cases/{spam_case}/notes"),
            &json!({ "body": "same kit as last week's case" }),
        )
        .expect(201);
    assert_eq!(note["kind"], "note", "{note}");
    let empty = agent.post(
        &format!("/api/v1/cases/{spam_case}/notes"),
        &json!({ "body": "  " }),
    );
    assert_eq!(
        (empty.status, empty.field()),
        (422, "body"),
        "{}",
        empty.text
    );
    let refused = owner.post(
        &format!("/api/v1/cases/{spam_case}/notes"),
        &json!({ "body": "let me in" }),
    );
    assert_eq!(refused.status, 403, "{}", refused.text);
    let seen = agent.get(&format!("/api/v1/cases/{spam_case}")).expect(200);
    assert!(seen["notes"].to_string().contains("last week"), "{seen}");
    let owners = owner.get(&format!("/api/v1/cases/{spam_case}")).expect(200);
    assert!(owners.get("notes").is_none(), "{owners}");
    assert!(!owners.to_string().contains("last week"), "{owners}");

    // Escalation puts a low-priority case in the urgent queue.
    assert!(!case_ids(&agent.get("/api/v1/cases?queue=urgent").expect(200)).contains(&spam_case));
    let escalated = agent
        .post(
            &format!("/api/v1/cases/{spam_case}/escalate"),
            &json!({ "reason": "the pages now ask for card numbers" }),
        )
        .expect(200);
    assert_eq!(escalated["priority"], "urgent", "{escalated}");
    assert!(case_ids(&agent.get("/api/v1/cases?queue=urgent").expect(200)).contains(&spam_case));

    // Merge: only cases of one site; the phishing case absorbs the spam one.
    let across = agent.post(
        &format!("/api/v1/cases/{blog_case}/merge"),
        &json!({ "into": phishing_case, "reason": "same kit" }),
    );
    assert_eq!(across.status, 409, "{}", across.text);
    let merged = agent.post(
        &format!("/api/v1/cases/{spam_case}/merge"),
        &json!({ "into": phishing_case, "reason": "one phishing kit" }),
    );
    assert_eq!(merged.status, 200, "{}\n{}", merged.text, rampart.stderr());
    let merged = merged.expect(200);
    assert_eq!(merged["id"], phishing_case.as_str(), "{merged}");
    assert_eq!(
        merged["priority"], "urgent",
        "the more pressing priority stays: {merged}"
    );
    let survivor = agent
        .get(&format!("/api/v1/cases/{phishing_case}"))
        .expect(200);
    assert_eq!(
        survivor["reports"].as_array().map(Vec::len),
        Some(2),
        "{survivor}"
    );
    let gone = agent.get(&format!("/api/v1/cases/{spam_case}")).expect(200);
    assert_eq!(
        (gone["status"].as_str(), gone["merged_into"].as_str()),
        (Some("merged"), Some(phishing_case.as_str()))
    );
    let queues = agent.get("/api/v1/cases?queue=unassigned").expect(200);
    assert!(!case_ids(&queues).contains(&spam_case), "{queues}");
    let again = agent.post(
        &format!("/api/v1/cases/{spam_case}/merge"),
        &json!({ "into": phishing_case, "reason": "twice" }),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    // The spam reporter's status link follows the report.
    let reference = spam["reference"].as_str().unwrap_or_default();
    let status = support::api::Api::anonymous(rampart.admin)
        .get(&format!("/api/v1/abuse-reports/{reference}/status"))
        .expect(200);
    assert_eq!(status["status"], "received", "{status}");

    // A decision's statement of reasons, in the DSA database's terms.
    let decision = agent
        .post(
            &format!("/api/v1/cases/{phishing_case}/decisions"),
            &json!({
                "outcome": "interstitial",
                "reasons": {
                    "decision_ground": "illegal_content",
                    "category": "scams_and_fraud",
                    "facts": "a copy of a bank's login page",
                    "territorial_scope": "EU",
                    "content_type": "website",
                    "ground_reference": "fraud statutes",
                },
                "forward_to_host": "abuse@hoster.example",
            }),
        )
        .expect(201);
    // The reports went to the host's abuse desk: both, each anonymous as
    // its reporter chose for the host.
    let outbox = admin
        .get(&format!("/api/v1/notifications?case_id={phishing_case}"))
        .expect(200);
    let to_host: Vec<&Value> = outbox
        .as_array()
        .map(|n| {
            n.iter()
                .filter(|m| m["recipient"] == "abuse@hoster.example")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(to_host.len(), 2, "{outbox}");
    for message in &to_host {
        let body = message["body"].as_str().unwrap_or_default();
        assert!(body.contains("https://shop.test/"), "{body}");
        assert!(
            !body.contains("rita@mail.test"),
            "anonymous for the host: {body}"
        );
    }
    let bad_host = agent.post(
        &format!("/api/v1/cases/{blog_case}/decisions"),
        &json!({
            "outcome": "forward",
            "reasons": {
                "decision_ground": "incompatible_content", "category": "spam",
                "facts": "spam", "territorial_scope": "EU", "content_type": "website",
            },
            "forward_to_host": "not an address",
        }),
    );
    assert_eq!(
        (bad_host.status, bad_host.field()),
        (422, "forward_to_host"),
        "{}",
        bad_host.text
    );
    let decision_id = id(&decision);
    let path = format!("/api/v1/decisions/{decision_id}/statement-of-reasons");
    let statement = agent.get(&path).expect(200);
    assert_eq!(
        statement["category"], "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        "{statement}"
    );
    assert_eq!(
        statement["decision_ground"],
        "DECISION_GROUND_ILLEGAL_CONTENT"
    );
    assert_eq!(
        statement["decision_visibility"],
        json!(["DECISION_VISIBILITY_CONTENT_LABELLED"])
    );
    assert_eq!(statement["puid"], decision_id.as_str());
    assert_eq!(owner.get(&path).expect(200), statement);
    assert_eq!(stranger.get(&path).status, 404);
}

on_both_backends!(notes_escalation_merge_and_statement);
