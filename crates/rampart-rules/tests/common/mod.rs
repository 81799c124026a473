//! A typical request and helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_rules::{EvalScratch, IpList, ListKind, Lists, RequestFields, Scheme, compile};

pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

pub fn default_headers() -> HeaderMap {
    headers(&[
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
        ),
        ("referer", "https://example.com/start"),
        ("cookie", "session=abc; theme=dark"),
        ("accept", "text/html"),
        ("accept", "application/json"),
        ("x-forwarded-for", "198.51.100.1"),
    ])
}

pub fn request(h: &HeaderMap) -> RequestFields<'_> {
    RequestFields {
        ip: "203.0.113.9".parse().unwrap(),
        country: Some(*b"DE"),
        asn: Some(64_500),
        host: "www.example.com",
        method: "POST",
        uri: "/wp-login.php?user=admin&redirect_to=%2Fwp-admin%2F&tag=a&tag=b+c",
        path: "/wp-login.php",
        query: "user=admin&redirect_to=%2Fwp-admin%2F&tag=a&tag=b+c",
        version: "HTTP/1.1",
        headers: h,
        cookie: None,
        ssl: true,
        body_size: 1234,
        bot_verified: false,
        clearance: true,
        response_code: 0,
    }
}

pub fn scheme() -> Scheme {
    let mut s = Scheme::new();
    s.add_list("office", ListKind::Ip)
        .add_list("bad_v6", ListKind::Ip);
    s
}

pub fn lists() -> Lists {
    let office = IpList::from_text("203.0.113.0/24\n192.0.2.1\n").unwrap();
    let bad = IpList::from_text("2001:db8::/32\n").unwrap();
    [("office", Arc::new(office)), ("bad_v6", Arc::new(bad))]
        .into_iter()
        .collect()
}

/// Compiles `src` (panicking with the error) and evaluates it on `req`.
pub fn eval_on(src: &str, req: &RequestFields<'_>) -> bool {
    let rule = compile(src, &scheme()).unwrap_or_else(|e| panic!("{src}: {e}"));
    rule.matches(req, &lists(), &mut EvalScratch::new())
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
