//! The dashboard's *Bots & captcha* page over plain HTTP against the real
//! binary, on SQLite and PostgreSQL: challenge settings saved (and refused
//! next to their fields), the bot policy switched on, a bot rule added
//! (after its errors) and deleted, a captcha key created with its secret
//! shown once with the snippet and siteverify URL, suspended, resumed,
//! given a new secret and deleted; members read without forms.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/dashboard.rs"]
mod dashboard;
mod support;

use browser::{csrf_of, field_error};
use dashboard::signed_in;
use serde_json::json;
use support::api::{create_account, create_site, id};
use support::backends::{Backend, start};

/// The text of the element with `id` (up to its first child tag or end).
fn text_of(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    html.split_once(&marker)
        .and_then(|(_, rest)| rest.split('<').next())
        .unwrap_or_default()
        .to_owned()
}

async fn bots_page(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let other = create_account(&admin, "other");
    let site = id(&admin
        .post(
            &format!("/api/v1/sites?account_id={acme}"),
            &json!({ "name": "shop", "hosts": ["shop.test", "*.shop.test"], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201));
    let foreign = create_site(&admin, &other, "elsewhere", "http://127.0.0.1:1");
    let spec = || admin.get(&format!("/api/v1/sites/{site}")).expect(200)["spec"].clone();
    let mut web = signed_in(&rampart, &admin, "account_owner", Some(&acme));
    let page = format!("/sites/{site}/bots");

    let empty = web.get(&page);
    assert_eq!(empty.status, 200, "{}", empty.text());
    let text = empty.text();
    assert!(text.contains("id=\"bot-rules-empty\"") && text.contains("id=\"captcha-keys-empty\""));
    assert!(
        text.contains("aria-current=\"page\">Bots &amp; captcha</a>"),
        "{text}"
    );
    assert!(
        text.contains("id=\"bot-policy-state\"><strong>Off.</strong>"),
        "{text}"
    );
    let security = web.get(&format!("/sites/{site}/security")).text();
    assert!(security.contains(&format!("href=\"{page}\"")), "{security}");
    assert_eq!(web.get(&format!("/sites/{foreign}/bots")).status, 404);

    // Challenge settings: problems next to their fields, then saved.
    let challenge = |v6: &'static str, medium: &'static str| {
        vec![
            ("ch_algorithm", "scrypt"),
            ("ch_low", "2"),
            ("ch_medium", medium),
            ("ch_high", "5"),
            ("ch_clearance_ttl", "1h"),
            ("ch_ip_v4", "16"),
            ("ch_ip_v6", v6),
        ]
    };
    let action = format!("{page}/challenge");
    let bad = web.submit(&page, &action, &challenge("8", "3"));
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(
        !field_error(&bad.text(), "ch_ip_v6").is_empty(),
        "{}",
        bad.text()
    );
    assert!(
        bad.text().contains("name=\"ch_ip_v6\" value=\"8\""),
        "kept as typed"
    );
    let bad = web.submit(&page, &action, &challenge("48", "9"));
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(
        !field_error(&bad.text(), "ch_medium").is_empty(),
        "{}",
        bad.text()
    );
    let saved = web.submit(&page, &action, &challenge("48", "3"));
    assert_eq!(saved.status, 303, "{}", saved.text());
    assert_eq!(
        spec()["challenge"],
        json!({ "algorithm": "scrypt", "difficulty": { "low": 2, "medium": 3, "high": 5 },
                "clearance_ttl": "1h", "ip_prefix": { "v4": 16, "v6": 48 }, "nojs_fallback": false })
    );
    assert!(
        web.get(&page)
            .text()
            .contains("name=\"ch_clearance_ttl\" value=\"1h\"")
    );

    // The bot policy on, and a rule after its errors.
    let on = web.submit(&page, &format!("{page}/policy"), &[("bots_enabled", "on")]);
    assert_eq!(on.status, 303, "{}", on.text());
    assert_eq!(spec()["bots"]["enabled"], true);
    let rule = |expression: &'static str, weight: &'static str| {
        vec![
            ("br_id", "curl"),
            ("br_expression", expression),
            ("br_weight", weight),
        ]
    };
    let rules = format!("{page}/rules");
    let bad = web.submit(&page, &rules, &rule("http.user_agent contains", "12"));
    assert_eq!(bad.status, 422, "{}", bad.text());
    let error = field_error(&bad.text(), "br_expression");
    assert!(error.contains("column"), "{error}");
    let bad = web.submit(&page, &rules, &rule("true", "lots"));
    assert_eq!(bad.status, 422);
    assert!(!field_error(&bad.text(), "br_weight").is_empty());
    let bad = web.submit(&page, &rules, &rule("true", "5000"));
    assert_eq!(bad.status, 422);
    assert!(
        !field_error(&bad.text(), "br_weight").is_empty(),
        "{}",
        bad.text()
    );
    let added = web.submit(
        &page,
        &rules,
        &rule("http.user_agent contains \"curl\"", "12"),
    );
    assert_eq!(added.status, 303, "{}", added.text());
    assert_eq!(spec()["bots"]["rules"][0]["weight"], 12);
    let shown = web.get(&page).text();
    assert!(shown.contains("id=\"bot-rule-curl\""), "{shown}");
    assert!(
        shown.contains("id=\"bot-policy-state\"><strong>On.</strong>"),
        "{shown}"
    );
    assert!(shown.contains("id=\"bot-thresholds\""), "{shown}");

    // A captcha key: refused for another site's host, then made; the
    // secret is on the answering page only.
    let captcha = format!("{page}/captcha");
    let bad = web.submit(
        &page,
        &captcha,
        &[
            ("cap_hostnames", "www.shop.test\nevil.test"),
            ("cap_mode", "invisible"),
        ],
    );
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(
        field_error(&bad.text(), "cap_hostnames").contains("evil.test"),
        "{}",
        bad.text()
    );
    let made = web.submit(
        &page,
        &captcha,
        &[
            ("cap_hostnames", "www.shop.test"),
            ("cap_mode", "invisible"),
        ],
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let made = made.text();
    let secret = text_of(&made, "new-captcha-secret");
    let sitekey = text_of(&made, "new-captcha-sitekey");
    assert!(secret.starts_with("rs_") && secret.len() == 46, "{made}");
    assert!(sitekey.starts_with("rk_"), "{made}");
    assert!(
        made.contains("https://www.shop.test/.rampart/captcha/v1/api.js")
            && made.contains(&format!("data-sitekey=&quot;{sitekey}&quot;")),
        "{made}"
    );
    assert_eq!(
        text_of(&made, "captcha-siteverify"),
        "https://www.shop.test/.rampart/captcha/v1/siteverify"
    );
    let later = web.get(&page).text();
    assert!(
        later.contains(&format!("id=\"captcha-{sitekey}\"")),
        "{later}"
    );
    assert!(!later.contains(&secret) && !later.contains("new-captcha-secret"));
    let listed = admin
        .get(&format!("/api/v1/sites/{site}/captcha_keys"))
        .expect(200);
    assert_eq!(
        listed,
        json!([{ "sitekey": sitekey, "hostnames": ["www.shop.test"], "mode": "invisible", "suspended": false }])
    );

    // Suspend, resume, a new secret, delete.
    let key_path = format!("{captcha}/{sitekey}");
    let suspended = web.submit(&page, &format!("{key_path}/suspend"), &[("on", "true")]);
    assert_eq!(suspended.status, 303, "{}", suspended.text());
    assert_eq!(
        admin
            .get(&format!("/api/v1/sites/{site}/captcha_keys"))
            .expect(200)[0]["suspended"],
        true
    );
    let row = web.get(&page).text();
    let row = row
        .split(&format!("id=\"captcha-{sitekey}\""))
        .nth(1)
        .unwrap_or_default()
        .split("</tr>")
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(row.contains("suspended") && row.contains("Resume"), "{row}");
    let resumed = web.submit(&page, &format!("{key_path}/suspend"), &[("on", "false")]);
    assert_eq!(resumed.status, 303);
    let rotated = web.submit(&page, &format!("{key_path}/secret"), &[]);
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let new_secret = text_of(&rotated.text(), "new-captcha-secret");
    assert!(
        new_secret.starts_with("rs_") && new_secret != secret,
        "{new_secret}"
    );
    let audit = admin.get("/api/v1/audit").text;
    assert!(audit.contains("site.captcha_key.rotate_secret"), "{audit}");
    assert!(
        !audit.contains(&secret) && !audit.contains(&new_secret),
        "{audit}"
    );

    // Members see the settings but no forms, and cannot post.
    let mut member = signed_in(&rampart, &admin, "account_member", Some(&acme));
    let seen = member.get(&page).text();
    assert!(
        seen.contains(&format!("id=\"captcha-{sitekey}\""))
            && !seen.contains("id=\"captcha-form\"")
            && !seen.contains("id=\"bot-rule-form\""),
        "{seen}"
    );
    let csrf = csrf_of(&seen);
    let refused = member.post(&format!("{key_path}/delete"), &[("csrf", &csrf)]);
    assert_eq!(refused.status, 403);
    let refused = member.post(&captcha, &[("csrf", &csrf), ("cap_mode", "managed")]);
    assert_eq!(refused.status, 403);

    let deleted = web.submit(&page, &format!("{key_path}/delete"), &[]);
    assert_eq!(deleted.status, 303);
    assert!(web.get(&page).text().contains("id=\"captcha-keys-empty\""));
    let gone = web.submit(&page, &format!("{page}/rules/curl/delete"), &[]);
    assert_eq!(gone.status, 303);
    assert!(web.get(&page).text().contains("id=\"bot-rules-empty\""));
    // The challenge settings saved first are still there.
    assert_eq!(spec()["challenge"]["algorithm"], "scrypt");
}

on_both_backends!(bots_page);
