//! Scale and hostile input: many sites, truncated and mangled files.

mod support;

use std::time::Duration;

use support::{TempDir, check_positions, mangled};

fn many_sites(n: usize) -> String {
    let mut text = String::from("[proxy]\ntimeouts = { connect = \"2s\" }\n");
    for i in 0..n {
        text.push_str(&format!(
            "\n[[site]]\nname = \"site-{i}\"\nhosts = [\"s{i}.test\", \"*.s{i}.test\"]\n\
             origins = [\"http://127.0.0.1:{}\", {{ url = \"https://10.0.{}.{}:443\", weight = 2 }}]\n\
             health = {{ path = \"/healthz\", interval = \"2s\", timeout = \"1s\" }}\n\
             timeouts = {{ origin_response = \"5s\" }}\n",
            10000 + i,
            i / 256,
            i % 256
        ));
    }
    text
}

#[test]
fn a_thousand_sites_parse() {
    let dir = TempDir::new();
    let text = many_sites(1000);
    let cfg = dir.parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.sites.len(), 1000);
    let last = &cfg.sites[999];
    assert_eq!(last.name, "site-999");
    assert_eq!(last.origins[0].url.to_string(), "http://127.0.0.1:10999/");
    assert_eq!(last.origins[1].url.to_string(), "https://10.0.3.231:443/");
    assert_eq!(last.timeouts.connect, Duration::from_secs(2));
    assert_eq!(last.timeouts.origin_response, Duration::from_secs(5));
}

#[test]
fn a_thousand_duplicate_sites_report_every_duplicate() {
    let dir = TempDir::new();
    let one =
        "[[site]]\nname = \"dup\"\nhosts = [\"dup.test\"]\norigins = [\"http://127.0.0.1:1\"]\n";
    let text = one.repeat(1000);
    let err = dir.parse(&text).unwrap_err();
    // Each repeat after the first has a duplicate name and a duplicate host.
    assert_eq!(err.diagnostics.len(), 999 * 2);
    let lines: Vec<usize> = err.diagnostics.iter().map(|d| d.line).collect();
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "diagnostics are sorted"
    );
}

const VALID: &str = r#"
[node]
id = "edge-1"
data_dir = "./rampart-data"
workers = 2
shutdown_grace = "5s"
[listen]
http = { addr = "127.0.0.1:8080", proxy_protocol = true }
https = "127.0.0.1:8443"
admin = "off"
[log]
access = "access.jsonl"
[proxy]
trusted_proxies = ["10.0.0.0/8", "127.0.0.1", "::1"]
timeouts = { connect = "5s", request_header = "10s", idle = "60s", origin_response = "60s" }
[[site]]
name = "shop"
hosts = ["shop.test", "*.shop.test", "ünï.test"]
origins = ["http://127.0.0.1:9001", { url = "https://[::1]:9443", weight = 2, protocol = "http2" }]
lb = "round_robin"
health = { path = "/healthz", interval = "2s", timeout = "1s", rise = 2, fall = 3, host = "shop.test" }
tls = { cert = "certs/shop.pem", key = "certs/shop.key" }
https_redirect = true
hsts = { max_age = "365d", include_subdomains = true }
'origin_tls_verify' = false
retries = 1
timeouts = { origin_response = "5s" }
pages = { not_found = "pages/404.html" }
"#;

#[test]
fn truncated_prefixes_never_panic() {
    let dir = TempDir::new();
    dir.write_cert("shop", "shop.test");
    dir.write("pages/404.html", "nope");
    for (i, _) in VALID.char_indices() {
        let prefix = &VALID[..i];
        check_positions(prefix, dir.parse(prefix));
    }
}

#[test]
fn mangled_files_never_panic() {
    let dir = TempDir::new();
    let junk = [
        '"', '\'', '[', ']', '{', '}', '=', ',', '\n', '.', '#', '\\', '*', ':', '0', 'é', '\u{0}',
        ' ',
    ];
    for text in mangled(VALID, &junk, 0x9E37_79B9_7F4A_7C15, 3000) {
        check_positions(&text, dir.parse(&text));
    }
}

#[test]
fn garbage_never_panics() {
    let dir = TempDir::new();
    for text in [
        "",
        "\u{0}",
        "[",
        "[[",
        "[[site]]",
        "[[site]]\n[[site]]",
        "site = []",
        "site = [1, \"x\", []]",
        "site = [{}]",
        "= =",
        "\u{feff}[node]",
        "[node]\r\nid = \"a\"\r\n",
        "a.b.c.d = 1",
        "[listen.http]\naddr = \"127.0.0.1:1\"",
        "[site.health]",
        "node = { id = { id = 1 } }",
        "[[site]]\nhosts = [[[[[]]]]]",
        "x = 1979-05-27T07:32:00Z",
        "x = inf",
        "x = nan",
    ] {
        check_positions(text, dir.parse(text));
    }
    let deep = format!("x = {}{}", "[".repeat(5000), "]".repeat(5000));
    let _ = dir.parse(&deep);
}
