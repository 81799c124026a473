//! A real nginx as an ordinary origin, over HTTP/1.1 and h2c. Fails (with
//! install instructions) when nginx is missing; CI installs it.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use support::client::{Proto, get, send};
use support::nginx::Nginx;
use support::wire::metric_value;
use support::{Rampart, nginx};

const HEALTH: &str = "health = { path = \"/healthz\", interval = \"200ms\", timeout = \"150ms\", rise = 1, fall = 1 }";

/// Waits for Rampart's health checks to reach nginx (its access log) and
/// checks that they passed, over `protocol`, and that nginx refused nothing.
async fn assert_health_checks_pass(rampart: &Rampart, nginx: &Nginx, site: &str, protocol: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let checks = loop {
        let checks: Vec<String> = nginx
            .access_log()
            .into_iter()
            .filter(|l| l.contains("/healthz"))
            .collect();
        if checks.len() >= 2 {
            break checks;
        }
        assert!(
            Instant::now() < deadline,
            "no health checks reached nginx:\n{}",
            nginx.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for line in &checks {
        assert!(
            line.contains(&format!("\"GET /healthz {protocol}\" 200 ")),
            "{line}"
        );
    }
    let refused: Vec<String> = nginx
        .access_log()
        .into_iter()
        .filter(|l| l.contains("\" 400 "))
        .collect();
    assert!(
        refused.is_empty(),
        "nginx refused requests: {refused:?}\n{}",
        nginx.logs()
    );
    let series = format!(
        "rampart_origin_healthy{{site=\"{site}\",origin=\"{}\"}}",
        nginx.url()
    );
    assert_eq!(
        metric_value(&rampart.metrics(), &series),
        Some(1),
        "{series}"
    );
}

/// Directives for nginx's server block: fixed answers, the forwarding headers
/// it received, and static files from `www`.
fn locations(www: &std::path::Path) -> String {
    format!(
        "root {www};\n\
         location = / {{ return 200 \"nginx-origin\\n\"; }}\n\
         location = /healthz {{ return 200 \"ok\\n\"; }}\n\
         location = /headers {{ return 200 \"xff=$http_x_forwarded_for proto=$http_x_forwarded_proto xhost=$http_x_forwarded_host host=$host forwarded=$http_forwarded protocol=$server_protocol\\n\"; }}\n\
         location = /teapot {{ return 418 \"short and stout\\n\"; }}\n\
         location = /moved {{ return 301 /new-home; }}\n\
         location /files/ {{ }}\n",
        www = www.display()
    )
}

/// 3 MiB of varied bytes under www/files/blob.bin.
fn static_files() -> (tempfile::TempDir, Vec<u8>) {
    let www = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::create_dir(www.path().join("files")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let blob: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(www.path().join("files/blob.bin"), &blob)
        .unwrap_or_else(|e| panic!("write: {e}"));
    (www, blob)
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_serves_as_an_http1_origin() {
    let (www, blob) = static_files();
    let nginx = nginx::builder().server(&locations(www.path())).start();
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"web\"\nhosts = [\"web.test\"]\norigins = [\"{}\"]\n",
        nginx.url()
    ));

    for proto in [Proto::Http1, Proto::Http2] {
        // Several requests: pooled keep-alive connections to nginx get reused.
        for _ in 0..3 {
            let reply = send(rampart.http, proto, get("web.test", "/")).await;
            assert_eq!(reply.status, 200, "{}\n{}", reply.text(), nginx.logs());
            assert_eq!(reply.text(), "nginx-origin\n");
            assert_eq!(
                reply.header("server").map(|s| s.starts_with("nginx")),
                Some(true)
            );
            assert_eq!(reply.ray().len(), 16);
        }
    }

    let reply = send(rampart.http, Proto::Http1, get("web.test", "/headers")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.text(),
        "xff=127.0.0.1 proto=http xhost=web.test host=web.test forwarded=for=127.0.0.1;proto=http;host=web.test protocol=HTTP/1.1\n"
    );

    let reply = send(rampart.http, Proto::Http1, get("web.test", "/teapot")).await;
    assert_eq!(reply.status, 418, "origin statuses pass through");
    assert_eq!(reply.text(), "short and stout\n");

    let reply = send(rampart.http, Proto::Http1, get("web.test", "/moved")).await;
    assert_eq!(reply.status, 301);
    assert!(
        reply
            .header("location")
            .is_some_and(|l| l.ends_with("/new-home")),
        "{:?}",
        reply.headers
    );

    for proto in [Proto::Http1, Proto::Http2] {
        let reply = send(rampart.http, proto, get("web.test", "/files/blob.bin")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("content-length"),
            Some(blob.len().to_string().as_str())
        );
        assert!(reply.body == blob, "static file arrives byte for byte");
        let reply = send(rampart.http, proto, get("web.test", "/files/missing")).await;
        assert_eq!(reply.status, 404, "nginx's own 404 passes through");
        assert!(reply.text().contains("nginx"), "{}", reply.text());
    }

    // A request body nginx does not want is still delivered and discarded cleanly.
    let post = Request::post("/")
        .header(http::header::HOST, "web.test")
        .body(Full::new(Bytes::from(vec![b'x'; 256 * 1024])))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let reply = send(rampart.http, Proto::Http1, post).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "nginx-origin\n");

    let root = |l: &serde_json::Value| l["path"] == "/" && l["origin_status"] == 200;
    let lines = rampart.access_log_until(|l| l.iter().filter(|l| root(l)).count() >= 7);
    assert_eq!(lines.iter().filter(|l| root(l)).count(), 7, "{lines:?}");
    let post = lines
        .iter()
        .find(|l| l["method"] == "POST")
        .unwrap_or_else(|| panic!("no POST line: {lines:?}"));
    assert_eq!(post["status"], 200);
    // nginx answers `return` before reading the body: bytes_in is what had
    // been forwarded when the response ended.
    assert!(
        post["bytes_in"].as_u64().is_some_and(|n| n <= 256 * 1024),
        "{post}"
    );
    assert!(
        lines.iter().all(|l| l["origin"] == nginx.url()),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_serves_as_an_h2c_origin() {
    let (www, blob) = static_files();
    let nginx = nginx::builder()
        .http2()
        .access_log()
        .server(&locations(www.path()))
        .start();
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"web\"\nhosts = [\"web.test\"]\norigins = [{{ url = \"{}\", protocol = \"http2\" }}]\n{HEALTH}\n",
        nginx.url()
    ));

    for proto in [Proto::Http1, Proto::Http2] {
        let reply = send(rampart.http, proto, get("web.test", "/")).await;
        assert_eq!(reply.status, 200, "{}\n{}", reply.text(), nginx.logs());
        assert_eq!(reply.text(), "nginx-origin\n");

        let reply = send(rampart.http, proto, get("web.test", "/headers")).await;
        assert_eq!(reply.status, 200, "{}\n{}", reply.text(), nginx.logs());
        assert_eq!(
            reply.text(),
            "xff=127.0.0.1 proto=http xhost=web.test host=web.test forwarded=for=127.0.0.1;proto=http;host=web.test protocol=HTTP/2.0\n",
            "nginx saw HTTP/2 and the site's host"
        );

        let reply = send(rampart.http, proto, get("web.test", "/files/blob.bin")).await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.body == blob,
            "static file arrives byte for byte over h2"
        );
    }
    assert_health_checks_pass(&rampart, &nginx, "web", "HTTP/2.0").await;
}

