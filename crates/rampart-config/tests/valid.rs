//! Configurations that must load, and the values they must load into.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use rampart_config::*;
use support::{MIN_SITE, TempDir};

const SAMPLE: &str = r#"
[node]
id = "edge-1"
data_dir = "./rampart-data"
[listen]
http = "127.0.0.1:8080"
https = "127.0.0.1:8443"
admin = "127.0.0.1:9090"
[log]
access = "stdout"            # "off", "stdout" or a file path; JSON lines
[proxy]
trusted_proxies = ["10.0.0.0/8", "127.0.0.1"]
timeouts = { connect = "5s", request_header = "10s", idle = "60s", origin_response = "60s" }
[[site]]
name = "shop"
hosts = ["shop.test", "*.shop.test"]
origins = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
lb = "round_robin"           # also "least_outstanding", "ip_hash"
health = { path = "/healthz", interval = "2s", timeout = "1s" }
tls = { cert = "certs/shop.pem", key = "certs/shop.key" }
https_redirect = true
hsts = { max_age = "365d", include_subdomains = true }
origin_tls_verify = false
retries = 1
timeouts = { origin_response = "5s" }    # per-site partial override merged over [proxy].timeouts
pages = { not_found = "pages/404.html", bad_gateway = "pages/502.html" }
"#;

