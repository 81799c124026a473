//! Site specs (the JSON form of a site): what they compile to, every class of
//! field error, serde's own rejections, and the round trip from TOML sites.

mod support;

use std::time::Duration;

use rampart_config::*;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use support::{MIN_SITE, TempDir, base, spec, with};

fn compile(value: serde_json::Value) -> SiteConfig {
    compile_site(&spec(value), &Timeouts::default()).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn errors(value: serde_json::Value) -> Vec<FieldError> {
    match compile_site(&spec(value), &Timeouts::default()) {
        Ok(site) => panic!("expected field errors, spec compiled to {site:#?}"),
        Err(errs) => errs,
    }
}

/// Asserts that some error has this field and code and mentions every fragment.
#[track_caller]
fn assert_error(errs: &[FieldError], field: &str, code: &str, fragments: &[&str]) {
    let found = errs.iter().any(|e| {
        e.field == field && e.code == code && fragments.iter().all(|f| e.message.contains(f))
    });
    assert!(
        found,
        "no error {field} / {code} containing {fragments:?}; got {errs:#?}"
    );
}

fn uri(s: &str) -> http::Uri {
    s.parse().unwrap()
}

#[test]
fn full_spec_compiles_to_the_expected_site() {
    let ck = rcgen::generate_simple_self_signed(vec!["shop.test".to_owned()]).unwrap();
    let site = compile(json!({
        "name": "shop",
        "hosts": ["Shop.Test", "*.shop.test", "[::1]"],
        "origins": [
            "http://127.0.0.1:9001",
            {"url": "https://10.0.0.2", "weight": 2, "protocol": "http2"},
            {"url": "https://origin.test:8443"}
        ],
        "lb": "least_outstanding",
        "health": {"path": "/healthz", "interval": "2s", "timeout": "1s", "rise": 4, "fall": 5, "host": "internal.test"},
        "tls": {"cert_pem": ck.cert.pem(), "key_pem": ck.signing_key.serialize_pem()},
        "https_redirect": true,
        "hsts": {"max_age": "730d", "include_subdomains": true, "preload": true},
        "origin_tls_verify": false,
        "retries": 3,
        "timeouts": {"connect": "2s", "origin_response": "90s"},
        "pages": {"not_found": "<h1>{{status}}</h1>", "gateway_timeout": "<p>{{ray_id}}</p>"},
        "security_level": "high",
        "under_attack": true
    }));
    let expected = SiteConfig {
        name: "shop".into(),
        hosts: vec![
            HostPattern::Exact("shop.test".into()),
            HostPattern::Wildcard(".shop.test".into()),
            HostPattern::Exact("::1".into()),
        ],
        origins: vec![
            OriginConfig {
                url: uri("http://127.0.0.1:9001"),
                weight: 1,
                protocol: OriginProtocol::Http1,
            },
            OriginConfig {
                url: uri("https://10.0.0.2:443"),
                weight: 2,
                protocol: OriginProtocol::Http2,
            },
            OriginConfig {
                url: uri("https://origin.test:8443"),
                weight: 1,
                protocol: OriginProtocol::Auto,
            },
        ],
        lb: LbPolicy::LeastOutstanding,
        health: Some(HealthCheckConfig {
            path: "/healthz".into(),
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            rise: 4,
            fall: 5,
            host: Some("internal.test".into()),
        }),
        tls: Some(TlsCertConfig {
            source: TlsSource::Spec,
            chain: vec![CertificateDer::from(ck.cert.der().to_vec())],
            key: PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into()),
        }),
        https_redirect: true,
        hsts: Some(HstsConfig {
            max_age: Duration::from_secs(730 * 86400),
            include_subdomains: true,
            preload: true,
        }),
        origin_tls_verify: false,
        retries: 3,
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            origin_response: Duration::from_secs(90),
            ..Timeouts::default()
        },
        pages: PageTemplates {
            not_found: Some("<h1>{{status}}</h1>".into()),
            gateway_timeout: Some("<p>{{ray_id}}</p>".into()),
            ..PageTemplates::default()
        },
        security_level: SecurityLevel::High,
        under_attack: true,
        security: Default::default(),
        account: None,
        enforcement: Vec::new(),
    };
    assert_eq!(site, expected);
}

