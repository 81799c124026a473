//! Any text must compile to a rule or to an error that points inside the
//! text, never a panic; a compiled rule must evaluate without panicking on
//! any request; and a parsed expression must print to text that parses back
//! to the same tree.
#![no_main]

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use rampart_rules::{EvalScratch, IpList, ListKind, Lists, RequestFields, Scheme, compile, parse};

fuzz_target!(|data: &[u8]| {
    // The expression, then a NUL, then bytes that fill the request.
    let (expr, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(src) = std::str::from_utf8(expr) else {
        return;
    };

    if let Ok(mut ast) = parse(src) {
        let printed = ast.to_string();
        let mut back = parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
        ast.erase_positions();
        back.erase_positions();
        assert_eq!(ast, back, "{printed}");
    }

    let mut scheme = Scheme::new();
    scheme.add_list("office", ListKind::Ip);
    let rule = match compile(src, &scheme) {
        Ok(rule) => rule,
        Err(e) => {
            assert!(e.column >= 1 && e.column <= src.chars().count() + 1, "{e}");
            assert!(!e.message.is_empty());
            return;
        }
    };

    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split('\n');
    let mut next = || parts.next().unwrap_or("");
    let (host, path, query, ua, accept) = (next(), next(), next(), next(), next());
    let mut headers = HeaderMap::new();
    for (name, value) in [("user-agent", ua), ("accept", accept), ("accept", query)] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.append(HeaderName::from_static(name), v);
        }
    }
    let ip: IpAddr = if rest.len() % 2 == 0 {
        [rest.len() as u8, 0, 2, 1].into()
    } else {
        "2001:db8::1".parse().unwrap()
    };
    let req = RequestFields {
        ip,
        country: Some(*b"US"),
        asn: Some(rest.len() as u32),
        host,
        method: "GET",
        uri: path,
        path,
        query,
        version: "HTTP/1.1",
        headers: &headers,
        cookie: None,
        ssl: rest.len() % 3 == 0,
        body_size: rest.len() as u64,
        bot_verified: false,
        clearance: true,
        response_code: 0,
    };
    let mut lists = Lists::new();
    lists.insert("office", Arc::new(IpList::from_text("10.0.0.0/8\n2001:db8::/32").unwrap()));
    let mut scratch = EvalScratch::new();
    let first = rule.matches(&req, &lists, &mut scratch);
    assert_eq!(rule.matches(&req, &lists, &mut scratch), first);
});