fn sample_dir() -> TempDir {
    let dir = TempDir::new();
    dir.write_cert("shop", "shop.test");
    dir.write("pages/404.html", "<h1>{{status}} {{title}}</h1>");
    dir.write("pages/502.html", "<p>{{message}} {{ray_id}}</p>");
    dir
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn sample_parses_into_expected_values() {
    let dir = sample_dir();
    let cfg = dir.parse(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.source.as_deref(), Some(dir.config_path().as_path()));

    assert_eq!(cfg.node.id, "edge-1");
    assert_eq!(cfg.node.data_dir, dir.path().join("./rampart-data"));
    assert_eq!(cfg.node.workers, None);
    assert_eq!(cfg.node.shutdown_grace, Duration::from_secs(30));

    let listener = |a: &str| ListenerConfig {
        addr: addr(a),
        proxy_protocol: false,
    };
    assert_eq!(cfg.listen.http, Some(listener("127.0.0.1:8080")));
    assert_eq!(cfg.listen.https, Some(listener("127.0.0.1:8443")));
    assert_eq!(cfg.listen.admin, Some(addr("127.0.0.1:9090")));
    assert_eq!(cfg.log.access, AccessLogTarget::Stdout);

    let nets: Vec<String> = cfg
        .proxy
        .trusted_proxies
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(nets, ["10.0.0.0/8", "127.0.0.1/32"]);
    assert_eq!(cfg.proxy.timeouts, Timeouts::default());
    assert_eq!(cfg.proxy.max_header_bytes, 64 * 1024);

    assert_eq!(cfg.sites.len(), 1);
    let site = &cfg.sites[0];
    assert_eq!(site.name, "shop");
    assert_eq!(
        site.hosts,
        [
            HostPattern::Exact("shop.test".into()),
            HostPattern::Wildcard(".shop.test".into())
        ]
    );
    let urls: Vec<String> = site.origins.iter().map(|o| o.url.to_string()).collect();
    assert_eq!(urls, ["http://127.0.0.1:9001/", "http://127.0.0.1:9002/"]);
    assert!(
        site.origins
            .iter()
            .all(|o| o.weight == 1 && o.protocol == OriginProtocol::Http1)
    );
    assert_eq!(site.lb, LbPolicy::RoundRobin);
    assert_eq!(
        site.health,
        Some(HealthCheckConfig {
            path: "/healthz".into(),
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            rise: 2,
            fall: 3,
            host: Some("shop.test".into()),
        })
    );
    let tls = site.tls.as_ref().expect("tls");
    assert_eq!(
        tls.source,
        TlsSource::Files {
            cert_path: dir.path().join("certs/shop.pem"),
            key_path: dir.path().join("certs/shop.key"),
        }
    );
    assert_eq!(tls.chain.len(), 1);
    assert!(site.https_redirect);
    assert_eq!(
        site.hsts,
        Some(HstsConfig {
            max_age: Duration::from_secs(365 * 86400),
            include_subdomains: true,
            preload: false,
        })
    );
    assert!(!site.origin_tls_verify);
    assert_eq!(site.retries, 1);
    assert_eq!(
        site.timeouts,
        Timeouts {
            origin_response: Duration::from_secs(5),
            ..Timeouts::default()
        }
    );
    assert_eq!(
        site.pages.not_found.as_deref(),
        Some("<h1>{{status}} {{title}}</h1>")
    );
    assert_eq!(
        site.pages.bad_gateway.as_deref(),
        Some("<p>{{message}} {{ray_id}}</p>")
    );
    assert_eq!(site.pages.service_unavailable, None);
    assert_eq!(site.pages.gateway_timeout, None);
}

#[test]
fn load_file_reads_and_resolves_against_the_file() {
    let dir = sample_dir();
    let path = dir.write("rampart.toml", SAMPLE);
    let cfg = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let TlsSource::Files { cert_path, .. } = &cfg.sites[0].tls.as_ref().unwrap().source else {
        panic!("a file site's certificate comes from files");
    };
    assert_eq!(*cert_path, dir.path().join("certs/shop.pem"));
}

#[test]
fn defaults_match_the_documented_values() {
    let cfg = defaults(std::path::Path::new("/srv"));
    assert_eq!(cfg.source, None);
    assert_eq!(cfg.node.id, "edge-1");
    assert_eq!(cfg.node.data_dir, std::path::Path::new("/srv/rampart-data"));
    assert_eq!(cfg.listen.http.unwrap().addr, addr("127.0.0.1:8080"));
    assert_eq!(cfg.listen.https.unwrap().addr, addr("127.0.0.1:8443"));
    assert_eq!(cfg.listen.admin, Some(addr("127.0.0.1:9090")));
    assert_eq!(cfg.log.access, AccessLogTarget::Stdout);
    assert!(cfg.sites.is_empty());
    assert!(cfg.proxy.trusted_proxies.is_empty());
}

#[test]
fn empty_file_is_the_defaults() {
    let dir = TempDir::new();
    let cfg = dir.parse("# nothing here\n").unwrap();
    let def = defaults(dir.path());
    assert_eq!(cfg.node.data_dir, def.node.data_dir);
    assert_eq!(cfg.listen.http, def.listen.http);
    assert_eq!(cfg.listen.https, def.listen.https);
    assert_eq!(cfg.listen.admin, def.listen.admin);
    assert_eq!(cfg.log, def.log);
    assert!(cfg.sites.is_empty());
}

#[test]
fn listener_forms_and_off() {
    let dir = TempDir::new();
    let cfg = dir
        .parse(
            r#"
[listen]
http = { addr = "0.0.0.0:80", proxy_protocol = true }
https = "off"
admin = "off"
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.listen.http,
        Some(ListenerConfig {
            addr: addr("0.0.0.0:80"),
            proxy_protocol: true
        })
    );
    assert_eq!(cfg.listen.https, None);
    assert_eq!(cfg.listen.admin, None);
}

#[test]
fn node_log_and_proxy_options() {
    let dir = TempDir::new();
    let cfg = dir
        .parse(
            r#"
[node]
id = "eu-west.edge_2"
data_dir = "/var/lib/rampart"
workers = 4
shutdown_grace = "10s"
[log]
access = "logs/access.jsonl"
[proxy]
trusted_proxies = ["::1", "fd00::/8", "192.168.1.7/24"]
max_header_bytes = 16384
timeouts = { idle = "2m" }
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.node.id, "eu-west.edge_2");
    assert_eq!(cfg.node.data_dir, std::path::Path::new("/var/lib/rampart"));
    assert_eq!(cfg.node.workers, Some(4));
    assert_eq!(cfg.node.shutdown_grace, Duration::from_secs(10));
    assert_eq!(
        cfg.log.access,
        AccessLogTarget::File(dir.path().join("logs/access.jsonl"))
    );
    let nets: Vec<String> = cfg
        .proxy
        .trusted_proxies
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(nets, ["::1/128", "fd00::/8", "192.168.1.0/24"]);
    assert_eq!(cfg.proxy.max_header_bytes, 16384);
    assert_eq!(cfg.proxy.timeouts.idle, Duration::from_secs(120));
    assert_eq!(cfg.proxy.timeouts.connect, Duration::from_secs(5));

    let off = dir.parse("[log]\naccess = \"off\"\n").unwrap();
    assert_eq!(off.log.access, AccessLogTarget::Off);
}

#[test]
fn site_timeouts_merge_over_proxy_timeouts() {
    let dir = TempDir::new();
    let text = format!(
        "[proxy]\ntimeouts = {{ connect = \"1s\", idle = \"30s\" }}\n{MIN_SITE}timeouts = {{ idle = \"5s\" }}\n"
    );
    let cfg = dir.parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let t = cfg.sites[0].timeouts;
    assert_eq!(t.connect, Duration::from_secs(1));
    assert_eq!(t.idle, Duration::from_secs(5));
    assert_eq!(t.request_header, Duration::from_secs(10));
    assert_eq!(t.origin_response, Duration::from_secs(60));
}

#[test]
fn origin_table_form_and_protocol_defaults() {
    let dir = TempDir::new();
    let cfg = dir
        .parse(
            r#"
[[site]]
name = "api"
hosts = ["API.Example.Com", "10.1.2.3", "::1"]
origins = [
  { url = "https://10.0.0.1:443", weight = 2, protocol = "http2" },
  "https://origin.test",
  { url = "http://127.0.0.1:81/" },
]
lb = "least_outstanding"
health = { path = "/up?deep=1", rise = 1, fall = 5, host = "internal.test" }
retries = 0
hsts = { preload = true, include_subdomains = true }
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let site = &cfg.sites[0];
    assert_eq!(
        site.hosts,
        [
            HostPattern::Exact("api.example.com".into()),
            HostPattern::Exact("10.1.2.3".into()),
            HostPattern::Exact("::1".into()),
        ]
    );
    let o = &site.origins;
    assert_eq!(o[0].url.to_string(), "https://10.0.0.1:443/");
    assert_eq!((o[0].weight, o[0].protocol), (2, OriginProtocol::Http2));
    assert_eq!(o[1].url.to_string(), "https://origin.test:443/");
    assert_eq!((o[1].weight, o[1].protocol), (1, OriginProtocol::Auto));
    assert_eq!(o[2].url.port_u16(), Some(81));
    assert_eq!(o[2].protocol, OriginProtocol::Http1);
    assert_eq!(site.lb, LbPolicy::LeastOutstanding);
    let h = site.health.as_ref().unwrap();
    assert_eq!(h.path, "/up?deep=1");
    assert_eq!(
        (h.interval, h.timeout),
        (Duration::from_secs(5), Duration::from_secs(2))
    );
    assert_eq!((h.rise, h.fall), (1, 5));
    assert_eq!(h.host.as_deref(), Some("internal.test"));
    assert_eq!(site.retries, 0);
    assert!(site.origin_tls_verify);
    assert!(!site.https_redirect);
    let hsts = site.hsts.unwrap();
    assert!(hsts.preload && hsts.include_subdomains);
    assert_eq!(hsts.max_age, Duration::from_secs(365 * 86400));
    assert!(site.tls.is_none());
}

#[test]
fn exact_host_under_another_sites_wildcard_is_allowed() {
    let dir = TempDir::new();
    let cfg = dir
        .parse(
            r#"
[[site]]
name = "shop"
hosts = ["*.shop.test"]
origins = ["http://127.0.0.1:9001"]
[[site]]
name = "admin"
hosts = ["admin.shop.test", "shop.test"]
origins = ["http://127.0.0.1:9002"]
lb = "ip_hash"
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.sites.len(), 2);
    assert_eq!(cfg.sites[1].lb, LbPolicy::IpHash);
}

#[test]
fn tls_with_chain_and_rsa_style_key_names() {
    let dir = TempDir::new();
    let a = rcgen::generate_simple_self_signed(vec!["a.test".to_owned()]).unwrap();
    let b = rcgen::generate_simple_self_signed(vec!["b.test".to_owned()]).unwrap();
    dir.write("chain.pem", format!("{}{}", a.cert.pem(), b.cert.pem()));
    dir.write("key.pem", a.signing_key.serialize_pem());
    let text = format!(
        "{MIN_SITE}tls = {{ cert = \"chain.pem\", key = \"{}\" }}\n",
        dir.path().join("key.pem").display()
    );
    let cfg = dir.parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.sites[0].tls.as_ref().unwrap().chain.len(), 2);
}

#[test]
fn config_error_display_is_one_line_per_diagnostic() {
    let dir = TempDir::new();
    let err = dir
        .parse("[node]\nid = 1\n[listen]\nhttp = 2\n")
        .unwrap_err();
    let path = dir.config_path();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "{}:2:6: expected a string for `node.id`, found integer",
                path.display()
            ),
            format!(
                "{}:4:8: expected an address string, \"off\" or a table {{ addr = \"…\", proxy_protocol = … }} for `listen.http`, found integer",
                path.display()
            ),
        ]
    );
    let _: &dyn std::error::Error = &err;
}

