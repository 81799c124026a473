//! HTTP/2 on both sides of the proxy: h2c prior knowledge and ALPN h2 from
//! clients, h2c and TLS origins, and origin certificate verification.

mod support;

use http::Version;
use support::client::{Proto, get, send, send_tls};
use support::origin::{self, Protocol};
use support::{Rampart, write_cert};

fn site(name: &str, host: &str, origins: &str, extra: &str) -> String {
    format!("[[site]]\nname = \"{name}\"\nhosts = [\"{host}\"]\norigins = [{origins}]\n{extra}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_client_through_to_h2c_origin() {
    let origin = origin::builder("h2c")
        .protocol(Protocol::Http2)
        .start()
        .await;
    let rampart = Rampart::start(&site(
        "shop",
        "shop.test",
        &format!("{{ url = \"{}\", protocol = \"http2\" }}", origin.url()),
        "",
    ));

    for path in ["/first?x=1", "/second"] {
        let reply = send(rampart.http, Proto::Http2, get("shop.test", path)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.version, Version::HTTP_2, "client side speaks h2");
        let echo = reply.json();
        assert_eq!(echo["origin"], "h2c");
        assert_eq!(echo["version"], "HTTP/2.0", "origin side speaks h2: {echo}");
        // RFC 9113 §8.3.1: the site's host travels as :authority, and no
        // Host field that could contradict it.
        assert_eq!(echo["uri"], format!("http://shop.test{path}"), "{echo}");
        assert_eq!(echo["headers"]["host"], serde_json::Value::Null, "{echo}");
        assert_eq!(echo["method"], "GET");
    }

    // An HTTP/1.1 client is translated to HTTP/2 towards the origin too.
    let reply = send(rampart.http, Proto::Http1, get("shop.test", "/h1")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.version, Version::HTTP_11);
    assert_eq!(reply.json()["version"], "HTTP/2.0");

    let ray = reply.ray();
    let lines = rampart.access_log_until(|l| l.iter().filter(|l| l["status"] == 200).count() >= 3);
    let h2_lines = lines.iter().filter(|l| l["protocol"] == "HTTP/2").count();
    assert_eq!(h2_lines, 2, "client protocol logged as HTTP/2: {lines:?}");
    let h1 = lines
        .iter()
        .find(|l| l["ray"] == ray.as_str())
        .unwrap_or_else(|| panic!("no log line for {ray}"));
    assert_eq!(h1["protocol"], "HTTP/1.1");
    assert_eq!(h1["origin"], origin.url());
}

#[tokio::test(flavor = "multi_thread")]
async fn alpn_h2_client_over_tls() {
    let origin = origin::start("plain").await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (_, _, der) = write_cert(dir.path(), "shop", &["shop.test"]);
    let rampart = Rampart::builder()
        .dir(dir)
        .sites(&site(
            "shop",
            "shop.test",
            &format!("\"{}\"", origin.url()),
            "tls = { cert = \"shop.pem\", key = \"shop.key\" }",
        ))
        .start();

    let reply = send_tls(
        rampart.https,
        "shop.test",
        &der,
        Proto::Http2,
        get("shop.test", "/tls-h2"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.version, Version::HTTP_2, "ALPN negotiated h2");
    assert_eq!(reply.peer_cert.as_deref(), Some(der.as_slice()));
    let echo = reply.json();
    assert_eq!(
        echo["version"], "HTTP/1.1",
        "http:// origin defaults to HTTP/1.1"
    );
    assert_eq!(echo["headers"]["x-forwarded-proto"][0], "https");
    assert_eq!(
        echo["headers"]["host"][0], "shop.test",
        "host from :authority"
    );

    let reply = send_tls(
        rampart.https,
        "shop.test",
        &der,
        Proto::Http1,
        get("shop.test", "/tls-h1"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.version, Version::HTTP_11, "ALPN negotiated http/1.1");

    let lines = rampart.access_log_until(|l| l.len() >= 2);
    assert!(
        lines
            .iter()
            .any(|l| l["path"] == "/tls-h2" && l["protocol"] == "HTTP/2" && l["tls"] == true),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn https_origin_with_alpn_when_verification_is_off() {
    let h2 = origin::builder("tls-auto").tls().start().await;
    let h1 = origin::builder("tls-h1")
        .protocol(Protocol::Http1)
        .tls()
        .start()
        .await;
    let https = |o: &origin::TestOrigin| format!("https://{}", o.addr);
    let rampart = Rampart::start(&format!(
        "{}{}",
        site(
            "auto",
            "auto.test",
            &format!("{{ url = \"{}\", protocol = \"auto\" }}", https(&h2)),
            "origin_tls_verify = false",
        ),
        site(
            "old",
            "old.test",
            &format!("{{ url = \"{}\", protocol = \"auto\" }}", https(&h1)),
            "origin_tls_verify = false",
        ),
    ));

    for proto in [Proto::Http1, Proto::Http2] {
        let reply = send(rampart.http, proto, get("auto.test", "/over-tls")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let echo = reply.json();
        assert_eq!(echo["origin"], "tls-auto");
        assert_eq!(
            echo["version"], "HTTP/2.0",
            "ALPN picked h2 towards the origin: {echo}"
        );
    }

    // An origin that only offers http/1.1 in ALPN gets HTTP/1.1.
    let reply = send(rampart.http, Proto::Http2, get("old.test", "/over-tls")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["origin"], "tls-h1");
    assert_eq!(reply.json()["version"], "HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_https_origin_is_refused_when_verification_is_on() {
    let origin = origin::builder("self-signed").tls().start().await;
    let rampart = Rampart::start(&site(
        "strict",
        "strict.test",
        &format!("\"https://{}\"", origin.addr),
        "",
    ));

    let reply = send(rampart.http, Proto::Http1, get("strict.test", "/secret")).await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(reply.text().contains(&reply.ray()), "page shows the ray id");
    assert!(
        reply.header("x-origin").is_none(),
        "nothing came from the origin"
    );

    let ray = reply.ray();
    let lines = rampart.access_log_until(|l| l.iter().any(|l| l["ray"] == ray.as_str()));
    let line = lines
        .iter()
        .find(|l| l["ray"] == ray.as_str())
        .unwrap_or_else(|| panic!("no log line for {ray}"));
    assert_eq!(line["status"], 502);
    assert_eq!(line["origin_status"], serde_json::Value::Null);
    assert!(line["error"].as_str().is_some(), "error recorded: {line}");

    // Same origin, same edge, verification off for this site: it works.
    let relaxed = Rampart::start(&site(
        "relaxed",
        "strict.test",
        &format!("\"https://{}\"", origin.addr),
        "origin_tls_verify = false",
    ));
    let reply = send(relaxed.http, Proto::Http1, get("strict.test", "/secret")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["origin"], "self-signed");
}
