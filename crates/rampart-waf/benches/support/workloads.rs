//! The requests the engine's benchmarks measure, shared by the criterion
//! bench (`benches/crs.rs`) and the callgrind driver
//! (`examples/crs_cost.rs`), so both measure the same thing.

use std::net::SocketAddr;
use std::path::PathBuf;

use rampart_waf::{HttpRequest, RuleSet};

/// The CRS: `RAMPART_CRS_DIR`, or the checkout's sibling `shared/crs`.
pub fn crs_dir() -> PathBuf {
    std::env::var_os("RAMPART_CRS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs"),
        PathBuf::from,
    )
}

fn browser_headers(host: &str) -> Vec<(String, Vec<u8>)> {
    [
        ("Host", host),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("Accept-Language", "en-GB,en;q=0.5"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Connection", "keep-alive"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
    .collect()
}

pub fn request(method: &str, uri: &str, extra: &[(&str, &str)], body: Vec<u8>) -> HttpRequest {
    let mut headers = browser_headers("bench.test");
    for (k, v) in extra {
        headers.push(((*k).to_owned(), v.as_bytes().to_vec()));
    }
    if !body.is_empty() {
        headers.push((
            "Content-Length".to_owned(),
            body.len().to_string().into_bytes(),
        ));
    }
    HttpRequest {
        method: method.to_owned(),
        uri: uri.to_owned(),
        protocol: "HTTP/1.1".to_owned(),
        headers,
        body,
        client: SocketAddr::from(([192, 0, 2, 10], 51234)),
        server: SocketAddr::from(([192, 0, 2, 1], 80)),
    }
}

/// About 2 KB of ordinary form fields.
pub fn form_body() -> Vec<u8> {
    let mut body = String::from("name=Jane+Doe&email=jane.doe%40example.com&subject=Order+12345");
    let mut i = 0;
    while body.len() < 2000 {
        body.push_str(&format!(
            "&item{i}=Blue+cotton+shirt+size+M&qty{i}=2&note{i}=Please+deliver+after+5pm+to+the+back+door"
        ));
        i += 1;
    }
    body.into_bytes()
}

/// About 20 KB of ordinary JSON (a list of products).
pub fn json_body() -> Vec<u8> {
    let mut items = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < 20_000 {
        let item = format!(
            r#"{{"id":{i},"sku":"SKU-{i:05}","name":"Blue cotton shirt {i}","price":19.99,"tags":["summer","cotton","men"],"stock":{{"warehouse":"north","count":{}}},"description":"A light shirt for warm days, machine washable at 30 degrees"}}"#,
            i * 7 % 113
        );
        len += item.len() + 1;
        items.push(item);
        i += 1;
    }
    format!(
        r#"{{"order":"A-2026-11-28","customer":"jane.doe@example.com","items":[{}]}}"#,
        items.join(",")
    )
    .into_bytes()
}

/// Phases 1, 2 and 5 of one transaction, as the edge runs them; true when
/// the request was blocked.
pub fn run(rules: &RuleSet, req: &HttpRequest) -> bool {
    let mut tx = rules.transaction("bench-ray-0001");
    let mut blocked = tx.process_request_headers(req).is_some();
    if !blocked {
        blocked = tx.process_request_body(req).is_some();
    }
    tx.process_logging();
    blocked
}

/// (name, request, whether the CRS must block it).
pub fn cases() -> Vec<(&'static str, HttpRequest, bool)> {
    vec![
        (
            "a_benign_get",
            request(
                "GET",
                "/products/shirts?colour=blue&size=m&page=2",
                &[],
                Vec::new(),
            ),
            false,
        ),
        (
            "b_benign_form_post_2k",
            request(
                "POST",
                "/checkout",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                form_body(),
            ),
            false,
        ),
        (
            "c_benign_json_post_20k",
            request(
                "POST",
                "/api/orders",
                &[("Content-Type", "application/json")],
                json_body(),
            ),
            false,
        ),
        (
            "d_sqli_get",
            request(
                "GET",
                "/products?id=1%27%20OR%20%271%27%3D%271%27%20UNION%20SELECT%20password%20FROM%20users--",
                &[],
                Vec::new(),
            ),
            true,
        ),
    ]
}
