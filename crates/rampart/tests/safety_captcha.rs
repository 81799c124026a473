//! The public report API asks anonymous callers for the abuse form's
//! captcha: a token from Rampart's own widget (sitekey
//! `rk_rampart_abuse_form`, served on every protected site) files a report
//! once; the same token again, a forged one or none is refused at the
//! `captcha` field. The tokens are solved in Rust from the widget's
//! endpoints, as in `captcha_compat.rs`.

mod support;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_challenge::pow;
use serde_json::{Value, json};
use support::Rampart;
use support::api::Api;
use support::client::{Proto, Reply, send};

const SITES: &str = r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["http://127.0.0.1:1"]

[site.challenge]
difficulty = { low = 6, medium = 8, high = 10 }
"#;

async fn edge(rampart: &Rampart, method: &str, path: &str, body: Option<Value>) -> Reply {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "shop.test")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) CaptchaTest/1.0",
        );
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    let request = builder
        .body(Full::new(body))
        .unwrap_or_else(|e| panic!("request: {e}"));
    send(rampart.http, Proto::Http1, request).await
}

/// A token of the abuse form's widget, as the widget gets it on shop.test.
async fn abuse_form_token(rampart: &Rampart) -> String {
    let sitekey = "rk_rampart_abuse_form";
    let ch = edge(
        rampart,
        "GET",
        &format!("/.rampart/captcha/v1/challenge?sitekey={sitekey}"),
        None,
    )
    .await;
    assert_eq!(ch.status, 200, "{}", ch.text());
    let challenge = ch.json()["challenge"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let nonce = pow::solve(&challenge, 1 << 24)
        .unwrap_or_else(|| panic!("no solution found"))
        .to_string();
    let solved = edge(
        rampart,
        "POST",
        "/.rampart/captcha/v1/solve",
        Some(json!({ "sitekey": sitekey, "challenge": challenge, "nonce": nonce })),
    )
    .await;
    assert_eq!(solved.status, 200, "{}", solved.text());
    solved.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
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
