//! The challenge and the captcha on the real binary, spoken at the HTTP
//! level (the browser side is `challenge_browser.rs`): a challenged page
//! is an interstitial, never the origin; a solved challenge buys a
//! clearance cookie that lets the same client through and no other; a
//! tampered cookie, a replayed answer and a non-GET request are refused;
//! the no-JavaScript fallback works at low threat only; the captcha's
//! challenge → solve → siteverify round trip answers Turnstile's JSON.
//!
//! Clients are told apart by X-Forwarded-For: the edge trusts loopback as a
//! proxy in these tests. Answers are computed with the same library the
//! edge verifies with, so these tests are about the edge's protocol, not
//! about JavaScript.

mod support;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use rampart_challenge::pow;
use serde_json::Value;
use support::Rampart;
use support::client::{Proto, Reply, send};
use support::origin::{self, full};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0";
const SECRET: &str = "rs_test-secret-0123456789abcdefghijklmnop";

async fn plain_origin() -> origin::TestOrigin {
    origin::builder("shop")
        .handler(|req: Request<Incoming>| async move {
            Response::new(full(format!("origin {}", req.uri().path())))
        })
        .start()
        .await
}

fn sites(origin: &str) -> String {
    format!(
        r#"
[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["{origin}"]

[site.challenge]
difficulty = {{ low = 4, medium = 8, high = 10 }}

[[site.rules]]
id = "guard"
expression = 'starts_with(http.request.uri.path, "/guarded")'
action = "challenge"
challenge = "js"

[[site.rules]]
id = "press"
expression = 'starts_with(http.request.uri.path, "/press")'
action = "challenge"
challenge = "interactive"

[[site.rules]]
id = "gentle"
expression = 'starts_with(http.request.uri.path, "/gentle")'
action = "challenge"

[[site.captcha]]
sitekey = "rk_contactform"
secret = "{SECRET}"
hostnames = ["shop.test"]

[[site]]
name = "weighed"
hosts = ["bots.test"]
origins = ["{origin}"]

[site.challenge]
difficulty = {{ low = 4, medium = 8, high = 10 }}

[site.bots]

# A sitekey is public: another site copying it must not be able to mint
# tokens that verify with the owner's secret.
[[site.captcha]]
sitekey = "rk_contactform"
secret = "rs_copycat-secret-0123456789abcdefghijklmn"

[[site.bots.rules]]
id = "cli-tools"
expression = 'http.user_agent contains "curl"'
weight = 12

[[site.bots.rules]]
id = "scrapers"
expression = 'http.user_agent contains "EvilScraper"'
weight = 40

[[site.bots.thresholds]]
min_weight = 10
action = "challenge"

[[site.bots.thresholds]]
min_weight = 30
action = "block"

[[site]]
name = "calm"
hosts = ["calm.test"]
origins = ["{origin}"]
security_level = "low"

[site.challenge]
difficulty = {{ low = 3, medium = 8, high = 10 }}

[[site.rules]]
id = "all"
expression = "true"
action = "challenge"
"#
    )
}

fn start(origin: &str) -> Rampart {
    Rampart::builder()
        .proxy(r#"trusted_proxies = ["127.0.0.1"]"#)
        .sites(&sites(origin))
        .start()
}

struct Client<'a> {
    rampart: &'a Rampart,
    host: &'a str,
    ip: &'a str,
    cookies: Vec<String>,
}

impl Client<'_> {
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.host)
            .header("user-agent", UA)
            .header("x-forwarded-for", self.ip);
        if !self.cookies.is_empty() {
            builder = builder.header("cookie", self.cookies.join("; "));
        }
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
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
                .to_string();
            let name = pair.split('=').next().unwrap_or_default().to_string();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
        reply
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None, Vec::new()).await
    }
}

