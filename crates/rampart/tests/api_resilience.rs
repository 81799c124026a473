//! Certificates uploaded through the API are served by SNI and never echoed;
//! an edge whose PostgreSQL is down still serves the last good snapshot,
//! rules, lists and operator rules included.

mod support;

use std::time::Duration;

use serde_json::json;
use support::client::{Proto, get, send, send_tls};
use support::ops::wait_until;
use support::{Rampart, http_get_body, origin, write_cert};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploaded_certificates_are_served_by_sni_and_kept_secret() {
    let shop = origin::start("shop").await;
    let rampart = Rampart::builder().start();
    let api = rampart.admin_api();
    let account = api
        .post("/api/v1/accounts", &json!({ "name": "acme" }))
        .expect(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (cert_path, key_path, cert_der) = write_cert(rampart.dir.path(), "shop", &["shop.test"]);
    let cert_pem = std::fs::read_to_string(cert_path).unwrap_or_default();
    let key_pem = std::fs::read_to_string(key_path).unwrap_or_default();
    let created = api
        .post(
            &format!("/api/v1/sites?account_id={account}"),
            &json!({ "name": "shop", "hosts": ["shop.test"], "origins": [shop.url()],
                     "tls": { "cert_pem": cert_pem, "key_pem": key_pem } }),
        )
        .expect(201);
    assert_eq!(created["spec"]["tls"]["key_pem"], "[redacted]");

    // Until the snapshot holds the site, the edge presents its default
    // certificate, which this client rejects; so wait for the site first.
    assert!(wait_until(Duration::from_secs(5), || {
        http_get_body(rampart.admin, "/healthz").is_some_and(|b| b.contains("\"sites\":1"))
    }));
    let reply = send_tls(
        rampart.https,
        "shop.test",
        &cert_der,
        Proto::Http1,
        get("shop.test", "/"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.peer_cert.as_deref(), Some(&cert_der[..]));

    // A PATCH that sends the redacted key back keeps the stored key.
    let mut spec = created["spec"].clone();
    spec["https_redirect"] = json!(true);
    api.put("/api/v1/sites/shop", &spec).expect(200);
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for path in ["/api/v1/sites/shop", "/api/v1/audit"] {
        let text = api.get(path).text;
        assert!(
            !text.contains(&key_body[..40]),
            "{path} shows the private key"
        );
    }
    // A key that does not match the certificate is refused at the field.
    let (_, other_key, _) = write_cert(rampart.dir.path(), "other", &["other.test"]);
    let mismatch = api.patch(
        "/api/v1/sites/shop",
        &json!({ "tls": { "cert_pem": cert_pem, "key_pem": std::fs::read_to_string(other_key).unwrap_or_default() } }),
    );
    assert_eq!(mismatch.status, 422, "{}", mismatch.text);
    assert!(mismatch.field().starts_with("tls"), "{}", mismatch.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_good_snapshot_serves_while_postgres_is_down() {
    let shop = origin::start("shop").await;
    let postgres = rampart_testkit::Postgres::start();
    let url = postgres.create_database().await;
    let mut rampart = Rampart::builder()
        .tables(&format!("[store]\nurl = \"{url}\"\n"))
        .start();
    let api = rampart.admin_api();
    let account = api
        .post("/api/v1/accounts", &json!({ "name": "acme" }))
        .expect(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.post(
        &format!("/api/v1/sites?account_id={account}"),
        &json!({ "name": "shop", "hosts": ["shop.test"], "origins": [shop.url()] }),
    )
    .expect(201);
    // Rules that need a list and operator rules are kept too.
    api.post(
        "/api/v1/lists",
        &json!({ "name": "office", "account_id": account, "items": ["192.0.2.0/24"] }),
    )
    .expect(201);
    api.put(
        "/api/v1/sites/shop/rules",
        &json!([{ "id": "admin", "expression": "http.request.uri.path eq \"/admin\" and not ip.src in $office", "action": "block" }]),
    )
    .expect(200);
    api.put(
        "/api/v1/operator/rules",
        &json!([{ "id": "ops", "expression": "http.request.uri.path eq \"/ops\"", "action": "block" }]),
    )
    .expect(200);
    let mut served = false;
    for _ in 0..200 {
        if send(rampart.http, Proto::Http1, get("shop.test", "/ops"))
            .await
            .status
            == 403
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "the site never reached the edge");

    drop(postgres);
    rampart.kill_and_restart();
    let reply = send(rampart.http, Proto::Http1, get("shop.test", "/")).await;
    assert_eq!(reply.status, 200, "{}", rampart.stderr());
    assert!(reply.text().contains("\"shop\""));
    for path in ["/admin", "/ops"] {
        let reply = send(rampart.http, Proto::Http1, get("shop.test", path)).await;
        assert_eq!(reply.status, 403, "{path}: {}", rampart.stderr());
    }
    let unavailable = api.get("/api/v1/sites");
    assert_eq!(unavailable.status, 503, "{}", unavailable.text);
    assert_eq!(unavailable.code(), "store_unavailable");
}