#[test]
fn minimal_spec_gets_the_same_defaults_as_a_toml_site() {
    let dir = TempDir::new();
    let from_toml = dir.parse(MIN_SITE).unwrap_or_else(|e| panic!("{e}"));
    let from_spec = compile(base());
    assert_eq!(from_spec, from_toml.sites[0]);
    // Health and HSTS tables with nothing in them, too.
    let text = format!("{MIN_SITE}health = {{}}\nhsts = {{}}\n");
    let from_toml = dir.parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut v = base();
    v["health"] = json!({});
    v["hsts"] = json!({});
    assert_eq!(compile(v), from_toml.sites[0]);
}

#[test]
fn partial_timeouts_merge_over_the_node_defaults() {
    let node = Timeouts {
        connect: Duration::from_secs(1),
        request_header: Duration::from_secs(2),
        idle: Duration::from_secs(3),
        origin_response: Duration::from_secs(4),
    };
    let s = spec(with("timeouts", json!({"idle": "30s"})));
    let site = compile_site(&s, &node).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(
        site.timeouts,
        Timeouts {
            idle: Duration::from_secs(30),
            ..node
        }
    );
    let site = compile_site(&spec(base()), &node).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(site.timeouts, node);
}

#[test]
fn every_problem_is_reported_with_its_field_and_code() {
    let errs = errors(json!({
        "name": "Shop!",
        "hosts": ["shop.test", "bad_host.test", "SHOP.test", ""],
        "origins": [
            "ftp://b:21",
            {"url": "http://e:1", "protocol": "auto"},
            {"url": "http://f:1", "weight": 0},
            {"url": "http://g:1", "protocol": "h3"},
            "http://E:1/",
            ""
        ],
        "lb": "random",
        "health": {"path": "healthz", "interval": "5x", "timeout": "0s", "rise": 0, "fall": 1001, "host": "*.a.test"},
        "hsts": {"max_age": "20y", "preload": true},
        "retries": 11,
        "timeouts": {"connect": "2 fortnights", "idle": "2d"},
        "security_level": "extreme"
    }));
    let expect: &[(&str, &str, &[&str])] = &[
        ("name", "invalid", &["invalid site name \"Shop!\""]),
        (
            "hosts[1]",
            "invalid",
            &["invalid host \"bad_host.test\"", "'_'"],
        ),
        (
            "hosts[2]",
            "duplicate",
            &["\"shop.test\" is listed twice (first at hosts[0])"],
        ),
        ("hosts[3]", "required", &["the name is empty"]),
        (
            "origins[0]",
            "invalid",
            &["scheme \"ftp\" is not supported; use http:// or https://"],
        ),
        (
            "origins[1].protocol",
            "invalid",
            &["needs an https:// origin"],
        ),
        (
            "origins[2].weight",
            "out_of_range",
            &["`origins[2].weight` must be between 1 and 1000, found 0"],
        ),
        (
            "origins[3].protocol",
            "invalid",
            &["unknown origin protocol \"h3\""],
        ),
        (
            "origins[4]",
            "duplicate",
            &["listed twice in this site (first at origins[1])", "weight"],
        ),
        ("origins[5]", "required", &["invalid origin URL \"\""]),
        (
            "lb",
            "invalid",
            &["unknown load-balancing policy \"random\""],
        ),
        (
            "health.path",
            "invalid",
            &["`health.path` must start with '/', found \"healthz\""],
        ),
        (
            "health.interval",
            "invalid",
            &["`health.interval`: invalid duration \"5x\"", "\"500ms\""],
        ),
        (
            "health.timeout",
            "out_of_range",
            &["`health.timeout`: duration \"0s\" must be greater than zero"],
        ),
        (
            "health.rise",
            "out_of_range",
            &["between 1 and 1000, found 0"],
        ),
        (
            "health.fall",
            "out_of_range",
            &["between 1 and 1000, found 1001"],
        ),
        (
            "health.host",
            "invalid",
            &["`health.host` must be a single host name, not a wildcard"],
        ),
        (
            "hsts.max_age",
            "out_of_range",
            &["`hsts.max_age`: duration \"20y\" must be at most"],
        ),
        (
            "hsts.preload",
            "invalid",
            &["`hsts.preload = true` requires `include_subdomains = true`"],
        ),
        (
            "retries",
            "out_of_range",
            &["`retries` must be between 0 and 10, found 11"],
        ),
        (
            "timeouts.connect",
            "invalid",
            &["invalid duration \"2 fortnights\""],
        ),
        ("timeouts.idle", "out_of_range", &["must be at most 1day"]),
        (
            "security_level",
            "invalid",
            &["unknown security level \"extreme\"", "\"medium\""],
        ),
    ];
    for (field, code, fragments) in expect {
        assert_error(&errs, field, code, fragments);
    }
    assert_eq!(errs.len(), expect.len(), "{errs:#?}");
}

