//! The dashboard over plain HTTP against the real binary: sign-in by
//! password and by token, CSRF refusals, the sign-in rate limit, session
//! expiry and sign-out, tenant boundaries, and the site forms' errors.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::time::{Duration, Instant};

use browser::{Web, csrf_of};
use serde_json::json;
use support::Rampart;
use support::api::Api;
use support::backends::{Backend, store_table};

async fn start(backend: Backend) -> Rampart {
    Rampart::builder()
        .tables(&store_table(backend).await)
        .start()
}

fn id(value: &serde_json::Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

/// An account with an owner who has a password, and a site.
struct Tenant {
    account: String,
    site: String,
    email: String,
}

const PASSWORD: &str = "correct horse battery";

fn tenant(admin: &Api, name: &str) -> Tenant {
    let account = id(&admin
        .post("/api/v1/accounts", &json!({ "name": name }))
        .expect(201));
    let site = id(&admin
        .post(
            &format!("/api/v1/sites?account_id={account}"),
            &json!({ "name": format!("{name}-site"), "hosts": [format!("{name}.test")], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201));
    let email = format!("owner@{name}.test");
    admin
        .post(
            "/api/v1/users",
            &json!({ "email": email, "name": "Owner", "role": "account_owner",
                     "account_id": account, "password": PASSWORD }),
        )
        .expect(201);
    Tenant {
        account,
        site,
        email,
    }
}

fn sign_in_password(web: &mut Web, email: &str, password: &str) -> support::ops::Response {
    let csrf = csrf_of(&web.get("/login").text());
    web.post(
        "/login",
        &[
            ("csrf", &csrf),
            ("method", "password"),
            ("email", email),
            ("password", password),
        ],
    )
}

async fn sign_in_and_tenant_boundaries(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = tenant(&admin, "acme");
    let other = tenant(&admin, "other");

    // Anonymous visitors are sent to the sign-in page, with the way back.
    let mut web = Web::new(rampart.admin);
    let home = web.get("/");
    assert_eq!(home.status, 303);
    assert_eq!(home.header("location"), Some("/login"));
    let page = web.get(&format!("/sites/{}", acme.site));
    assert_eq!(page.status, 303);
    assert_eq!(
        page.header("location"),
        Some(format!("/login?next=%2Fsites%2F{}", acme.site).as_str())
    );
    let login = web.get("/login");
    assert_eq!(login.status, 200);
    let cookie = login.header("set-cookie").unwrap_or_default().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let csp = login.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // Wrong password and unknown email read the same.
    let wrong = sign_in_password(&mut web, &acme.email, "not the password");
    let unknown = sign_in_password(&mut web, "nobody@acme.test", "not the password");
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    let message = |r: &support::ops::Response| {
        let text = r.text();
        text.split("id=\"login-error\" role=\"alert\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(!message(&wrong).is_empty(), "{}", wrong.text());
    assert_eq!(message(&wrong), message(&unknown));

    let signed = sign_in_password(&mut web, &acme.email.to_uppercase(), PASSWORD);
    assert_eq!(signed.status, 303, "{}", signed.text());
    assert_eq!(signed.header("location"), Some("/sites"));
    let session_cookie = signed
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("rampart_session="))
        .unwrap_or_default()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    // Plain-http dashboard: a Secure cookie would never come back.
    assert!(!session_cookie.contains("Secure"), "{session_cookie}");

    // An owner sees their own site and not the other account's.
    let sites = web.get("/sites");
    assert_eq!(sites.status, 200);
    assert!(sites.text().contains("acme-site"));
    assert!(!sites.text().contains("other-site"));
    assert_eq!(web.get(&format!("/sites/{}", other.site)).status, 404);
    assert_eq!(
        web.get(&format!("/sites/{}/settings", other.site)).status,
        404
    );
    assert_eq!(web.get(&format!("/sites/{}", acme.site)).status, 200);
    // The switcher is for operators; an owner's `?account=` changes nothing.
    let foreign = web.get(&format!("/sites?account={}", other.account));
    assert!(!foreign.text().contains("other-site"));
    assert!(!foreign.text().contains("All accounts"));

    // Writes to another account's site are refused as not found.
    let csrf = web.csrf("/sites");
    let flip = web.post(
        &format!("/sites/{}/under-attack", other.site),
        &[("csrf", &csrf), ("on", "true")],
    );
    assert_eq!(flip.status, 404);
    let theirs = admin
        .get(&format!("/api/v1/sites/{}", other.site))
        .expect(200);
    assert_eq!(theirs["spec"].get("under_attack"), None);

    // An operator switches accounts; the choice is remembered.
    let mut op = Web::new(rampart.admin);
    op.sign_in_with_token(&admin.token.clone().unwrap_or_default());
    let all = op.get("/sites").text();
    assert!(all.contains("acme-site") && all.contains("other-site"));
    let picked = op.get(&format!("/sites?account={}", acme.account)).text();
    assert!(picked.contains("acme-site") && !picked.contains("other-site"));
    let remembered = op.get("/sites").text();
    assert!(remembered.contains("acme-site") && !remembered.contains("other-site"));
    let reset = op.get("/sites?account=").text();
    assert!(reset.contains("other-site"));

    // Sign-ins are in the audit log.
    let audit = admin.get("/api/v1/audit").expect(200);
    assert!(
        audit
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["action"] == "session.create"))
    );
}

async fn csrf_and_origin_are_checked(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = tenant(&admin, "acme");
    let mut web = Web::new(rampart.admin);
    web.sign_in_with_token(&admin.token.clone().unwrap_or_default());
    let csrf = web.csrf("/sites");
    let path = format!("/sites/{}/under-attack", acme.site);

    let missing = web.post(&path, &[("on", "true")]);
    assert_eq!(missing.status, 403, "{}", missing.text());
    let wrong = web.post(&path, &[("csrf", "x".repeat(43).as_str()), ("on", "true")]);
    assert_eq!(wrong.status, 403);
    let cross = web.post_with(
        &path,
        &[("csrf", &csrf), ("on", "true")],
        &[("Origin", "http://evil.test")],
    );
    assert_eq!(cross.status, 403);
    web.origin = None;
    let cross_referer = web.post_with(
        &path,
        &[("csrf", &csrf), ("on", "true")],
        &[("Referer", "http://evil.test/page")],
    );
    assert_eq!(cross_referer.status, 403);
    let site = admin
        .get(&format!("/api/v1/sites/{}", acme.site))
        .expect(200);
    assert_eq!(site["spec"].get("under_attack"), None, "nothing changed");

    // Without Origin or Referer the token alone decides.
    let ok = web.post(&path, &[("csrf", &csrf), ("on", "true")]);
    assert_eq!(ok.status, 303, "{}", ok.text());
    let site = admin
        .get(&format!("/api/v1/sites/{}", acme.site))
        .expect(200);
    assert_eq!(site["spec"]["under_attack"], true);
    let audit = admin.get("/api/v1/audit").expect(200);
    let update = audit
        .as_array()
        .and_then(|a| a.iter().find(|e| e["action"] == "site.update"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(update["actor_label"], "admin@rampart.local");

    // The sign-in form pairs its field with a cookie.
    let mut fresh = Web::new(rampart.admin);
    let token = admin.token.clone().unwrap_or_default();
    let no_cookie = fresh.post(
        "/login",
        &[("csrf", "abc"), ("method", "token"), ("token", &token)],
    );
    assert_eq!(no_cookie.status, 403);
    assert!(!fresh.cookies.contains_key("rampart_session"));
}

async fn sign_in_is_rate_limited() {
    let rampart = start(Backend::Sqlite).await;
    let admin = rampart.admin_api();
    let acme = tenant(&admin, "acme");
    let mut web = Web::new(rampart.admin);
    for attempt in 0..10 {
        let reply = sign_in_password(&mut web, &acme.email, "guess");
        assert_eq!(reply.status, 401, "attempt {attempt}");
    }
    // The right password no longer helps, for a while.
    let limited = sign_in_password(&mut web, &acme.email, PASSWORD);
    assert_eq!(limited.status, 429, "{}", limited.text());
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=300).contains(&retry), "Retry-After {retry}");
    assert!(limited.text().contains("Too many failed sign-in attempts"));
    assert!(!web.cookies.contains_key("rampart_session"));
    // The same address trying tokens is limited too.
    let csrf = csrf_of(&web.get("/login").text());
    let token = web.post(
        "/login",
        &[
            ("csrf", &csrf),
            ("method", "token"),
            ("token", &admin.token.clone().unwrap_or_default()),
        ],
    );
    assert_eq!(token.status, 429);
}

async fn sessions_expire_and_sign_out() {
    let rampart = Rampart::builder()
        .env("RAMPART_SESSION_TTL_SECS", "2")
        .start();
    let admin = rampart.admin_api();
    let token = admin.token.clone().unwrap_or_default();

    let mut web = Web::new(rampart.admin);
    web.sign_in_with_token(&token);
    assert_eq!(web.get("/sites").status, 200);
    let start = Instant::now();
    loop {
        let reply = web.get("/sites");
        if reply.status == 303 {
            assert!(
                reply
                    .header("location")
                    .unwrap_or_default()
                    .starts_with("/login")
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "session did not expire"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(start.elapsed() >= Duration::from_millis(500));

    // Sign-out ends the session in the store, not only in the browser.
    let mut web = Web::new(rampart.admin);
    web.sign_in_with_token(&token);
    let kept = web.cookies.clone();
    let csrf = web.csrf("/sites");
    let out = web.post("/logout", &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/login?done=signed-out"));
    assert!(!web.cookies.contains_key("rampart_session"));
    web.cookies = kept;
    assert_eq!(web.get("/sites").status, 303, "the old cookie still works");
}

async fn site_forms_validate_and_keep_input(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = tenant(&admin, "acme");
    let mut web = Web::new(rampart.admin);
    web.sign_in_with_token(&admin.token.clone().unwrap_or_default());
    let csrf = web.csrf("/sites/new");

    let bad = web.post(
        "/sites/new",
        &[
            ("csrf", &csrf),
            ("account", &acme.account),
            ("name", "shop"),
            ("hosts", "shop.test\nbad host"),
            ("origins", "ftp://nowhere"),
            ("health_interval", "soon"),
            ("lb", "round_robin"),
            ("security_level", "medium"),
        ],
    );
    assert_eq!(bad.status, 422);
    let html = bad.text();
    for field in ["hosts", "origins", "health_interval"] {
        assert!(
            html.contains(&format!("id=\"f-{field}-error\"")),
            "{field} error missing"
        );
        assert!(
            html.contains(&format!(
                "aria-describedby=\"f-{field}-hint f-{field}-error\""
            )) || html.contains(&format!("aria-describedby=\"f-{field}-error\"")),
            "{field} not described by its error"
        );
    }
    assert!(html.contains("value=\"soon\""), "input kept");
    assert!(html.contains("bad host"));
    assert!(html.contains("role=\"alert\""));

    // Settings: the form keeps what it does not show (here page templates).
    admin
        .patch(
            &format!("/api/v1/sites/{}", acme.site),
            &json!({ "pages": { "not_found": "gone {{ray_id}}" }, "origins": [{"url": "http://127.0.0.1:1", "weight": 5}] }),
        )
        .expect(200);
    let path = format!("/sites/{}/settings", acme.site);
    let csrf = web.csrf(&path);
    let saved = web.post(
        &path,
        &[
            ("csrf", &csrf),
            ("name", "acme-site"),
            ("hosts", "acme.test\nwww.acme.test"),
            ("origins", "http://127.0.0.1:1"),
            ("lb", "least_outstanding"),
            ("security_level", "high"),
            ("https_redirect", "on"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    let site = admin
        .get(&format!("/api/v1/sites/{}", acme.site))
        .expect(200);
    assert_eq!(site["hosts"], json!(["acme.test", "www.acme.test"]));
    assert_eq!(site["spec"]["lb"], "least_outstanding");
    assert_eq!(site["spec"]["security_level"], "high");
    assert_eq!(site["spec"]["https_redirect"], true);
    assert_eq!(site["spec"]["pages"]["not_found"], "gone {{ray_id}}");
    assert_eq!(site["spec"]["origins"][0]["weight"], 5);

    // Deleting needs the name typed.
    let unconfirmed = web.post(
        &format!("/sites/{}/delete", acme.site),
        &[("csrf", &csrf), ("confirm", "nope")],
    );
    assert_eq!(unconfirmed.status, 422);
    assert!(unconfirmed.text().contains("id=\"f-confirm-error\""));
    let deleted = web.post(
        &format!("/sites/{}/delete", acme.site),
        &[("csrf", &csrf), ("confirm", "acme-site")],
    );
    assert_eq!(deleted.status, 303);
    assert_eq!(
        admin.get(&format!("/api/v1/sites/{}", acme.site)).status,
        404
    );
}

async fn tokens_page_creates_once_and_revokes(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let mut web = Web::new(rampart.admin);
    web.sign_in_with_token(&admin.token.clone().unwrap_or_default());
    let csrf = web.csrf("/tokens");
    let created = web.post(
        "/tokens",
        &[
            ("csrf", &csrf),
            ("name", "deploy"),
            ("role", "trust_safety"),
            ("expires", "30"),
        ],
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let html = created.text();
    let secret = html
        .split("id=\"new-secret\" type=\"text\" readonly value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned();
    assert!(secret.starts_with("rpt_"), "{html}");
    let me = admin.with_token(&secret).get("/api/v1/me").expect(200);
    assert_eq!(me["token"]["role"], "trust_safety");
    // A read-only token cannot become a full session.
    let mut limited = Web::new(rampart.admin);
    let csrf_login = csrf_of(&limited.get("/login").text());
    let refused = limited.post(
        "/login",
        &[
            ("csrf", &csrf_login),
            ("method", "token"),
            ("token", &secret),
        ],
    );
    assert_eq!(refused.status, 401);
    // Shown once: the list does not carry it.
    assert!(!web.get("/tokens").text().contains(&secret));

    let token_id = me["token"]["id"].as_str().unwrap_or_default().to_owned();
    let revoked = web.post(&format!("/tokens/{token_id}/revoke"), &[("csrf", &csrf)]);
    assert_eq!(revoked.status, 303);
    assert_eq!(admin.with_token(&secret).get("/api/v1/me").status, 401);

    // Too much for the role is refused next to the field.
    let bad = web.post(
        "/tokens",
        &[("csrf", &csrf), ("name", ""), ("expires", "never")],
    );
    assert_eq!(bad.status, 422);
    assert!(bad.text().contains("id=\"f-name-error\""));
}

on_both_backends!(
    sign_in_and_tenant_boundaries,
    csrf_and_origin_are_checked,
    site_forms_validate_and_keep_input,
    tokens_page_creates_once_and_revokes,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_rate_limit() {
    sign_in_is_rate_limited().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_expiry_and_sign_out() {
    sessions_expire_and_sign_out().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_ends_the_users_sessions() {
    let rampart = Rampart::builder().start();
    let admin = rampart.admin_api();
    let acme = tenant(&admin, "acme");
    let mut web = Web::new(rampart.admin);
    assert_eq!(
        sign_in_password(&mut web, &acme.email, PASSWORD).status,
        303
    );
    assert_eq!(web.get("/sites").status, 200);

    let users = admin
        .get(&format!("/api/v1/users?account_id={}", acme.account))
        .expect(200);
    let owner = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["email"] == acme.email.as_str()))
        .map(id)
        .unwrap_or_default();
    admin
        .patch(
            &format!("/api/v1/users/{owner}"),
            &json!({ "password": "a different long password" }),
        )
        .expect(200);
    assert_eq!(
        web.get("/sites").status,
        303,
        "the session outlived the password"
    );
}