/// The challenge parameters embedded in an interstitial.
fn params(page: &Reply) -> Value {
    let text = page.text();
    let start = text
        .find(r#"id="rampart-challenge">"#)
        .unwrap_or_else(|| panic!("not a challenge page: {text}"))
        + r#"id="rampart-challenge">"#.len();
    let end = start
        + text[start..]
            .find("</script>")
            .unwrap_or_else(|| panic!("unterminated params"));
    serde_json::from_str(&text[start..end].replace("\\u003c", "<"))
        .unwrap_or_else(|e| panic!("params: {e}"))
}

fn solve(challenge: &str) -> String {
    pow::solve(challenge, 1 << 24)
        .unwrap_or_else(|| panic!("no solution found"))
        .to_string()
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solved_challenge_buys_a_clearance_for_this_client_only() {
    let origin = plain_origin().await;
    let rampart = start(&origin.url());
    let mut alice = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "203.0.113.7",
        cookies: vec![],
    };

    let page = alice.get("/guarded/page?x=1").await;
    assert_eq!(page.status, 403);
    assert_eq!(page.header("rampart-challenge"), Some("1"));
    assert!(
        !page.text().contains("origin /guarded"),
        "the origin must not be reached"
    );
    assert!(
        page.body.len() < 20 * 1024,
        "the page is {} bytes",
        page.body.len()
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'"))
    );
    let p = params(&page);
    assert_eq!(
        p["difficulty"], 8,
        "a js challenge is priced at medium: {p}"
    );
    assert_eq!(p["return"], "/guarded/page?x=1");
    let challenge = p["challenge"].as_str().unwrap_or_default().to_string();

    // The page's scripts come from the edge itself.
    for script in ["pow.js", "pow-core.js", "pow-worker.js", "challenge.js"] {
        let r = alice.get(&format!("/.rampart/challenge/v1/{script}")).await;
        assert_eq!(r.status, 200, "{script}");
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/javascript"))
        );
    }

    // A wrong answer is another challenge, not a cookie.
    let wrong = alice
        .send(
            "POST",
            "/.rampart/challenge/v1/verify",
            Some("application/x-www-form-urlencoded"),
            form(&[
                ("challenge", &challenge),
                ("nonce", "no"),
                ("return", "/guarded/page?x=1"),
            ]),
        )
        .await;
    assert_eq!(wrong.status, 403);
    assert!(
        alice
            .cookies
            .iter()
            .all(|c| !c.starts_with("rampart_clearance="))
    );

    let nonce = solve(&challenge);
    let answer = form(&[
        ("challenge", &challenge),
        ("nonce", &nonce),
        ("return", "/guarded/page?x=1"),
    ]);
    let passed = alice
        .send(
            "POST",
            "/.rampart/challenge/v1/verify",
            Some("application/x-www-form-urlencoded"),
            answer.clone(),
        )
        .await;
    assert_eq!(passed.status, 303, "{}", passed.text());
    assert_eq!(passed.header("location"), Some("/guarded/page?x=1"));
    let set = passed.header("set-cookie").unwrap_or_default().to_string();
    assert!(
        set.starts_with("rampart_clearance=c1.") && set.contains("HttpOnly"),
        "{set}"
    );

    let through = alice.get("/guarded/page?x=1").await;
    assert_eq!(
        (through.status.as_u16(), through.text()),
        (200, "origin /guarded/page".into())
    );
    // Reloads keep the clearance.
    assert_eq!(alice.get("/guarded/other").await.status, 200);

    // The same answer twice: refused (spent), no second cookie.
    let mut mallory = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "203.0.113.9",
        cookies: vec![],
    };
    let replay = mallory
        .send(
            "POST",
            "/.rampart/challenge/v1/verify",
            Some("application/x-www-form-urlencoded"),
            answer,
        )
        .await;
    assert_eq!(replay.status, 403);
    assert!(
        mallory
            .cookies
            .iter()
            .all(|c| !c.starts_with("rampart_clearance="))
    );

    // Alice's cookie from another network, or with another browser, is
    // worth nothing; within her /24 it still works.
    let cookie = alice.cookies.clone();
    let mut elsewhere = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "198.51.100.7",
        cookies: cookie.clone(),
    };
    assert_eq!(elsewhere.get("/guarded/page").await.status, 403);
    let mut neighbour = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "203.0.113.200",
        cookies: cookie.clone(),
    };
    assert_eq!(neighbour.get("/guarded/page").await.status, 200);

    // A tampered cookie brings the challenge back.
    let tampered: Vec<String> = cookie
        .iter()
        .map(|c| {
            if let Some(v) = c.strip_prefix("rampart_clearance=") {
                let mut bytes = v.as_bytes().to_vec();
                let last = bytes.len() - 1;
                bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
                format!("rampart_clearance={}", String::from_utf8_lossy(&bytes))
            } else {
                c.clone()
            }
        })
        .collect();
    let mut forger = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "203.0.113.7",
        cookies: tampered,
    };
    assert_eq!(forger.get("/guarded/page").await.status, 403);

    // Unchallenged paths never needed any of this.
    let mut curl = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "192.0.2.1",
        cookies: vec![],
    };
    assert_eq!(curl.get("/open").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_cannot_run_the_page_get_a_page_that_says_what_to_do() {
    let origin = plain_origin().await;
    let rampart = start(&origin.url());
    let mut c = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "203.0.113.20",
        cookies: vec![],
    };
    let post = c
        .send(
            "POST",
            "/guarded/form",
            Some("application/x-www-form-urlencoded"),
            b"a=1".to_vec(),
        )
        .await;
    assert_eq!(post.status, 403);
    assert!(post.text().contains("web browser"), "{}", post.text());
    assert!(post.header("rampart-challenge").is_none());
    let missing = c.get("/.rampart/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert!(!missing.text().contains("origin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_a_browser_passes_at_low_threat_only() {
    let origin = plain_origin().await;
    let rampart = start(&origin.url());
    // "calm" is security_level = low: its managed challenges offer the
    // fallback, a meta refresh plus a cookie.
    let mut c = Client {
        rampart: &rampart,
        host: "calm.test",
        ip: "203.0.113.30",
        cookies: vec![],
    };
    let page = c.get("/article").await;
    assert_eq!(page.status, 403);
    let text = page.text();
    let start = text
        .find("url=")
        .unwrap_or_else(|| panic!("no meta refresh: {text}"))
        + 4;
    let end = start + text[start..].find('"').unwrap_or_default();
    let link = text[start..end].replace("&amp;", "&");
    assert!(link.starts_with("/.rampart/challenge/v1/nojs?"), "{link}");
    assert!(c.cookies.iter().any(|k| k.starts_with("rampart_nojs_")));

    // Following it at once is too early; the page says to wait.
    let early = c.get(&link).await;
    assert_eq!(early.status, 403);
    // Without the cookie it does not pass either.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let mut cookieless = Client {
        rampart: &rampart,
        host: "calm.test",
        ip: "203.0.113.30",
        cookies: vec![],
    };
    assert_eq!(cookieless.get(&link).await.status, 403);
    let passed = c.get(&link).await;
    assert_eq!(passed.status, 303, "{}", passed.text());
    assert_eq!(passed.header("location"), Some("/article"));
    assert_eq!(c.get("/article").await.status, 200);

    // The js challenge on "shop" is medium: no fallback offered there, and
    // the low-threat clearance does not count.
    let mut s = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "203.0.113.31",
        cookies: vec![],
    };
    let medium = s.get("/guarded/x").await;
    assert!(!medium.text().contains("/.rampart/challenge/v1/nojs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_captcha_round_trip_answers_like_turnstile() {
    let origin = plain_origin().await;
    let rampart = start(&origin.url());
    let mut c = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "203.0.113.40",
        cookies: vec![],
    };

    let api = c.get("/.rampart/captcha/v1/api.js").await;
    assert_eq!(api.status, 200);
    assert!(api.text().contains("rampart-captcha-response"));

    let unknown = c
        .get("/.rampart/captcha/v1/challenge?sitekey=rk_nope12345")
        .await;
    assert_eq!(unknown.status, 400);

    let ch = c
        .get("/.rampart/captcha/v1/challenge?sitekey=rk_contactform")
        .await;
    assert_eq!(ch.status, 200, "{}", ch.text());
    let challenge = ch.json()["challenge"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let nonce = solve(&challenge);
    let body = serde_json::json!({"sitekey": "rk_contactform", "challenge": challenge, "nonce": nonce, "action": "contact"});
    let solved = c
        .send(
            "POST",
            "/.rampart/captcha/v1/solve",
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(solved.status, 200, "{}", solved.text());
    let token = solved.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(token.len() <= 2048);

    // The site's backend verifies, from anywhere, as with Turnstile.
    let mut backend = Client {
        rampart: &rampart,
        host: "shop.test",
        ip: "192.0.2.50",
        cookies: vec![],
    };
    let verify = |secret: &str, token: &str| form(&[("secret", secret), ("response", token)]);
    let bad_secret = backend
        .send(
            "POST",
            "/.rampart/captcha/v1/siteverify",
            Some("application/x-www-form-urlencoded"),
            verify("rs_wrong-secret-000000000000000000000000", &token),
        )
        .await;
    assert_eq!(
        bad_secret.json()["error-codes"],
        serde_json::json!(["invalid-input-secret"])
    );
    let ok = backend
        .send(
            "POST",
            "/.rampart/captcha/v1/siteverify",
            Some("application/x-www-form-urlencoded"),
            verify(SECRET, &token),
        )
        .await;
    let answer = ok.json();
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["hostname"], "shop.test");
    assert_eq!(answer["action"], "contact");
    assert!(
        answer["challenge_ts"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let again = backend
        .send(
            "POST",
            "/.rampart/captcha/v1/siteverify",
            Some("application/json"),
            serde_json::json!({"secret": SECRET, "response": token})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(again.json()["success"], false);
    assert_eq!(
        again.json()["error-codes"],
        serde_json::json!(["timeout-or-duplicate"])
    );
    let garbage = backend
        .send(
            "POST",
            "/.rampart/captcha/v1/siteverify",
            Some("application/json"),
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(
        garbage.json()["error-codes"],
        serde_json::json!(["bad-request"])
    );
}

async fn as_agent(rampart: &Rampart, ua: &str, path: &str) -> Reply {
    let request = Request::get(path)
        .header("host", "bots.test")
        .header("user-agent", ua)
        .header("x-forwarded-for", "203.0.113.60")
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    send(rampart.http, Proto::Http1, request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_policy_weighs_requests_into_pass_challenge_or_block() {
    let origin = plain_origin().await;
    let rampart = start(&origin.url());

    let browser = as_agent(&rampart, UA, "/page").await;
    assert_eq!(
        (browser.status.as_u16(), browser.text()),
        (200, "origin /page".into())
    );

    let curl = as_agent(&rampart, "curl/8.5.0", "/page").await;
    assert_eq!(curl.status, 403);
    assert_eq!(curl.header("rampart-challenge"), Some("1"));
    assert_eq!(
        params(&curl)["difficulty"],
        8,
        "weight 12 is a medium challenge"
    );
    let line = rampart.log_line_of(&curl);
    assert_eq!(
        (line["rule"].as_str(), line["action"].as_str()),
        (Some("cli-tools"), Some("challenge"))
    );

    let scraper = as_agent(&rampart, "EvilScraper/2 curl/8", "/page").await;
    assert_eq!(scraper.status, 403);
    assert!(
        scraper.header("rampart-challenge").is_none(),
        "blocked, not challenged"
    );
    assert_eq!(rampart.log_line_of(&scraper)["rule"], "scrapers");

    // Feed readers and /.well-known/ cannot solve challenges: not weighed.
    for path in ["/feed.xml", "/.well-known/security.txt"] {
        let r = as_agent(&rampart, "curl/8.5.0", path).await;
        assert_eq!(r.status, 200, "{path}");
    }
}