/// The default for https:// origins: ALPN picks h2 with an nginx that offers it.
#[tokio::test(flavor = "multi_thread")]
async fn nginx_serves_as_an_https_origin_with_alpn() {
    let (www, blob) = static_files();
    let h2 = nginx::builder()
        .tls()
        .http2()
        .access_log()
        .server(&locations(www.path()))
        .start();
    let h1 = nginx::builder()
        .tls()
        .access_log()
        .server(&locations(www.path()))
        .start();
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"web\"\nhosts = [\"web.test\"]\norigins = [\"{}\"]\norigin_tls_verify = false\n{HEALTH}\n\n\
         [[site]]\nname = \"old\"\nhosts = [\"old.test\"]\norigins = [\"{}\"]\norigin_tls_verify = false\n{HEALTH}\n",
        h2.url(),
        h1.url()
    ));

    for (host, nginx, protocol) in [("web.test", &h2, "HTTP/2.0"), ("old.test", &h1, "HTTP/1.1")] {
        for proto in [Proto::Http1, Proto::Http2] {
            let reply = send(rampart.http, proto, get(host, "/headers")).await;
            assert_eq!(
                reply.status,
                200,
                "{host}: {}\n{}",
                reply.text(),
                nginx.logs()
            );
            assert_eq!(
                reply.text(),
                format!(
                    "xff=127.0.0.1 proto=http xhost={host} host={host} forwarded=for=127.0.0.1;proto=http;host={host} protocol={protocol}\n"
                ),
            );
            let reply = send(rampart.http, proto, get(host, "/files/blob.bin")).await;
            assert_eq!(reply.status, 200);
            assert!(reply.body == blob, "static file arrives byte for byte");
        }
    }
    assert_health_checks_pass(&rampart, &h2, "web", "HTTP/2.0").await;
    assert_health_checks_pass(&rampart, &h1, "old", "HTTP/1.1").await;
}

/// With verification on (the default), an https origin's certificate is
/// checked against the origin's own name from the configuration, while the
/// site's host travels as Host / :authority.
#[tokio::test(flavor = "multi_thread")]
async fn https_origin_is_verified_against_its_own_name() {
    let (www, _) = static_files();
    let nginx = nginx::builder()
        .tls()
        .http2()
        .server(&locations(www.path()))
        .start();
    let port = nginx.addr.port();
    let cert = nginx.cert_pem();
    let rampart = Rampart::builder()
        .env("SSL_CERT_FILE", &cert.display().to_string())
        .sites(&format!(
            "[[site]]\nname = \"ip\"\nhosts = [\"ip.test\"]\norigins = [\"https://127.0.0.1:{port}\"]\n\n\
             [[site]]\nname = \"dns\"\nhosts = [\"dns.test\"]\norigins = [{{ url = \"https://localhost:{port}\", protocol = \"http1\" }}]\n"
        ))
        .start();
    for (host, protocol) in [("ip.test", "HTTP/2.0"), ("dns.test", "HTTP/1.1")] {
        let reply = send(rampart.http, Proto::Http1, get(host, "/headers")).await;
        assert_eq!(
            reply.status,
            200,
            "{host}: {}\n{}",
            reply.text(),
            nginx.logs()
        );
        assert!(
            reply.text().contains(&format!(" host={host} ")),
            "{}",
            reply.text()
        );
        assert!(
            reply.text().ends_with(&format!("protocol={protocol}\n")),
            "{}",
            reply.text()
        );
    }

    // The same origin without its certificate among the trusted roots: refused.
    let strict = Rampart::start(&format!(
        "[[site]]\nname = \"ip\"\nhosts = [\"ip.test\"]\norigins = [\"https://127.0.0.1:{port}\"]\n"
    ));
    let reply = send(strict.http, Proto::Http1, get("ip.test", "/headers")).await;
    assert_eq!(reply.status, 502);
}
