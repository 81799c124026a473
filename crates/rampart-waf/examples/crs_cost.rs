//! Deterministic per-request cost driver for callgrind: loads the CRS once
//! (PL1), then runs N benign GETs (the bench's case (a)) through phases 1,
//! 2 and 5.
//!
//! `valgrind --tool=callgrind target/release/examples/crs_cost [CRS_DIR] [N]`
//! (subtract a run with N = 0 for the load cost, or pass
//! `--toggle-collect='*run_requests*'`).

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;

use rampart_waf::{HttpRequest, RuleSet, RuleSetBuilder};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map_or_else(|| PathBuf::from("/work/shared/crs"), PathBuf::from);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let rules = match RuleSetBuilder::load_crs(&dir, "") {
        Ok(rules) => rules,
        Err(e) => {
            eprintln!("cannot load the CRS from {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    let headers = [
        ("Host", "bench.test"),
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
    .collect();
    let req = HttpRequest {
        method: "GET".to_owned(),
        uri: "/products/shirts?colour=blue&size=m&page=2".to_owned(),
        protocol: "HTTP/1.1".to_owned(),
        headers,
        body: Vec::new(),
        client: SocketAddr::from(([192, 0, 2, 10], 51234)),
        server: SocketAddr::from(([192, 0, 2, 1], 80)),
    };
    let blocked = run_requests(&rules, &req, n);
    println!("{n} requests, {blocked} blocked");
}

/// The measured part (`--toggle-collect='*run_requests*'`).
#[inline(never)]
fn run_requests(rules: &RuleSet, req: &HttpRequest, n: usize) -> usize {
    let mut blocked = 0usize;
    for _ in 0..n {
        let mut tx = rules.transaction("bench-ray-0001");
        let req = black_box(&req);
        let mut b = tx.process_request_headers(req).is_some();
        if !b {
            b = tx.process_request_body(req).is_some();
        }
        tx.process_logging();
        blocked += usize::from(b);
    }
    blocked
}
