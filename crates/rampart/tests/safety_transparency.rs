//! `GET /api/v1/transparency`: public figures for a period, as JSON and as
//! CSV, counting what was filed and decided through the real API; bad
//! periods are refused at their field.

mod support;

use serde_json::json;
use support::Rampart;
use support::api::{Api, create_account, create_site};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_count_reports_and_decisions_publicly() {
    let rampart = Rampart::builder().start();
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    let report = |category: &str| {
        json!({
            "category": category,
            "urls": ["https://shop.test/x"],
            "explanation": "seen on the page",
            "reporter": { "name": "Rita", "email": "rita@mail.test" },
            "good_faith": true,
            "share_with_owner": "none",
            "share_with_host": "anonymous",
        })
    };
    let threat = admin
        .post("/api/v1/abuse-reports", &report("violent_threats"))
        .expect(201);
    admin
        .post("/api/v1/abuse-reports", &report("spam"))
        .expect(201);
    let case = threat["case_id"].as_str().unwrap_or_default().to_owned();
    admin
        .post(
            &format!("/api/v1/cases/{case}/decisions"),
            &json!({ "outcome": "suspend", "reasons": {
                "decision_ground": "illegal_content",
                "category": "risk_for_public_security",
                "facts": "a dated threat against a named person",
                "territorial_scope": "worldwide",
                "content_type": "website",
                "automated_detection": false,
                "automated_decision": false,
            }}),
        )
        .expect(201);

    // The reporter was told of the report and of the decision (queued in
    // the outbox: no SMTP server is configured here, so they wait).
    let outbox = admin
        .get(&format!("/api/v1/notifications?case_id={case}"))
        .expect(200);
    let text = outbox.to_string();
    assert!(text.contains("rita@mail.test"), "{outbox}");
    let rows = outbox
        .as_array()
        .or_else(|| outbox["notifications"].as_array())
        .map_or(0, Vec::len);
    assert!(rows >= 2, "received + decided: {outbox}");

    // Public: no token needed, and nobody is named.
    let public = Api::anonymous(rampart.admin);
    let figures = public.get("/api/v1/transparency").expect(200);
    assert_eq!(
        figures["reports_by_category"]["violent_threats"], 1,
        "{figures}"
    );
    assert_eq!(figures["reports_by_category"]["spam"], 1, "{figures}");
    assert_eq!(figures["decisions_by_outcome"]["suspend"], 1, "{figures}");
    assert!(
        figures["median_ms_to_decision_urgent"].is_number(),
        "{figures}"
    );
    assert!(!figures.to_string().contains("rita"), "{figures}");

    let csv = public.get("/api/v1/transparency?format=csv");
    assert_eq!(csv.status, 200);
    assert!(csv.text.starts_with("section,key,value\n"), "{}", csv.text);
    assert!(
        csv.text.contains("decisions_by_outcome,suspend,1"),
        "{}",
        csv.text
    );

    let empty = public
        .get("/api/v1/transparency?from=2001-01-01&to=2001-02-01")
        .expect(200);
    assert_eq!(empty["cases_opened"], 0);
    let bad = public.get("/api/v1/transparency?from=last-week");
    assert_eq!((bad.status, bad.field()), (422, "from"), "{}", bad.text);
}
