//! The public report form at `/.rampart/abuse` on a protected site, on the
//! real binary: it is shown only after Rampart's own check (solved here
//! with the library the edge verifies with), and a report sent through it
//! lands in the desk's queue through the same intake as the API, with its
//! refusals shown on the form.

mod support;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_challenge::pow;
use serde_json::Value;
use support::api::{create_account, create_site};
use support::client::{Proto, Reply, send};

struct Browser<'a> {
    rampart: &'a support::Rampart,
    cookies: Vec<String>,
}

impl Browser<'_> {
    async fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "shop.test")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0",
            );
        if !self.cookies.is_empty() {
            builder = builder.header("cookie", self.cookies.join("; "));
        }
        let body = match form {
            Some(pairs) => {
                builder = builder.header("content-type", "application/x-www-form-urlencoded");
                serde_urlencoded::to_string(pairs).unwrap_or_default()
            }
            None => String::new(),
        };
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|e| panic!("request: {e}"));
        let reply = send(self.rampart.http, Proto::Http1, request).await;
        for set in reply.headers.get_all("set-cookie") {
            let pair = set
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned();
            let name = pair.split('=').next().unwrap_or_default().to_owned();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
        reply
    }
}

/// The challenge parameters embedded in an interstitial.
fn params(page: &Reply) -> Value {
    let text = page.text();
    let marker = r#"id="rampart-challenge">"#;
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("not a challenge page: {text}"))
        + marker.len();
    let end = start + text[start..].find("</script>").unwrap_or_default();
    serde_json::from_str(&text[start..end].replace("\\u003c", "<"))
        .unwrap_or_else(|e| panic!("params: {e}"))
}

fn report(urls: &str) -> Vec<(&str, &str)> {
    vec![
        ("category", "phishing"),
        ("urls", urls),
        ("explanation", "a fake bank login"),
        ("name", "Rita Reporter"),
        ("email", "rita@mail.test"),
        ("good_faith", "on"),
        ("share_with_owner", "anonymous"),
        ("share_with_host", "named"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_report_through_the_form_reaches_the_desk() {
    let rampart = support::Rampart::builder().start();
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    create_site(&admin, &acme, "shop", "http://127.0.0.1:1");
    let mut browser = Browser {
        rampart: &rampart,
        cookies: Vec::new(),
    };

    // The site may take a poll to reach the edge.
    let mut page = browser.send("GET", "/.rampart/abuse", None).await;
    for _ in 0..100 {
        if page.text().contains("rampart-challenge") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        page = browser.send("GET", "/.rampart/abuse", None).await;
    }
    let challenge = params(&page)["challenge"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let nonce = pow::solve(&challenge, 1 << 24)
        .unwrap_or_else(|| panic!("no solution"))
        .to_string();
    let answer = [
        ("challenge", challenge.as_str()),
        ("nonce", nonce.as_str()),
        ("return", "/.rampart/abuse"),
    ];
    let passed = browser
        .send("POST", "/.rampart/challenge/v1/verify", Some(&answer))
        .await;
    assert_eq!(passed.status, 303, "{}", passed.text());

    let form = browser.send("GET", "/.rampart/abuse", None).await;
    assert_eq!(form.status, 200, "{}", form.text());
    assert!(form.text().contains("<form"), "{}", form.text());

    let refused = browser
        .send(
            "POST",
            "/.rampart/abuse",
            Some(&report("https://elsewhere.test/x")),
        )
        .await;
    assert!(
        refused
            .text()
            .contains("is not a site this service protects"),
        "{}",
        refused.text()
    );
    assert_eq!(
        admin.get("/api/v1/cases").expect(200),
        serde_json::json!([])
    );

    let filed = browser
        .send(
            "POST",
            "/.rampart/abuse",
            Some(&report("https://shop.test/login")),
        )
        .await;
    let text = filed.text();
    assert!(text.contains("AR-"), "{text}");
    let cases = admin.get("/api/v1/cases").expect(200);
    let case = cases[0]["id"].as_str().unwrap_or_default().to_owned();
    let view = admin.get(&format!("/api/v1/cases/{case}")).expect(200);
    let reference = view["reports"][0]["reference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!reference.is_empty() && text.contains(&reference), "{view}");
    assert_eq!(view["reports"][0]["reporter"]["email"], "rita@mail.test");
}
