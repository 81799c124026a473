//! 100,000 hostile random requests through the whole CRS at paranoia
//! level 4 (every rule on), with response inspection: the engine must
//! never panic, whatever the method, target, headers, cookies or body
//! (urlencoded, multipart, JSON, XML or plain bytes, well-formed or not).
//! The generator is seeded, so a failure names a case that replays.

use std::net::SocketAddr;
use std::path::PathBuf;

use rampart_waf::{HttpRequest, HttpResponse, RuleSetBuilder};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};

/// The generator's few draws, over rand's seeded `StdRng`.
struct Rng(StdRng);

impl Rng {
    fn seeded(seed: u64) -> Self {
        Self(StdRng::seed_from_u64(seed))
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n.max(1))
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.0.random_ratio(percent.min(100), 100)
    }

    fn byte(&mut self) -> u8 {
        self.0.random()
    }
}

const REQUESTS: usize = 100_000;

fn crs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RAMPART_CRS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs"),
        PathBuf::from,
    );
    dir.join("rules").is_dir().then_some(dir)
}

/// Fragments that exercise parsers and rules more than uniform bytes do.
const PIECES: &[&str] = &[
    "'",
    "\"",
    "<",
    ">",
    "%",
    "%00",
    "%u0041",
    "%uff1c",
    "%25",
    "&",
    "=",
    ";",
    "\\",
    "/",
    "../",
    "..\\",
    "\r\n",
    "\n",
    "\0",
    " ",
    "\t",
    "--",
    "/*",
    "*/",
    "#",
    "$(",
    "`",
    "|",
    "&&",
    "{",
    "}",
    "[",
    "]",
    "<script>",
    "javascript:",
    "&#x3c;",
    "&lt",
    "\\x3c",
    "\\u003c",
    "union select",
    "or 1=1",
    "/etc/passwd",
    "cmd.exe",
    "${jndi:ldap://x}",
    "\u{ff1c}",
    "\u{202e}",
    "é",
    "\u{10ffff}",
    "boundary=",
    "Content-Disposition: form-data; name=\"a\"",
    "filename=\"x.php\"",
];

fn piece(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => (0..rng.below(12)).map(|_| rng.byte()).collect(),
        1 => (0..1 + rng.below(7))
            .map(|_| b'a' + rng.byte() % 26)
            .collect(),
        _ => PIECES[rng.below(PIECES.len())].as_bytes().to_vec(),
    }
}