#[test]
fn health_host_defaults_to_first_exact_host_as_a_header_value() {
    let dir = TempDir::new();
    let cfg = dir
        .parse(
            "[[site]]\nname = \"v6\"\nhosts = [\"*.any.test\", \"[::1]\", \"v6.test\"]\n\
             origins = [\"http://[::1]:9001\"]\nhealth = { path = \"/\" }\n\
             [[site]]\nname = \"wild\"\nhosts = [\"*.wild.test\"]\norigins = [\"http://127.0.0.1:1\"]\nhealth = {}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.sites[0].hosts[1], HostPattern::Exact("::1".into()));
    assert_eq!(
        cfg.sites[0].health.as_ref().unwrap().host.as_deref(),
        Some("[::1]")
    );
    assert_eq!(cfg.sites[1].health.as_ref().unwrap().host, None);
}

#[test]
fn security_level_and_under_attack() {
    let dir = TempDir::new();
    let text = format!(
        "{MIN_SITE}security_level = \"high\"\nunder_attack = true\n{}",
        MIN_SITE
            .replace("\"a\"", "\"b\"")
            .replace("a.test", "b.test")
    );
    let cfg = dir.parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.sites[0].security_level, SecurityLevel::High);
    assert!(cfg.sites[0].under_attack);
    // Absent: medium, not under attack.
    assert_eq!(cfg.sites[1].security_level, SecurityLevel::Medium);
    assert!(!cfg.sites[1].under_attack);
    for (word, level) in [
        ("off", SecurityLevel::Off),
        ("low", SecurityLevel::Low),
        ("medium", SecurityLevel::Medium),
    ] {
        let cfg = dir
            .parse(&format!("{MIN_SITE}security_level = \"{word}\"\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.sites[0].security_level, level);
        assert_eq!(level.as_str(), word);
    }
}

#[test]
fn store_and_admin_sections() {
    let dir = TempDir::new();
    let cfg = dir.parse("# no [store]\n").unwrap();
    assert_eq!(cfg.store, StoreConfig { url: None });
    assert_eq!(cfg.admin, AdminConfig { public_url: None });
    let def = defaults(dir.path());
    assert_eq!((def.store, def.admin), (cfg.store, cfg.admin));

    // A relative SQLite path follows the config file, options stay.
    let cfg = dir
        .parse("[store]\nurl = \"sqlite://db/rampart.db?mode=rwc\"\n[admin]\npublic_url = \"https://edge.example.com/rampart/\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let expected = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db/rampart.db").display()
    );
    assert_eq!(cfg.store.url.as_deref(), Some(expected.as_str()));
    assert_eq!(
        cfg.admin.public_url.as_deref(),
        Some("https://edge.example.com/rampart")
    );

    let cfg = dir
        .parse("[store]\nurl = \"sqlite:///var/lib/rampart/r.db\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.store.url.as_deref(),
        Some("sqlite:///var/lib/rampart/r.db")
    );

    let url = "postgres://rampart:s3cret@db.internal:5432/rampart";
    let cfg = dir
        .parse(&format!(
            "[store]\nurl = \"{url}\"\n[admin]\npublic_url = \"http://10.0.0.5:9090\"\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.store.url.as_deref(), Some(url));
    assert_eq!(
        cfg.admin.public_url.as_deref(),
        Some("http://10.0.0.5:9090")
    );
    // The password stays out of debug output, which ends up in logs.
    let debug = format!("{:?}", cfg.store);
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(
        debug.contains("postgres://rampart:***@db.internal:5432/rampart"),
        "{debug}"
    );
}

#[test]
fn analytics_retention_defaults_to_thirty_days() {
    let dir = TempDir::new();
    let cfg = dir
        .parse("# no [analytics]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.analytics.retention, Duration::from_secs(30 * 24 * 3600));
    assert_eq!(defaults(dir.path()).analytics, cfg.analytics);
    let cfg = dir
        .parse("[analytics]\nretention = \"90d\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.analytics.retention, Duration::from_secs(90 * 24 * 3600));
}
