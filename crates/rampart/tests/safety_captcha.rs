//! The public report API asks anonymous callers for the abuse form's
//! captcha: a token from Rampart's own widget (sitekey
//! `rk_rampart_abuse_form`, served on every protected site) files a report
//! once; the same token again, a forged one or none is refused at the
//! `captcha` field. The tokens are solved in Rust from the widget's
//! endpoints, as in `captcha_compat.rs`.

mod support;

use serde_json::{Value, json};
use support::Rampart;
use support::api::Api;

const SITES: &str = r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["http://127.0.0.1:1"]

[site.challenge]
difficulty = { low = 6, medium = 8, high = 10 }
"#;

async fn abuse_form_token(rampart: &Rampart) -> String {
    support::widget::token(rampart.http, "shop.test", "rk_rampart_abuse_form", "").await
}

fn report(captcha: Option<&str>) -> Value {
    let mut body = json!({
        "category": "phishing",
        "urls": ["https://shop.test/login"],
        "explanation": "a copy of a bank's login page",
        "reporter": { "name": "Pia", "email": "pia@mail.test" },
        "good_faith": true,
        "share_with_owner": "anonymous",
        "share_with_host": "anonymous",
    });
    if let Some(token) = captcha {
        body["captcha"] = json!(token);
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_reports_need_a_fresh_captcha_token() {
    let rampart = Rampart::start(SITES);
    let public = Api::anonymous(rampart.admin);

    let missing = public.post("/api/v1/abuse-reports", &report(None));
    assert_eq!(
        (missing.status, missing.field()),
        (422, "captcha"),
        "{}",
        missing.text
    );
    let forged = public.post("/api/v1/abuse-reports", &report(Some("r1.AAAA")));
    assert_eq!(
        (forged.status, forged.field()),
        (422, "captcha"),
        "{}",
        forged.text
    );

    let token = abuse_form_token(&rampart).await;
    let filed = public
        .post("/api/v1/abuse-reports", &report(Some(&token)))
        .expect(201);
    assert!(
        filed["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("AR-")),
        "{filed}"
    );

    let replayed = public.post("/api/v1/abuse-reports", &report(Some(&token)));
    assert_eq!(
        (replayed.status, replayed.field()),
        (422, "captcha"),
        "{}",
        replayed.text
    );
    assert!(
        replayed.text.contains("timeout-or-duplicate"),
        "{}",
        replayed.text
    );
}