fn text(rng: &mut Rng, parts: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(parts + 1) {
        out.extend(piece(rng));
    }
    out
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn body(rng: &mut Rng) -> (Option<String>, Vec<u8>) {
    match rng.below(7) {
        0 => (None, Vec::new()),
        1 => {
            let mut b = Vec::new();
            for i in 0..rng.below(8) {
                if i > 0 {
                    b.push(b'&');
                }
                b.extend(text(rng, 3));
                b.push(b'=');
                b.extend(text(rng, 6));
            }
            (Some("application/x-www-form-urlencoded".into()), b)
        }
        2 => {
            let boundary = lossy(&text(rng, 2));
            let mut b = Vec::new();
            for _ in 0..rng.below(4) {
                b.extend(format!("--{boundary}\r\n").as_bytes());
                b.extend(b"Content-Disposition: form-data; name=\"");
                b.extend(text(rng, 2));
                b.extend(b"\"");
                if rng.chance(30) {
                    b.extend(b"; filename=\"");
                    b.extend(text(rng, 2));
                    b.extend(b"\"");
                }
                b.extend(b"\r\n\r\n");
                b.extend(text(rng, 6));
                b.extend(b"\r\n");
            }
            if rng.chance(80) {
                b.extend(format!("--{boundary}--\r\n").as_bytes());
            }
            (Some(format!("multipart/form-data; boundary={boundary}")), b)
        }
        3 => {
            let mut b = b"{\"".to_vec();
            b.extend(text(rng, 2));
            b.extend(b"\":[");
            b.extend(text(rng, 6));
            b.extend(b",{\"k\":\"");
            b.extend(text(rng, 4));
            b.extend(b"\"}]");
            if rng.chance(70) {
                b.push(b'}');
            }
            (Some("application/json".into()), b)
        }
        4 => {
            let mut b = b"<?xml version=\"1.0\"?><a x=\"".to_vec();
            b.extend(text(rng, 3));
            b.extend(b"\">");
            b.extend(text(rng, 6));
            if rng.chance(70) {
                b.extend(b"</a>");
            }
            (Some("text/xml".into()), b)
        }
        5 => (Some(lossy(&text(rng, 3))), text(rng, 10)),
        _ => (None, text(rng, 10)),
    }
}

fn request(rng: &mut Rng) -> HttpRequest {
    const METHODS: &[&str] = &[
        "GET", "POST", "PUT", "DELETE", "OPTIONS", "PROPFIND", "G\u{e9}T", "",
    ];
    let mut uri = String::from("/");
    uri.push_str(&lossy(&text(rng, 4)));
    if rng.chance(70) {
        uri.push('?');
        uri.push_str(&lossy(&text(rng, 8)));
    }
    let mut headers = vec![("Host".to_owned(), text(rng, 2))];
    for _ in 0..rng.below(6) {
        headers.push((lossy(&text(rng, 2)), text(rng, 5)));
    }
    if rng.chance(50) {
        headers.push(("Cookie".to_owned(), text(rng, 6)));
    }
    if rng.chance(30) {
        headers.push(("Range".to_owned(), text(rng, 3)));
    }
    let (content_type, body) = body(rng);
    if let Some(ct) = content_type {
        headers.push(("Content-Type".to_owned(), ct.into_bytes()));
    }
    if !body.is_empty() {
        headers.push((
            "Content-Length".to_owned(),
            body.len().to_string().into_bytes(),
        ));
    }
    HttpRequest {
        method: METHODS[rng.below(METHODS.len())].to_owned(),
        uri,
        protocol: ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9"][rng.below(4)].to_owned(),
        headers,
        body,
        client: SocketAddr::from(([203, 0, 113, rng.byte()], u16::from(rng.byte()))),
        server: SocketAddr::from(([127, 0, 0, 1], 8080)),
    }
}

fn response(rng: &mut Rng) -> HttpResponse {
    HttpResponse {
        status: 100 + u16::try_from(rng.below(500)).unwrap_or(0),
        protocol: "HTTP/1.1".to_owned(),
        headers: vec![("Content-Type".to_owned(), text(rng, 2))],
        body: text(rng, 10),
    }
}

#[test]
fn a_hundred_thousand_random_requests_never_panic() {
    let Some(crs) = crs_dir() else {
        eprintln!("skipped: no CRS directory (set RAMPART_CRS_DIR)");
        return;
    };
    let setup = "SecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=4\"\n\
                 SecResponseBodyAccess On\n";
    let rules = RuleSetBuilder::load_crs(&crs, setup).unwrap_or_else(|e| panic!("CRS: {e}"));
    let mut rng = Rng::seeded(0x5eed_cafe);
    let mut blocked = 0usize;
    for n in 0..REQUESTS {
        let request = request(&mut rng);
        let mut tx = rules.transaction(&format!("rand-{n}"));
        let mut interrupted = tx.process_request_headers(&request).is_some();
        if !interrupted {
            interrupted = tx.process_request_body(&request).is_some();
        }
        if !interrupted {
            let response = response(&mut rng);
            let _ = tx.process_response_headers(&response);
            let _ = tx.process_response_body(&response);
        }
        tx.process_logging();
        blocked += usize::from(interrupted);
    }
    // Hostile input at paranoia level 4 should mostly be caught; all of it
    // getting through would mean the requests never reached the rules.
    assert!(
        blocked > REQUESTS / 10,
        "only {blocked} of {REQUESTS} were blocked"
    );
}
