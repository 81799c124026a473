//! Captcha sitekeys through the admin API, and the challenge signing keys
//! the nodes share through the store, against the real binary.
//!
//! On SQLite and PostgreSQL: create, list, patch, rotate and delete keys;
//! the secret is in the creating answer only (not in the list, the site's
//! spec, the audit log); hostnames and modes refused at their path; who may
//! read and write; a created key answers at the edge's siteverify, a
//! rotated secret and a suspended key are refused there; challenge and bot
//! settings through the site's own PUT/PATCH; the OpenAPI document.
//! On PostgreSQL: two nodes on one store sign with the same keys, and a
//! rotation (forced with a made-up clock) reaches both.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};
use support::Rampart;
use support::api::{Api, create_account, id, person};
use support::backends::{Backend, start, store_table};
use support::client::{Proto, send};

/// The site `shop` of `account`, on `shop.test` and `*.shop.test`.
fn shop(api: &Api, account: &str) -> String {
    id(&api
        .post(
            &format!("/api/v1/sites?account_id={account}"),
            &json!({ "name": "shop", "hosts": ["shop.test", "*.shop.test"], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201))
}

/// The edge's siteverify for `secret` with a token that cannot be valid:
/// its error codes say whether the edge knows the secret
/// ("invalid-input-response") or not ("invalid-input-secret").
async fn siteverify(rampart: &Rampart, secret: &str) -> Vec<String> {
    let body = serde_urlencoded::to_string([("secret", secret), ("response", "not-a-token")])
        .unwrap_or_default();
    let request = http::Request::post("/.rampart/captcha/v1/siteverify")
        .header(http::header::HOST, "shop.test")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let reply = send(rampart.http, Proto::Http1, request).await;
    reply.json()["error-codes"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls the edge until siteverify answers `code` for `secret`.
async fn edge_says(rampart: &Rampart, secret: &str, code: &str) {
    let start = Instant::now();
    loop {
        let codes = siteverify(rampart, secret).await;
        if codes.iter().any(|c| c == code) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "siteverify still answers {codes:?}, not {code}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn secret_of(created: &Value) -> String {
    created["secret"].as_str().unwrap_or_default().to_owned()
}

async fn captcha_keys_lifecycle(backend: Backend) {
    let rampart = start(backend).await;
    let api = rampart.admin_api();
    let acme = create_account(&api, "acme");
    let site = shop(&api, &acme);
    let keys = format!("/api/v1/sites/{site}/captcha_keys");
    assert_eq!(api.get(&keys).expect(200), json!([]));

    let plain = api.post(&keys, &json!({})).expect(201);
    let sitekey = plain["sitekey"].as_str().unwrap_or_default().to_owned();
    let secret = secret_of(&plain);
    assert!(sitekey.starts_with("rk_") && sitekey.len() == 25, "{plain}");
    assert!(secret.starts_with("rs_") && secret.len() == 46, "{plain}");
    assert_eq!(
        (&plain["hostnames"], &plain["mode"], &plain["suspended"]),
        (&json!([]), &json!("managed"), &json!(false))
    );
    let scoped = api
        .post(
            &keys,
            &json!({ "hostnames": ["WWW.shop.test.", "shop.test"], "mode": "invisible" }),
        )
        .expect(201);
    assert_eq!(scoped["hostnames"], json!(["www.shop.test", "shop.test"]));
    assert_eq!(scoped["mode"], "invisible");
    let other_secret = secret_of(&scoped);
    let other_key = scoped["sitekey"].as_str().unwrap_or_default().to_owned();

    // The secrets are nowhere to be read again.
    let listed = api.get(&keys);
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(2),
        "{}",
        listed.text
    );
    assert!(listed.body[0].get("secret").is_none(), "{}", listed.text);
    let spec = api.get(&format!("/api/v1/sites/{site}"));
    assert_eq!(spec.status, 200);
    assert_eq!(
        spec.body["spec"]["captcha_keys"][0]["sitekey"],
        sitekey.as_str()
    );
    assert_eq!(
        spec.body["spec"]["captcha_keys"][0]["secret_sha256"],
        "[redacted]"
    );
    let audit = api.get("/api/v1/audit");
    assert!(
        audit.text.contains("site.captcha_key.create"),
        "{}",
        audit.text
    );
    for text in [&listed.text, &spec.text, &audit.text] {
        assert!(
            !text.contains(&secret[3..]) && !text.contains(&other_secret[3..]),
            "{text}"
        );
    }

    // The edge knows the key: its secret is recognised, a made-up one not.
    edge_says(&rampart, &secret, "invalid-input-response").await;
    edge_says(&rampart, &other_secret, "invalid-input-response").await;
    edge_says(
        &rampart,
        &format!("rs_{}", "x".repeat(43)),
        "invalid-input-secret",
    )
    .await;

    // Refusals name their field.
    let bad_host = api.post(&keys, &json!({ "hostnames": ["shop.test", "evil.test"] }));
    assert_eq!(
        (bad_host.status, bad_host.field()),
        (422, "hostnames[1]"),
        "{}",
        bad_host.text
    );
    let bad_mode = api.post(&keys, &json!({ "mode": "loud" }));
    assert_eq!(
        (bad_mode.status, bad_mode.field()),
        (422, "mode"),
        "{}",
        bad_mode.text
    );
    let unknown = api.post(&keys, &json!({ "secret": "mine" }));
    assert_eq!((unknown.status, unknown.code()), (422, "unknown_field"));
    let one = format!("{keys}/{sitekey}");
    let wildcard = api.patch(&one, &json!({ "hostnames": ["*.shop.test"] }));
    assert_eq!((wildcard.status, wildcard.field()), (422, "hostnames[0]"));
    assert_eq!(api.get(&keys).expect(200).as_array().map(Vec::len), Some(2));

    // Patch: suspended keys are refused at the edge.
    let patched = api
        .patch(&one, &json!({ "suspended": true, "mode": "non-interactive", "hostnames": ["a.b.shop.test"] }))
        .expect(200);
    assert_eq!(
        patched,
        json!({ "sitekey": sitekey, "hostnames": ["a.b.shop.test"], "mode": "non-interactive", "suspended": true })
    );
    edge_says(&rampart, &secret, "sitekey-suspended").await;
    api.patch(&one, &json!({ "suspended": false })).expect(200);
    edge_says(&rampart, &secret, "invalid-input-response").await;

    // A new secret: shown once, the old one refused at the edge.
    let rotated = api.post(&format!("{one}/secret"), &json!({})).expect(200);
    let new_secret = secret_of(&rotated);
    assert_eq!(rotated["sitekey"], sitekey.as_str());
    assert!(new_secret.starts_with("rs_") && new_secret != secret);
    edge_says(&rampart, &secret, "invalid-input-secret").await;
    edge_says(&rampart, &new_secret, "invalid-input-response").await;
    let audit = api.get("/api/v1/audit").text;
    assert!(audit.contains("site.captcha_key.rotate_secret"), "{audit}");
    assert!(!audit.contains(&new_secret[3..]), "{audit}");

    // The site's own PUT round-trips the redacted hashes: nothing changes.
    let current = api.get(&format!("/api/v1/sites/{site}")).expect(200)["spec"].clone();
    api.put(&format!("/api/v1/sites/{site}"), &current)
        .expect(200);
    edge_says(&rampart, &new_secret, "invalid-input-response").await;
    let mut forged = current.clone();
    forged["captcha_keys"][0]["sitekey"] = json!("rk_madeupbyme");
    let refused = api.put(&format!("/api/v1/sites/{site}"), &forged);
    assert_eq!(
        (refused.status, refused.field()),
        (422, "captcha_keys[0].secret_sha256"),
        "{}",
        refused.text
    );

    // Delete: gone from the list and from the edge.
    api.delete(&one).expect(204);
    assert_eq!(api.delete(&one).status, 404);
    assert_eq!(api.patch(&one, &json!({ "suspended": true })).status, 404);
    assert_eq!(api.post(&format!("{one}/secret"), &json!({})).status, 404);
    let left = api.get(&keys).expect(200);
    assert_eq!(left.as_array().map(Vec::len), Some(1));
    assert_eq!(left[0]["sitekey"], other_key.as_str());
    edge_says(&rampart, &new_secret, "invalid-input-secret").await;
}

/// Challenge and bot settings ride on the site's own PUT and PATCH, with
/// problems at their path; the OpenAPI document describes all of it.
async fn challenge_settings_through_the_site(backend: Backend) {
    let rampart = start(backend).await;
    let api = rampart.admin_api();
    let acme = create_account(&api, "acme");
    let site = shop(&api, &acme);
    let path = format!("/api/v1/sites/{site}");
    let patched = api
        .patch(
            &path,
            &json!({
                "challenge": { "algorithm": "scrypt", "difficulty": { "low": 2, "medium": 3, "high": 5 },
                               "clearance_ttl": "1h", "ip_prefix": { "v4": 16, "v6": 48 }, "nojs_fallback": false },
                "bots": { "enabled": true,
                          "rules": [{ "id": "curl", "expression": "http.user_agent contains \"curl\"", "weight": 12 }],
                          "thresholds": [{ "min_weight": 10, "action": "challenge", "level": "high" }] }
            }),
        )
        .expect(200);
    assert_eq!(patched["spec"]["challenge"]["algorithm"], "scrypt");
    assert_eq!(patched["spec"]["bots"]["rules"][0]["id"], "curl");
    let mut spec = patched["spec"].clone();
    spec["challenge"]["difficulty"] = json!(4);
    let put = api.put(&path, &spec).expect(200);
    assert_eq!(put["spec"]["challenge"]["difficulty"], 4);
    for (body, field) in [
        (
            json!({ "challenge": { "algorithm": "md5" } }),
            "challenge.algorithm",
        ),
        (
            json!({ "challenge": { "ip_prefix": { "v6": 8 } } }),
            "challenge.ip_prefix.v6",
        ),
        (
            json!({ "bots": { "rules": [{ "id": "x", "expression": "http.host eq", "weight": 1 }] } }),
            "bots.rules[0].expression",
        ),
        (
            json!({ "bots": { "rules": [{ "id": "x", "expression": "true", "weight": 5000 }] } }),
            "bots.rules[0].weight",
        ),
    ] {
        let reply = api.patch(&path, &body);
        assert_eq!(
            (reply.status, reply.field()),
            (422, field),
            "{}",
            reply.text
        );
    }

    let openapi = api.get("/api/v1/openapi.json").expect(200);
    for endpoint in [
        "/api/v1/sites/{site}/captcha_keys",
        "/api/v1/sites/{site}/captcha_keys/{sitekey}",
        "/api/v1/sites/{site}/captcha_keys/{sitekey}/secret",
    ] {
        assert!(
            openapi["paths"].get(endpoint).is_some(),
            "{endpoint} missing"
        );
    }
    for schema in [
        "ChallengeSpec",
        "BotsSpec",
        "BotRuleSpec",
        "CaptchaKeySpec",
        "CaptchaKeyView",
        "CaptchaKeyWithSecret",
        "NewCaptchaKey",
        "CaptchaKeyPatch",
    ] {
        assert!(
            openapi["components"]["schemas"].get(schema).is_some(),
            "schema {schema} missing"
        );
    }
}

/// Owners and operator admins write; members and trust & safety read;
/// another account's users and tokens scoped to another site see nothing.
async fn captcha_keys_isolation(backend: Backend) {
    let rampart = start(backend).await;
    let admin = rampart.admin_api();
    let acme = create_account(&admin, "acme");
    let other = create_account(&admin, "other");
    let site = shop(&admin, &acme);
    let elsewhere = id(&admin
        .post(
            &format!("/api/v1/sites?account_id={acme}"),
            &json!({ "name": "blog", "hosts": ["blog.test"], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201));
    let owner = person(&admin, "owner@acme.test", "account_owner", Some(&acme));
    let member = person(&admin, "member@acme.test", "account_member", Some(&acme));
    let stranger = person(&admin, "owner@other.test", "account_owner", Some(&other));
    let safety = person(&admin, "ts@op.test", "trust_safety", None);
    let keys = format!("/api/v1/sites/{site}/captcha_keys");

    let made = owner.post(&keys, &json!({})).expect(201);
    let sitekey = made["sitekey"].as_str().unwrap_or_default().to_owned();
    admin
        .post(&keys, &json!({ "mode": "invisible" }))
        .expect(201);
    let one = format!("{keys}/{sitekey}");
    let writes = |api: &Api| {
        [
            api.post(&keys, &json!({})).status,
            api.patch(&one, &json!({ "suspended": true })).status,
            api.post(&format!("{one}/secret"), &json!({})).status,
            api.delete(&one).status,
        ]
    };
    for reader in [&member, &safety] {
        assert_eq!(
            reader.get(&keys).expect(200).as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(writes(reader), [403; 4]);
    }
    let foreign = stranger.get(&keys);
    assert_eq!(foreign.status, 404);
    assert!(!foreign.text.contains(&sitekey), "{}", foreign.text);
    assert_eq!(writes(&stranger), [404; 4]);

    // A token of the owner limited to the other site.
    let limited = owner
        .post(
            "/api/v1/tokens",
            &json!({ "name": "blog only", "sites": [elsewhere] }),
        )
        .expect(201);
    let limited = owner.with_token(limited["secret"].as_str().unwrap_or_default());
    assert_eq!(limited.get(&keys).status, 404);
    assert_eq!(writes(&limited), [404; 4]);
    assert_eq!(
        limited
            .get(&format!("/api/v1/sites/{elsewhere}/captcha_keys"))
            .expect(200),
        json!([])
    );

    // Nothing the refused calls tried happened.
    let listed = admin.get(&keys).expect(200);
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert_eq!(listed[0]["suspended"], false);
    owner.delete(&one).expect(204);
}

on_both_backends!(
    captcha_keys_lifecycle,
    challenge_settings_through_the_site,
    captcha_keys_isolation
);

const DAY_MS: i64 = 24 * 3600 * 1000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signing keys a node keeps in its last-good snapshot (what it
/// installed in the edge), as (id, hex secret), newest first.
fn kept_keys(node: &Rampart) -> Vec<(u64, String)> {
    let file = node.dir.path().join("data/last-good-snapshot.json");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let kept: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    kept["challenge_keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    (
                        k["id"].as_u64().unwrap_or(0),
                        k["secret"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_for_keys(node: &Rampart, expected: &[(u64, String)]) {
    let start = Instant::now();
    loop {
        let kept = kept_keys(node);
        if kept == expected {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "node keeps {:?}, the store has {:?}",
            kept.iter().map(|k| k.0).collect::<Vec<_>>(),
            expected.iter().map(|k| k.0).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_share_the_challenge_signing_keys() {
    let table = store_table(Backend::Postgres).await;
    let url = table
        .split('"')
        .nth(1)
        .unwrap_or_else(|| panic!("no url in {table}"))
        .to_owned();
    let first = Rampart::builder().tables(&table).start();
    let second = Rampart::builder().tables(&table).start();
    let store = rampart_store::Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    let keys = |records: Vec<rampart_store::ChallengeKeyRecord>| -> Vec<(u64, String)> {
        records
            .iter()
            .map(|k| (u64::from(k.id), hex(&k.secret)))
            .collect()
    };
    let stored = keys(store.challenge_keys(10).await.unwrap_or_default());
    assert_eq!(stored.len(), 1, "two starts made one key");
    for node in [&first, &second] {
        wait_for_keys(node, &stored).await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let file = node.dir.path().join("data/last-good-snapshot.json");
            let mode = std::fs::metadata(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the kept snapshot holds secrets");
        }
        let log = node.stderr();
        assert!(!log.contains(&stored[0].1), "a key in the log:\n{log}");
    }

    // A day later by the store's clock: one new key, on both nodes, with
    // the previous one still accepted.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    let rotated = store
        .rotate_challenge_key(now + DAY_MS, DAY_MS)
        .await
        .unwrap_or_else(|e| panic!("rotate: {e}"));
    assert_eq!(rotated.map(|k| k.id), Some(2));
    let stored = keys(store.challenge_keys(10).await.unwrap_or_default());
    assert_eq!(stored.iter().map(|k| k.0).collect::<Vec<_>>(), [2, 1]);
    wait_for_keys(&first, &stored).await;
    wait_for_keys(&second, &stored).await;
    let audit = first.admin_api().get("/api/v1/audit").text;
    assert!(audit.contains("challenge_key.rotate"), "{audit}");
    for (_, secret) in &stored {
        assert!(!audit.contains(secret.as_str()), "{audit}");
    }
}