#[test]
fn required_and_too_long() {
    let errs = errors(json!({"name": "", "hosts": [], "origins": []}));
    assert_error(&errs, "name", "required", &["site name is empty"]);
    assert_error(
        &errs,
        "hosts",
        "required",
        &["at least one host", "[\"shop.test\"]"],
    );
    assert_error(&errs, "origins", "required", &["at least one origin"]);
    assert_eq!(errs.len(), 3, "{errs:#?}");

    let errs = errors(with("name", json!("a".repeat(64))));
    assert_error(&errs, "name", "too_long", &["longer than 63 bytes"]);

    let big = "x".repeat((1 << 20) + 1);
    let errs = errors(with(
        "pages",
        json!({"bad_gateway": big, "not_found": "ok"}),
    ));
    assert_error(&errs, "pages.bad_gateway", "too_long", &["at most 1048576"]);
    assert_eq!(errs.len(), 1, "{errs:#?}");

    let big = "x".repeat((16 << 20) + 1);
    let errs = errors(with("tls", json!({"cert_pem": big, "key_pem": " \n"})));
    assert_error(
        &errs,
        "tls.cert_pem",
        "too_long",
        &["at most 16777216 are allowed"],
    );
    assert_error(&errs, "tls.key_pem", "required", &["must hold PEM text"]);
    assert_eq!(errs.len(), 2, "{errs:#?}");
}

