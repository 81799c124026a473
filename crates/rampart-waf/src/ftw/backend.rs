//! The suite's backend, albedo, emulated: every path answers an empty 200,
//! except `POST /reflect` (and `/reflect/`), which answers what the JSON
//! request body describes — `{status, headers, body, encodedBody}` — so
//! the response-side rules (phases 3 and 4) have something to inspect.
//! Like albedo (a Go `net/http` server) the response carries a
//! Content-Length and, when the body is not empty and no type was given,
//! the Content-Type Go would sniff.

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::request::HttpResponse;

use super::http1::ParsedRequest;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReflectSpec {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    encoded_body: String,
}

fn response(status: u16, mut headers: Vec<(String, Vec<u8>)>, body: Vec<u8>) -> HttpResponse {
    let has = |headers: &[(String, Vec<u8>)], name: &str| {
        headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !body.is_empty() && !has(&headers, "content-type") {
        headers.push(("Content-Type".to_owned(), sniff(&body).as_bytes().to_vec()));
    }
    if !has(&headers, "content-length") {
        headers.push((
            "Content-Length".to_owned(),
            body.len().to_string().into_bytes(),
        ));
    }
    headers.push(("Date".to_owned(), b"Sat, 28 Nov 2026 12:00:00 GMT".to_vec()));
    HttpResponse {
        status,
        protocol: "HTTP/1.1".to_owned(),
        headers,
        body,
    }
}

fn text(status: u16, body: &str) -> HttpResponse {
    response(status, Vec::new(), body.as_bytes().to_vec())
}

/// The origin's answer to one request that passed the WAF.
pub fn respond(request: &ParsedRequest) -> HttpResponse {
    let path = request.target.split(['?', '#']).next().unwrap_or_default();
    let is_reflect = request.method == "POST" && (path == "/reflect" || path == "/reflect/");
    if !is_reflect {
        return response(200, Vec::new(), Vec::new());
    }
    let spec: ReflectSpec = match serde_json::from_slice(&request.body) {
        Ok(spec) => spec,
        Err(_) => return text(400, "Invalid JSON in request body"),
    };
    if (spec.status > 0 && spec.status < 100) || spec.status >= 600 {
        return text(400, &format!("Invalid status code: {}", spec.status));
    }
    let status = u16::try_from(spec.status)
        .ok()
        .filter(|&s| s != 0)
        .unwrap_or(200);
    let body = if !spec.body.is_empty() {
        spec.body.into_bytes()
    } else if spec.encoded_body.is_empty() {
        Vec::new()
    } else {
        match base64::engine::general_purpose::STANDARD.decode(spec.encoded_body.as_bytes()) {
            Ok(bytes) => bytes,
            Err(_) => return text(400, "invalid base64 encoding of response body"),
        }
    };
    let headers = spec
        .headers
        .into_iter()
        .map(|(name, value)| (name, value.into_bytes()))
        .collect();
    response(status, headers, body)
}

/// A reduced form of Go's `http.DetectContentType`, enough for the text
/// bodies the suite reflects: HTML and XML markers, else plain text (or
/// octet-stream when the bytes do not look like text).
fn sniff(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' '))
        .unwrap_or(body.len());
    let data = body.get(start..).unwrap_or_default();
    const HTML: [&[u8]; 17] = [
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ];
    for sig in HTML {
        let Some(head) = data.get(..sig.len()) else {
            continue;
        };
        if head.eq_ignore_ascii_case(sig)
            && data.get(sig.len()).is_some_and(|&b| b == b' ' || b == b'>')
        {
            return "text/html; charset=utf-8";
        }
    }
    if data.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    let binary = body.iter().any(|&b| {
        b <= 0x08 || b == 0x0b || (0x0e..=0x1a).contains(&b) || (0x1c..=0x1f).contains(&b)
    });
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}
