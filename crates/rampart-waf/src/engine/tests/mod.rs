use std::net::SocketAddr;
use std::path::Path;

use super::*;

mod body;
mod flow;
mod loading;

pub(super) fn build(text: &str) -> RuleSet {
    let mut b = RuleSetBuilder::new();
    b.add_directives(Path::new("test.conf"), Path::new("."), text)
        .unwrap_or_else(|e| panic!("{e}"));
    b.build().unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn load_err(text: &str) -> String {
    let mut b = RuleSetBuilder::new();
    match b.add_directives(Path::new("test.conf"), Path::new("."), text) {
        Err(e) => {
            assert!(b.build().is_err(), "build must fail after a load error");
            e.to_string()
        }
        Ok(()) => match b.build() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected a load error"),
        },
    }
}

pub(super) fn request(uri: &str, headers: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body: Vec::new(),
        client: SocketAddr::from(([198, 51, 100, 7], 5555)),
        server: SocketAddr::from(([198, 51, 100, 1], 443)),
    }
}

pub(super) struct Run<'r> {
    pub(super) tx: Transaction<'r>,
    pub(super) interrupted: Option<Interruption>,
}

pub(super) fn run<'r>(rs: &'r RuleSet, req: &HttpRequest) -> Run<'r> {
    let mut tx = rs.transaction("abc123");
    let mut interrupted = tx.process_request_headers(req).cloned();
    if interrupted.is_none() {
        interrupted = tx.process_request_body(req).cloned();
    }
    Run { tx, interrupted }
}

pub(super) fn ids(r: &Run<'_>) -> Vec<u64> {
    r.tx.matched_rules().iter().map(|m| m.id).collect()
}

pub(super) fn post(uri: &str, content_type: &str, body: &[u8]) -> HttpRequest {
    let mut r = request(
        uri,
        &[("Host", "example.org"), ("Content-Type", content_type)],
    );
    r.method = "POST".into();
    r.body = body.to_vec();
    r
}

pub(super) fn with_base(rules: &str) -> RuleSet {
    build(&format!("{}\n{rules}", recommended_base()))
}
