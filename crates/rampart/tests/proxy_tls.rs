//! TLS termination: the certificate presented per SNI name, the default
//! certificate for other names, old protocol versions refused, the
//! HTTP→HTTPS redirect and HSTS.

mod support;

use support::client::{Proto, get, send, send_tls};
use support::wire::{metric_value, pem_cert_der, presented_cert, read_until_close, tls_over};
use support::{Rampart, origin, write_cert};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Certs {
    shop: Vec<u8>,
    blog: Vec<u8>,
}

/// shop.test (+ *.shop.test) redirects to https and sends HSTS with
/// includeSubDomains; blog.test stays on http and sends a plain HSTS on https.
async fn two_sites() -> (Rampart, Certs, origin::TestOrigin, origin::TestOrigin) {
    let shop = origin::start("shop").await;
    let blog = origin::start("blog").await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::create_dir(dir.path().join("certs")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let (_, _, shop_der) = write_cert(
        &dir.path().join("certs"),
        "shop",
        &["shop.test", "*.shop.test"],
    );
    let (_, _, blog_der) = write_cert(dir.path(), "blog", &["blog.test"]);
    let rampart = Rampart::builder()
        .dir(dir)
        .sites(&format!(
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\", \"*.shop.test\"]\norigins = [\"{}\"]\n\
             tls = {{ cert = \"certs/shop.pem\", key = \"certs/shop.key\" }}\n\
             https_redirect = true\nhsts = {{ max_age = \"1d\", include_subdomains = true }}\n\n\
             [[site]]\nname = \"blog\"\nhosts = [\"blog.test\"]\norigins = [\"{}\"]\n\
             tls = {{ cert = \"blog.pem\", key = \"blog.key\" }}\nhsts = {{ max_age = \"1d\" }}\n",
            shop.url(),
            blog.url()
        ))
        .start();
    (
        rampart,
        Certs {
            shop: shop_der,
            blog: blog_der,
        },
        shop,
        blog,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn each_sni_name_gets_its_sites_certificate_and_others_the_default() {
    let (rampart, certs, _shop, _blog) = two_sites().await;
    let default_der = pem_cert_der(&rampart.dir.path().join("data/tls/default-cert.pem"));
    assert_ne!(default_der, certs.shop);
    assert_ne!(default_der, certs.blog);

    assert_eq!(presented_cert(rampart.https, "shop.test").await, certs.shop);
    assert_eq!(
        presented_cert(rampart.https, "www.shop.test").await,
        certs.shop,
        "wildcard host"
    );
    assert_eq!(
        presented_cert(rampart.https, "SHOP.TEST").await,
        certs.shop,
        "SNI is case-insensitive"
    );
    assert_eq!(presented_cert(rampart.https, "blog.test").await, certs.blog);
    assert_eq!(
        presented_cert(rampart.https, "unknown.test").await,
        default_der
    );
    assert_eq!(
        presented_cert(rampart.https, "shop.test.evil").await,
        default_der
    );
    // An IP address sends no SNI at all.
    assert_eq!(
        presented_cert(rampart.https, "127.0.0.1").await,
        default_der
    );

    // Verified end to end with each certificate as the only trusted root.
    for (host, der, name) in [
        ("shop.test", &certs.shop, "shop"),
        ("blog.test", &certs.blog, "blog"),
    ] {
        for proto in [Proto::Http1, Proto::Http2] {
            let reply = send_tls(rampart.https, host, der, proto, get(host, "/")).await;
            assert_eq!(reply.status, 200, "{host}: {}", reply.text());
            assert_eq!(reply.json()["origin"], name);
            assert_eq!(reply.peer_cert.as_deref(), Some(der.as_slice()));
        }
    }
    // The generated default certificate is valid for 127.0.0.1 (no SNI).
    let reply = send_tls(
        rampart.https,
        "127.0.0.1",
        &default_der,
        Proto::Http1,
        get("blog.test", "/"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["origin"], "blog");
}

/// A ClientHello that offers at most `version` (0x0301 = TLS 1.0, 0x0302 = TLS 1.1,
/// 0x0303 = TLS 1.2) and no supported_versions extension, as an old client
/// sends it. Its suites, groups and signature schemes are ones the server
/// supports, so that the version is the only thing that can be refused.
fn legacy_client_hello(version: u16, sni: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // session id
    // ECDHE-ECDSA/RSA with AES-GCM and ChaCha20-Poly1305.
    let suites: [u16; 6] = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    let name = sni.as_bytes();
    let mut ext = Vec::new();
    // server_name
    ext.extend_from_slice(&[0x00, 0x00]);
    ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    ext.extend_from_slice(name);
    // supported_groups: secp256r1, x25519
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x1d]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
    ext.extend_from_slice(&[
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01,
    ]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);

    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

async fn handshake_failures(rampart: &Rampart) -> i64 {
    metric_value(
        &rampart.metrics(),
        "rampart_tls_handshake_failures_total{listener=\"https\"}",
    )
    .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_0_and_1_1_are_refused() {
    let (rampart, certs, _shop, _blog) = two_sites().await;
    assert_eq!(handshake_failures(&rampart).await, 0);

    // Control: the same hello offering TLS 1.2 is answered with a ServerHello.
    let mut stream = TcpStream::connect(rampart.https)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .write_all(&legacy_client_hello(0x0303, "shop.test"))
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut first = [0u8; 6];
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_exact(&mut first),
    )
    .await
    .unwrap_or_else(|_| panic!("no answer to a TLS 1.2 hello"))
    .unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(
        (first[0], first[5]),
        (0x16, 0x02),
        "handshake record with a ServerHello: {first:?}"
    );
    drop(stream);

    for (version, label) in [(0x0301u16, "TLS 1.0"), (0x0302u16, "TLS 1.1")] {
        let mut stream = TcpStream::connect(rampart.https)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        stream
            .write_all(&legacy_client_hello(version, "shop.test"))
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let answer = read_until_close(&mut stream).await;
        // Either a fatal alert record (21) or a plain close; never a ServerHello (22).
        assert_ne!(
            answer.first(),
            Some(&0x16),
            "{label}: server went on with the handshake"
        );
        if let Some(&content_type) = answer.first() {
            assert_eq!(
                content_type, 0x15,
                "{label}: expected an alert, got {answer:?}"
            );
            // Alert body: level 2 (fatal), description 70 (protocol_version).
            assert_eq!(
                answer.get(5..7),
                Some(&[2u8, 70][..]),
                "{label}: {answer:?}"
            );
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    // The control handshake was abandoned by the client: it counts as failed too.
    while handshake_failures(&rampart).await < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(handshake_failures(&rampart).await, 3);

    // The modern path still works on the same listener.
    let reply = send_tls(
        rampart.https,
        "shop.test",
        &certs.shop,
        Proto::Http1,
        get("shop.test", "/"),
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_is_redirected_to_https_and_hsts_is_sent_on_https_only() {
    let (rampart, certs, shop, _blog) = two_sites().await;
    let https_port = rampart.https.port();
    let hits_before = shop.hits.load(std::sync::atomic::Ordering::Relaxed);

    for (host, path, expected) in [
        (
            "shop.test",
            "/a/b?c=d&e",
            format!("https://shop.test:{https_port}/a/b?c=d&e"),
        ),
        (
            "SHOP.test:8080",
            "/",
            format!("https://shop.test:{https_port}/"),
        ),
        (
            "www.shop.test",
            "/x",
            format!("https://www.shop.test:{https_port}/x"),
        ),
    ] {
        for proto in [Proto::Http1, Proto::Http2] {
            let reply = send(rampart.http, proto, get(host, path)).await;
            assert_eq!(reply.status, 308, "{host}{path}");
            assert_eq!(
                reply.header("location"),
                Some(expected.as_str()),
                "{host}{path}"
            );
            assert!(
                reply.header("strict-transport-security").is_none(),
                "no HSTS over http"
            );
            assert_eq!(reply.ray().len(), 16);
        }
    }
    assert_eq!(
        shop.hits.load(std::sync::atomic::Ordering::Relaxed),
        hits_before,
        "redirects are answered at the edge"
    );

    // Following the redirect: https is served, with HSTS.
    let reply = send_tls(
        rampart.https,
        "shop.test",
        &certs.shop,
        Proto::Http1,
        get("shop.test", "/a/b"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("strict-transport-security"),
        Some("max-age=86400; includeSubDomains")
    );
    let reply = send_tls(
        rampart.https,
        "shop.test",
        &certs.shop,
        Proto::Http2,
        get("shop.test", "/a/b"),
    )
    .await;
    assert_eq!(
        reply.header("strict-transport-security"),
        Some("max-age=86400; includeSubDomains")
    );

    // blog.test: no redirect; HSTS only on its https responses.
    let reply = send(rampart.http, Proto::Http1, get("blog.test", "/")).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("strict-transport-security").is_none());
    let reply = send_tls(
        rampart.https,
        "blog.test",
        &certs.blog,
        Proto::Http1,
        get("blog.test", "/"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("strict-transport-security"),
        Some("max-age=86400")
    );

    // An unknown host over https gets no site's HSTS.
    let stream = TcpStream::connect(rampart.https)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let mut tls = tls_over(stream, "nope.test", &[b"http/1.1"]).await;
    let reply = support::wire::raw_exchange(
        &mut tls,
        b"GET / HTTP/1.1\r\nHost: nope.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 404);
    assert!(reply.header("strict-transport-security").is_none());
}
