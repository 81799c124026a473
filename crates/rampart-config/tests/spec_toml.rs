//! Site specs agree with the TOML file: the same values pass and fail either
//! way, and every site of a file survives `SiteSpec::from_config` followed
//! by `compile_site`.

mod support;

use rampart_config::*;
use serde_json::json;
use support::{MIN_SITE, TempDir, spec, with};

/// The same verdict for a value whichever front end it comes through.
#[test]
fn toml_and_spec_accept_the_same_values() {
    let dir = TempDir::new();
    let toml_ok = |text: String| dir.parse(&text).is_ok();
    let spec_ok = |v: serde_json::Value| compile_site(&spec(v), &Timeouts::default()).is_ok();
    for host in [
        "a.test",
        "*.a.test",
        "::1",
        "[::1]",
        "10.0.0.1",
        "a_b.test",
        "*.10.0.0.1",
        "a.test:80",
        "A.Test",
        "a..b",
    ] {
        assert_eq!(
            toml_ok(MIN_SITE.replace("\"a.test\"", &format!("{host:?}"))),
            spec_ok(with("hosts", json!([host]))),
            "{host}"
        );
    }
    for url in [
        "http://a:1",
        "https://a",
        "http://a:1/x",
        "a:1",
        "http://my_app",
        "http://a:0",
        "http://[::1]:80",
    ] {
        assert_eq!(
            toml_ok(MIN_SITE.replace("http://127.0.0.1:9001", url)),
            spec_ok(with("origins", json!([url]))),
            "{url}"
        );
    }
    for name in ["a", "0-a_b", "A", "_a", "a.b"] {
        assert_eq!(
            toml_ok(MIN_SITE.replace("name = \"a\"", &format!("name = {name:?}"))),
            spec_ok(with("name", json!(name))),
            "{name}"
        );
    }
    for path in ["/", "/up?x=1", "up", "/a b"] {
        assert_eq!(
            toml_ok(format!("{MIN_SITE}health = {{ path = {path:?} }}\n")),
            spec_ok(with("health", json!({"path": path}))),
            "{path}"
        );
    }
}

/// Every site of a file, through `from_config`, JSON and back through
/// `compile_site`, is the site it was (its certificate now comes from the spec).
#[test]
fn toml_sites_round_trip_through_specs() {
    let dir = TempDir::new();
    dir.write_cert("shop", "shop.test");
    let a = rcgen::generate_simple_self_signed(vec!["api.test".to_owned()]).unwrap();
    let b = rcgen::generate_simple_self_signed(vec!["ca.test".to_owned()]).unwrap();
    dir.write(
        "certs/chain.pem",
        format!("{}{}", a.cert.pem(), b.cert.pem()),
    );
    dir.write("certs/api.key", a.signing_key.serialize_pem());
    dir.write("pages/404.html", "<h1>{{status}} {{title}}</h1>\n");
    dir.write("pages/503.html", "<p>{{message}} {{ray_id}} {{host}}</p>");
    let text = r#"
[proxy]
timeouts = { connect = "3s", request_header = "7s", idle = "45s", origin_response = "2m" }

[[site]]
name = "shop"
hosts = ["shop.test", "*.shop.test"]
origins = ["http://127.0.0.1:9001", { url = "https://10.0.0.2", weight = 3 }, { url = "http://127.0.0.1:9003", protocol = "http2" }]
lb = "ip_hash"
health = { path = "/healthz?deep=1", interval = "1500ms", timeout = "250ms", rise = 4, fall = 6 }
tls = { cert = "certs/shop.pem", key = "certs/shop.key" }
https_redirect = true
hsts = { max_age = "730d", include_subdomains = true, preload = true }
origin_tls_verify = false
retries = 0
timeouts = { origin_response = "5s" }
pages = { not_found = "pages/404.html", service_unavailable = "pages/503.html" }
security_level = "high"
under_attack = true

[[site]]
name = "api"
hosts = ["*.api.test", "[::1]", "10.1.2.3", "api.test"]
origins = ["https://origin.test:8443", "http://[::1]:9009"]
health = { host = "internal.api.test" }
tls = { cert = "certs/chain.pem", key = "certs/api.key" }
hsts = { max_age = "0s" }
security_level = "off"

[[site]]
name = "wild"
hosts = ["*.wild.test"]
origins = ["http://127.0.0.1:1"]
health = {}
security_level = "low"
"#;
    let cfg = dir.parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.sites.len(), 3);
    for site in &cfg.sites {
        let spec = SiteSpec::from_config(site);
        // Stored as JSON, read back unchanged.
        let json = serde_json::to_string(&spec).unwrap();
        let stored: SiteSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(stored, spec);
        // Other node defaults must not matter: the spec carries its timeouts.
        let mut compiled = compile_site(&stored, &Timeouts::default())
            .unwrap_or_else(|e| panic!("site {}: {e:#?}\n{json}", site.name));
        if let (Some(tls), Some(original)) = (&mut compiled.tls, &site.tls) {
            assert_eq!(tls.source, TlsSource::Spec);
            tls.source = original.source.clone();
        }
        assert_eq!(compiled, *site, "{json}");
    }

    // What the provisioned JSON looks like.
    let shop = serde_json::to_value(SiteSpec::from_config(&cfg.sites[0])).unwrap();
    assert_eq!(
        shop["origins"],
        json!([
            "http://127.0.0.1:9001",
            {"url": "https://10.0.0.2:443", "weight": 3, "protocol": "auto"},
            {"url": "http://127.0.0.1:9003", "weight": 1, "protocol": "http2"}
        ])
    );
    assert_eq!(
        shop["health"],
        json!({"path": "/healthz?deep=1", "interval": "1500ms", "timeout": "250ms", "rise": 4, "fall": 6})
    );
    assert_eq!(
        shop["timeouts"],
        json!({"connect": "3s", "request_header": "7s", "idle": "45s", "origin_response": "5s"})
    );
    assert_eq!(shop["hsts"]["max_age"], "730d");
    assert!(
        shop["tls"]["cert_pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    assert!(
        shop["tls"]["key_pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    assert_eq!(shop["pages"].as_object().unwrap().len(), 2);
    // A health host that differs from the derived default is kept.
    let api = SiteSpec::from_config(&cfg.sites[1]);
    assert_eq!(
        api.health.unwrap().host.as_deref(),
        Some("internal.api.test")
    );
    assert_eq!(api.hosts, ["*.api.test", "::1", "10.1.2.3", "api.test"]);
}