#[test]
fn health_timeout_longer_than_interval() {
    let errs = errors(with("health", json!({"interval": "1s", "timeout": "3s"})));
    assert_error(
        &errs,
        "health.timeout",
        "out_of_range",
        &["`health.timeout` (3s) must not be longer than `health.interval` (1s)"],
    );
    // The default timeout (2s) against a written interval: the interval is at fault.
    let errs = errors(with("health", json!({"interval": "500ms"})));
    assert_error(
        &errs,
        "health.interval",
        "out_of_range",
        &["(2s, the default)"],
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    // A bad interval is reported once, not compared as well.
    let errs = errors(with("health", json!({"interval": "soon", "timeout": "3s"})));
    assert_eq!(errs.len(), 1, "{errs:#?}");
}

#[test]
fn tls_problems() {
    let one = rcgen::generate_simple_self_signed(vec!["a.test".to_owned()]).unwrap();
    let two = rcgen::generate_simple_self_signed(vec!["a.test".to_owned()]).unwrap();
    let errs = errors(with(
        "tls",
        json!({"cert_pem": one.cert.pem(), "key_pem": two.signing_key.serialize_pem()}),
    ));
    assert_error(
        &errs,
        "tls.key_pem",
        "key_mismatch",
        &["does not belong to the certificate"],
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");

    let errs = errors(with(
        "tls",
        json!({"cert_pem": one.signing_key.serialize_pem(), "key_pem": one.cert.pem()}),
    ));
    assert_error(
        &errs,
        "tls.cert_pem",
        "invalid",
        &["no certificate found in the PEM text", "BEGIN CERTIFICATE"],
    );
    assert_error(
        &errs,
        "tls.key_pem",
        "invalid",
        &["no private key found in the PEM text"],
    );

    let truncated = one.cert.pem().replace("-----END CERTIFICATE-----", "");
    let errs = errors(with(
        "tls",
        json!({"cert_pem": truncated, "key_pem": one.signing_key.serialize_pem()}),
    ));
    assert_error(
        &errs,
        "tls.cert_pem",
        "invalid",
        &["cannot parse the PEM text as PEM", "missing end marker"],
    );
}

#[test]
fn unknown_json_fields_are_rejected_by_serde() {
    let reject = |v: serde_json::Value| match serde_json::from_value::<SiteSpec>(v) {
        Ok(s) => panic!("accepted {s:?}"),
        Err(e) => e.to_string(),
    };
    let msg = reject(with("hots", json!(["a.test"])));
    assert!(
        msg.starts_with("unknown field `hots`, expected one of `name`, `hosts`"),
        "{msg}"
    );
    let msg = reject(with("health", json!({"intervall": "1s"})));
    assert!(
        msg.contains("unknown field `intervall`, expected one of `path`, `interval`"),
        "{msg}"
    );
    let msg = reject(with("origins", json!([{"url": "http://a:1", "wieght": 2}])));
    assert!(
        msg.contains("unknown field `wieght`, expected one of `url`, `weight`, `protocol`"),
        "{msg}"
    );
    let msg = reject(with("origins", json!([7])));
    assert!(msg.contains("expected a URL string or an object"), "{msg}");
    let msg = reject(json!({"name": "a", "hosts": ["a.test"]}));
    assert!(msg.contains("missing field `origins`"), "{msg}");
    let msg = reject(with("tls", json!({"cert_pem": "x"})));
    assert!(msg.contains("missing field `key_pem`"), "{msg}");
}

#[test]
fn serialization_skips_absent_fields_and_uses_the_short_origin_form() {
    let s = spec(json!({
        "name": "a", "hosts": ["a.test"],
        "origins": ["http://127.0.0.1:9001", {"url": "https://b.test", "weight": 2}],
        "health": {"path": "/up"}
    }));
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({
            "name": "a", "hosts": ["a.test"],
            "origins": ["http://127.0.0.1:9001", {"url": "https://b.test", "weight": 2}],
            "health": {"path": "/up"}
        })
    );
    assert_eq!(s.origins[1].url(), "https://b.test");
    let tls = TlsSpec {
        cert_pem: "CERT".into(),
        key_pem: "SECRET KEY".into(),
    };
    let debug = format!("{tls:?}");
    assert!(
        !debug.contains("SECRET") && debug.contains("<10 bytes>"),
        "{debug}"
    );

    let e = FieldError {
        field: "hosts[0]".into(),
        code: "invalid",
        message: "bad".into(),
    };
    assert_eq!(e.to_string(), "hosts[0]: bad");
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"field": "hosts[0]", "code": "invalid", "message": "bad"})
    );
}

#[test]
fn normalized_hosts() {
    let s = spec(with(
        "hosts",
        json!([
            "Shop.TEST",
            "*.Shop.test",
            "[::1]",
            "0:0::1",
            "shop.test",
            "Bad Host!",
            "10.0.0.1"
        ]),
    ));
    assert_eq!(
        s.normalized_hosts(),
        ["shop.test", "*.shop.test", "::1", "bad host!", "10.0.0.1"]
    );
}

/// Whatever a client sends, validation answers with errors, never a panic.
#[test]
fn hostile_strings_never_panic() {
    let nasty = [
        "",
        " ",
        "\u{0}",
        "ü",
        "[",
        "]",
        "*.",
        "*",
        "http://[",
        "http://a:99999999999",
        "99999999999999999999999999d",
        "-1s",
        "1e9d",
        "18446744073709551615s",
        "/\u{7f}",
        "::",
        "[::1",
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    ];
    let long = "a.".repeat(5000);
    for s in nasty.iter().copied().chain([long.as_str()]) {
        let values = [
            with("name", json!(s)),
            with("hosts", json!([s])),
            with("origins", json!([s, {"url": s, "protocol": s}])),
            with("lb", json!(s)),
            with("security_level", json!(s)),
            with(
                "health",
                json!({"path": s, "interval": s, "timeout": s, "host": s}),
            ),
            with("tls", json!({"cert_pem": s, "key_pem": s})),
            with("hsts", json!({"max_age": s})),
            with(
                "timeouts",
                json!({"connect": s, "request_header": s, "idle": s, "origin_response": s}),
            ),
            with("pages", json!({"not_found": s})),
        ];
        for v in values {
            let s = spec(v);
            let _ = compile_site(&s, &Timeouts::default());
            let _ = s.normalized_hosts();
        }
    }
}
